"""Planners' analysis: isochrones, who is outside the service circles, KDE, DBSCAN, patrol coverage, frames."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import shapely
import sqlalchemy as sa
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from gis_core.analysis import density
from gis_core.field import patrol
from gis_core.geo import service_circles
from gis_core.geo.crs import transformer
from gis_core.incidents.queries import IncidentFilter
from tests.conftest import assert_problem

EPSG = 4550
X0, Y0 = 520_000.0, 4_440_000.0  # a corner of a hand-made network, far from the demo district


def _lattice(conn, closed=(), cut=()):
    """A 6×6 street lattice of 100 m blocks, walked at 1.25 m/s, shadowing `road` for this transaction.

    `cut` edges are missing (a river with one bridge); `closed` edges exist but cost -1.
    Returns the node coordinates (metric) and the edge list (i, j, seconds, reverse seconds).
    """
    n = 6
    xy = np.array([(X0 + 100 * c, Y0 + 100 * r) for r in range(n) for c in range(n)])
    edges = []
    for r in range(n):
        for c in range(n):
            i = r * n + c
            for j in ((i + 1) if c < n - 1 else None, (i + n) if r < n - 1 else None):
                if j is None or (i, j) in cut:
                    continue
                cost = -1.0 if (i, j) in closed else 80.0
                edges.append((i, j, cost, cost))
    lon, lat = transformer(EPSG, 4326).transform(xy[:, 0], xy[:, 1])
    conn.execute(sa.text("CREATE TEMP TABLE road_vertex (id bigint PRIMARY KEY, geom geometry(Point, 4326))"))
    conn.execute(
        sa.text(
            "CREATE TEMP TABLE road (id bigserial PRIMARY KEY, source bigint, target bigint, "
            "cost float8, reverse_cost float8, geom geometry(LineString, 4326))"
        )
    )
    for k in range(len(xy)):
        conn.execute(
            sa.text("INSERT INTO road_vertex VALUES (:id, ST_SetSRID(ST_MakePoint(:x, :y), 4326))"),
            {"id": k + 1, "x": float(lon[k]), "y": float(lat[k])},
        )
    for i, j, c, rc in edges:
        conn.execute(
            sa.text(
                "INSERT INTO road (source, target, cost, reverse_cost, geom) SELECT :s, :t, :c, :rc, "
                "ST_MakeLine(a.geom, b.geom) FROM road_vertex a, road_vertex b WHERE a.id = :s AND b.id = :t"
            ),
            {"s": i + 1, "t": j + 1, "c": c, "rc": rc},
        )
    return xy, (lon, lat), edges


def _reached(n_nodes, edges, start, limit_s):
    ok = [(i, j, c) for i, j, c, _ in edges if c >= 0]
    g = csr_matrix(
        ([c for *_, c in ok], ([i for i, *_ in ok], [j for _, j, _ in ok])), shape=(n_nodes, n_nodes)
    )
    dist = dijkstra(g, directed=False, indices=start)
    return set(np.flatnonzero(dist <= limit_s).tolist())


@pytest.mark.parametrize("minutes", [2.5, 4.0, 6.0])
def test_isochrone_holds_exactly_the_nodes_within_the_walking_time(conn, minutes):
    # a river between rows 2 and 3 with one bridge at column 5, and one closed street
    cut = {(12 + c, 18 + c) for c in range(5)}
    closed = {(7, 8)}
    xy, (lon, lat), edges = _lattice(conn, closed=closed, cut=cut)
    start = 14  # row 2, column 2: just south of the river
    (circle,) = service_circles.isochrones(conn, [(99, lon[start], lat[start])], minutes, EPSG, access_m=30)
    inside = set(np.flatnonzero(shapely.contains_xy(circle.polygon, xy[:, 0], xy[:, 1])).tolist())
    want = _reached(len(xy), edges, start, minutes * 60)
    assert inside == want
    assert 20 not in want or minutes >= 6  # across the river only over the bridge


def test_isochrone_walks_part_way_along_an_edge(conn):
    xy, (lon, lat), _ = _lattice(conn)
    (circle,) = service_circles.isochrones(conn, [(1, lon[0], lat[0])], 1.0, EPSG, access_m=10)
    # 60 s at 1.25 m/s: 75 m along both streets from the corner, flat at the ends
    east = shapely.LineString([(X0, Y0), (X0 + 100, Y0)])
    covered = shapely.intersection(east, circle.polygon).length
    assert covered == pytest.approx(75, abs=0.5)


def test_households_outside_every_circle_match_postgis(conn, settings):
    circles = service_circles.service_circles(conn, settings.projected_epsg)
    assert len(circles) == conn.execute(sa.text("SELECT count(*) FROM service_center")).scalar_one()
    assert all(c.polygon.area > 0 for c in circles)
    result = service_circles.outside(conn, circles, settings.projected_epsg)
    assert 0 < result["households"] < result["households_total"]
    # the same question asked of PostGIS, with the circles as a table
    conn.execute(sa.text("CREATE TEMP TABLE circles (geom geometry)"))
    for c in circles:
        conn.execute(
            sa.text("INSERT INTO circles VALUES (ST_GeomFromWKB(:w, :e))"),
            {"w": c.polygon.wkb, "e": settings.projected_epsg},
        )
    households, care = conn.execute(
        sa.text(
            "SELECT (SELECT coalesce(sum(households), 0) FROM building b WHERE households > 0 AND NOT EXISTS "
            "  (SELECT 1 FROM circles k WHERE ST_Intersects(k.geom, ST_Transform(ST_PointOnSurface(b.geom), :e)))), "
            "(SELECT count(*) FROM person p WHERE cardinality(care_tags) > 0 AND NOT EXISTS "
            "  (SELECT 1 FROM circles k WHERE ST_Intersects(k.geom, ST_Transform(p.geom, :e))))"
        ),
        {"e": settings.projected_epsg},
    ).one()
    assert result["households"] == households
    assert result["special_care"] == care
    assert sum(result["by_grid"].values()) <= households


def test_kde_integrates_to_the_point_count_and_peaks_at_the_cluster():
    rng = np.random.default_rng(2)
    x = np.r_[rng.uniform(0, 5000, 300), rng.normal(2500, 60, 100)]
    y = np.r_[rng.uniform(0, 5000, 300), rng.normal(1500, 60, 100)]
    s = density.kde(x, y, bandwidth_m=150, cell_m=25)
    total = s.values.sum() * (s.cell_m**2) / 1e6
    assert total == pytest.approx(400, rel=1e-6)
    row, col = np.unravel_index(np.argmax(s.values), s.values.shape)
    px, py = s.west + (col + 0.5) * s.cell_m, s.north - (row + 0.5) * s.cell_m
    assert abs(px - 2500) < 100 and abs(py - 1500) < 100
    assert s.at(2500, 1500) > 10 * s.at(4000, 4000)


def test_dbscan_finds_a_planted_hotspot(conn, settings, manifest):
    from gis_core.platform.auth import User

    h = manifest["hotspots"][0]
    commander = User(0, "c", "c", "commander", None, None)
    f = IncidentFilter(category=h["category"], since=h["from"], until=h["to"])
    found = density.clusters(conn, commander, f, eps_m=100, min_points=5, epsg=settings.projected_epsg)
    centre = shapely.Point(h["lon"], h["lat"])
    hits = [c for c in found if shapely.from_geojson(c["hull"]).distance(centre) < 0.002]
    assert hits and hits[0]["size"] >= 0.8 * h["count"]


def postgis_patrol(conn, code, since, until, epsg):
    """(road metres in grid `code`, metres of them within 30 m of its own workers' daily lines), by PostGIS."""
    return conn.execute(
        sa.text(
            "WITH g AS (SELECT id, ST_Transform(geom, :e) g FROM grid WHERE code = :c), "
            "r AS (SELECT ST_Intersection(ST_Transform(ST_Collect(road.geom), :e), (SELECT g FROM g)) r FROM road), "
            "t AS (SELECT ST_Union(ST_Buffer(ST_Transform(l, :e), 30)) b FROM (SELECT ST_MakeLine(tp.geom ORDER BY recorded_at) l "
            "  FROM track_point tp JOIN worker_grid wg ON wg.worker_id = tp.worker_id AND wg.grid_id = (SELECT id FROM g) "
            "  WHERE recorded_at >= :a AND recorded_at < :b GROUP BY tp.worker_id, date_trunc('day', recorded_at)) d) "
            "SELECT ST_Length(r), coalesce(ST_Length(ST_Intersection(r, b)), 0) FROM r, t"
        ),
        {"e": epsg, "c": code, "a": since, "b": until},
    ).one()


def test_patrol_coverage_of_a_grid_equals_postgis(conn, settings, manifest):
    since = datetime.fromisoformat(manifest["tracks"]["from"])
    until = datetime.fromisoformat(manifest["tracks"]["to"])
    rows = {r["grid_code"]: r for r in patrol.coverage(conn, since, until, settings.projected_epsg)}
    assert len(rows) == conn.execute(sa.text("SELECT count(*) FROM grid")).scalar_one()
    assert all(r["share"] is None or 0 <= r["share_by_own"] <= r["share"] <= 1 for r in rows.values())
    code = conn.execute(
        sa.text("SELECT g.code FROM grid g JOIN worker_grid wg ON wg.grid_id = g.id WHERE wg.worker_id = 1")
    ).scalar_one()
    road_m, own_m = postgis_patrol(conn, code, since, until, settings.projected_epsg)
    assert rows[code]["road_m"] == pytest.approx(road_m, abs=1)
    assert rows[code]["patrolled_by_own_m"] == pytest.approx(own_m, rel=0.01)  # pieces of 5 m
    assert rows[code]["share_by_own"] > 0.3  # a week of shifts walks much of the own grid


def buffered_coverage(conn, since, until, epsg) -> dict[str, tuple[float, float, float]]:
    """The method `patrol.coverage` replaced (too slow at full scale), as the reference: each
    worker-day's GPS line buffered by 30 m in shapely, unioned per grid, road length inside."""
    grids = conn.execute(
        sa.text(
            "SELECT g.code, ST_AsBinary(ST_Transform(g.geom, :e)) wkb, array_remove(array_agg(wg.worker_id), NULL) w "
            "FROM grid g LEFT JOIN worker_grid wg ON wg.grid_id = g.id GROUP BY g.id"
        ),
        {"e": epsg},
    ).all()
    roads = shapely.from_wkb(
        [
            bytes(r[0])
            for r in conn.execute(
                sa.text("SELECT ST_AsBinary(ST_Transform(geom, :e)) FROM road"), {"e": epsg}
            )
        ]
    )
    lines = conn.execute(
        sa.text(
            "SELECT worker_id, ST_AsBinary(ST_Transform(ST_MakeLine(geom ORDER BY recorded_at), :e)) wkb "
            "FROM track_point WHERE recorded_at >= :a AND recorded_at < :b "
            "GROUP BY worker_id, date_trunc('day', recorded_at) HAVING count(*) > 1"
        ),
        {"e": epsg, "a": since, "b": until},
    ).all()
    zones = shapely.buffer(shapely.from_wkb([bytes(r.wkb) for r in lines]), 30)
    who = np.array([r.worker_id for r in lines])
    out = {}
    for g in grids:
        area = shapely.from_wkb(bytes(g.wkb))
        network = shapely.intersection(shapely.union_all(roads[shapely.intersects(roads, area)]), area)
        near = shapely.intersects(zones, area)
        own = near & np.isin(who, list(g.w))
        out[g.code] = tuple(
            float(shapely.length(x))
            for x in (
                network,
                shapely.intersection(network, shapely.union_all(zones[near])),
                shapely.intersection(network, shapely.union_all(zones[own])),
            )
        )
    return out


def test_patrol_coverage_in_postgis_equals_the_buffered_tracks_within_one_percent(conn, settings, manifest):
    since = datetime.fromisoformat(manifest["tracks"]["from"])
    until = datetime.fromisoformat(manifest["tracks"]["to"])
    reference = buffered_coverage(conn, since, until, settings.projected_epsg)
    rows = patrol.coverage(conn, since, until, settings.projected_epsg)
    assert {r["grid_code"] for r in rows} == set(reference) and sum(v[0] for v in reference.values()) > 10_000
    for r in rows:
        road_m, by_any, by_own = reference[r["grid_code"]]
        assert r["road_m"] == pytest.approx(road_m, abs=0.5), r["grid_code"]
        # within 1 % of the grid's road length: 5 m pieces, right to half a piece at each end
        assert abs(r["patrolled_m"] - by_any) <= 0.01 * road_m, (r["grid_code"], r["patrolled_m"], by_any)
        assert abs(r["patrolled_by_own_m"] - by_own) <= 0.01 * road_m, (
            r["grid_code"],
            r["patrolled_by_own_m"],
            by_own,
        )


def test_key_point_last_patrol_comes_from_the_nearest_fix(conn, settings):
    code, lon, lat = conn.execute(
        sa.text("SELECT code, ST_X(geom), ST_Y(geom) FROM key_point ORDER BY code LIMIT 1")
    ).one()
    at = datetime(2027, 1, 10, 12, tzinfo=UTC)
    conn.execute(sa.text("SELECT ensure_track_partitions(:a, :b)"), {"a": at - timedelta(days=1), "b": at})
    conn.execute(
        sa.text(
            "INSERT INTO track_point (worker_id, recorded_at, geom) VALUES "
            "(1, :t1, ST_SetSRID(ST_MakePoint(:x, :y + 0.0003), 4326)), "  # ~33 m north: counts
            "(1, :t2, ST_SetSRID(ST_MakePoint(:x, :y + 0.0009), 4326))"  # ~100 m north, later: does not
        ),
        {"t1": at - timedelta(hours=3), "t2": at - timedelta(hours=1), "x": lon, "y": lat},
    )
    row = next(r for r in patrol.key_points(conn, at, settings.projected_epsg) if r["code"] == code)
    assert row["last_patrol"] == at - timedelta(hours=3)
    assert row["hours_since"] == pytest.approx(3) and row["overdue"] is False


def test_frames_read_the_same_from_the_database_and_the_api(client, token, db_url):
    from gis_core.analysis.frames import OneGrid
    from gis_core.analysis.pages import ServerPages

    db = OneGrid.database(db_url, username="planner")
    client.headers["Authorization"] = f"Bearer {token('planner')}"
    try:
        api = OneGrid(ServerPages(client), 4550)
        for name in ("cameras", "service_centers", "cold_chain"):
            a, b = db.layer(name), api.layer(name)
            assert len(a) == len(b) > 0 and list(a.columns) == list(b.columns)
            assert a.geometry.geom_equals_exact(b.geometry, 1e-7).all()
        inc_db = db.incidents(since="2026-06-01T00:00:00+00:00", until="2026-07-01T00:00:00+00:00")
        inc_api = api.incidents(since="2026-06-01T00:00:00+00:00", until="2026-07-01T00:00:00+00:00")
        assert len(inc_db) == len(inc_api) > 0 and set(inc_db.index) == set(inc_api.index)
        # the planner sees residents masked, both ways
        persons = api.layer("persons")
        assert (
            persons["id_number"].str.contains(r"\*{6}").all()
            and persons["phone"].dropna().str.contains(r"\*").all()
        )
        assert db.layer("persons")["id_number"].equals(persons["id_number"])
    finally:
        del client.headers["Authorization"]


def test_grid_metrics_add_up(db_url):
    from gis_core.analysis.frames import OneGrid

    og = OneGrid.database(db_url, username="planner")
    grids = og.grids(since="2026-01-01T00:00:00+00:00", until="2026-07-01T00:00:00+00:00")
    incidents = og.incidents(since="2026-01-01T00:00:00+00:00", until="2026-07-01T00:00:00+00:00")
    assert grids["incidents"].sum() == incidents["grid_code"].notna().sum()
    assert (grids["open"] <= grids["incidents"]).all() and (grids["closed"] <= grids["incidents"]).all()
    persons = og.persons_per_grid()
    assert grids["persons"].sum() == persons["persons"].sum() > 0
    assert (persons[[c for c in persons if c.startswith("risk_")]].sum(axis=1) == persons["persons"]).all()


def test_frames_give_hotspots_and_circles(db_url, manifest):
    from gis_core.analysis.frames import OneGrid

    og = OneGrid.database(db_url, username="planner")
    h = manifest["hotspots"][0]
    hexes = og.hotspots(h["from"], h["to"], category=h["category"], unit="hex", hex_size=250)
    centre = shapely.Point(h["lon"], h["lat"])
    assert hexes[hexes.contains(centre)]["bin"].tolist() == [3]
    circles = og.service_circles()
    assert len(circles) > 0 and set(circles["minutes"]) <= {5.0, 10.0, 15.0}
    out = og.outside_circles(circles)
    assert 0 < out["households"] < out["households_total"]


def test_service_circles_are_served_with_who_lies_outside(client, auth, engine, settings):
    """Issue 18 item 15: the 15/10/5-minute circles and the uncovered households were notebook-only."""
    from gis_core.geo import service_circles

    body = client.get("/api/v1/service-circles", headers=auth("planner")).json()
    with engine.connect() as c:
        centres = service_circles.centers(c)
        circles = service_circles.service_circles(c, settings.projected_epsg)
        want = service_circles.outside(c, circles, settings.projected_epsg)
    areas = {c.center_id: round(c.polygon.area / 1e6, 3) for c in circles}
    assert {f["id"] for f in body["features"]} == {x["code"] for x in centres}
    by_code = {x["code"]: x for x in centres}
    for f in body["features"]:
        poly = shapely.geometry.shape(f["geometry"])
        centre = by_code[f["id"]]
        assert poly.is_valid and f["properties"]["minutes"] == centre["circle_minutes"]
        assert f["properties"]["area_km2"] == areas[centre["id"]] > 0  # the same walk, in lon/lat
        # within a walk of its centre (which may stand off the road network)
        assert poly.distance(shapely.Point(centre["lon"], centre["lat"])) < 0.02
    out = body["outside"]
    assert (out["households"], out["households_total"], out["by_grid"]) == (
        want["households"],
        want["households_total"],
        want["by_grid"],
    )
    assert out["special_care"] == want["special_care"] and "special_care_ids" not in out
    five = client.get("/api/v1/service-circles", params={"minutes": 5}, headers=auth("planner")).json()
    assert all(f["properties"]["minutes"] == 5 for f in five["features"])
    # five minutes is at most each centre's own standard walk: no fewer households outside
    assert five["outside"]["households"] >= out["households"]
    assert_problem(client.get("/api/v1/service-circles", headers=auth("citizen")), 403)
    assert_problem(client.get("/api/v1/service-circles", params={"minutes": 0}, headers=auth("planner")), 422)
