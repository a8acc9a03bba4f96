"""Font glyphs for map labels: signed-distance-field ranges in the PBF format MapLibre asks for.

A MapLibre symbol layer needs a `glyphs` URL for every character it does not draw itself.
The wall draws CJK ideographs with the browser's own font (`localIdeographFontFamily`), so
what it asks for here is mostly Latin, digits and punctuation ("校园网格01001" needs
0-255); any range is served, from a font installed by Debian (fonts-wqy-microhei), with no
network. Pillow (FreeType) draws each glyph, scipy's Euclidean distance transform turns it
into the field, and fontTools says which characters the font has. A range is made once per
process and kept: 256 glyphs take ~0.1 s.

The field follows MapLibre's own local glyphs (tiny-sdf): 24 px glyphs, a 3 px buffer, a
radius of 8 px and the edge at 0.75, with `top` measured from 27 px above the baseline.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from fontTools.ttLib import TTCollection, TTFont
from PIL import Image, ImageDraw, ImageFont
from scipy.ndimage import distance_transform_edt

from gis_core.platform.errors import InvalidInput, NotFound

FONT_STACK = "WenQuanYi Micro Hei"
FONT_FILE = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
SIZE, BUFFER, RADIUS, CUTOFF, TOP = 24, 3, 8.0, 0.25, 27
RANGE = 256


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, value: int | bytes, signed: bool = False) -> bytes:
    """One protobuf field: a varint (zigzag when signed) or length-delimited bytes."""
    if isinstance(value, bytes):
        return _varint(number << 3 | 2) + _varint(len(value)) + value
    if signed:
        value = (value << 1) ^ (value >> 31)
    return _varint(number << 3) + _varint(value)


@lru_cache(maxsize=1)
def _font() -> tuple[ImageFont.FreeTypeFont, frozenset[int]]:
    if not FONT_FILE.exists():
        raise NotFound(
            f"the label font {FONT_FILE} is not installed (make setup installs fonts-wqy-microhei)"
        )
    face = ImageFont.truetype(str(FONT_FILE), SIZE, index=0)
    tt = TTCollection(str(FONT_FILE)).fonts[0] if FONT_FILE.suffix == ".ttc" else TTFont(str(FONT_FILE))
    return face, frozenset(tt.getBestCmap())


def _glyph(face: ImageFont.FreeTypeFont, code: int) -> bytes:
    """The `glyph` message of one character: metrics, and its field when it has ink."""
    char = chr(code)
    advance = round(face.getlength(char))
    left, top, right, bottom = (
        int(v) for v in face.getbbox(char, anchor="ls")
    )  # from the pen on the baseline
    width, height = right - left, bottom - top
    head = _field(1, code)
    tail = (
        _field(3, max(width, 0))
        + _field(4, max(height, 0))
        + _field(5, left, signed=True)
        + _field(6, -top - TOP, signed=True)
        + _field(7, advance)
    )
    if width <= 0 or height <= 0:
        return head + tail
    pad = BUFFER + int(RADIUS)  # room for the field beyond the buffer, cropped below
    ink = Image.new("L", (width + 2 * pad, height + 2 * pad))
    ImageDraw.Draw(ink).text((pad - left, pad - top), char, font=face, fill=255, anchor="ls")
    inside = np.asarray(ink) > 127
    distance = distance_transform_edt(~inside) - distance_transform_edt(inside)
    field = np.clip(np.round(255 - 255 * (distance / RADIUS + CUTOFF)), 0, 255).astype(np.uint8)
    crop = pad - BUFFER
    bitmap = field[crop : crop + height + 2 * BUFFER, crop : crop + width + 2 * BUFFER]
    return head + _field(2, bitmap.tobytes()) + tail


def parse_range(text: str) -> int:
    """The first character of a `start-end` range name; 404 unless it is one of the 256-wide ranges."""
    start, _, end = text.partition("-")
    if not (start.isdigit() and end.isdigit()):
        raise NotFound(f"no glyph range {text!r}: ranges are named like 0-255", where="path.glyph_range")
    first, last = int(start), int(end)
    if first % RANGE or last != first + RANGE - 1 or last > 0xFFFF:
        raise NotFound(
            f"no glyph range {text!r}: 256 characters from a multiple of 256, up to 65535",
            where="path.glyph_range",
        )
    return first


def font_stack(names: str) -> str:
    """The stack served for a request naming `names` (comma-separated); 404 when none is ours."""
    if FONT_STACK not in (n.strip() for n in names.split(",")):
        raise NotFound(f"no font stack {names!r}; labels use {FONT_STACK!r}", where="path.fontstack")
    return FONT_STACK


@lru_cache(maxsize=64)
def glyph_range(first: int) -> bytes:
    """The PBF of the 256 characters from `first`: those the font has, each with its field."""
    if first % RANGE or not 0 <= first <= 0xFFFF - RANGE + 1:
        raise InvalidInput(f"glyph ranges start at a multiple of 256, not {first}")
    face, has = _font()
    glyphs = b"".join(_field(3, _glyph(face, c)) for c in range(first, first + RANGE) if c in has)
    stack = _field(1, FONT_STACK.encode()) + _field(2, f"{first}-{first + RANGE - 1}".encode()) + glyphs
    return _field(1, stack)
