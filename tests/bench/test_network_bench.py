"""Responses sized for a network (issue 24): the wall's hotspot refresh and OGC items, as a client receives them."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

import httpx
import sqlalchemy as sa

from gis_core.platform.clock import iso
from gis_core.platform.settings import Settings
from tests.bench.conftest import record
from tests.live import live_server

RUNS = 15


def _fetch(client: httpx.Client, url: str, params: dict[str, object]) -> tuple[float, int, int]:
    """Seconds to the last byte, bytes on the wire (gzip) and bytes decoded, of one GET."""
    t = time.perf_counter()
    with client.stream("GET", url, params=params, headers={"Accept-Encoding": "gzip"}) as r:
        body = r.read()
        wire = r.num_bytes_downloaded
    assert r.status_code == 200, body[:300]
    return time.perf_counter() - t, wire, len(body)


def _measure(client: httpx.Client, url: str, params: dict[str, object]) -> dict[str, object]:
    _fetch(client, url, params)  # warm: the units and weights are built once per boundary revision
    runs = [_fetch(client, url, params) for _ in range(RUNS)]
    seconds = sorted(s for s, _, _ in runs)
    return {
        "median_ms": round(statistics.median(seconds) * 1000, 1),
        "p95_ms": round(seconds[int(0.95 * (len(seconds) - 1))] * 1000, 1),
        "wire_bytes": runs[-1][1],
        "decoded_bytes": runs[-1][2],
    }


def test_wall_hotspot_refresh_and_items_on_the_wire(bench_url, bench_engine, bench_photo_dir):
    with bench_engine.connect() as c:
        end = c.execute(sa.text("SELECT max(reported_at) FROM incident")).scalar_one()
        grids = c.execute(sa.text("SELECT count(*) FROM grid")).scalar_one()
    period = {"from": iso(end - timedelta(days=90)), "to": iso(end)}
    settings = Settings(database_url=bench_url, photo_dir=bench_photo_dir / "network")
    with live_server(settings) as base:
        token = httpx.post(
            f"{base}/api/v1/auth/token", data={"username": "commander", "password": "onegrid-demo"}
        ).json()["access_token"]
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
            out = {
                "grids": grids,
                "wall_refresh_grid": _measure(
                    client, "/api/v1/hotspots", {**period, "unit": "grid", "geometry": "false"}
                ),
                "wall_refresh_hex250": _measure(
                    client,
                    "/api/v1/hotspots",
                    {**period, "unit": "hex", "hex_size": 250, "geometry": "false"},
                ),
                "hotspots_with_polygons": _measure(client, "/api/v1/hotspots", {**period, "unit": "grid"}),
                "items_1000_grids": _measure(client, "/collections/grid/items", {"limit": 1000}),
            }
    items = out["items_1000_grids"]
    out["items_wire_share"] = round(items["wire_bytes"] / items["decoded_bytes"], 3)
    record("network", out)
    assert out["wall_refresh_grid"]["decoded_bytes"] < out["hotspots_with_polygons"]["decoded_bytes"]
