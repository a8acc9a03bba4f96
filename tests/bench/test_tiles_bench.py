"""Vector tiles side by side with tipg 1.6 on the full demo district, and the raw SQL under them.

The same tiles (up to 200 distinct ones per zoom, those over the district) of buildings,
grids and open incidents at z10/12/14/16, where OneGrid publishes the layer at that zoom.
Both servers run two uvicorn workers with ten pooled connections each, a 64-pixel buffer,
extent 4096 and gzip level 6 (tipg's CompressionMiddleware level, asked for by the client),
and are asked for the same properties. One client: sequential requests, keep-alive, every
latency recorded. Eight clients: wrk (C, two threads) cycling through the same paths, so
the load generator costs little of the two cores. tipg is installed in its own venv under
var/bench; open incidents are given to it as a view with the same condition as our layer.
"""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from gis_core.platform.settings import PROJECT_ROOT, Settings
from gis_core.publishing.layers import get_layer
from gis_core.publishing.tiles import tile_request, tile_sql
from tests.bench.conftest import cpu_seconds, quiet_database, record
from tests.live import free_port, live_server

TIPG_VENV = PROJECT_ROOT / "var" / "bench" / "tipg-venv"
ZOOMS = (10, 12, 14, 16)
#: our layer → (table or view tipg serves, the properties both are asked for)
LAYERS = {
    "buildings": ("building", "code,address,use,floors"),
    "grid": ("grid", "code,name,kind"),
    "incidents_open": ("bench_incident_open", "code,category_code,state,level,reported_at,due_at"),
}
TILES_PER_ZOOM = 200
#: what 8 clients may see of a cached tile on the two-core reference machine (issue 26)
CACHED_P99_9_MS = 20
CACHED_MAX_MS = 100
WRK_SECONDS = 5
WRK_LUA = """
local paths = {}
for line in io.lines(os.getenv("PATHS_FILE")) do paths[#paths + 1] = line end
local i = 0
local auth = os.getenv("AUTH") or ""
request = function()
  i = i % #paths + 1
  local h = {["Accept-Encoding"] = "gzip"}
  if #auth > 0 then h["Authorization"] = "Bearer " .. auth end
  return wrk.format("GET", paths[i], h)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %f %f %f %f %f %d %d %d %d %d\\n", summary.requests,
    summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99.9) / 1000, latency.max / 1000,
    e.status, e.connect, e.read, e.write, e.timeout))
end
"""


def tiles_over(district: shapely.Geometry, z: int, n: int, seed: int = 7) -> list[tuple[int, int]]:
    """Up to `n` distinct tiles at zoom `z` that touch the district, chosen reproducibly."""
    w, s, e, nth = district.bounds
    count = 1 << z

    def tx(lon: float) -> int:
        return int((lon + 180) / 360 * count)

    def ty(lat: float) -> int:
        return int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * count)

    def box(x: int, y: int) -> shapely.Geometry:
        lon = lambda px: px / count * 360 - 180  # noqa: E731
        lat = lambda py: math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * py / count))))  # noqa: E731
        return shapely.box(lon(x), lat(y + 1), lon(x + 1), lat(y))

    shapely.prepare(district)
    found = [
        (x, y)
        for x in range(tx(w), tx(e) + 1)
        for y in range(ty(nth), ty(s) + 1)
        if district.intersects(box(x, y))
    ]
    random.Random(seed + z).shuffle(found)
    return sorted(found[:n])


def pct(ms: list[float], q: float) -> float:
    return round(float(np.percentile(ms, q)), 2)


def one_client(base: str, paths: list[str], headers: dict[str, str]) -> dict[str, float]:
    """Sequential keep-alive requests: p50/p95 latency (ms) and tiles/s."""
    ms = []
    with httpx.Client(base_url=base, headers={"Accept-Encoding": "gzip", **headers}, timeout=60) as c:
        c.get(paths[0])  # connection and first-request costs are not the tiles'
        t0 = time.perf_counter()
        for p in paths:
            t = time.perf_counter()
            r = c.get(p)
            ms.append((time.perf_counter() - t) * 1000)
            assert r.status_code in (200, 204), (p, r.status_code, r.text[:200])
        total = time.perf_counter() - t0
    return {"p50_ms": pct(ms, 50), "p95_ms": pct(ms, 95), "tiles_per_s": round(len(paths) / total, 1)}


def eight_clients(base: str, paths: list[str], token: str, tmp: Path) -> dict[str, float]:
    """wrk with 8 connections for WRK_SECONDS: tiles/s and p50/p95 latency (ms)."""
    (tmp / "paths.txt").write_text("\n".join(paths) + "\n")
    (tmp / "tiles.lua").write_text(WRK_LUA)
    postgres_before = cpu_seconds("postgres")
    out = subprocess.run(
        ["wrk", "-t2", "-c8", f"-d{WRK_SECONDS}s", "-s", str(tmp / "tiles.lua"), base],
        env={**os.environ, "PATHS_FILE": str(tmp / "paths.txt"), "AUTH": token},
        capture_output=True,
        text=True,
        timeout=WRK_SECONDS + 60,
    )
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("RESULT"))
    n, secs, p50, p95, p999, top, status, connect, read, write, timeout = line.split()[1:]
    return {
        "p50_ms": round(float(p50), 2),
        "p95_ms": round(float(p95), 2),
        "p99_9_ms": round(float(p999), 2),
        "max_ms": round(float(top), 2),
        "tiles_per_s": round(int(n) / float(secs), 1),
        # wrk's error counts, apart: non-2xx answers, socket errors, answers over its 2 s timeout
        "non_2xx": int(status),
        "socket_errors": int(connect) + int(read) + int(write),
        "timeouts": int(timeout),
        "errors": int(status) + int(connect) + int(read) + int(write) + int(timeout),
        # PostgreSQL's CPU during the pass: ~0 when cached tiles are all that is asked
        "postgres_cpu_s": round(cpu_seconds("postgres") - postgres_before, 2),
    }


def warm(base: str, paths: list[str], token: str, clients: int = 8, rounds: int = 30) -> int:
    """Fill every worker's tile cache with `paths`; the rounds it took.

    Each uvicorn worker keeps its own cache, and a connection stays with the worker that
    accepted it, so passes over one keep-alive connection can leave a worker cold: its first
    request for each tile then renders under the 8-client load (issue 26, the 150-200 ms
    tail of a 'cached' pass). Rounds of `clients` fresh connections run until two in a row
    are answered from the cache (`X-Cache: hit`) throughout.
    """
    from concurrent.futures import ThreadPoolExecutor

    def one(_: int) -> set[str]:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
            return {c.get(p).headers.get("x-cache", "none") for p in paths}

    clean = 0
    with ThreadPoolExecutor(clients) as pool:
        for n in range(1, rounds + 1):
            seen = set().union(*pool.map(one, range(clients)))
            clean = clean + 1 if seen == {"hit"} else 0
            if clean == 2:
                return n
    raise AssertionError(f"tiles still rendered after {rounds} warm-up rounds: {seen}")


def wait_up(url: str, proc: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, "server exited"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up")


@pytest.fixture(scope="module")
def bench_views(bench_engine):
    with bench_engine.begin() as c:
        c.execute(
            sa.text(
                "CREATE OR REPLACE VIEW bench_incident_open AS SELECT * FROM incident WHERE "
                + get_layer("incidents_open").where.replace("t.", "")
            )
        )
    return bench_engine


def start(cmd: list[str], env: dict[str, str], health: str) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_up(health, proc)
    return proc


def test_tiles_side_by_side_with_tipg(bench_url, bench_views, bench_commander, tmp_path):
    commander = bench_commander
    engine = bench_views
    if not (TIPG_VENV / "bin" / "uvicorn").exists():
        subprocess.run([sys.executable, "-m", "venv", str(TIPG_VENV)], check=True)
        subprocess.run(
            [str(TIPG_VENV / "bin" / "pip"), "install", "-q", "tipg==1.6.*", "uvicorn[standard]"], check=True
        )
    tipg_version = subprocess.run(
        [str(TIPG_VENV / "bin" / "python"), "-c", "import tipg; print(tipg.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with engine.connect() as c:
        district = shapely.from_wkb(
            # the demo district; in a demo city its first one, where the demo commander works
            bytes(c.execute(sa.text("SELECT ST_AsBinary(geom) FROM district ORDER BY code LIMIT 1")).scalar())
        )
    plan = {
        (layer, z): tiles_over(district, z, TILES_PER_ZOOM)
        for layer in LAYERS
        for z in ZOOMS
        if get_layer(layer).minzoom <= z <= get_layer(layer).maxzoom
    }
    record("tile_bench_tiles", {f"{k[0]}@z{k[1]}": len(v) for k, v in plan.items()})

    # raw SQL: the exact statement OneGrid runs, timed in process
    raw: dict[str, dict[str, float]] = {}
    conn = engine.raw_connection()
    try:
        cur = conn.cursor()
        for (layer, z), tiles in plan.items():
            ms = []
            for x, y in tiles:
                sql, params = tile_sql(tile_request(layer, z, x, y, commander), commander)
                text = sa.text(sql)
                text = text.bindparams(**{k: v for k, v in params.items() if k in text._bindparams})
                stmt = text.compile(engine, compile_kwargs={"literal_binds": True})
                t = time.perf_counter()
                cur.execute(str(stmt))
                cur.fetchone()
                ms.append((time.perf_counter() - t) * 1000)
            raw[f"{layer}@z{z}"] = {"p50_ms": pct(ms, 50), "p95_ms": pct(ms, 95)}
        conn.rollback()
    finally:
        conn.close()
    record("tile_bench_raw_sql", raw)

    url = make_url(bench_url)
    results: dict[str, dict[str, dict[str, float]]] = {}
    failures: list[tuple[object, ...]] = []

    def run(name: str, base: str, paths_of, token: str) -> None:
        for (layer, z), tiles in plan.items():
            paths = paths_of(layer, z, tiles)
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            key = f"{layer}@z{z}"
            results.setdefault(key, {})[f"{name}_1"] = one_client(base, paths, headers)
            eight = results[key][f"{name}_8"] = eight_clients(base, paths, token, tmp_path)
            print(
                f"\n[bench] {name} {key} 8 clients: {eight['tiles_per_s']} tiles/s, p50 {eight['p50_ms']} ms, "
                f"p99.9 {eight['p99_9_ms']} ms, max {eight['max_ms']} ms, errors {eight['errors']}, "
                f"postgres CPU {eight['postgres_cpu_s']} s"
            )
            # OneGrid must answer every request; tipg's errors are reported, not ours to fail on
            if name != "tipg" and eight["errors"]:
                failures.append((name, key, "errors", eight["errors"]))
            # a cached tile is a dictionary look-up: no stall may show in its tail
            if name == "onegrid_cached" and get_layer(layer).cache:
                if eight["p99_9_ms"] > CACHED_P99_9_MS or eight["max_ms"] > CACHED_MAX_MS:
                    failures.append((name, key, "tail", eight["p99_9_ms"], eight["max_ms"]))

    before = quiet_database(engine)
    print(f"\n[bench] waited {before['waited_s']} s for a quiet database; busy: {before['busy']}")
    record("tile_bench_quiet_before", before)

    # tipg
    port = free_port()
    tipg = start(
        [
            str(TIPG_VENV / "bin" / "uvicorn"),
            "tipg.main:app",
            "--port",
            str(port),
            "--workers",
            "2",
            "--log-level",
            "warning",
        ],
        {
            "DATABASE_URL": url.set(drivername="postgresql").render_as_string(hide_password=False),
            "DB_MIN_CONN_SIZE": "10",
            "DB_MAX_CONN_SIZE": "10",
            "TIPG_TILE_BUFFER": "64",
            "TIPG_TILE_RESOLUTION": "4096",
            "TIPG_CATALOG_TTL": "0",
        },
        f"http://127.0.0.1:{port}/collections",
    )
    try:
        run(
            "tipg",
            f"http://127.0.0.1:{port}",
            lambda layer, z, tiles: [
                f"/collections/public.{LAYERS[layer][0]}/tiles/WebMercatorQuad/{z}/{x}/{y}?properties={LAYERS[layer][1]}"
                for x, y in tiles
            ],
            "",
        )
    finally:
        tipg.terminate()
        tipg.wait(10)

    # OneGrid, uncached then cached
    for name, entries in (("onegrid_uncached", "0"), ("onegrid_cached", "100000")):
        record(f"tile_bench_quiet_before_{name}", quiet_database(engine))
        settings = Settings(database_url=bench_url)
        server = live_server(
            settings,
            workers=2,
            ONEGRID_POOL_SIZE=10,
            ONEGRID_POOL_MAX_OVERFLOW=0,
            ONEGRID_TILE_CACHE_ENTRIES=entries,
        )
        with server as base:
            token = httpx.post(
                f"{base}/api/v1/auth/token", data={"username": "commander", "password": "onegrid-demo"}
            ).json()["access_token"]
            paths_of = lambda layer, z, tiles: [f"/tiles/{layer}/{z}/{x}/{y}.pbf" for x, y in tiles]  # noqa: E731
            if name == "onegrid_cached":  # every worker's cache, not one's (see warm)
                record(
                    "tile_bench_warm_rounds",
                    {
                        f"{layer}@z{z}": warm(base, paths_of(layer, z, tiles), token)
                        for (layer, z), tiles in plan.items()
                        if get_layer(layer).cache
                    },
                )
            run(name, base, paths_of, token)

    record("tile_bench_tipg_version", tipg_version)
    record("tile_bench", results)
    ratios = {
        key: {
            "uncached_p50_over_tipg": round(r["onegrid_uncached_1"]["p50_ms"] / r["tipg_1"]["p50_ms"], 2),
            "uncached_p50_over_raw_sql": round(r["onegrid_uncached_1"]["p50_ms"] / raw[key]["p50_ms"], 2),
            "cached_8_clients_tiles_per_s": r["onegrid_cached_8"]["tiles_per_s"],
        }
        for key, r in results.items()
    }
    record("tile_bench_ratios", ratios)
    assert not failures, failures
