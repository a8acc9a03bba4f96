"""Sustained report submission on the full district: 200 clients, routing, one distinct photo each."""

import httpx
import numpy as np
import pytest
import sqlalchemy as sa

from gis_core.settings import Settings
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
            r = run_load(base, token, points, photo, clients=200, reports_per_client=10, seed=workers)
        assert r.failures == [] and r.acknowledged == r.keys
        with bench_engine.connect() as c:
            stored = stored_per_key(c, r.keys)
        assert stored == dict.fromkeys(r.keys, 1) and r.created == len(r.keys)  # once each, none lost
        with bench_engine.begin() as c:  # leave the district as loaded for the benchmarks after this one
            c.execute(sa.text("DELETE FROM incident WHERE idempotency_key = ANY(:k)"), {"k": list(r.keys)})
        lat = np.array(r.latencies_ms)
        record(
            f"reports_{photo_kind}_photo_{workers}_workers",
            {
                "clients": 200,
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
