"""Label glyphs: MapLibre's glyph PBF, decoded by Google's protobuf from the format's own schema.

The schema is MapLibre's `glyphs.proto` (glyph, fontstack, glyphs), built here as a descriptor
so that the bytes the server writes by hand are read by an independent parser.
"""

import collections

import numpy as np
import pytest
import sqlalchemy as sa
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from PIL import Image, ImageDraw

from gis_core.publishing import glyphs
from tests.conftest import assert_problem

F = descriptor_pb2.FieldDescriptorProto


def _glyphs_message():
    proto = descriptor_pb2.FileDescriptorProto(
        name="glyphs_test.proto", package="llmr.glyphs", syntax="proto2"
    )

    def message(name, *fields):
        m = proto.message_type.add(name=name)
        for number, fname, ftype, label, type_name in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = type_name

    req, opt, rep = F.LABEL_REQUIRED, F.LABEL_OPTIONAL, F.LABEL_REPEATED
    message(
        "glyph",
        (1, "id", F.TYPE_UINT32, req, None),
        (2, "bitmap", F.TYPE_BYTES, opt, None),
        (3, "width", F.TYPE_UINT32, req, None),
        (4, "height", F.TYPE_UINT32, req, None),
        (5, "left", F.TYPE_SINT32, req, None),
        (6, "top", F.TYPE_SINT32, req, None),
        (7, "advance", F.TYPE_UINT32, req, None),
    )
    message(
        "fontstack",
        (1, "name", F.TYPE_STRING, req, None),
        (2, "range", F.TYPE_STRING, req, None),
        (3, "glyphs", F.TYPE_MESSAGE, rep, ".llmr.glyphs.glyph"),
    )
    message("glyphs", (1, "stacks", F.TYPE_MESSAGE, rep, ".llmr.glyphs.fontstack"))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("llmr.glyphs.glyphs"))


def _decode(body: bytes):
    msg = _glyphs_message()()
    msg.ParseFromString(body)
    assert msg.IsInitialized()  # every required field present
    (stack,) = msg.stacks
    return stack


def test_digits_and_latin_come_as_distance_fields_of_their_shapes(client):
    r = client.get(f"/fonts/{glyphs.FONT_STACK}/0-255.pbf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-protobuf"
    stack = _decode(r.content)
    assert (stack.name, stack.range) == (glyphs.FONT_STACK, "0-255")
    by_id = {g.id: g for g in stack.glyphs}
    assert all(chr(c) in "".join(map(chr, by_id)) for c in b"0123456789ABCxyz-.()")

    space = by_id[ord(" ")]
    assert not space.bitmap and space.advance > 0

    one, wide = by_id[ord("1")], by_id[ord("W")]
    assert wide.width > one.width and wide.advance >= one.advance
    b = glyphs.BUFFER
    for g in (one, wide, by_id[ord("0")]):
        assert len(g.bitmap) == (g.width + 2 * b) * (g.height + 2 * b)
        field = np.frombuffer(g.bitmap, np.uint8).reshape(g.height + 2 * b, g.width + 2 * b)
        # the edge lies at 0.75 of the range: what is above it is the glyph's ink, drawn again here
        face, _ = glyphs._font()
        ink = Image.new("L", (g.width + 2 * b, g.height + 2 * b))
        ImageDraw.Draw(ink).text(
            (b - g.left, b + glyphs.TOP + g.top), chr(g.id), font=face, fill=255, anchor="ls"
        )
        agree = ((field > 191) == (np.asarray(ink) > 127)).mean()
        assert agree > 0.95, (chr(g.id), agree)
        assert field[0, 0] < 64 and field.max() > 191  # far outside dark, the strokes above the edge

    # a glyph stands on the baseline: digits rise above it (top measured from 27 px up) and none hangs below
    assert -glyphs.TOP < one.top < 0 and one.top + glyphs.TOP - one.height >= -1


def test_any_range_the_font_covers_is_served_and_cjk_too(client):
    stack = _decode(client.get(f"/fonts/{glyphs.FONT_STACK}/19968-20223.pbf").content)  # 一 …
    ids = {g.id for g in stack.glyphs}
    assert ord("一") in ids and ord("丁") in ids
    # a comma list naming our stack among others is served our stack
    r = client.get(f"/fonts/Open Sans Regular,{glyphs.FONT_STACK}/0-255.pbf")
    assert r.status_code == 200 and _decode(r.content).name == glyphs.FONT_STACK


@pytest.mark.parametrize(
    ("path", "where"),
    [
        (f"/fonts/{glyphs.FONT_STACK}/1-256.pbf", "path.glyph_range"),
        (f"/fonts/{glyphs.FONT_STACK}/0-511.pbf", "path.glyph_range"),
        (f"/fonts/{glyphs.FONT_STACK}/65536-65791.pbf", "path.glyph_range"),
        (f"/fonts/{glyphs.FONT_STACK}/a-b.pbf", "path.glyph_range"),
        ("/fonts/Comic Sans/0-255.pbf", "path.fontstack"),
    ],
)
def test_a_range_or_stack_we_do_not_have_is_a_404_problem(client, path, where):
    body = assert_problem(client.get(path), 404)
    assert body["where"] == where


def test_the_wall_style_names_its_glyphs_and_writes_each_unit_name_once(client, auth, engine):
    style = client.get("/styles/wall.json", headers=auth("commander")).json()
    assert style["glyphs"].endswith("/fonts/{fontstack}/{range}.pbf")
    (names,) = [layer for layer in style["layers"] if layer["type"] == "symbol"]
    assert names["id"] == "place_names" and names["layout"]["text-font"] == [glyphs.FONT_STACK]
    assert style["layers"][-1] is not None and style["layers"][-1]["id"] == "place_names"  # names on top
    items = client.get("/collections/place_names/items?limit=5000", headers=auth("commander")).json()[
        "features"
    ]
    with engine.connect() as c:
        units = c.execute(
            sa.text(
                "SELECT (SELECT count(*) FROM street), (SELECT count(*) FROM community), (SELECT count(*) FROM grid)"
            )
        ).one()
    by_level = collections.Counter(f["properties"]["level"] for f in items)
    assert (by_level["street"], by_level["community"], by_level["grid"]) == tuple(units)
