"""Point-call (多人点调): on-duty workers ranked by walking time on the network, not straight line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import shapely
import shapely.geometry
import sqlalchemy as sa
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from gis_core.field import dispatch
from gis_core.platform.auth import User
from tests.test_analysis import _lattice

COMMANDER = User(0, "c", "c", "commander", None, None)
AT = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)  # no demo worker is on duty then
N = 6
RIVER = [(i, i + N) for i in range(2 * N + 1, 3 * N)]  # between rows 2 and 3; one bridge at column 0
ISLAND = [(4, 5), (5, 11)]  # node 5 (row 0, column 5): its streets closed


def _place(conn, lonlat, workers, minutes_ago=5):
    for worker_id, node in workers.items():
        conn.execute(
            sa.text(
                "INSERT INTO worker_position (worker_id, recorded_at, geom) "
                "VALUES (:w, :t, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) ON CONFLICT (worker_id) DO UPDATE "
                "SET recorded_at = EXCLUDED.recorded_at, geom = EXCLUDED.geom"
            ),
            {
                "w": worker_id,
                "t": AT - timedelta(minutes=minutes_ago),
                "x": float(lonlat[0][node]),
                "y": float(lonlat[1][node]),
            },
        )


def test_a_worker_across_the_river_ranks_after_one_with_a_shorter_walk(conn):
    xy, lonlat, edges = _lattice(conn, closed=ISLAND, cut=RIVER)
    target = 3 * N + 5  # row 3, column 5
    across, walker, island = 2 * N + 5, 5 * N + 2, 5  # just over the river; three streets away; cut off
    _place(conn, lonlat, {1: across, 2: walker, 3: island})
    found = dispatch.nearby(
        conn,
        COMMANDER,
        float(lonlat[0][target]),
        float(lonlat[1][target]),
        1000,
        AT,
        timedelta(minutes=30),
        4550,
    )
    assert [w["worker_id"] for w in found] == [2, 1, 3]
    straight = {w["worker_id"]: w["straight_m"] for w in found}
    assert straight[1] < straight[2]  # the river worker looks nearest
    # walking times from an independent Dijkstra over the same streets (scipy)
    ok = [(i, j, c) for i, j, c, _ in edges if c >= 0]
    g = csr_matrix(([c for *_, c in ok], ([i for i, *_ in ok], [j for _, j, _ in ok])), shape=(N * N, N * N))
    seconds = dijkstra(g, directed=False, indices=target)
    walks = {w["worker_id"]: w["walk_s"] for w in found}
    assert walks[2] == np.round(seconds[walker], 1) and walks[1] == np.round(seconds[across], 1)
    assert walks[3] is None and np.isinf(seconds[island])
    assert found[0]["eta"] == AT + timedelta(seconds=walks[2])


def test_only_recent_fixes_within_the_radius_count(conn):
    _, lonlat, _ = _lattice(conn)
    _place(conn, lonlat, {1: 0, 2: 35})
    _place(conn, lonlat, {3: 1}, minutes_ago=45)  # stale: off duty
    found = dispatch.nearby(
        conn, COMMANDER, float(lonlat[0][0]), float(lonlat[1][0]), 300, AT, timedelta(minutes=30), 4550
    )
    assert [w["worker_id"] for w in found] == [1]  # worker 2 is ~707 m away, worker 3 off duty
    assert found[0]["walk_s"] == 0.0


def _latest(engine):
    with engine.connect() as c:
        return c.execute(sa.text("SELECT max(recorded_at) FROM worker_position")).scalar_one()


def test_the_api_ranks_the_demo_district_as_an_independent_dijkstra_does(
    client, auth, engine, spot, settings
):
    from pyproj import Transformer

    lon, lat, _ = spot
    at = _latest(engine) + timedelta(minutes=1)
    # everyone's newest fix made recent for this test (the demo's shifts end at different times)
    with engine.begin() as c:
        saved = c.execute(sa.text("SELECT worker_id, recorded_at FROM worker_position")).all()
        c.execute(sa.text("UPDATE worker_position SET recorded_at = :t"), {"t": at - timedelta(minutes=5)})
    try:
        r = client.get(
            "/api/v1/workers/nearby",
            params={"lon": lon, "lat": lat, "radius": 3000, "at": at.isoformat(), "limit": 100},
            headers=auth("commander"),
        )
    finally:
        with engine.begin() as c:
            for worker_id, t in saved:
                c.execute(
                    sa.text("UPDATE worker_position SET recorded_at = :t WHERE worker_id = :w"),
                    {"t": t, "w": worker_id},
                )
    assert r.status_code == 200, r.text
    found = r.json()["workers"]
    assert len(found) >= 2
    with engine.connect() as c:
        roads = c.execute(sa.text("SELECT source, target, cost, reverse_cost FROM road")).all()
        n = int(c.execute(sa.text("SELECT max(id) FROM road_vertex")).scalar_one()) + 1
        near = {}
        for key, (x, y) in [("target", (lon, lat))] + [(w["worker_id"], (w["lon"], w["lat"])) for w in found]:
            near[key] = c.execute(
                sa.text(
                    "SELECT id, ST_X(geom), ST_Y(geom) FROM road_vertex "
                    "ORDER BY geom <-> ST_SetSRID(ST_MakePoint(:x, :y), 4326) LIMIT 1"
                ),
                {"x": x, "y": y},
            ).one()
    # walking towards the target: edges reversed, one Dijkstra from the target
    rows, cols, costs = [], [], []
    for s, t, cost, rcost in roads:
        if cost >= 0:
            rows.append(t), cols.append(s), costs.append(cost)
        if rcost >= 0:
            rows.append(s), cols.append(t), costs.append(rcost)
    g = csr_matrix((costs, (rows, cols)), shape=(n, n))
    seconds = dijkstra(g, directed=True, indices=near["target"][0])
    to_m = Transformer.from_crs(4326, settings.projected_epsg, always_xy=True)

    def metres(a, b):
        (ax, ay), (bx, by) = to_m.transform(*a), to_m.transform(*b)
        return float(np.hypot(ax - bx, ay - by))

    tv = near["target"]
    for w in found:
        v = near[w["worker_id"]]
        legs = metres((w["lon"], w["lat"]), (v[1], v[2])) + metres((lon, lat), (tv[1], tv[2]))
        want = None if np.isinf(seconds[v[0]]) else seconds[v[0]] + legs / dispatch.WALK_MPS
        assert (w["walk_s"] is None) == (want is None)
        if want is not None:
            assert abs(w["walk_s"] - want) < 0.2, (w, want)
    walks = [w["walk_s"] for w in found if w["walk_s"] is not None]
    assert walks == sorted(walks)
    since = at - timedelta(minutes=settings.on_duty_minutes)
    assert all(since < datetime.fromisoformat(w["fix_at"]) <= at for w in found)


def test_point_call_refuses_bad_points_and_callers(client, auth, spot):
    from tests.conftest import assert_problem

    lon, lat, _ = spot
    url = "/api/v1/workers/nearby"
    assert assert_problem(
        client.get(url, params={"lon": 116.4, "lat": 39.9}, headers=auth()), 400, "outside-district"
    )
    assert assert_problem(client.get(url, params={"lon": lon, "lat": 95}, headers=auth()), 400)[
        "where"
    ].startswith("query")
    body = assert_problem(
        client.get(url, params={"lon": lon, "lat": lat, "crs": "EPSG:99999"}, headers=auth()), 400
    )
    assert body["where"] == "query.crs"
    assert (
        assert_problem(client.get(url, params={"lon": lon, "lat": lat, "radius": 0}, headers=auth()), 422)[
            "where"
        ]
        == "query.radius"
    )
    assert_problem(client.get(url, params={"lon": lon, "lat": lat}, headers=auth("gridworker")), 403)
    assert_problem(client.get(url, params={"lon": lon, "lat": lat}, headers=auth("planner")), 403)


def test_a_phone_clock_a_little_fast_still_counts(conn):
    _, lonlat, _ = _lattice(conn)
    _place(conn, lonlat, {1: 0}, minutes_ago=-2)  # two minutes "in the future": within the skew
    _place(conn, lonlat, {2: 1}, minutes_ago=-10)  # ten: not a fix to trust
    found = dispatch.nearby(
        conn, COMMANDER, float(lonlat[0][0]), float(lonlat[1][0]), 300, AT, timedelta(minutes=30), 4550
    )
    assert [w["worker_id"] for w in found] == [1]


def test_a_posted_area_lists_only_the_workers_inside_it(conn):
    xy, lonlat, _ = _lattice(conn, cut=RIVER)
    _place(conn, lonlat, {1: 2 * N + 5, 2: 5 * N + 2, 3: 0})  # row 2 (south of the river), row 5, row 0
    south = shapely.Polygon([(lonlat[0][k], lonlat[1][k]) for k in (0, 5, 2 * N + 5, 2 * N)]).buffer(1e-5)
    target = N + 2
    found = dispatch.nearby(
        conn,
        COMMANDER,
        float(lonlat[0][target]),
        float(lonlat[1][target]),
        800,
        AT,
        timedelta(minutes=30),
        4550,
        area=south,
    )
    # worker 2 is outside; worker 3 walks 3 blocks of 80 s, worker 1 four (both south of the river)
    assert [(w["worker_id"], w["walk_s"]) for w in found] == [(3, 240.0), (1, 320.0)]


def test_posted_areas_must_be_valid_and_in_the_district(client, auth, spot):
    from tests.conftest import assert_problem

    lon, lat, _ = spot
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[lon, lat], [lon + 0.01, lat + 0.01], [lon + 0.01, lat], [lon, lat + 0.01], [lon, lat]]
        ],
    }
    body = assert_problem(
        client.post("/api/v1/workers/nearby", json={"geometry": bowtie}, headers=auth()), 400
    )
    assert body["where"] == "body.geometry" and "Self-intersection" in body["detail"]
    far = {"type": "Polygon", "coordinates": [[[116.3, 39.9], [116.4, 39.9], [116.4, 40.0], [116.3, 39.9]]]}
    assert_problem(
        client.post("/api/v1/workers/nearby", json={"geometry": far}, headers=auth()), 400, "outside-district"
    )
    square = shapely.geometry.mapping(shapely.Point(lon, lat).buffer(0.005))
    r = client.post("/api/v1/workers/nearby", json={"geometry": square}, headers=auth())
    assert r.status_code == 200 and "workers" in r.json()
