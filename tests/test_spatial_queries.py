"""Spatial queries (radius, nearest, polygon, area code) against independent geodesic and shapely answers, with the role's rows and masks.."""

import numpy as np
import pytest
import shapely

from gis_core.geo.crs import wgs84_to_gcj02
from tests.conftest import assert_problem
from tests.test_features import GEOD, rows


@pytest.fixture(scope="module")
def cameras(engine):
    return rows(engine, "SELECT id, ST_X(geom), ST_Y(geom) FROM camera")


def geodesic_m(lon, lat, pts):
    lons, lats = np.array([p[1] for p in pts]), np.array([p[2] for p in pts])
    return GEOD.inv(np.full_like(lons, lon), np.full_like(lats, lat), lons, lats)[2]


def test_radius_matches_geodesic_distances(client, auth, cameras, spot):
    lon, lat, _ = spot
    dist = geodesic_m(lon, lat, cameras)
    radius = float(np.sort(dist)[len(dist) // 3]) + 0.5  # about a third of the cameras
    body = client.get(
        f"/api/v1/spatial/cameras/radius?lon={lon}&lat={lat}&radius={radius}&limit=10000", headers=auth()
    ).json()
    want = {c[0] for c, d in zip(cameras, dist) if d <= radius}
    assert {f["id"] for f in body["features"]} == want and body["numberMatched"] == len(want)
    got = [f["properties"]["distance_m"] for f in body["features"]]
    assert got == sorted(got)
    by_id = dict(zip([c[0] for c in cameras], dist))
    assert all(abs(f["properties"]["distance_m"] - by_id[f["id"]]) < 0.01 for f in body["features"])


def test_nearest_matches_brute_force(client, auth, cameras, spot):
    lon, lat, _ = spot
    dist = geodesic_m(lon, lat, cameras)
    want = [cameras[i][0] for i in np.argsort(dist)[:7]]
    body = client.get(f"/api/v1/spatial/cameras/nearest?lon={lon}&lat={lat}&n=7", headers=auth()).json()
    assert [f["id"] for f in body["features"]] == want


def test_nearest_accepts_gcj02_input(client, auth, cameras, spot):
    lon, lat, _ = spot
    glon, glat = wgs84_to_gcj02(lon, lat)
    a = client.get(f"/api/v1/spatial/cameras/nearest?lon={lon}&lat={lat}&n=3", headers=auth()).json()
    b = client.get(
        f"/api/v1/spatial/cameras/nearest?lon={glon}&lat={glat}&n=3&crs=GCJ-02", headers=auth()
    ).json()
    assert [f["id"] for f in a["features"]] == [f["id"] for f in b["features"]]


def test_polygon_matches_shapely(client, auth, engine, spot):
    lon, lat, _ = spot
    poly = shapely.Point(lon, lat).buffer(0.01, quad_segs=4)
    src = rows(engine, "SELECT id, ST_AsBinary(geom) FROM building")
    want = {i for i, g in src if shapely.from_wkb(bytes(g)).intersects(poly)}
    body = client.post(
        "/api/v1/spatial/buildings/polygon",
        headers=auth(),
        json={"geometry": shapely.geometry.mapping(poly), "limit": 10000},
    ).json()
    assert {f["id"] for f in body["features"]} == want


def test_area_code_at_every_level(client, auth, engine):
    for table in ("street", "community", "grid"):
        code, unit = rows(engine, f"SELECT code, ST_AsBinary(geom) FROM {table} ORDER BY code LIMIT 1")[0]
        unit = shapely.from_wkb(bytes(unit))
        src = rows(engine, "SELECT id, ST_X(geom), ST_Y(geom) FROM camera")
        want = {i for i, x, y in src if unit.intersects(shapely.Point(x, y))}
        body = client.get(
            f"/api/v1/spatial/cameras/area?code={code.strip()}&limit=10000", headers=auth()
        ).json()
        assert {f["id"] for f in body["features"]} == want, table


def test_spatial_queries_honour_role_rows_and_masks(client, auth, engine, spot):
    lon, lat, _ = spot
    commander = client.get(f"/api/v1/spatial/persons/nearest?lon={lon}&lat={lat}&n=5", headers=auth()).json()
    planner = client.get(
        f"/api/v1/spatial/persons/nearest?lon={lon}&lat={lat}&n=5", headers=auth("planner")
    ).json()
    assert [f["id"] for f in commander["features"]] == [f["id"] for f in planner["features"]]
    for c, p in zip(commander["features"], planner["features"]):
        assert p["properties"]["id_number"] != c["properties"]["id_number"]
        assert "*" in p["properties"]["name"] and "*" not in c["properties"]["name"]
    allowed = {
        r[0]
        for r in rows(
            engine,
            "SELECT p.id FROM person p JOIN worker_grid wg ON wg.grid_id = p.grid_id JOIN worker w ON w.id = wg.worker_id "
            "JOIN app_user u ON u.id = w.user_id WHERE u.username = 'gridworker'",
        )
    }
    worker = client.get(
        f"/api/v1/spatial/persons/radius?lon={lon}&lat={lat}&radius=50000&limit=10000",
        headers=auth("gridworker"),
    ).json()
    assert {f["id"] for f in worker["features"]} == allowed
    assert_problem(
        client.get(f"/api/v1/spatial/persons/nearest?lon={lon}&lat={lat}", headers=auth("citizen")), 403
    )


@pytest.mark.parametrize(
    "method,path,body,status,where",
    [
        ("get", "/api/v1/spatial/cameras/radius?lon=124.38&lat=95&radius=100", None, 400, "query.lon,lat"),
        ("get", "/api/v1/spatial/cameras/radius?lon=abc&lat=40&radius=100", None, 422, "query.lon"),
        ("get", "/api/v1/spatial/cameras/radius?lon=124.38&lat=40.14&radius=-5", None, 422, "query.radius"),
        ("get", "/api/v1/spatial/cameras/radius?lon=124.38&lat=40.14", None, 422, "query.radius"),
        (
            "get",
            "/api/v1/spatial/cameras/nearest?lon=124.38&lat=40.14&crs=EPSG:999999",
            None,
            400,
            "query.crs",
        ),
        ("get", "/api/v1/spatial/cameras/nearest?lon=124.38&lat=40.14&n=0", None, 422, "query.n"),
        ("get", "/api/v1/spatial/cameras/area?code=12345", None, 400, "query.code"),
        ("get", "/api/v1/spatial/cameras/area?code=999999999999", None, 404, "query.code"),
        ("get", "/api/v1/spatial/nope/nearest?lon=124.38&lat=40.14", None, 404, "path.layer"),
        (
            "post",
            "/api/v1/spatial/grid/polygon",
            {
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[124.37, 40.13], [124.39, 40.15], [124.39, 40.13], [124.37, 40.15], [124.37, 40.13]]
                    ],
                }
            },
            400,
            "body.geometry",
        ),
        (
            "post",
            "/api/v1/spatial/grid/polygon",
            {"geometry": {"type": "Point", "coordinates": [124.38, 40.14]}},
            400,
            "body.geometry",
        ),
        (
            "post",
            "/api/v1/spatial/grid/polygon",
            {"geometry": {"type": "Polygon", "coordinates": [[[1, 2]]]}},
            400,
            "body.geometry.coordinates[0]",  # the ring: unclosed, too short
        ),
        (
            "post",
            "/api/v1/spatial/grid/polygon",
            {"geometry": {"type": "Polygon", "coordinates": [[[124, 40], [300, 40], [124, 41], [124, 40]]]}},
            400,
            "body.geometry",
        ),
        ("post", "/api/v1/spatial/grid/polygon", {"nothing": 1}, 422, "body.geometry"),
    ],
)
def test_bad_spatial_queries_are_problems(client, auth, method, path, body, status, where):
    r = getattr(client, method)(path, headers=auth(), **({"json": body} if body is not None else {}))
    assert assert_problem(r, status)["where"] == where


def test_a_self_intersection_is_located(client, auth):
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[124.37, 40.13], [124.39, 40.15], [124.39, 40.13], [124.37, 40.15], [124.37, 40.13]]
        ],
    }
    body = client.post("/api/v1/spatial/grid/polygon", headers=auth(), json={"geometry": bowtie}).json()
    assert body["reason"].startswith("Self-intersection[124.38 40.14")
