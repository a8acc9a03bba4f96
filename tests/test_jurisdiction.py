"""Jurisdiction enforced by the database: the request role, its policies, and a role × endpoint matrix.

The reference sets below are written from the issue's rules with plain joins on the owner's
connection, independently of the policies (migration 0009) and of `gis_core.platform.scope`.
"""

import pytest
import sqlalchemy as sa

from gis_core.platform.auth import user_named
from gis_core.platform.scope import act_as
from gis_core.publishing import tiles
from tests.conftest import assert_problem, edge_of_the_workers_grid, plant_resident
from tests.mvt import decode, tile_of

USERS = ["admin", "commander", "street", "community", "gridworker", "handler", "planner", "citizen"]
PROTECTED = [
    "person",
    "incident",
    "incident_share",
    "incident_event",
    "incident_photo",
    "incident_duplicate",
    "warning",
    "warning_event",
    "point_call",
    "point_call_task",
    "worker_position",
    "track_point",
    "track_rejected",
]


def expected(conn, table: str, username: str) -> set[int]:
    """Ids of `table` (person, incident or warning) that `username` may read, from the issue's rules."""
    u = user_named(conn, username)
    if u.role in ("admin", "commander", "planner"):
        return set(conn.execute(sa.text(f"SELECT id FROM {table}")).scalars())
    area = {
        "street_officer": f"SELECT t.id FROM {table} t JOIN street s ON s.id = t.street_id WHERE s.code = :code",
        "community_officer": (
            f"SELECT t.id FROM {table} t JOIN community c ON c.id = t.community_id WHERE c.code = :code"
        ),
        "grid_worker": (
            f"SELECT t.id FROM {table} t JOIN worker_grid wg ON wg.grid_id = t.grid_id "
            "JOIN worker w ON w.id = wg.worker_id WHERE w.user_id = :uid"
        ),
    }.get(u.role)
    ids = set()
    if area:
        params = {"code": (u.jurisdiction_code or "").strip(), "uid": u.id}
        ids |= set(conn.execute(sa.text(area), params).scalars())
    if table == "incident":
        ids |= set(
            conn.execute(
                sa.text(
                    "SELECT id FROM incident WHERE reporter_user_id = :uid "
                    "OR (department_code = :dept AND dispatched_at IS NOT NULL)"  # dispatched to it
                ),
                {"uid": u.id, "dept": u.department_code if u.role == "department_handler" else None},
            ).scalars()
        )
        across = {  # flagged near an edge of the user's area, from the other side (joint handling)
            "street_officer": "s.code = :code",
            "community_officer": "c.code = :code",
            "grid_worker": "g.id IN (SELECT wg.grid_id FROM worker_grid wg JOIN worker w ON w.id = wg.worker_id "
            "WHERE w.user_id = :uid)",
        }.get(u.role)
        if across:
            ids |= set(
                conn.execute(
                    sa.text(
                        "SELECT t.id FROM incident t JOIN grid g ON g.code = ANY (t.adjacent_grid_codes) "
                        f"JOIN community c ON c.id = g.community_id JOIN street s ON s.id = c.street_id WHERE {across}"
                    ),
                    {"code": (u.jurisdiction_code or "").strip(), "uid": u.id},
                ).scalars()
            )
    return ids


@pytest.fixture(scope="module", autouse=True)
def residents_in_the_workers_grid(engine, spot, client, auth):
    """Three residents and a citizen's report in the grid worker's grid (the test-scale demo may have none there)."""
    lon, lat, _ = spot
    r = client.post(
        "/api/v1/incidents",
        headers={**auth("citizen"), "Idempotency-Key": "jurisdiction-matrix"},
        data={"category": "0101", "description": "井盖缺失", "lon": str(lon), "lat": str(lat)},
    )
    assert r.status_code in (200, 201), r.text
    x, y = edge_of_the_workers_grid(engine, "gridworker")
    r = client.post(  # across the edge: the worker reads it from the other side
        "/api/v1/incidents",
        headers={**auth("citizen"), "Idempotency-Key": "jurisdiction-matrix-edge"},
        data={"category": "0101", "description": "路灯不亮", "lon": str(x), "lat": str(y)},
    )
    assert r.status_code in (200, 201) and r.json()["properties"]["near_boundary"], r.text
    ids = [plant_resident(engine, lon + i * 0.0001, lat, f"21060219880715432{i}") for i in range(3)]
    yield ids
    with engine.begin() as c:
        c.execute(sa.text("DELETE FROM person WHERE id = ANY(:ids)"), {"ids": ids})


@pytest.fixture(scope="module")
def request_engine(client):
    """The app's own request pool: connections that run as onegrid_app."""
    return client.app.state.engine


def as_user(request_engine, engine, username, sql):
    with request_engine.connect() as c, c.begin():
        with engine.connect() as o:
            u = user_named(o, username) if username else None
        act_as(c, u)
        return set(c.execute(sa.text(sql)).scalars())


def test_the_request_role_cannot_bypass_row_level_security(request_engine):
    with request_engine.connect() as c:
        who = c.execute(
            sa.text("SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        ).one()
        assert who == ("onegrid_app", False, False)
        owned = c.execute(
            sa.text(  # its sessions' own temporary staging tables aside
                "SELECT count(*) FROM pg_class WHERE relowner = 'onegrid_app'::regrole AND relpersistence <> 't'"
            )
        ).scalar()
        assert owned == 0  # an owner would not be bound by its tables' policies
        rls = dict(
            c.execute(
                sa.text("SELECT relname, relrowsecurity FROM pg_class WHERE relname = ANY(:t)"),
                {"t": PROTECTED},
            ).all()
        )
        assert rls == {t: True for t in PROTECTED}
        c.rollback()
        with pytest.raises(sa.exc.ProgrammingError, match="row-level security"):
            with c.begin():
                c.execute(sa.text("SET LOCAL row_security = off"))
                c.execute(sa.text("SELECT count(*) FROM person")).scalar()
        with pytest.raises(sa.exc.ProgrammingError, match="must be owner"):
            with c.begin():
                c.execute(sa.text("ALTER TABLE person DISABLE ROW LEVEL SECURITY"))
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            with c.begin():
                c.execute(sa.text("SELECT password_hash FROM app_user")).all()
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            with c.begin():
                c.execute(sa.text("SELECT token_hash FROM api_token")).all()


@pytest.mark.parametrize("table", ["person", "incident", "warning"])
@pytest.mark.parametrize("username", USERS)
def test_a_bare_select_returns_exactly_the_users_rows(request_engine, engine, table, username):
    """No WHERE clause at all: the policies alone decide."""
    with engine.connect() as o:
        want = expected(o, table, username)
        everything = set(o.execute(sa.text(f"SELECT id FROM {table}")).scalars())
    got = as_user(request_engine, engine, username, f"SELECT id FROM {table}")
    assert got == want
    if username in ("commander", "gridworker") and table != "warning":
        assert got  # the comparison is not between two empty sets
    if username == "gridworker" and table == "person":
        assert got < everything


@pytest.mark.parametrize("table", ["person", "incident", "incident_event", "worker_position", "track_point"])
def test_an_anonymous_transaction_sees_no_protected_row(request_engine, engine, table):
    assert as_user(request_engine, engine, None, f"SELECT 1 FROM {table} LIMIT 1") == set()


def test_a_tile_built_without_any_row_filter_still_carries_only_the_readers_rows(request_engine, engine):
    """An application bug (the commander's unfiltered SQL) run for a grid worker leaks nothing.

    Two tiles: one around the worker's own residents, one around someone else's.
    """
    z = 16  # clustered below z18: every point is counted
    with engine.connect() as o:
        worker = user_named(o, "gridworker")
        commander = user_named(o, "commander")
        allowed = list(expected(o, "person", "gridworker"))
        places = o.execute(
            sa.text(
                "(SELECT ST_X(geom), ST_Y(geom) FROM person WHERE id = ANY(:ids) ORDER BY id LIMIT 1) UNION ALL "
                "(SELECT ST_X(geom), ST_Y(geom) FROM person WHERE NOT id = ANY(:ids) ORDER BY id LIMIT 1)"
            ),
            {"ids": allowed},
        ).all()
    in_tile = (
        "SELECT count(*) FILTER (WHERE id = ANY(:ids)), count(*) FROM person WHERE "
        "ST_Intersects(ST_Transform(geom, 3857), ST_TileEnvelope(:z, :x, :y))"  # a tile clusters its own points
    )

    def counted(data, x, y):
        feats = decode(bytes(data or b""), z, x, y).get("persons", {"features": []})["features"]
        return sum(f["properties"].get("count", 1) for f in feats)

    seen = []
    for lon, lat in places:
        x, y = tile_of(lon, lat, z)
        req = tiles.tile_request("persons", z, x, y, commander)
        sql, params = tiles.tile_sql(req, commander)
        assert "scope_uid" not in params  # no row filter in the SQL at all
        with engine.connect() as o:
            want_mine, want_all = o.execute(sa.text(in_tile), dict(z=z, x=x, y=y, ids=allowed)).one()
            everything = o.execute(sa.text(sql), params).scalar()  # the owner: not bound by the policies
        with request_engine.connect() as c, c.begin():
            act_as(c, worker)
            mine = c.execute(sa.text(sql), params).scalar()
        assert counted(mine, x, y) == want_mine
        assert counted(everything, x, y) == want_all
        seen.append((want_mine, want_all))
    (own_mine, _), (foreign_mine, foreign_all) = seen
    assert own_mine > 0 and foreign_all > foreign_mine


def _persons_in_view(client, auth, username, sample):
    """Person ids `username` gets from every person-bearing endpoint around the sampled people."""
    got: dict[str, set[int]] = {"tiles": set(), "features": set(), "radius": set()}
    h = auth(username)
    for lon, lat in sample:
        x, y = tile_of(lon, lat, 18)
        r = client.get(f"/tiles/persons/18/{x}/{y}.pbf", headers=h)
        if r.status_code == 403:
            return None
        if r.status_code == 200:
            got["tiles"] |= {f["id"] for f in decode(r.content, 18, x, y)["persons"]["features"]}
        r = client.get(
            "/api/v1/spatial/persons/radius", params={"lon": lon, "lat": lat, "radius": 300}, headers=h
        )
        assert r.status_code == 200, r.text
        got["radius"] |= {f["id"] for f in r.json()["features"]}
        bbox = f"{lon - 0.003},{lat - 0.002},{lon + 0.003},{lat + 0.002}"
        r = client.get("/collections/persons/items", params={"bbox": bbox, "limit": 1000}, headers=h)
        assert r.status_code == 200, r.text
        got["features"] |= {f["id"] for f in r.json()["features"]}
    return got


@pytest.mark.parametrize(
    ("layer", "index"), [("persons", "person_geom"), ("incidents_open", "incident_open_geom_gist")]
)
def test_spatial_indexes_serve_tiles_under_row_level_security(request_engine, engine, spot, layer, index):
    """The policies come first, and only LEAKPROOF conditions may use an index (migration 0012).

    With sequential scans priced out, a tile's bounding-box search must still find the GiST
    index as the request role: without LEAKPROOF `&&` the planner cannot use it at all.
    """
    lon, lat, _ = spot
    with engine.connect() as o:
        commander = user_named(o, "commander")
    sql, params = tiles.tile_sql(tiles.tile_request(layer, 18, *tile_of(lon, lat, 18), commander), commander)
    with request_engine.connect() as c, c.begin():
        act_as(c, commander)
        c.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(r[0] for r in c.execute(sa.text("EXPLAIN " + sql), params))
    assert f"Index Scan using {index}" in plan or f"Bitmap Index Scan on {index}" in plan, plan


@pytest.mark.parametrize("z", [10, 12, 14])
def test_open_incident_tiles_read_only_open_incidents(request_engine, engine, spot, z):
    """A low-zoom tile of open incidents takes them from their own index, not from all reported.

    The partial index of migration 0013 holds what the layer's condition selects; with the
    full index a district-wide tile filtered out every closed incident, under the policy.
    """
    lon, lat, _ = spot
    with engine.connect() as o:
        commander = user_named(o, "commander")
    sql, params = tiles.tile_sql(
        tiles.tile_request("incidents_open", z, *tile_of(lon, lat, z), commander), commander
    )
    with request_engine.connect() as c, c.begin():
        act_as(c, commander)
        plan = "\n".join(r[0] for r in c.execute(sa.text("EXPLAIN ANALYZE " + sql), params))
    assert "incident_open_geom_gist" in plan and "Rows Removed by Filter" not in plan, plan


@pytest.mark.parametrize("username", USERS)
def test_role_by_endpoint_matrix_leaks_no_row(client, auth, engine, username):
    with engine.connect() as o:
        persons = expected(o, "person", username)
        incidents = expected(o, "incident", username)
        warnings = expected(o, "warning", username)
        mine = expected(o, "person", "gridworker")
        # people inside and outside the grid worker's grid
        sample = o.execute(
            sa.text(
                "(SELECT ST_X(geom), ST_Y(geom) FROM person WHERE id = ANY(:m) ORDER BY id LIMIT 3) UNION ALL "
                "(SELECT ST_X(geom), ST_Y(geom) FROM person WHERE NOT id = ANY(:m) ORDER BY id LIMIT 3)"
            ),
            {"m": list(mine)},
        ).all()
        outsider = o.execute(
            sa.text("SELECT min(id) FROM incident WHERE NOT id = ANY(:ids)"), {"ids": list(incidents) or [0]}
        ).scalar()
    h = auth(username)
    views = _persons_in_view(client, auth, username, sample)
    if views is None:
        assert username in ("handler", "citizen")  # the layer is not theirs at all
    else:
        for endpoint, ids in views.items():
            assert ids <= persons, (endpoint, sorted(ids - persons)[:5])
        if username in ("commander", "gridworker"):
            assert views["tiles"] and views["features"] and views["radius"]

    seen: set[int] = set()
    url = "/api/v1/incidents?limit=1000"
    while url:
        r = client.get(url, headers=h)
        assert r.status_code == 200, r.text
        body = r.json()
        seen |= {f["id"] for f in body["features"]}
        url = next((link["href"] for link in body.get("links", []) if link["rel"] == "next"), None)
    assert seen == incidents
    r = client.get("/open311/v2/requests.json", params={"start_date": "2000-01-01T00:00:00Z"}, headers=h)
    assert r.status_code == 200, r.text
    assert {int(x["service_request_id"]) for x in r.json()} <= incidents
    if outsider is not None:
        assert_problem(client.get(f"/api/v1/incidents/{outsider}", headers=h), 404)
    r = client.get("/api/v1/warnings", params={"state": "all"}, headers=h)
    if r.status_code == 200:
        assert {f["id"] for f in r.json()["features"]} <= warnings
    else:
        assert_problem(r, 403)
