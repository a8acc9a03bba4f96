"""Report photos: checked with Pillow, bounded, turned upright, stored by content hash.

Three files per photo under `photo_dir/ab/<sha256>`: `.orig` (the bytes as uploaded, never
served), `.jpg` (upright, EXIF stripped: what people see; a second name of `.orig` when there
was nothing to strip, as with the phone page's photos) and `.thumb.jpg` (320–640 px). The
original's EXIF GPS can stand in for a missing location.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from PIL import Image, ImageOps, UnidentifiedImageError

from gis_core.platform.errors import NotAnImage, PhotoTooLarge

ACCEPTED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
PUBLIC_MAX_SIDE = 1600  # ample for a handler's screen or the wall; lets libjpeg decode at reduced scale
#: A thumbnail's long side: at least this (if the photo has it), and at most twice it.
THUMB_SIDE = 320


@dataclass(frozen=True)
class Photo:
    """A checked photo: its hash (the name it is stored under) and what it is."""

    sha256: str
    content_type: str
    width: int
    height: int
    bytes: int
    gps: tuple[float, float] | None  # (lon, lat) from EXIF, WGS84


def photo_rows(photos: Sequence[Photo]) -> dict[str, list[Any]]:
    """Photos as the arrays an `incident_photo` insert unnests (:p_sha, :p_type, … :p_lat)."""
    return {
        "p_sha": [p.sha256 for p in photos],
        "p_type": [p.content_type for p in photos],
        "p_w": [p.width for p in photos],
        "p_h": [p.height for p in photos],
        "p_bytes": [p.bytes for p in photos],
        "p_lon": [p.gps[0] if p.gps else None for p in photos],
        "p_lat": [p.gps[1] if p.gps else None for p in photos],
    }


def digest(data: bytes) -> str:
    """SHA-256 of `data`, hex."""
    return hashlib.sha256(data).hexdigest()


def _rational(v: object) -> float:
    return float(v)  # type: ignore[arg-type]  # IFDRational and tuples of them


def exif_gps(exif: Image.Exif) -> tuple[float, float] | None:
    """(lon, lat) from an EXIF GPS IFD, or None when absent or malformed."""
    gps = exif.get_ifd(0x8825)
    try:
        lat = sum(_rational(x) / 60**i for i, x in enumerate(gps[2]))
        lon = sum(_rational(x) / 60**i for i, x in enumerate(gps[4]))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    if str(gps.get(1, "N")).upper().startswith("S"):
        lat = -lat
    if str(gps.get(3, "E")).upper().startswith("W"):
        lon = -lon
    if not (-180 <= lon <= 180 and -90 <= lat <= 90) or (lon == 0 and lat == 0):
        return None
    return lon, lat


def inspect(
    data: bytes, max_bytes: int, max_pixels: int, where: str, sha256: str | None = None
) -> tuple[Image.Image, Photo]:
    """Check an upload and return it opened, with its description; raise a 4xx error otherwise.

    `sha256`: the data's digest when the caller has it already (0.15 ms for a phone photo).
    """
    if len(data) > max_bytes:
        raise PhotoTooLarge(
            f"photo is {len(data):,} bytes; the limit is {max_bytes:,}", where=where, limit_bytes=max_bytes
        )
    try:
        img = Image.open(io.BytesIO(data))
        if img.format == "PNG":  # only PNG's verify checks anything (its chunks' CRCs) without decoding
            with Image.open(io.BytesIO(data)) as probe:
                probe.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise NotAnImage(f"not a readable image: {exc}", where=where) from exc
    if img.format not in ACCEPTED_FORMATS:
        raise NotAnImage(f"{img.format} is not accepted; send JPEG, PNG or WebP", where=where)
    if img.width * img.height > max_pixels:
        raise PhotoTooLarge(
            f"photo is {img.width}×{img.height} pixels; the limit is {max_pixels:,}",
            where=where,
            limit_pixels=max_pixels,
        )
    # the size as served: upright, after the EXIF orientation (5-8 turn it a quarter)
    exif = img.getexif()
    turned = exif.get(0x0112, 1) in (5, 6, 7, 8)
    photo = Photo(
        sha256 or digest(data),
        ACCEPTED_FORMATS[img.format],
        img.height if turned else img.width,
        img.width if turned else img.height,
        len(data),
        exif_gps(exif),
    )
    return img, photo


def _write_once(path: Path, payload: bytes) -> None:
    """Write atomically unless the content-addressed file exists already."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as f:
        f.write(payload)
    os.replace(tmp, path)


def _link_once(existing: Path, path: Path) -> None:
    """Give `existing` the name `path` too (a hard link), unless `path` exists already."""
    try:
        os.link(existing, path)
    except FileExistsError:
        pass


def paths(store: Path, sha256: str) -> dict[str, Path]:
    """Where the original, the public copy and the thumbnail of a photo live."""
    base = store / sha256[:2] / sha256
    return {
        "orig": base.with_suffix(".orig"),
        "public": base.with_suffix(".jpg"),
        "thumb": base.with_suffix(".thumb.jpg"),
    }


#: JPEG segments a public copy keeps: JFIF (APP0), ICC profile (APP2), Adobe colour transform (APP14).
_KEEP_APP = {0xE0, 0xE2, 0xEE}


def strip_jpeg_metadata(data: bytes) -> bytes | None:
    """The JPEG without EXIF, XMP, IPTC and comments, byte for byte otherwise; None if unusual.

    Metadata lives in APPn and COM segments before the first scan; everything from the
    start-of-scan marker on is image data and is copied untouched. When there is nothing to
    drop (the phone page's photos) the answer is `data` itself, not a copy.
    """
    if data[:2] != b"\xff\xd8":
        return None
    view = memoryview(data)
    kept = [view[:2]]  # the parts to keep, in order
    dropped = False
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xDA:  # start of scan: the rest is image data
            kept.append(view[i:])
            return b"".join(kept) if dropped else data
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if length < 2:
            return None
        metadata = (0xE0 <= marker <= 0xEF and marker not in _KEEP_APP) or marker == 0xFE
        if metadata:
            dropped = True
        else:
            kept.append(view[i : i + 2 + length])
        i += 2 + length
    return None


def store_photos(photos: Sequence[tuple[bytes, Image.Image, Photo, str]], store: Path) -> None:
    """Write each photo's original, an upright EXIF-free public copy and a thumbnail.

    Takes (bytes, opened image, description, where) per photo. All are decoded before any is
    written (`inspect` reads only the headers): one whose data is cut short or corrupt is a
    415 problem at its `where`, and no file is left behind.
    """
    todo = []
    for data, img, photo, where in photos:
        files = paths(store, photo.sha256)
        if files["thumb"].exists():
            continue  # stored before: content addressing makes this a no-op
        try:
            public, thumb = _renditions(data, img)
        except (OSError, SyntaxError, ValueError) as exc:
            raise NotAnImage(f"not a readable image: {exc}", where=where) from exc
        todo.append((files, data, public, thumb))
    for files, data, public, thumb in todo:
        _write_once(files["orig"], data)
        if public is data:  # nothing to drop (the phone page's photos): one file under both names
            _link_once(files["orig"], files["public"])
        else:
            _write_once(files["public"], public)
        _write_once(files["thumb"], thumb)


def _renditions(data: bytes, img: Image.Image) -> tuple[bytes, bytes]:
    """The public copy (upright, no metadata) and the thumbnail, as JPEG bytes."""
    upright_already = img.getexif().get(0x0112, 1) == 1
    if img.format == "JPEG" and upright_already and max(img.size) <= PUBLIC_MAX_SIDE:
        # the usual case from the phone page: drop the metadata losslessly, and decode only for
        # the thumbnail, at the smallest of libjpeg's 1/2, 1/4 and 1/8 scales that keeps
        # THUMB_SIDE: that is the thumbnail (1,600 px → 400 px), with no resampling after it
        # (0.7 ms of a phone photo's 4 ms)
        stripped = strip_jpeg_metadata(data)
        if stripped is not None:
            k = next((k for k in (8, 4, 2) if max(img.size) >= THUMB_SIDE * k), 1)
            img.draft("RGB", (max(1, img.width // k), max(1, img.height // k)))
            small = img.convert("RGB")
            small.thumbnail((2 * THUMB_SIDE, 2 * THUMB_SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)
            thumb = io.BytesIO()
            small.save(thumb, "JPEG", quality=75)
            return stripped, thumb.getvalue()
    if img.format == "JPEG":
        # let libjpeg decode at 1/2, 1/4 or 1/8 scale straight away: a 12 MP phone photo is
        # never kept above PUBLIC_MAX_SIDE, and a full decode costs ten times the CPU
        img.draft("RGB", (PUBLIC_MAX_SIDE, PUBLIC_MAX_SIDE))
    # shrink first (a square box does not care about orientation), then turn the small image
    # upright: rotating a full-size photo costs more than everything else together
    img.thumbnail((PUBLIC_MAX_SIDE, PUBLIC_MAX_SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    upright = ImageOps.exif_transpose(img).convert("RGB")
    public = io.BytesIO()
    upright.save(public, "JPEG", quality=85)  # no exif= argument: metadata is dropped
    thumb_img = upright.copy()
    thumb_img.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    thumb = io.BytesIO()
    thumb_img.save(thumb, "JPEG", quality=75)
    return public.getvalue(), thumb.getvalue()


def readable(conn: sa.Connection, sha256: str) -> bool:
    """Whether a photo belongs to an incident the transaction's user may read (row-level security).

    An unreadable photo is as absent as a missing one.
    """
    row = conn.execute(sa.text("SELECT 1 FROM incident_photo WHERE sha256 = :h LIMIT 1"), {"h": sha256})
    return row.first() is not None
