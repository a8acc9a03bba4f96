"""The map wall's rules and point-call on the full district: warning evaluation, nearest workers on foot."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import numpy as np
import sqlalchemy as sa

from gis_core.field import dispatch, warning_rules
from gis_core.platform.settings import Settings
from tests.bench.conftest import record

END = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)  # the demo's last morning (+08: 17:00)


def test_warning_rules_on_the_full_district(bench_engine):
    settings = Settings()
    out = {}
    with bench_engine.connect() as c:
        tx = c.begin()
        for name in warning_rules.RULES:
            t = time.perf_counter()
            found = warning_rules.evaluate(c, END, settings, [name])[name]
            out[name] = {"seconds": round(time.perf_counter() - t, 3), "warnings": found["raised"]}
        t = time.perf_counter()
        again = warning_rules.evaluate(c, END + timedelta(minutes=1), settings)
        out["all_rules_again_s"] = round(time.perf_counter() - t, 3)
        out["raised_again"] = sum(r["raised"] for r in again.values())
        tx.rollback()
    record("warning_rules", out)
    assert out["raised_again"] == 0  # once per cause


def test_point_call_on_the_full_district(bench_engine, bench_commander):
    settings = Settings()
    rng = np.random.default_rng(3)
    with bench_engine.connect() as c:
        at = c.execute(sa.text("SELECT max(recorded_at) FROM worker_position")).scalar_one()
        points = c.execute(
            sa.text("SELECT ST_X(geom), ST_Y(geom) FROM worker_position ORDER BY worker_id")
        ).all()
        picks = [points[int(k)] for k in rng.choice(len(points), 20, replace=False)]
        times, found = [], []
        on_duty = timedelta(hours=12)  # the demo's shifts end at different hours: all count
        for lon, lat in picks:
            t = time.perf_counter()
            got = dispatch.nearby(c, bench_commander, lon, lat, 1000, at, on_duty, settings.projected_epsg)
            times.append(time.perf_counter() - t)
            found.append(len(got))
    record(
        "point_call_nearby_1km",
        {
            "queries": len(times),
            "median_s": round(float(np.median(times)), 3),
            "p95_s": round(float(np.percentile(times, 95)), 3),
            "workers_found_median": int(np.median(found)),
        },
    )
    assert min(found) >= 1
