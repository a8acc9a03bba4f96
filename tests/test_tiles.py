"""Vector tiles decoded with mapbox-vector-tile and checked against the source rows."""

import math

import mapbox_vector_tile
import pytest
import shapely
import sqlalchemy as sa
from pyproj import Transformer

from tests.conftest import assert_problem

HALF = 20037508.342789244
TO_3857 = Transformer.from_crs(4326, 3857, always_xy=True)


def tile_of(lon, lat, z):
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def bounds(z, x, y):
    size = 2 * HALF / 2**z
    minx, maxy = -HALF + x * size, HALF - y * size
    return minx, maxy - size, minx + size, maxy


def decode(data, z, x, y):
    """Decoded layers with geometries back in EPSG:3857."""
    minx, miny, maxx, maxy = bounds(z, x, y)
    size = maxx - minx
    out = mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})
    for layer in out.values():
        ext = layer["extent"]
        for f in layer["features"]:
            g = shapely.geometry.shape(f["geometry"])
            f["shape"] = shapely.transform(
                g, lambda c, e=ext: [[minx + px / e * size, maxy - py / e * size] for px, py in c]
            )
    return out


def to_3857(geom):
    return shapely.transform(geom, lambda c: list(zip(*TO_3857.transform(c[:, 0], c[:, 1]))))


@pytest.fixture(scope="module")
def grid_point(engine):
    with engine.connect() as c:
        return c.execute(
            sa.text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid ORDER BY code LIMIT 1) s"
            )
        ).one()


def source(engine, table, cols="id"):
    with engine.connect() as c:
        return [
            (r[0], shapely.from_wkb(bytes(r[-1])), r)
            for r in c.execute(sa.text(f"SELECT {cols}, ST_AsBinary(geom) FROM {table}"))
        ]


def test_grid_tile_matches_source_within_one_pixel(client, auth, engine, grid_point):
    z = 16
    x, y = tile_of(*grid_point, z)
    r = client.get(f"/tiles/grid/{z}/{x}/{y}.pbf", headers=auth())
    assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    tile = decode(r.content, z, x, y)["grid"]
    minx, miny, maxx, maxy = bounds(z, x, y)
    px = (maxx - minx) / 4096
    box = shapely.box(minx, miny, maxx, maxy)
    buffered = box.buffer(64 * px, join_style="mitre")
    src = {gid: to_3857(g) for gid, g, _ in source(engine, "grid")}
    got = {f["id"] for f in tile["features"]}
    must = {gid for gid, g in src.items() if g.intersects(box.buffer(-px))}
    may = {gid for gid, g in src.items() if g.intersects(buffered)}
    assert must <= got <= may and got
    for f in tile["features"]:
        clipped = src[f["id"]].intersection(buffered)
        assert f["shape"].hausdorff_distance(clipped) <= 1.0 * px, f["id"]
        assert set(f["properties"]) == {"code", "name", "kind"}


def test_camera_points_and_properties(client, auth, engine):
    cams = source(engine, "camera", "id, bearing_deg, online")
    gid, geom, row = cams[0]
    z = 16
    x, y = tile_of(geom.x, geom.y, z)
    r = client.get(f"/tiles/cameras/{z}/{x}/{y}.pbf", headers=auth())
    feats = {f["id"]: f for f in decode(r.content, z, x, y)["cameras"]["features"]}
    px = (bounds(z, x, y)[2] - bounds(z, x, y)[0]) / 4096
    assert feats[gid]["shape"].distance(to_3857(geom)) <= px
    assert feats[gid]["properties"]["bearing_deg"] == pytest.approx(row.bearing_deg)
    assert feats[gid]["properties"]["online"] == row.online


def test_several_layers_in_one_tile(client, auth, grid_point):
    z = 15
    x, y = tile_of(*grid_point, z)
    r = client.get(f"/tiles/grid,roads,community/{z}/{x}/{y}.pbf", headers=auth())
    assert set(decode(r.content, z, x, y)) == {"grid", "roads", "community"}


def test_empty_tile_is_204_and_etag_gives_304(client, auth, grid_point):
    x, y = tile_of(116.4, 39.9, 14)  # Beijing: nothing of ours there
    assert client.get(f"/tiles/grid/14/{x}/{y}.pbf", headers=auth()).status_code == 204
    x, y = tile_of(*grid_point, 14)
    first = client.get(f"/tiles/grid/14/{x}/{y}.pbf", headers=auth())
    again = client.get(
        f"/tiles/grid/14/{x}/{y}.pbf", headers={**auth(), "If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304 and again.content == b""


@pytest.mark.parametrize(
    "path,status,where",
    [
        ("/tiles/grid/30/0/0.pbf", 400, "path.z"),
        ("/tiles/grid/10/1024/0.pbf", 400, "path.x"),
        ("/tiles/grid/10/0/-1.pbf", 400, "path.y"),
        ("/tiles/nope/12/0/0.pbf", 404, "path.layer"),
        ("/tiles/buildings/10/852/387.pbf", 404, "path.z"),
        ("/tiles/grid,grid/12/0/0.pbf", 400, "path.layers"),
    ],
)
def test_bad_tile_requests_are_problems(client, auth, path, status, where):
    assert assert_problem(client.get(path, headers=auth()), status)["where"] == where


def test_tiles_need_a_token(client):
    assert_problem(client.get("/tiles/grid/12/3000/1500.pbf"), 401)


def test_tilejson(client):
    tj = client.get("/tiles/grid.json").json()
    assert tj["tilejson"] == "3.0.0" and tj["tiles"][0].endswith("/tiles/grid/{z}/{x}/{y}.pbf")
    assert tj["minzoom"] == 10 and 124 < tj["center"][0] < 125
    assert tj["vector_layers"][0]["fields"] == {"code": "String", "name": "String", "kind": "String"}
    assert len(tj["legend"]) == 4
    cams = client.get("/tiles/cameras.json").json()["vector_layers"][0]["fields"]
    assert cams["online"] == "Boolean" and cams["bearing_deg"] == "Number"
    assert_problem(client.get("/tiles/nope.json"), 404)
