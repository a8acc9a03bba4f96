"""A report's photos.

Stored upright and stripped, thumbnails, limits on size and pixels, EXIF location, and who may read
them.
"""

import hashlib
import io
import uuid

import pytest
from PIL import Image

from tests.conftest import assert_problem
from tests.photos import jpeg
from tests.test_incidents import post


def test_photos_are_stored_upright_without_exif_with_thumbnail(client, auth, spot):
    x, y, _ = spot
    raw = jpeg(80, 40, gps=(x, y), orientation=6)
    r = post(client, auth, lon=x, lat=y, files=[("photos", ("a.jpg", raw, "image/jpeg"))])
    photo = client.get(r.headers["Location"], headers=auth()).json()["properties"]["photos"][0]
    assert photo["url"] == f"/api/v1/photos/{hashlib.sha256(raw).hexdigest()}.jpg"  # content-addressed
    pub = client.get(photo["url"], headers=auth())
    assert pub.status_code == 200 and pub.headers["content-type"] == "image/jpeg"
    img = Image.open(io.BytesIO(pub.content))
    assert img.size == (40, 80)  # orientation 6: rotated a quarter turn
    assert (photo["width"], photo["height"]) == img.size  # the stored size is the served one
    assert len(img.getexif()) == 0 and img.getexif().get_ifd(0x8825) == {}
    thumb = Image.open(io.BytesIO(client.get(photo["thumbnail"], headers=auth()).content))
    assert thumb.size == img.size  # under THUMB_SIDE: its own thumbnail
    assert_problem(client.get("/api/v1/photos/" + "0" * 64 + ".orig", headers=auth()), 404)


def test_a_photo_is_readable_exactly_when_its_incident_is(client, auth, spot):
    x, y, _ = spot
    raw = jpeg(72, 36, color=(10, 120, 200))
    r = post(client, auth, user="commander", lon=x, lat=y, files=[("photos", ("p.jpg", raw, "image/jpeg"))])
    photo = client.get(r.headers["Location"], headers=auth("commander")).json()["properties"]["photos"][0]
    assert_problem(client.get(r.headers["Location"], headers=auth("citizen")), 404)
    for url in (photo["url"], photo["thumbnail"]):
        assert client.get(url, headers=auth("commander")).status_code == 200
        body = assert_problem(client.get(url, headers=auth("citizen")), 404)  # as absent as a missing one
        assert body["where"] == "path.name"
    # the same picture in the citizen's own report: now theirs to read too
    mine = post(client, auth, user="citizen", lon=x, lat=y, files=[("photos", ("p.jpg", raw, "image/jpeg"))])
    assert mine.status_code == 201
    assert client.get(photo["url"], headers=auth("citizen")).status_code == 200


def test_exif_gps_stands_in_for_a_missing_location(client, auth, spot):
    x, y, code = spot
    r = post(client, auth, files=[("photos", ("a.jpg", jpeg(gps=(x, y)), "image/jpeg"))])
    assert r.status_code == 201, r.text
    assert r.json()["properties"]["grid_code"] == code


@pytest.mark.parametrize("disposition", ['name="photos"; filename=""', 'name="photos"'])
def test_an_empty_file_input_is_no_photo(client, auth, spot, disposition):
    """What a browser sends for a file input left empty (an empty file part), or a client that drops the name."""
    x, y, _ = spot
    fields = {"category": "0101", "lon": x, "lat": y}
    body = "".join(
        f'--B\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()
    )
    body += f"--B\r\nContent-Disposition: form-data; {disposition}\r\nContent-Type: application/octet-stream\r\n\r\n\r\n--B--\r\n"
    headers = {**auth("citizen"), "Idempotency-Key": str(uuid.uuid4())}
    headers["Content-Type"] = "multipart/form-data; boundary=B"
    r = client.post("/api/v1/incidents", content=body.encode(), headers=headers)
    assert r.status_code == 201, r.text
    assert client.get(r.headers["Location"], headers=auth()).json()["properties"]["photos"] == []


def test_oversized_photo_is_413(settings, spot):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from gis_core.ingest.demo_load import DEMO_PASSWORD

    small = settings.model_copy(update={"photo_max_bytes": 2000, "escalation_interval_s": 0})
    with TestClient(create_app(small)) as c:
        tok = c.post("/api/v1/auth/token", data={"username": "citizen", "password": DEMO_PASSWORD}).json()[
            "access_token"
        ]
        h = {"Authorization": f"Bearer {tok}", "Idempotency-Key": str(uuid.uuid4())}
        big = jpeg(400, 400)
        assert len(big) > 2000
        r = c.post(
            "/api/v1/incidents",
            data={"category": "0101", "lon": spot[0], "lat": spot[1]},
            files=[("photos", ("a.jpg", big, "image/jpeg"))],
            headers=h,
        )
        assert_problem(r, 413, "photo-too-large")
        r = c.post(
            "/api/v1/incidents", data={"category": "0101"}, headers={**h, "Content-Length": str(10**9)}
        )
        assert_problem(r, 413, "request-too-large")


def test_decompression_bomb_is_refused(client, auth, spot):
    img = Image.new("1", (9000, 9000))  # 81 MP, a few KB as PNG
    out = io.BytesIO()
    img.save(out, "PNG")
    r = post(
        client, auth, lon=spot[0], lat=spot[1], files=[("photos", ("b.png", out.getvalue(), "image/png"))]
    )
    assert r.status_code in (413, 415)


def test_upright_jpeg_loses_its_metadata_but_not_a_pixel(client, auth, spot):
    x, y, _ = spot
    raw = jpeg(200, 150, gps=(x, y))  # EXIF with GPS and Make, no rotation
    r = post(client, auth, lon=x, lat=y, files=[("photos", ("a.jpg", raw, "image/jpeg"))])
    photo = client.get(r.headers["Location"], headers=auth()).json()["properties"]["photos"][0]
    public = client.get(photo["url"], headers=auth()).content
    assert b"Exif" not in public and b"TestPhone" not in public
    assert Image.open(io.BytesIO(public)).tobytes() == Image.open(io.BytesIO(raw)).tobytes()
    thumb = Image.open(io.BytesIO(client.get(photo["thumbnail"], headers=auth()).content))
    assert thumb.size == (200, 150)  # under THUMB_SIDE: its own thumbnail


def test_strip_refuses_what_is_not_a_plain_jpeg():
    from gis_core.incidents.photos import strip_jpeg_metadata

    assert strip_jpeg_metadata(b"\x89PNG\r\n") is None
    assert strip_jpeg_metadata(b"\xff\xd8\x00\x00\x00") is None


@pytest.mark.parametrize(
    ("size", "thumb"),
    [
        ((1600, 1200), (400, 300)),
        ((640, 480), (320, 240)),
        ((1279, 959), (640, 480)),
        ((1200, 1600), (300, 400)),
    ],
)
def test_a_jpeg_thumbnail_is_libjpegs_scaled_decode(tmp_path, size, thumb):
    """The smallest of the 1/2, 1/4, 1/8 scales that keeps 320 px: no resampling, 320-640 px."""
    from gis_core.incidents.photos import inspect, paths, store_photos
    from tests.photos import phone_photo

    data = phone_photo(*size, seed=3)  # 1,600 px is what the phone page sends
    img, photo = inspect(data, 10**7, 10**8, "body.photos[0]")
    store_photos([(data, img, photo, "body.photos[0]")], tmp_path)
    files = paths(tmp_path, photo.sha256)
    assert Image.open(files["thumb"]).size == thumb
    assert files["orig"].read_bytes() == data and files["public"].read_bytes() == data  # no metadata to drop
    assert files["public"].stat().st_ino == files["orig"].stat().st_ino  # stored once, under two names
    files["thumb"].unlink()  # as if a crash had cut the first store short: the rest is done again
    img, photo = inspect(data, 10**7, 10**8, "body.photos[0]")
    store_photos([(data, img, photo, "body.photos[0]")], tmp_path)
    assert Image.open(files["thumb"]).size == thumb
