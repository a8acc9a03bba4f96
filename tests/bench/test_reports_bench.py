"""Sustained report submission on the full district: 200 clients, routing, one distinct photo each.

Each server first takes one report per client (its cold start, recorded apart), then the
measured 2,000.
"""

import httpx
import numpy as np
import pytest
import sqlalchemy as sa

from gis_core.platform.settings import Settings
from tests.bench.conftest import record
from tests.live import live_server
from tests.load import run_load, stored_per_key
from tests.photos import jpeg, phone_photo


@pytest.mark.parametrize(
    "photo_kind",
    ["small", "phone"],  # a 640×480 test image (~5 KB); a 1,600 px photo as the phone page sends (~280 KB)
)
def test_reports_per_second(bench_url, bench_engine, bench_photo_dir, photo_kind):
    with bench_engine.connect() as c:
        points = [
            tuple(p)
            for p in c.execute(
                sa.text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid) s")
            ).all()
        ]
    photo = jpeg(640, 480) if photo_kind == "small" else phone_photo()
    # one demo account stands for 200 phones: its per-user quota would otherwise be the figure
    settings = Settings(
        database_url=bench_url, photo_dir=bench_photo_dir / photo_kind, reports_per_minute=10**6
    )
    for workers in (1, 2):
        with live_server(settings, workers=workers) as base:
            token = httpx.post(
                f"{base}/api/v1/auth/token", data={"username": "gridworker", "password": "onegrid-demo"}
            ).json()["access_token"]
            # a sustained rate, not a start-up: the first reports open every pooled connection
            # (a new PostgreSQL session warms its caches for ~20 ms) and prepare its statements
            warm = run_load(base, token, points, photo, clients=200, reports_per_client=1, seed=-workers)
            r = run_load(base, token, points, photo, clients=200, reports_per_client=10, seed=workers)
        for load in (warm, r):
            assert load.failures == [] and load.acknowledged == load.keys
            with bench_engine.connect() as c:
                stored = stored_per_key(c, load.keys)
            assert stored == dict.fromkeys(load.keys, 1) and load.created == len(load.keys)  # once, none lost
            with bench_engine.begin() as c:  # leave the district as loaded for the benchmarks after this
                c.execute(
                    sa.text("DELETE FROM incident WHERE idempotency_key = ANY(:k)"), {"k": list(load.keys)}
                )
        lat = np.array(r.latencies_ms)
        record(
            f"reports_{photo_kind}_photo_{workers}_workers",
            {
                "clients": 200,
                "warm_up_reports": len(warm.keys),
                "warm_up_stored_per_s": round(warm.created / warm.seconds, 1),  # from a cold start
                "reports": len(r.keys),
                "requests": r.requests,
                "seconds": round(r.seconds, 1),
                "stored_reports_per_s": round(r.created / r.seconds, 1),
                "requests_per_s": round(r.requests / r.seconds, 1),
                "latency_ms_p50": round(float(np.percentile(lat, 50)), 1),
                "latency_ms_p95": round(float(np.percentile(lat, 95)), 1),
                "photo_bytes": len(photo),
                "distinct_photos": len(r.keys),
                "replayed_answers": r.replays,
            },
        )
