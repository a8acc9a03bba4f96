"""Tracks: the fix filter, stay points and road coverage (pure), uploads and trajectories (API, real PostGIS)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import shapely
import sqlalchemy as sa

from gis_core.field import tracks, trajectory
from gis_core.geo.crs import transformer
from tests.conftest import assert_problem

EPSG = 4550
LIMITS = tracks.Limits(max_accuracy_m=50, max_speed_mps=10)


def _fixes(worker, t, x, y, acc=None):
    """Fixes from metric coordinates (EPSG:4550) near the demo district."""
    lon, lat = transformer(EPSG, 4326).transform(np.asarray(x, float), np.asarray(y, float))
    n = len(t)
    return tracks.Fixes(
        worker_id=np.asarray(worker, dtype=np.int64),
        t=np.asarray(t, dtype=float),
        lon=np.asarray(lon),
        lat=np.asarray(lat),
        accuracy_m=np.full(n, 5.0) if acc is None else np.asarray(acc, float),
        speed_mps=np.full(n, np.nan),
    )


def _walk(n=60, x0=520_000.0, y0=4_450_000.0, v=1.2, dt=30.0):
    t = np.arange(n) * dt
    return t, x0 + v * t, np.full(n, y0)


def test_filter_finds_exactly_the_planted_jumps_duplicates_and_poor_fixes():
    t, x, y = _walk()
    x, y = x.copy(), y.copy()
    spikes = [10, 25, 40]
    for k in spikes:
        x[k] += 800.0  # 800 m off and back within 30 s: 27 m/s
    acc = np.full(len(t), 5.0)
    acc[33] = 120.0
    # a phone retry sends fixes 50..54 again
    tt, xx, yy = (np.concatenate([a, a[50:55]]) for a in (t, x, y))
    acc = np.concatenate([acc, acc[50:55]])
    f = _fixes(np.ones(len(tt)), tt, xx, yy, acc)
    xm, ym = transformer(4326, EPSG).transform(f.lon, f.lat)
    r = tracks.classify(f, np.asarray(xm), np.asarray(ym), LIMITS)
    assert sorted(np.flatnonzero(r == tracks.JUMP).tolist()) == spikes
    assert np.flatnonzero(r == tracks.ACCURACY).tolist() == [33]
    assert np.flatnonzero(r == tracks.DUPLICATE).tolist() == list(range(60, 65))
    assert (r == tracks.KEPT).sum() == 60 - 3 - 1


def test_a_relocation_is_kept_and_the_first_fix_anchors_the_track():
    t, x, y = _walk(20)
    x = x.copy()
    x[10:] += 900.0  # the walk continues 900 m away: fix 10 is reached fast but agrees with 11..
    f = _fixes(np.ones(20), t, x, y)
    r = tracks.classify(f, x, y, LIMITS)
    assert (r == tracks.KEPT).all()
    # a stored fix far from the batch's first: the first fix is judged against it and the next
    prev = {1: (-30.0, x[0] - 900.0, y[0])}
    r = tracks.classify(f, x, y, LIMITS, prev)
    assert (r == tracks.KEPT).all()  # first fix agrees with the second: a relocation, kept
    x2 = x.copy()
    x2[0] += 900  # now the first fix is a spike between the stored fix and fix 1
    prev = {1: (-30.0, x[0], y[0])}
    r = tracks.classify(_fixes(np.ones(20), t, x2, y), x2, y, LIMITS, prev)
    assert r[0] == tracks.JUMP and (r[1:] == tracks.KEPT).all()


def test_filter_keeps_workers_apart():
    t, x, y = _walk(10)
    # worker 2 is 5 km away at the same times: no jump between interleaved workers
    f = _fixes(np.r_[np.ones(10), np.full(10, 2)], np.r_[t, t], np.r_[x, x + 5000], np.r_[y, y])
    r = tracks.classify(f, f_x := np.r_[x, x + 5000], np.r_[y, y], LIMITS)
    assert (r == tracks.KEPT).all() and len(f_x) == 20


def test_stay_points_need_five_minutes_within_fifty_metres():
    # walk 5 min, stand 8 min (jitter < 10 m), walk, stand 4 min (too short), walk
    t = np.arange(0, 40 * 60, 30.0)
    x = np.zeros_like(t)
    pos = 0.0
    for k in range(1, len(t)):
        moving = not (300 <= t[k] < 780 or 1200 <= t[k] < 1440)
        pos += 1.2 * 30 if moving else 0.0
        x[k] = pos
    rng = np.random.default_rng(1)
    y = rng.normal(0, 3, len(t))
    stays = trajectory.stay_points(t, x, y)
    assert len(stays) == 1
    i, j = stays[0]
    assert t[i] <= 330 and t[j] >= 750 and 420 <= t[j] - t[i] <= 510


def test_road_coverage_against_a_hand_checked_grid():
    """A 100 m square grid, a road across it at y=50 and one along x=80; the track walks y=50 to x=50.

    Within 30 m of the track: the cross road from x=0 to x=80 (80 m; the square clips at 0),
    and of the x=80 road only the point (80, 50) exactly 30 m away. 80 of 200 m: 0.4.
    """
    grid = shapely.box(0, 0, 100, 100)
    roads = shapely.MultiLineString([[(-50, 50), (150, 50)], [(80, -20), (80, 120)], [(300, 0), (300, 100)]])
    track = shapely.LineString([(0, 50), (50, 50)])
    total, covered = trajectory.road_coverage(roads, grid, track, within_m=30)
    assert total == pytest.approx(200.0)
    assert covered == pytest.approx(80.0, abs=0.01)
    assert trajectory.road_coverage(roads, grid, shapely.LineString(), 30) == (pytest.approx(200.0), 0.0)


# ---------------------------------------------------------------- API against PostGIS


def _batch(lon0, lat0, start, n=40, dt=30, spike_at=(), poor_at=()):
    """A walk east at ~1.2 m/s from (lon0, lat0); spikes ~900 m north, poor fixes of 150 m accuracy."""
    fixes = []
    for k in range(n):
        lat = lat0 + (0.0081 if k in spike_at else 0.0)
        fixes.append(
            {
                "t": (start + timedelta(seconds=k * dt)).isoformat(),
                "lon": lon0 + k * dt * 1.2 / (111_320 * math.cos(math.radians(lat0))),
                "lat": lat,
                "accuracy": 150.0 if k in poor_at else 6.0,
                "speed": 1.2,
            }
        )
    return {"fixes": fixes}


def _count(engine, table, worker, start, end):
    with engine.connect() as c:
        return c.execute(
            sa.text(
                f"SELECT count(*) FROM {table} WHERE worker_id = :w AND recorded_at >= :a AND recorded_at < :b"
            ),
            {"w": worker, "a": start, "b": end},
        ).scalar_one()


def test_upload_stores_once_and_counts_what_it_refused(client, auth, engine, spot):
    lon, lat, _ = spot
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    body = _batch(lon, lat, start, spike_at=(7, 21), poor_at=(12,))
    r = client.post("/api/v1/tracks", json=body, headers=auth("gridworker"))
    assert r.status_code == 200, r.text
    assert r.json() | {"limits": None} == {
        "received": 40,
        "stored": 37,
        "duplicates": 0,
        "rejected": {"accuracy": 1, "jump": 2},
        "limits": None,
    }
    # the phone retries the same batch: nothing new
    again = client.post("/api/v1/tracks", json=body, headers=auth("gridworker")).json()
    assert (
        again["stored"] == 0 and again["duplicates"] == 37 and again["rejected"] == {"accuracy": 1, "jump": 2}
    )
    end = start + timedelta(hours=1)
    assert _count(engine, "track_point", 1, start, end) == 37
    assert _count(engine, "track_rejected", 1, start, end) == 3


def test_worker_position_follows_the_newest_upload(client, auth, engine, spot):
    lon, lat, _ = spot
    with engine.connect() as c:  # other tests may have stored newer fixes of worker 1 already
        newest = c.execute(
            sa.text("SELECT max(recorded_at) FROM track_point WHERE worker_id = 1")
        ).scalar_one()
    start = max(
        datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3), newest + timedelta(seconds=1)
    )
    r = client.post("/api/v1/tracks", json=_batch(lon, lat, start, n=5), headers=auth("gridworker"))
    assert r.json()["stored"] == 5
    with engine.connect() as c:
        at = c.execute(sa.text("SELECT recorded_at FROM worker_position WHERE worker_id = 1")).scalar_one()
    assert at == start + timedelta(seconds=120)


@pytest.mark.parametrize(
    ("mutate", "status", "where"),
    [
        (lambda b: b["fixes"][3].update(lat=95.0), 400, "body.fixes[3].lon,lat"),
        (lambda b: b.update(crs="EPSG:999999"), 400, "body.fixes.crs"),
        (lambda b: b["fixes"][2].update(t="2099-01-01T00:00:00+00:00"), 400, "body.fixes[2].t"),
        (lambda b: b["fixes"][1].update(worker_id=2), 403, "body.fixes.worker_id"),
        (lambda b: b["fixes"][0].update(accuracy=-1), 422, "body.fixes.0.accuracy"),
        (lambda b: b["fixes"][4].update(t="2026-04-06T09:00:00"), 422, "body.fixes.4.t"),
        (lambda b: b["fixes"][5].pop("lat"), 422, "body.fixes.5.lat"),
        (lambda b: b.pop("fixes"), 422, "body.fixes"),
    ],
    ids=[
        "latitude",
        "unknown-crs",
        "future",
        "someone-else",
        "negative-accuracy",
        "no-utc-offset",
        "no-lat",
        "no-fixes",
    ],
)
def test_bad_uploads_are_refused_and_store_nothing(client, auth, engine, spot, mutate, status, where):
    lon, lat, _ = spot
    start = datetime(2026, 4, 6, 9, 0, tzinfo=UTC)
    body = _batch(lon, lat, start, n=6)
    mutate(body)
    body_resp = assert_problem(client.post("/api/v1/tracks", json=body, headers=auth("gridworker")), status)
    if where:
        assert body_resp["where"] == where
    assert _count(engine, "track_point", 1, start, start + timedelta(hours=1)) == 0


def test_malformed_json_is_a_422_problem(client, auth):
    r = client.post(
        "/api/v1/tracks",
        content=b'{"fixes": [{"t": ',
        headers={**auth("gridworker"), "Content-Type": "application/json"},
    )
    assert assert_problem(r, 422, "validation-error")["errors"][0]["type"] == "json_invalid"


def test_the_upload_schema_is_documented(client):
    body = client.get("/openapi.json").json()["paths"]["/api/v1/tracks"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    assert body["required"] is True and schema["required"] == ["fixes"]
    fix = schema["properties"]["fixes"]["items"]
    assert set(fix["required"]) == {"t", "lon", "lat"}
    assert fix["properties"]["t"]["format"] == "date-time"
    assert "$ref" not in str(schema)


def test_fixes_need_an_existing_worker_and_go_with_their_worker(conn):
    """The per-statement worker check (migration 0010) keeps the foreign key's promises."""
    with pytest.raises(sa.exc.IntegrityError, match="track_point_worker_id_fkey"), conn.begin_nested():
        conn.execute(
            sa.text(
                "INSERT INTO track_point (worker_id, recorded_at, geom) VALUES "
                "(1, '2026-04-09 10:00+08', ST_MakePoint(123.4, 41.8)), "
                "(999999, '2026-04-09 10:00+08', ST_MakePoint(123.4, 41.8))"
            )
        )
    worker = conn.execute(
        sa.text("INSERT INTO worker (code, name, phone) VALUES ('T-FK', '测试', '13800000000') RETURNING id")
    ).scalar_one()
    conn.execute(
        sa.text(
            "INSERT INTO track_point (worker_id, recorded_at, geom) "
            "SELECT :w, '2026-04-09 10:00+08'::timestamptz + k * interval '30 s', ST_MakePoint(123.4, 41.8) "
            "FROM generate_series(1, 3) k"
        ),
        {"w": worker},
    )
    assert (
        conn.execute(sa.text("SELECT count(*) FROM track_point WHERE worker_id = :w"), {"w": worker}).scalar()
        == 3
    )
    conn.execute(sa.text("DELETE FROM worker WHERE id = :w"), {"w": worker})
    assert (
        conn.execute(sa.text("SELECT count(*) FROM track_point WHERE worker_id = :w"), {"w": worker}).scalar()
        == 0
    )


def test_oversized_batch_is_413(client, auth, settings, spot):
    lon, lat, _ = spot
    body = _batch(lon, lat, datetime(2026, 4, 7, tzinfo=UTC), n=settings.track_max_batch + 1, dt=1)
    assert_problem(client.post("/api/v1/tracks", json=body, headers=auth("gridworker")), 413, "too-large")


def test_only_devices_upload(client, auth, spot):
    lon, lat, _ = spot
    body = _batch(lon, lat, datetime(2026, 4, 8, tzinfo=UTC), n=2)
    assert_problem(client.post("/api/v1/tracks", json=body, headers=auth("planner")), 403)
    body["fixes"][0]["worker_id"] = 999_999
    body["fixes"][1]["worker_id"] = 999_999
    assert_problem(client.post("/api/v1/tracks", json=body, headers=auth("commander")), 404)


def test_trajectory_has_a_time_per_vertex_stops_and_coverage(client, auth, engine, spot):
    lon, lat, _ = spot
    start = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    walk = _batch(lon, lat, start, n=20)["fixes"]
    # then stand still 10 minutes where the walk ended
    stand = [dict(walk[-1], t=(start + timedelta(seconds=600 + 30 * k)).isoformat()) for k in range(1, 21)]
    r = client.post("/api/v1/tracks", json={"fixes": walk + stand}, headers=auth("gridworker"))
    assert r.json()["stored"] == 40
    q = {"from": start.isoformat(), "to": (start + timedelta(hours=2)).isoformat()}
    f = client.get("/api/v1/workers/1/trajectory", params=q, headers=auth("commander")).json()
    p = f["properties"]
    assert f["geometry"]["type"] == "MultiLineString"
    assert [len(c) for c in f["geometry"]["coordinates"]] == [len(t) for t in p["times"]] == [40]
    assert p["times"][0][0] == "2026-05-04T17:00:00+08:00"  # 09:00 UTC, in the district's zone
    assert p["fixes"] == 40 and p["distance_m"] == pytest.approx(19 * 36, rel=0.02)
    assert len(p["stops"]) == 1 and p["stops"][0]["duration_s"] >= 600
    # simplified: a straight walk and a standstill need few vertices, times stay aligned
    s = client.get(
        "/api/v1/workers/1/trajectory", params=q | {"simplify": 5}, headers=auth("commander")
    ).json()
    coords, times = s["geometry"]["coordinates"][0], s["properties"]["times"][0]
    assert len(coords) == len(times) < 6 and times[0] == p["times"][0][0] and times[-1] == p["times"][0][-1]
    # coverage equals PostGIS's own answer for the same track, grid and roads
    with engine.connect() as c:
        road_m, covered_m = c.execute(
            sa.text(
                "WITH own AS (SELECT ST_Transform(ST_Union(g.geom), 4550) g FROM worker_grid wg "
                "  JOIN grid g ON g.id = wg.grid_id WHERE wg.worker_id = 1), "
                "r AS (SELECT ST_Intersection(ST_Transform(ST_Collect(geom), 4550), (SELECT g FROM own)) r FROM road), "
                "t AS (SELECT ST_Buffer(ST_Transform(ST_MakeLine(geom ORDER BY recorded_at), 4550), 30) b "
                "  FROM track_point WHERE worker_id = 1 AND recorded_at >= :a AND recorded_at < :b) "
                "SELECT ST_Length(r), ST_Length(ST_Intersection(r, b)) FROM r, t"
            ),
            {"a": start, "b": start + timedelta(hours=2)},
        ).one()
    assert p["coverage"]["road_m"] == pytest.approx(road_m, abs=0.5)
    assert p["coverage"]["covered_m"] == pytest.approx(covered_m, abs=0.5)


def test_trajectory_counts_fixes_refused_in_the_period(client, auth, spot):
    lon, lat, _ = spot
    start = datetime(2026, 5, 11, 9, 0, tzinfo=UTC)
    client.post(
        "/api/v1/tracks",
        json=_batch(lon, lat, start, spike_at=(5,), poor_at=(9, 10)),
        headers=auth("gridworker"),
    )
    q = {"from": start.isoformat(), "to": (start + timedelta(hours=1)).isoformat()}
    p = client.get("/api/v1/workers/1/trajectory", params=q, headers=auth("gridworker")).json()["properties"]
    assert p["fixes"] == 37 and p["rejected"] == {"accuracy": 2, "jump": 1}


def test_trajectory_is_read_within_jurisdiction(client, auth, engine):
    with engine.connect() as c:
        other = c.execute(
            sa.text(
                "SELECT wg.worker_id FROM worker_grid wg JOIN grid g ON g.id = wg.grid_id "
                "JOIN community c ON c.id = g.community_id JOIN street s ON s.id = c.street_id "
                "WHERE s.code <> (SELECT jurisdiction_code FROM app_user WHERE username = 'street') "
                "ORDER BY 1 LIMIT 1"
            )
        ).scalar_one()
    assert client.get(f"/api/v1/workers/{other}/trajectory", headers=auth("commander")).status_code == 200
    assert_problem(client.get(f"/api/v1/workers/{other}/trajectory", headers=auth("street")), 404)
    assert_problem(client.get(f"/api/v1/workers/{other}/trajectory", headers=auth("gridworker")), 404)
    assert_problem(client.get("/api/v1/workers/1/trajectory", headers=auth("handler")), 403)
    assert_problem(
        client.get(
            "/api/v1/workers/1/trajectory",
            params={"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"},
            headers=auth("commander"),
        ),
        400,
    )


def test_demo_tracks_went_through_the_filter(conn, manifest):
    week = {"a": manifest["tracks"]["from"], "b": manifest["tracks"]["to"]}
    kept = conn.execute(
        sa.text("SELECT count(*) FROM track_point WHERE recorded_at BETWEEN :a AND :b"), week
    ).scalar_one()
    refused = dict(
        conn.execute(
            sa.text(
                "SELECT reason, count(*) FROM track_rejected WHERE recorded_at BETWEEN :a AND :b GROUP BY reason"
            ),
            week,
        ).all()
    )
    assert kept + sum(refused.values()) == manifest["counts"]["track_points"]
    assert refused["accuracy"] == manifest["tracks"]["poor_accuracy_fixes"]
    # a planted jump is 500-1,500 m off for one 30 s fix: nearly all are caught; a few fall
    # on a poor-accuracy fix's neighbour or at a shift's end
    assert 0.9 * manifest["tracks"]["planted_jumps"] <= refused["jump"] <= manifest["tracks"]["planted_jumps"]


def test_a_genuine_fix_after_a_spike_at_the_end_of_a_batch_is_kept():
    """With nothing after it, the last fix was judged by its incoming speed alone: from the spike."""
    t, x, y = _walk(n=20)
    x = x.copy()
    x[18] += 800.0  # the second to last is the spike; the last is back on the walk
    f = _fixes(np.ones(len(t)), t, x, y)
    xm, ym = transformer(4326, EPSG).transform(f.lon, f.lat)
    r = tracks.classify(f, np.asarray(xm), np.asarray(ym), LIMITS)
    assert np.flatnonzero(r == tracks.JUMP).tolist() == [18]
    # a spike that is itself the last fix is still refused
    x2 = x.copy()
    x2[18] -= 800.0
    x2[19] += 800.0
    f = _fixes(np.ones(len(t)), t, x2, y)
    xm, ym = transformer(4326, EPSG).transform(f.lon, f.lat)
    r = tracks.classify(f, np.asarray(xm), np.asarray(ym), LIMITS)
    assert np.flatnonzero(r == tracks.JUMP).tolist() == [19]
