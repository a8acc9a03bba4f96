"""Hotspots on the full demo district: a year of incidents over 1,035 grids and over 250 m hexagons."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import sqlalchemy as sa

from gis_core.incidents.hotspots import HotspotQuery, hotspots
from gis_core.platform.settings import Settings
from tests.bench.conftest import record


def test_a_year_of_hotspots_over_grids_and_hexagons(bench_engine, bench_commander):
    commander = bench_commander
    with bench_engine.connect() as c:
        manifest = c.execute(sa.text("SELECT manifest FROM demo_manifest")).scalar_one()
        until = datetime(2026, 11, 23, tzinfo=UTC)
        since = until.replace(year=2025)
        epsg = Settings().projected_epsg
        out = {}
        for unit in ("grid", "hex"):
            q = HotspotQuery(since=since, until=until, unit=unit, hex_size_m=250)
            hotspots(c, commander, q, epsg)  # warm
            times = []
            for _ in range(5):
                t = time.perf_counter()
                body = hotspots(c, commander, q, epsg)
                times.append(time.perf_counter() - t)
            out[unit] = {
                "units": len(body["features"]),
                "incidents": body["total"],
                "best_s": round(min(times), 3),
                "median_s": round(sorted(times)[2], 3),
            }
        record("hotspots_year_all_categories", out)
        found = {}
        for h in manifest["hotspots"]:
            q = HotspotQuery(
                since=datetime.fromisoformat(h["from"]),
                until=datetime.fromisoformat(h["to"]),
                category=h["category"],
                unit="grid",
            )
            body = hotspots(c, commander, q, epsg)
            bins = {f["id"]: f["properties"]["bin"] for f in body["features"]}
            found[h["label"]] = [bins[g] for g in h["grid_codes"]]
        record("hotspots_planted_grid_bins", found)
        assert all(max(b) == 3 for b in found.values()), found
