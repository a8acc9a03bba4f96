"""The wall's live feed and the phones' track uploads over HTTP, against a real server on the full district."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import sqlalchemy as sa

from gis_core.platform.settings import Settings
from tests.bench.conftest import record
from tests.live import live_server
from tests.test_events import Feed


def _settings(url, photo_dir):
    return Settings(database_url=url, photo_dir=photo_dir / "live")


def _token(base, user):
    return httpx.post(
        f"{base}/api/v1/auth/token", data={"username": user, "password": "onegrid-demo"}
    ).json()["access_token"]


def test_sse_fan_out_to_50_walls(bench_url, bench_engine, bench_photo_dir):
    with bench_engine.connect() as c:
        points = c.execute(
            sa.text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid ORDER BY code) s"
            )
        ).all()
    with live_server(_settings(bench_url, bench_photo_dir), workers=2) as base:
        token = _token(base, "commander")
        walls = [Feed(base, token) for _ in range(50)]
        for w in walls:
            w.start()
        assert all(w.ready.wait(20) for w in walls)
        time.sleep(1.0)
        reporter = _token(base, "gridworker")
        latencies = []
        for k in range(20):
            lon, lat = points[k * 37 % len(points)]
            sent = time.monotonic()
            r = httpx.post(
                f"{base}/api/v1/incidents",
                data={"category": "0101", "description": "bench", "lon": str(lon), "lat": str(lat)},
                headers={"Authorization": f"Bearer {reporter}", "Idempotency-Key": str(uuid.uuid4())},
            )
            assert r.status_code == 201
            incident = r.json()["id"]
            arrived: list[float] = []

            def wait(w, incident=incident, arrived=arrived):
                if w.wait_for(lambda d: d["id"] == incident, 10) is not None:
                    arrived.append(time.monotonic())

            threads = [threading.Thread(target=wait, args=(w,)) for w in walls]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert len(arrived) == len(walls)
            latencies += [a - sent for a in arrived]
        for w in walls:
            w.stop.set()
    lat = np.array(latencies) * 1000
    record(
        "sse_fan_out_50_clients",
        {
            "server_workers": 2,
            "events": 20,
            "deliveries": len(lat),
            "post_to_receipt_ms_p50": round(float(np.median(lat)), 1),
            "p95_ms": round(float(np.percentile(lat, 95)), 1),
            "max_ms": round(float(lat.max()), 1),
        },
    )
    assert np.percentile(lat, 95) < 2000


def test_track_ingest_over_http(bench_url, bench_engine, bench_photo_dir):
    with bench_engine.connect() as c:
        workers = c.execute(
            sa.text("SELECT worker_id, ST_X(geom), ST_Y(geom) FROM worker_position ORDER BY worker_id")
        ).all()
    rng = np.random.default_rng(5)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=20)
    batches = []
    per_worker = 1000  # 20 workers × 1,000 fixes at 30 s: 20,000 fixes per upload
    for b in range(8):
        fixes = []
        for worker_id, lon, lat in workers[b * 20 : (b + 1) * 20]:
            steps = rng.normal(0, 0.00004, (per_worker, 2)).cumsum(axis=0)
            for k in range(per_worker):
                t = start + timedelta(seconds=30 * k)
                fixes.append(
                    {
                        "worker_id": worker_id,
                        "t": t.isoformat(),
                        "lon": round(lon + steps[k, 0], 7),
                        "lat": round(lat + steps[k, 1], 7),
                        "accuracy": 8,
                    }
                )
        batches.append(json.dumps({"fixes": fixes}))
    with live_server(_settings(bench_url, bench_photo_dir), workers=2) as base:
        token = _token(base, "commander")
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        stored = []
        with httpx.Client(timeout=120) as client:
            client.post(f"{base}/api/v1/tracks", content=batches[0], headers=headers)  # warm, stored once
            t0 = time.monotonic()
            for body in batches[1:5]:
                stored.append(
                    client.post(f"{base}/api/v1/tracks", content=body, headers=headers).json()["stored"]
                )
            one_client = time.monotonic() - t0

        def upload(body, out):
            with httpx.Client(timeout=120) as client:
                out.append(
                    client.post(f"{base}/api/v1/tracks", content=body, headers=headers).json()["stored"]
                )

        two = []
        threads = [threading.Thread(target=upload, args=(body, two)) for body in batches[5:7]]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        two_clients = time.monotonic() - t0
    # leave the district as loaded: these fixes moved 140 workers' last positions to today,
    # which would take them off duty for the point-call benchmark's demo-day queries
    moved = [w for w, _, _ in workers[:160]]
    with bench_engine.begin() as c:
        c.execute(
            sa.text("DELETE FROM track_point WHERE worker_id = ANY(:w) AND recorded_at >= :t"),
            {"w": moved, "t": start},
        )
        c.execute(
            sa.text(
                "INSERT INTO worker_position AS wp (worker_id, recorded_at, speed_mps, accuracy_m, geom) "
                "SELECT DISTINCT ON (worker_id) worker_id, recorded_at, speed_mps, accuracy_m, geom "
                "FROM track_point WHERE worker_id = ANY(:w) ORDER BY worker_id, recorded_at DESC "
                "ON CONFLICT (worker_id) DO UPDATE SET recorded_at = EXCLUDED.recorded_at, "
                "speed_mps = EXCLUDED.speed_mps, accuracy_m = EXCLUDED.accuracy_m, geom = EXCLUDED.geom"
            ),
            {"w": moved},
        )
    record(
        "track_ingest_http",
        {
            "fixes_per_upload": 20_000,
            "one_client_fixes_per_s": round(sum(stored) / one_client),
            "two_clients_fixes_per_s": round(sum(two) / two_clients),
            "stored": sum(stored) + sum(two),
        },
    )
    assert sum(stored) + sum(two) > 0.95 * 6 * 20_000
