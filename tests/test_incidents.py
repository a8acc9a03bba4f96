"""Snap-and-report: submission, routing, idempotency, photos, bad input, reading, stats."""

import hashlib
import io
import threading
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from PIL import Image

from tests.conftest import assert_problem
from tests.photos import jpeg


def post(client, auth, user="citizen", key=None, files=None, **fields):
    data = {"category": "0101", "description": "垃圾堆放", **{k: str(v) for k, v in fields.items()}}
    headers = {**auth(user), "Idempotency-Key": key or str(uuid.uuid4())}
    return client.post("/api/v1/incidents", data=data, files=files or [], headers=headers)


def test_submit_routes_by_place_and_category(client, auth, engine, spot):
    x, y, code = spot
    r = post(client, auth, lon=x, lat=y, files=[("photos", ("a.jpg", jpeg(), "image/jpeg"))])
    assert r.status_code == 201, r.text
    p = r.json()["properties"]
    assert (
        p["grid_code"] == code and p["community_code"] == code[:12] and p["street_code"] == code[:9] + "000"
    )
    assert p["state"] == "reported" and p["level"] == "grid" and p["department_code"] == "grid_self"
    assert p["source"] == "citizen" and p["version"] == 1 and r.headers["ETag"] == '"v1"'
    assert r.headers["Location"] == f"/api/v1/incidents/{r.json()['id']}"
    full = client.get(r.headers["Location"], headers=auth()).json()["properties"]
    assert [e["action"] for e in full["timeline"]] == ["report"]
    assert "timeline" not in p  # the submit answer is the summary; the full record is at Location
    with engine.connect() as c:
        due, rep = c.execute(
            sa.text("SELECT due_at, reported_at FROM incident WHERE id = :i"), {"i": r.json()["id"]}
        ).one()
        accept_h = c.execute(sa.text("SELECT accept_hours FROM category WHERE code = '0101'")).scalar()
    assert (due - rep).total_seconds() == pytest.approx(float(accept_h) * 3600)


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


def test_gcj02_location_is_converted(client, auth, spot):
    from gis_core.crs import wgs84_to_gcj02

    x, y, code = spot
    gx, gy = wgs84_to_gcj02(x, y)
    r = post(client, auth, lon=gx, lat=gy, crs="GCJ-02")
    assert r.status_code == 201 and r.json()["properties"]["grid_code"] == code
    lon, lat = r.json()["geometry"]["coordinates"]
    assert abs(lon - x) < 1e-7 and abs(lat - y) < 1e-7


def test_retry_with_same_key_returns_the_same_incident_and_stores_nothing(client, auth, engine, spot):
    x, y, _ = spot
    key = str(uuid.uuid4())
    files = [("photos", ("a.jpg", jpeg(), "image/jpeg"))]
    first = post(client, auth, key=key, lon=x, lat=y, files=files)
    with engine.connect() as c:
        n = c.execute(sa.text("SELECT count(*) FROM incident")).scalar()
    again = post(client, auth, key=key, lon=x, lat=y, files=files)
    assert again.status_code == 200 and again.headers["Idempotency-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.json() == first.json()  # the stored fields read back = those the insert returned
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM incident")).scalar() == n
        assert (
            c.execute(
                sa.text("SELECT count(*) FROM incident_event WHERE incident_id = :i"),
                {"i": first.json()["id"]},
            ).scalar()
            == 1
        )


def test_replayed_key_with_another_body_is_a_conflict(client, auth, engine, spot):
    x, y, _ = spot
    key = str(uuid.uuid4())
    assert post(client, auth, key=key, lon=x, lat=y).status_code == 201
    with engine.connect() as c:
        n = c.execute(sa.text("SELECT count(*) FROM incident")).scalar()
    body = assert_problem(post(client, auth, key=key, lon=x, lat=y, description="另一件事"), 409, "conflict")
    assert body["where"] == "header.Idempotency-Key"
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM incident")).scalar() == n


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


def test_the_report_form_is_documented(client):
    body = client.get("/openapi.json").json()["paths"]["/api/v1/incidents"]["post"]["requestBody"]
    schema = body["content"]["multipart/form-data"]["schema"]
    assert body["required"] is True and schema["required"] == ["category"]
    assert {"category", "description", "lon", "lat", "crs", "source", "photos"} == set(schema["properties"])
    assert schema["properties"]["photos"]["type"] == "array"
    assert schema["properties"]["description"]["maxLength"] == 2000


def _count(engine):
    with engine.connect() as c:
        return c.execute(sa.text("SELECT count(*) FROM incident")).scalar()


@pytest.mark.parametrize(
    "case",
    [
        "no-location",
        "outside",
        "unknown-category",
        "not-image",
        "truncated-jpeg",
        "ten-photos",
        "bad-crs",
        "half-location",
        "no-key",
        "no-category",
        "lon-not-a-number",
        "lon-not-finite",
        "description-too-long",
        "text-as-photo",
    ],
)
def test_bad_submissions_are_problems_and_store_nothing(client, auth, engine, spot, case):
    x, y, _ = spot
    before = _count(engine)
    if case == "no-location":
        r = post(client, auth, files=[("photos", ("a.jpg", jpeg(), "image/jpeg"))])
        assert_problem(r, 400, "invalid-input")
    elif case == "outside":
        assert_problem(post(client, auth, lon=116.4, lat=39.9), 400, "outside-district")
    elif case == "unknown-category":
        body = assert_problem(post(client, auth, lon=x, lat=y, category="9999"), 400)
        assert body["where"] == "body.category"
    elif case == "not-image":
        r = post(
            client, auth, lon=x, lat=y, files=[("photos", ("a.jpg", b"%PDF-1.4 not a photo", "image/jpeg"))]
        )
        assert assert_problem(r, 415, "not-an-image")["where"] == "body.photos[0]"
    elif case == "truncated-jpeg":  # a good photo, then one whose data is cut short (headers whole)
        good, whole = jpeg(color=(1, 2, 3)), jpeg(640, 480)
        files = [
            ("photos", ("a.jpg", good, "image/jpeg")),
            ("photos", ("b.jpg", whole[: len(whole) // 2], "image/jpeg")),
        ]
        r = post(client, auth, lon=x, lat=y, files=files)
        assert assert_problem(r, 415, "not-an-image")["where"] == "body.photos[1]"
        assert not list(client.app.state.settings.photo_dir.glob(f"*/{hashlib.sha256(good).hexdigest()}*"))
    elif case == "ten-photos":
        files = [("photos", (f"{i}.jpg", jpeg(color=(i, i, i)), "image/jpeg")) for i in range(10)]
        assert (
            assert_problem(post(client, auth, lon=x, lat=y, files=files), 400, "too-many-photos")["where"]
            == "body.photos[9]"
        )
    elif case == "bad-crs":
        assert_problem(post(client, auth, lon=x, lat=y, crs="EPSG:999999"), 400, "unknown-crs")
    elif case == "half-location":
        assert_problem(post(client, auth, lon=x), 400)
    elif case == "no-key":
        r = client.post(
            "/api/v1/incidents", data={"category": "0101", "lon": x, "lat": y}, headers=auth("citizen")
        )
        assert assert_problem(r, 422)["where"] == "header.Idempotency-Key"
    elif case == "no-category":
        r = client.post(
            "/api/v1/incidents",
            data={"category": "", "lon": x, "lat": y},  # an empty field is a field not sent
            headers={**auth("citizen"), "Idempotency-Key": str(uuid.uuid4())},
        )
        assert assert_problem(r, 422, "validation-error")["where"] == "body.category"
    elif case in ("lon-not-a-number", "lon-not-finite"):
        lon = "east" if case == "lon-not-a-number" else "inf"
        assert assert_problem(post(client, auth, lon=lon, lat=y), 422)["where"] == "body.lon"
    elif case == "description-too-long":
        r = post(client, auth, lon=x, lat=y, description="长" * 2001)
        assert assert_problem(r, 422)["where"] == "body.description"
    elif case == "text-as-photo":
        r = client.post(
            "/api/v1/incidents",
            data={"category": "0101", "lon": x, "lat": y, "photos": "not a file"},
            headers={**auth("citizen"), "Idempotency-Key": str(uuid.uuid4())},
        )
        assert assert_problem(r, 422)["where"] == "body.photos[0]"
    assert _count(engine) == before


def test_oversized_photo_is_413(settings, spot):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from gis_core.demo_load import DEMO_PASSWORD

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


def test_report_near_a_grid_edge_is_flagged_with_both_sides(client, auth, engine):
    with engine.connect() as c:
        x, y, a, b = c.execute(
            sa.text(
                "SELECT ST_X(p), ST_Y(p), a.code, b.code FROM grid a JOIN grid b ON a.id < b.id "
                "AND ST_Relate(a.geom, b.geom, 'F***1****'), "
                "LATERAL ST_PointOnSurface(ST_Intersection(ST_Buffer(ST_Intersection(a.geom, b.geom), 0.00005), a.geom)) p "
                "ORDER BY a.code LIMIT 1"
            )
        ).one()
    p = post(client, auth, lon=x, lat=y).json()["properties"]
    assert p["near_boundary"] is True
    assert {p["grid_code"], *p["adjacent_grid_codes"]} >= {a, b}


def test_nearby_open_report_of_the_same_category_is_a_possible_duplicate(client, auth, spot):
    x, y, _ = spot
    first = post(client, auth, lon=x, lat=y, category="0302").json()
    second = post(client, auth, lon=x + 0.0001, lat=y, category="0302")
    dups = client.get(second.headers["Location"], headers=auth()).json()["properties"]["possible_duplicates"]
    assert first["id"] in [d["id"] for d in dups]
    d = next(d for d in dups if d["id"] == first["id"])
    assert 5 < d["distance_m"] < 15
    other = post(client, auth, lon=x, lat=y, category="1001")
    other_dups = client.get(other.headers["Location"], headers=auth()).json()["properties"][
        "possible_duplicates"
    ]
    assert first["id"] not in [d["id"] for d in other_dups]


def test_list_filters_paging_and_scope(client, auth, spot):
    x, y, code = spot
    mine = post(client, auth, user="gridworker", lon=x, lat=y, category="0903").json()
    r = client.get(
        "/api/v1/incidents", params={"category": "0903", "area": code, "limit": 1}, headers=auth("commander")
    )
    body = r.json()
    assert body["type"] == "FeatureCollection" and body["numberReturned"] == 1
    assert body["features"][0]["properties"]["category_code"] == "0903"
    assert body["numberMatched"] >= 1
    d = 0.001
    inbox = client.get(
        "/api/v1/incidents",
        params={"bbox": f"{x - d},{y - d},{x + d},{y + d}", "limit": 1000},
        headers=auth(),
    ).json()
    assert mine["id"] in [f["id"] for f in inbox["features"]]
    for f in inbox["features"]:
        lon, lat = f["geometry"]["coordinates"]
        assert x - d <= lon <= x + d and y - d <= lat <= y + d
    page = client.get("/api/v1/incidents", params={"limit": 5}, headers=auth()).json()
    assert page["links"][0]["rel"] == "next" and "offset=5" in page["links"][0]["href"]
    # a citizen sees only their own reports
    own = client.get("/api/v1/incidents", params={"limit": 1000}, headers=auth("citizen")).json()
    assert mine["id"] not in [f["id"] for f in own["features"]]
    assert_problem(client.get(f"/api/v1/incidents/{mine['id']}", headers=auth("citizen")), 404)
    assert (
        client.get("/api/v1/incidents", params={"mine": "true"}, headers=auth("gridworker")).json()[
            "numberMatched"
        ]
        >= 1
    )


@pytest.mark.parametrize(
    "params,where",
    [
        ({"bbox": "1,2,3"}, "query.bbox"),
        ({"bbox": "5,5,1,1"}, "query.bbox"),
        ({"limit": 10**9}, "query.limit"),
        ({"state": "lost"}, "query.state"),
        ({"area": "abc"}, "query.area"),
    ],
)
def test_list_bad_filters_are_problems(client, auth, params, where):
    r = client.get("/api/v1/incidents", params=params, headers=auth())
    assert r.status_code in (400, 422)
    assert assert_problem(r, r.status_code)["where"] == where


def test_stats_agree_with_an_independent_count(client, auth, engine):
    s = client.get("/api/v1/incidents/stats", headers=auth()).json()
    with engine.connect() as c:
        total, closed, rejected, merged, sat, rated = c.execute(
            sa.text(
                "SELECT count(*), count(*) FILTER (WHERE state='closed'), count(*) FILTER (WHERE state='rejected'), "
                "count(*) FILTER (WHERE state='merged'), count(*) FILTER (WHERE rating IN ('satisfied','basic')), "
                "count(*) FILTER (WHERE rating IS NOT NULL) FROM incident"
            )
        ).one()
    assert s["total"] == total and sum(s["by_state"].values()) == total
    assert s["completion_rate"] == pytest.approx(closed / (total - rejected - merged), abs=1e-4)
    assert s["satisfaction_rate"] == pytest.approx(sat / rated, abs=1e-4)
    assert sum(s["closed_at_level"].values()) == closed
    assert s["median_seconds_to_accept"] > 0
    street = client.get("/api/v1/incidents/stats", headers=auth("street")).json()
    assert 0 < street["total"] < total


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
    from gis_core.photos import strip_jpeg_metadata

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
    from gis_core.photos import inspect, paths, store_photos
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


@pytest.mark.parametrize("user", ["citizen", "gridworker", "community", "street", "handler", "commander"])
def test_every_reporter_gets_their_stored_report_back_on_a_retry(client, auth, engine, spot, user):
    """Whoever reports, a retry is answered with the incident stored the first time."""
    x, y, _ = spot
    key = str(uuid.uuid4())
    # category 0101 goes to the grid: outside the department handler's own department
    first = post(client, auth, user=user, key=key, lon=x, lat=y)
    assert first.status_code == 201, first.text
    again = post(client, auth, user=user, key=key, lon=x, lat=y)
    assert again.status_code == 200, again.text
    assert again.headers["Idempotency-Replayed"] == "true"
    assert again.json() == first.json()
    with engine.connect() as c:
        assert (
            c.execute(
                sa.text("SELECT count(*) FROM incident WHERE idempotency_key = :k"), {"k": key}
            ).scalar()
            == 1
        )


@pytest.mark.parametrize("user", ["handler", "street", "community", "gridworker"])
def test_reporters_follow_their_own_reports_outside_their_area(client, auth, engine, user):
    """A report filed outside the reporter's area or department is still theirs to list and read."""
    with engine.connect() as c:
        x, y = c.execute(  # a grid of the last street: outside the demo officers' and worker's areas
            sa.text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(ST_Buffer(geom, -0.0004)) p "
                "FROM grid ORDER BY code DESC LIMIT 1) s"
            )
        ).one()
    r = post(client, auth, user=user, lon=x, lat=y, category="0101")  # a grid matter: no department's
    assert r.status_code == 201, r.text
    mine = client.get("/api/v1/incidents", params={"mine": "true", "limit": 1000}, headers=auth(user)).json()
    assert r.json()["id"] in [f["id"] for f in mine["features"]]
    assert client.get(r.headers["Location"], headers=auth(user)).status_code == 200


def test_a_retry_racing_the_first_submission_gets_the_stored_answer(client, engine, spot):
    """Two submissions under one key at once: the second waits for the first, then answers with it."""
    from gis_core.auth import User
    from gis_core.incidents.submit import Submission, submit

    state = client.app.state
    with engine.connect() as o:
        user = User(
            *o.execute(
                sa.text(
                    "SELECT id, username, display_name, role, jurisdiction_code, department_code "
                    "FROM app_user WHERE username = 'gridworker'"
                )
            ).one()
        )
    x, y, _ = spot
    sub, key, now = Submission(category="0101", lon=x, lat=y), str(uuid.uuid4()), datetime.now(UTC)
    index = state.grid_cache.get()
    second: dict = {}

    def retry():
        with state.engine.begin() as c:
            second["done"] = submit(c, index, state.settings, user, sub, key, now)

    with state.engine.connect() as c:
        c.begin()
        first = submit(c, index, state.settings, user, sub, key, now)
        racer = threading.Thread(target=retry)
        racer.start()
        racer.join(0.5)
        assert racer.is_alive()  # its insert waits on the first's uncommitted key
        c.commit()
    racer.join(10)
    assert not first.replayed and second["done"].replayed
    assert second["done"].id == first.id and second["done"].feature == first.feature
