"""Cached tiles through the edge (nginx, `onegrid edge`) next to OneGrid's own tile cache, on the same
eight clients (wrk) and the same 200 grid tiles at z14 of the full district (issue 25)."""

from __future__ import annotations

import httpx
import shapely
import sqlalchemy as sa

from gis_core.platform.settings import Settings
from gis_core.publishing import edge
from tests.bench.conftest import record
from tests.bench.test_tiles_bench import eight_clients, tiles_over, warm
from tests.live import free_port, live_server


def test_cached_tiles_through_the_edge_and_from_the_server(
    bench_url, bench_engine, bench_photo_dir, tmp_path
):
    with bench_engine.connect() as c:
        district = shapely.from_wkb(
            bytes(c.execute(sa.text("SELECT ST_AsBinary(geom) FROM district")).scalar_one())
        )
    paths = [f"/tiles/grid/14/{x}/{y}.pbf" for x, y in tiles_over(district, 14, 200)]
    port = free_port()
    settings = Settings(database_url=bench_url, photo_dir=bench_photo_dir / "edge")
    with live_server(settings, workers=2, ONEGRID_EDGE_PURGE_URL=f"http://127.0.0.1:{port}") as base:
        edge.write_conf(tmp_path / "edge", port, [base.removeprefix("http://")])
        edge.start(tmp_path / "edge")
        try:
            token = httpx.post(
                f"{base}/api/v1/auth/token", data={"username": "planner", "password": "onegrid-demo"}
            ).json()["access_token"]
            warm(base, paths, token)
            server = eight_clients(base, paths, token, tmp_path)
            at = f"http://127.0.0.1:{port}"
            for p in paths:  # the edge keeps each tile on its first fetch
                httpx.get(at + p, headers={"Authorization": f"Bearer {token}"})
            through = eight_clients(at, paths, token, tmp_path)
        finally:
            edge.stop(tmp_path / "edge")
    record("edge", {"tiles": len(paths), "server_cache": server, "through_the_edge": through})
    assert through["errors"] == 0 and server["errors"] == 0
