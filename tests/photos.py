"""Test photos made with Pillow: plain, with EXIF GPS, with an EXIF orientation."""

import io

from PIL import Image
from PIL.TiffImagePlugin import IFDRational


def jpeg(w=64, h=48, gps=None, orientation=None, color=(200, 30, 30)) -> bytes:
    img = Image.new("RGB", (w, h), color)
    exif = Image.Exif()
    exif[0x010F] = "TestPhone"  # Make: something to strip
    if orientation:
        exif[0x0112] = orientation
    if gps:
        lon, lat = gps

        def dms(v):
            d = int(v)
            m = int((v - d) * 60)
            s = round(((v - d) * 60 - m) * 60 * 1000)
            return (IFDRational(d, 1), IFDRational(m, 1), IFDRational(s, 1000))

        exif[0x8825] = {1: "N", 2: dms(lat), 3: "E", 4: dms(lon)}
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def tagged(photo: bytes, tag: str) -> bytes:
    """`photo` (a JPEG) made distinct by a comment segment carrying `tag`: same pixels, new hash."""
    text = tag.encode()
    return photo[:2] + b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text + photo[2:]


def phone_photo(w=1600, h=1200, seed=1) -> bytes:
    """A JPEG the size the phone page uploads (1,600 px, quality 85, ~280 KB): gradients, blocks
    of texture and sensor noise, so that it compresses like a photo rather than a flat colour."""
    import numpy as np

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x / w * 200 + 30, y / h * 180 + 40, (x + y) / (w + h) * 160 + 50], axis=-1)
    blocks = rng.integers(0, 60, (h // 40 + 1, w // 40 + 1, 3)).repeat(40, 0).repeat(40, 1)[:h, :w]
    pixels = np.clip(base + blocks + rng.normal(0, 6, (h, w, 3)), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=85)
    return out.getvalue()
