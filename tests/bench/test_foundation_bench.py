"""Foundation benchmarks: full demo load, its figures, point lookup in process and over HTTP."""

from __future__ import annotations

import time

import httpx
import numpy as np
import sqlalchemy as sa

from gis_core.geo.lookup import GridIndex
from tests.bench.conftest import DISTRICTS, record


def pct(samples_ns: list[int], q: float) -> float:
    return round(float(np.percentile(np.array(samples_ns) / 1e6, q)), 4)


def test_full_scale_counts_match_the_real_district(bench_engine):
    n = DISTRICTS  # each district of a demo city has the real district's figures
    with bench_engine.connect() as c:
        q = lambda sql: c.execute(sa.text(sql)).scalar()  # noqa: E731
        assert q("SELECT count(*) FROM street WHERE kind = 'street'") == 4 * n
        assert q("SELECT count(*) FROM street WHERE kind = 'town'") == 1 * n
        assert q("SELECT count(*) FROM community") == 49 * n
        assert q("SELECT count(*) FROM grid") == 1035 * n
        # Yuanbao's real outline (91.6 km², 90.9 as its simplified map draws it); the generated
        # districts beside it 91.6 km² in the Gauss-Krüger plane the generator works in (EPSG:4550,
        # central meridian 123°E), on the ellipsoid a little less, by the plane's scale
        # distortion east of its meridian (a demo city's easternmost district 0.06 %)
        areas = c.execute(
            sa.text(
                "SELECT ST_Area(ST_Transform(geom, 4550)) / 1e6, ST_Area(geom::geography) / 1e6"
                " FROM district ORDER BY code = '210602000000' DESC, code"
            )
        ).all()
        assert len(areas) == n and abs(areas[0][1] / 91.6 - 1) < 0.015
        assert all(abs(plane - 91.6) < 0.01 and abs(true / 91.6 - 1) < 0.001 for plane, true in areas[1:])
        assert abs(q("SELECT count(*) FROM person") - 220_000 * n) < 220_000 * n * 0.02
        assert q("SELECT count(*) FROM worker") == 1065 * n
        assert 2_500 * n <= q("SELECT count(*) FROM camera") <= 3_000 * n
        assert q("SELECT count(DISTINCT preset_group) FROM camera") == 12
        assert q("SELECT count(*) FROM cold_chain_site WHERE category = 'cold_chain_firm'") == 91 * n
        assert q("SELECT count(*) FROM incident") >= 20_000 * n
        assert q("SELECT count(DISTINCT left(category_code, 2)) FROM incident") == 16
        assert q("SELECT count(*) FROM track_point") > 3_000_000 * n
        kinds = dict(c.execute(sa.text("SELECT kind, count(*) FROM grid GROUP BY kind")).all())
        record("full_demo_grid_kinds", kinds)
        assert set(kinds) == {"urban", "rural", "enterprise", "school"}


def _points(engine, n=10_000, seed=11):
    with engine.connect() as c:
        minx, miny, maxx, maxy = c.execute(
            sa.text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM district) d"
            )
        ).one()
    rng = np.random.default_rng(seed)
    return list(zip(rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n), strict=True))


def test_lookup_in_process(bench_engine, benchmark):
    with bench_engine.connect() as c:
        t0 = time.perf_counter()
        index = GridIndex.load(c)
        record("lookup_index_build_ms", round((time.perf_counter() - t0) * 1000, 1))
    pts = _points(bench_engine)
    samples = []
    for lon, lat in pts:
        t = time.perf_counter_ns()
        index.locate(lon, lat)
        samples.append(time.perf_counter_ns() - t)
    record("lookup_in_process_ms", {"p50": pct(samples, 50), "p99": pct(samples, 99), "n": len(samples)})
    it = iter(pts * 100)
    benchmark(lambda: index.locate(*next(it)))


def test_lookup_over_http(bench_url, bench_engine, benchmark):
    from gis_core.platform.settings import Settings
    from tests.live import live_server

    with live_server(Settings(database_url=bench_url)) as base, httpx.Client(base_url=base) as client:
        tok = client.post("/api/v1/auth/token", data={"username": "commander", "password": "onegrid-demo"})
        client.headers["Authorization"] = f"Bearer {tok.json()['access_token']}"
        pts = _points(bench_engine, 2_000)
        samples, codes = [], []
        for lon, lat in pts:
            t = time.perf_counter_ns()
            r = client.get("/api/v1/lookup", params={"lon": lon, "lat": lat})
            samples.append(time.perf_counter_ns() - t)
            codes.append(r.status_code)
        assert set(codes) <= {200, 404} and codes.count(200) > 500
        record(
            "lookup_http_ms",
            {"p50": pct(samples, 50), "p99": pct(samples, 99), "n": len(samples), "clients": 1, "workers": 1},
        )
        it = iter(pts * 50)
        benchmark(
            lambda: client.get("/api/v1/lookup", params=dict(zip(("lon", "lat"), next(it), strict=True)))
        )


def test_full_scale_topology_is_clean(bench_engine):
    from gis_core.ingest.topology import check_topology

    with bench_engine.connect() as c:
        t0 = time.perf_counter()
        defects = check_topology(c)
        record("topology_check_full_seconds", round(time.perf_counter() - t0, 2))
    assert defects == []
