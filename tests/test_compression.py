"""Answers sized for a network: JSON, GeoJSON, pages and scripts gzip-compressed when the client
accepts it; tiles answered exactly as before; small answers and event streams left alone."""

import gzip
import json

from tests.mvt import decode, tile_of
from tests.test_tiles import source


def _raw(client, path, headers):
    """The bytes on the wire (httpx would decode them), and the response."""
    with client.stream("GET", path, headers=headers) as r:
        return b"".join(r.iter_raw()), r


def test_geojson_pages_and_scripts_are_compressed_and_decode_to_the_same(client, auth):
    h = auth("commander")
    plain = client.get("/collections/grid/items?limit=1000", headers={**h, "Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    wire, r = _raw(client, "/collections/grid/items?limit=1000", {**h, "Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip" and "Accept-Encoding" in r.headers["vary"]
    unzipped = json.loads(gzip.decompress(wire))
    assert unzipped["features"] == plain.json()["features"]  # (timeStamp is the moment of each answer)
    assert len(wire) < len(plain.content) / 3  # polygons' coordinates compress well
    for path in ("/wall", "/static/wall/wall.js", "/static/desk/desk.css", "/openapi.json"):
        wire, r = _raw(client, path, {"Accept-Encoding": "gzip, br"})
        assert r.headers.get("content-encoding") == "gzip", path
        assert gzip.decompress(wire) == client.get(path, headers={"Accept-Encoding": "identity"}).content


def test_small_answers_are_left_alone(client):
    _, r = _raw(client, "/healthz", {"Accept-Encoding": "gzip"})
    assert "content-encoding" not in r.headers


def test_a_tile_is_answered_as_before_with_its_own_gzip_or_none(client, auth, engine):
    (_, geom, _), *_ = source(engine, "camera", "id")
    x, y = tile_of(geom.x, geom.y, 16)
    path = f"/tiles/cameras/16/{x}/{y}.pbf"
    zipped, r = _raw(client, path, {**auth(), "Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip" and r.headers["vary"] == "Authorization, Accept-Encoding"
    plain, r2 = _raw(client, path, {**auth(), "Accept-Encoding": "identity"})
    assert "content-encoding" not in r2.headers
    assert gzip.decompress(zipped) == plain and decode(plain, 16, x, y)["cameras"]
