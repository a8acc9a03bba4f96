"""GDAL, an independent client, reads OneGrid: OGC API Features (OAPIF driver) and vector tiles (MVT driver)."""

import json
import subprocess

import sqlalchemy as sa

from tests.live import live_server
from tests.mvt import bounds, decode, tile_of


def gdal(*args, token):
    out = subprocess.run(
        [*args, "--config", "GDAL_HTTP_HEADERS", f"Authorization: Bearer {token}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_gdal_lists_collections_and_reads_items(settings, engine, token, tmp_path):
    with engine.connect() as c:
        grids = dict(c.execute(sa.text("SELECT id, code FROM grid")).all())
    with live_server(settings) as base:
        tok = token("commander")
        listing = gdal("ogrinfo", "-ro", "-q", f"OAPIF:{base}/", token=tok)
        for layer in ("grid", "buildings", "cameras", "incidents_open", "persons"):
            assert f": {layer} (title:" in listing
        out = tmp_path / "grid.geojson"
        # a small page size makes GDAL follow the next links
        gdal("ogr2ogr", "-f", "GeoJSON", "-oo", "PAGE_SIZE=7", str(out), f"OAPIF:{base}/", "grid", token=tok)
    got = json.loads(out.read_text())["features"]
    codes = [f["properties"]["code"] for f in got]  # GDAL takes the integer id as its FID
    assert len(codes) == len(grids) and set(codes) == set(grids.values())
    assert all(f["geometry"]["type"] == "MultiPolygon" for f in got)


def test_gdal_reads_a_vector_tile(client, auth, engine, tmp_path):
    with engine.connect() as c:
        lon, lat = c.execute(
            sa.text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid ORDER BY code LIMIT 1) s"
            )
        ).one()
    z = 15
    x, y = tile_of(lon, lat, z)
    data = client.get(f"/tiles/grid,roads/{z}/{x}/{y}.pbf", headers=auth()).content
    path = tmp_path / str(z) / str(x) / f"{y}.pbf"  # the MVT driver georeferences z/x/y.pbf paths
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    out = subprocess.run(
        ["ogrinfo", "-ro", "-so", "-al", f"MVT:{path}"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    ours = decode(data, z, x, y)
    for layer in ("grid", "roads"):
        block = out.stdout.split(f"Layer name: {layer}")[1]
        count = int(block.split("Feature Count: ")[1].split()[0])
        assert count == len(ours[layer]["features"]) > 0
    # georeferenced from the z/x/y path: the grid layer's extent lies in the tile (and its buffer)
    ext = out.stdout.split("Layer name: grid")[1].split("Extent: (")[1].split(")")[0:2]
    minx, miny = map(float, ext[0].split(","))
    maxx, maxy = map(float, ext[1].split("(")[1].split(","))
    w, s, e, n = bounds(z, x, y)
    pad = (e - w) * 64 / 4096 + 1
    assert w - pad <= minx < maxx <= e + pad and s - pad <= miny < maxy <= n + pad


def test_gdal_sends_a_where_clause_as_a_cql2_filter(settings, engine, token, tmp_path):
    """ogr2ogr -where goes to the server as CQL2 (the access log shows it) and selects what a local filter does."""
    log = tmp_path / "server.log"
    # every request logged as slow (threshold 0), with its query string
    with log.open("w") as stderr, live_server(settings, stderr=stderr, ONEGRID_SLOW_REQUEST_MS=0) as base:
        tok = token("commander")
        everything, urban = tmp_path / "all.geojson", tmp_path / "urban.geojson"
        gdal("ogr2ogr", "-f", "GeoJSON", str(everything), f"OAPIF:{base}/", "grid", token=tok)
        gdal("ogr2ogr", "-f", "GeoJSON", "-where", "kind = 'urban'", str(urban), f"OAPIF:{base}/", "grid",
             token=tok)  # fmt: skip
    asked = [line for line in log.read_text().splitlines() if '"/collections/grid/items"' in line]
    assert any("filter=" in line and "urban" in line for line in asked), log.read_text()[-3000:]
    local = {f["properties"]["code"] for f in json.loads(everything.read_text())["features"]
             if f["properties"]["kind"] == "urban"}  # fmt: skip
    served = [f["properties"]["code"] for f in json.loads(urban.read_text())["features"]]
    assert sorted(served) == sorted(local) and local
