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
