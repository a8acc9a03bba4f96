"""Point lookup: in-process index vs an independent shapely check, vs PostGIS, and over HTTP."""

import time

import geopandas as gpd
import numpy as np
import pytest
import sqlalchemy as sa

from gis_core.geo import crs
from gis_core.geo.lookup import GridIndex, GridIndexCache
from tests.conftest import assert_problem


@pytest.fixture(scope="module")
def grids(engine):
    """The grid layer read independently with geopandas."""
    with engine.connect() as c:
        return gpd.read_postgis("SELECT code, geom FROM grid ORDER BY code", c, geom_col="geom")


@pytest.fixture(scope="module")
def index(engine):
    with engine.connect() as c:
        return GridIndex.load(c)


@pytest.fixture(scope="module")
def random_points(grids):
    rng = np.random.default_rng(7)
    minx, miny, maxx, maxy = grids.total_bounds
    return rng.uniform(minx, maxx, 1000), rng.uniform(miny, maxy, 1000)


def test_lookup_agrees_with_shapely_point_in_polygon_for_1000_points(index, grids, random_points):
    lons, lats = random_points
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lons, lats), crs=4326)
    joined = gpd.sjoin(pts, grids, how="left", predicate="within")
    expected = joined.groupby(level=0)["code"].min().reindex(range(1000))  # lowest code on shared edges
    inside = 0
    for i, (lon, lat) in enumerate(zip(lons, lats)):
        found = index.locate(lon, lat)
        want = expected.iloc[i]
        if isinstance(want, str):
            inside += 1
            assert found is not None and found.grid.code == want
        else:
            assert found is None
    assert inside > 300  # the bbox sample hits the district often enough to mean something


def test_locate_many_matches_locate(index, random_points):
    lons, lats = random_points
    many = index.locate_many(lons, lats)
    for i in range(0, 1000, 7):
        one = index.locate(lons[i], lats[i])
        assert (many[i] == -1) == (one is None)
        if one is not None:
            assert index.location(int(many[i])).grid.code == one.grid.code


def test_lookup_agrees_with_postgis_grid_of(index, engine, random_points):
    lons, lats = random_points
    with engine.connect() as c:
        for lon, lat in list(zip(lons, lats))[:200]:
            code = c.execute(
                sa.text(
                    "SELECT g.code FROM grid_of(ST_SetSRID(ST_MakePoint(:x, :y), 4326)) a JOIN grid g ON g.id = a.grid_id"
                ),
                {"x": float(lon), "y": float(lat)},
            ).scalar()
            found = index.locate(lon, lat)
            assert (found.grid.code if found else None) == code


def test_hierarchy_and_workers_come_with_the_grid(index, engine):
    with engine.connect() as c:
        row = c.execute(
            sa.text(
                "SELECT ST_X(p) x, ST_Y(p) y, g.code, c.code cc, s.code sc, "
                "(SELECT array_agg(w.code ORDER BY w.code) FROM worker_grid wg JOIN worker w ON w.id = wg.worker_id "
                " WHERE wg.grid_id = g.id) workers "
                "FROM (SELECT *, ST_PointOnSurface(geom) p FROM grid ORDER BY code DESC LIMIT 1) g "
                "JOIN community c ON c.id = g.community_id JOIN street s ON s.id = c.street_id"
            )
        ).one()
    found = index.locate(row.x, row.y)
    assert (found.grid.code, found.community.code, found.street.code) == (row.code, row.cc, row.sc)
    assert found.district.code == "210602000000"
    assert sorted(w.code for w in found.workers) == row.workers


def test_http_lookup(client, auth, index, engine):
    with engine.connect() as c:
        x, y, code = c.execute(
            sa.text(
                "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)), code FROM grid "
                "ORDER BY code LIMIT 1"
            )
        ).one()
    r = client.get("/api/v1/lookup", params={"lon": x, "lat": y}, headers=auth())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["grid"]["code"] == code
    assert body["grid"]["kind"] in ("urban", "rural", "enterprise", "school")
    assert body["workers"] and body["workers"][0]["phone"].isdigit()


@pytest.mark.parametrize("system", ["GCJ-02", "BD-09", "EPSG:4490", "EPSG:4550"])
def test_http_lookup_in_other_crs_finds_the_same_grid(client, auth, engine, system):
    with engine.connect() as c:
        x, y, code = c.execute(
            sa.text(
                "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)), code FROM grid "
                "ORDER BY code DESC LIMIT 1"
            )
        ).one()
    cx, cy = crs.from_wgs84(x, y, system)
    r = client.get("/api/v1/lookup", params={"lon": cx, "lat": cy, "crs": system}, headers=auth())
    assert r.status_code == 200, r.text
    assert r.json()["grid"]["code"] == code


def test_citizen_sees_masked_worker_phones(client, auth, engine):
    with engine.connect() as c:
        x, y = c.execute(
            sa.text(
                "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM grid ORDER BY code LIMIT 1"
            )
        ).one()
    phone = client.get("/api/v1/lookup", params={"lon": x, "lat": y}, headers=auth("citizen")).json()[
        "workers"
    ][0]["phone"]
    assert "****" in phone and len(phone) == 11


@pytest.mark.parametrize(
    "params,status,where",
    [
        ({"lon": 124.4, "lat": 95}, 400, "query.lon,lat"),
        ({"lon": "abc", "lat": 40.1}, 422, "query.lon"),
        ({"lon": 124.4}, 422, "query.lat"),
        ({"lon": 124.4, "lat": 40.1, "crs": "EPSG:999999"}, 400, "query.crs"),
        ({"lon": 124.4, "lat": 40.1, "crs": "bogus"}, 400, "query.crs"),
        ({"lon": "nan", "lat": 40.1}, 422, "query.lon"),
        ({"lon": 181, "lat": 40.1}, 400, "query.lon,lat"),
        ({"lon": 116.4, "lat": 39.9}, 404, "query.lon,lat"),
    ],
)
def test_http_lookup_bad_input_is_a_problem(client, auth, params, status, where):
    body = assert_problem(client.get("/api/v1/lookup", params=params, headers=auth()), status)
    assert body["where"] == where


def test_lookup_needs_a_token(client):
    r = client.get("/api/v1/lookup", params={"lon": 124.4, "lat": 40.1})
    assert_problem(r, 401, "unauthorized")
    assert r.headers["www-authenticate"] == "Bearer"


def test_cache_rebuilds_only_when_revision_moves(engine):
    cache = GridIndexCache(engine)
    first = cache.get()
    assert cache.get() is first
    assert cache.refresh_if_changed() is first
    cache.note_revision(first.revision + 1)
    assert cache.get() is not first


def test_app_listener_hears_boundary_notifications(client, engine):
    cache = client.app.state.grid_cache
    assert client.app.state.listener.listening.wait(5)
    before = cache.get().revision
    with engine.connect() as c:
        c.execute(sa.text("SELECT pg_notify('onegrid_boundaries', :r)"), {"r": str(before + 5)})
        c.commit()
    deadline = time.monotonic() + 5
    while cache._seen_revision < before + 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cache._seen_revision == before + 5


def test_within_matches_postgis_geography_distance(index, engine, random_points):
    lons, lats = random_points
    checked = 0
    with engine.connect() as c:
        for lon, lat in list(zip(lons, lats))[:150]:
            got = [loc.grid.code for loc in index.within(float(lon), float(lat), 30.0)]
            # independent: exact geodesic distance in PostGIS, away from the 30 m threshold itself
            rows = c.execute(
                sa.text(
                    "SELECT code, ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography) d "
                    "FROM grid WHERE ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography, 31) "
                    "ORDER BY code"
                ),
                {"x": float(lon), "y": float(lat)},
            ).all()
            sure = [r.code for r in rows if r.d < 29.5]
            maybe = {r.code for r in rows}
            assert set(sure) <= set(got) <= maybe
            checked += len(got) > 1
    assert checked > 0  # some points really were near an edge


def test_invalidate_rebuilds_once_then_serves_the_same_index(engine):
    cache = GridIndexCache(engine)
    first = cache.get()
    cache.invalidate()
    second = cache.get()
    assert second is not first
    assert cache.get() is second and cache.get() is second  # no rebuild per call
