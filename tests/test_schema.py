"""The migrated schema: every table of DESIGN.md, indexes, partitions, anchoring triggers."""

import pytest
import shapely
import sqlalchemy as sa

TABLES = [
    "district",
    "street",
    "community",
    "grid",
    "building",
    "person",
    "party_org",
    "service_center",
    "camera",
    "cold_chain_site",
    "key_point",
    "department",
    "worker",
    "worker_grid",
    "track_point",
    "incident",
    "incident_event",
    "incident_photo",
    "warning",
    "app_user",
    "category",
    "road",
    "road_vertex",
]
ANCHORED = [
    "building",
    "person",
    "party_org",
    "service_center",
    "camera",
    "cold_chain_site",
    "key_point",
    "incident",
    "warning",
]


def test_all_domain_tables_exist(conn):
    have = set(conn.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars())
    assert set(TABLES) <= have


def test_every_geometry_column_has_a_gist_index(conn):
    cols = conn.execute(
        sa.text(
            "SELECT f_table_name, f_geometry_column FROM geometry_columns "
            "WHERE f_table_schema = 'public' AND f_table_name NOT LIKE 'track_point_%'"
        )
    ).all()
    assert len(cols) >= 15
    for table, column in cols:
        n = conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                "JOIN pg_am am ON am.oid = i.relam JOIN pg_attribute a ON a.attrelid = x.indrelid "
                "AND a.attnum = ANY(x.indkey) WHERE x.indrelid = CAST(:t AS regclass) AND am.amname = 'gist' "
                "AND a.attname = :c"
            ),
            {"t": table, "c": column},
        ).scalar()
        assert n >= 1, f"{table}.{column} has no GiST index"


def test_track_point_is_partitioned_by_month_with_brin(conn):
    strategy = conn.execute(
        sa.text("SELECT partstrat FROM pg_partitioned_table WHERE partrelid = 'track_point'::regclass")
    ).scalar()
    assert strategy == "r"
    parts = (
        conn.execute(
            sa.text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'track_point'::regclass"
            )
        )
        .scalars()
        .all()
    )
    assert any(p.startswith("track_point_20") for p in parts)
    brin = conn.execute(
        sa.text("SELECT count(*) FROM pg_indexes WHERE tablename = 'track_point' AND indexdef ILIKE '%brin%'")
    ).scalar()
    assert brin == 1
    # the demo fixes landed in monthly partitions, not the default one
    assert conn.execute(sa.text("SELECT count(*) FROM track_point_default")).scalar() == 0


@pytest.mark.parametrize("table", ANCHORED)
def test_anchor_trigger_on_every_anchored_table(conn, table):
    triggers = (
        conn.execute(
            sa.text(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = CAST(:t AS regclass) AND NOT tgisinternal"
            ),
            {"t": table},
        )
        .scalars()
        .all()
    )
    assert "anchor" in triggers


def _grid_containing(conn, lon, lat):
    for code, wkb in conn.execute(sa.text("SELECT code, ST_AsBinary(geom) FROM grid ORDER BY code")):
        if shapely.from_wkb(bytes(wkb)).intersects(shapely.Point(lon, lat)):
            return code
    return None


def _two_grid_points(conn):
    return conn.execute(
        sa.text(
            "SELECT ST_X(p), ST_Y(p), code FROM (SELECT ST_PointOnSurface(geom) p, code FROM grid "
            "ORDER BY code LIMIT 2) s"
        )
    ).all()


def test_inserted_row_gets_its_grid_community_and_street(conn):
    (lon, lat, code), _ = _two_grid_points(conn)
    row = conn.execute(
        sa.text(
            "INSERT INTO key_point (code, name, kind, geom) VALUES ('T1', 't', 'other', "
            "ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING grid_id, community_id, street_id"
        ),
        {"x": lon, "y": lat},
    ).one()
    got = conn.execute(
        sa.text(
            "SELECT g.code, c.id, c.street_id FROM grid g JOIN community c ON c.id = g.community_id WHERE g.id = :g"
        ),
        {"g": row.grid_id},
    ).one()
    assert got.code == code == _grid_containing(conn, lon, lat)
    assert (row.community_id, row.street_id) == (got.id, got.street_id)


def test_moving_the_geometry_moves_the_grid(conn):
    (lon1, lat1, code1), (lon2, lat2, code2) = _two_grid_points(conn)
    cam = conn.execute(sa.text("SELECT id FROM camera ORDER BY id LIMIT 1")).scalar()
    conn.execute(
        sa.text("UPDATE camera SET geom = ST_SetSRID(ST_MakePoint(:x, :y), 4326) WHERE id = :id"),
        {"x": lon2, "y": lat2, "id": cam},
    )
    got = conn.execute(
        sa.text("SELECT g.code FROM camera c JOIN grid g ON g.id = c.grid_id WHERE c.id = :id"), {"id": cam}
    ).scalar()
    assert got == code2 != code1


def test_point_outside_the_district_has_no_grid(conn):
    row = conn.execute(
        sa.text(
            "INSERT INTO key_point (code, name, kind, geom) VALUES ('T2', 't', 'other', "
            "ST_SetSRID(ST_MakePoint(120, 30), 4326)) RETURNING grid_id, community_id, street_id"
        )
    ).one()
    assert tuple(row) == (None, None, None)


def test_editing_a_grid_boundary_reanchors_rows_and_bumps_the_revision(conn):
    (lon1, lat1, code1), (_, _, code2) = _two_grid_points(conn)
    conn.execute(
        sa.text(
            "INSERT INTO key_point (code, name, kind, geom) VALUES ('T3', 't', 'other', "
            "ST_SetSRID(ST_MakePoint(:x, :y), 4326))"
        ),
        {"x": lon1, "y": lat1},
    )
    rev = conn.execute(sa.text("SELECT revision FROM boundary_revision")).scalar()
    # hand the area around the point from grid 1 to grid 2
    conn.execute(
        sa.text(
            "UPDATE grid SET geom = ST_Multi(ST_Difference(geom, ST_Buffer(ST_SetSRID(ST_MakePoint(:x,:y),4326), 0.0005))) "
            "WHERE code = :c1"
        ),
        {"x": lon1, "y": lat1, "c1": code1},
    )
    conn.execute(
        sa.text(
            "UPDATE grid SET geom = ST_Multi(ST_Union(geom, ST_Buffer(ST_SetSRID(ST_MakePoint(:x,:y),4326), 0.0005))) "
            "WHERE code = :c2"
        ),
        {"x": lon1, "y": lat1, "c2": code2},
    )
    got = conn.execute(
        sa.text("SELECT g.code FROM key_point k JOIN grid g ON g.id = k.grid_id WHERE k.code = 'T3'")
    ).scalar()
    assert got == code2
    assert conn.execute(sa.text("SELECT revision FROM boundary_revision")).scalar() == rev + 2


def test_incident_timeline_is_append_only(conn):
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        conn.execute(
            sa.text("UPDATE incident_event SET note = 'x' WHERE id = (SELECT min(id) FROM incident_event)")
        )


def test_invalid_geometry_is_refused_by_the_database(conn):
    bowtie = "MULTIPOLYGON(((124.40 40.15, 124.41 40.16, 124.41 40.15, 124.40 40.16, 124.40 40.15)))"
    with pytest.raises(sa.exc.IntegrityError):
        conn.execute(
            sa.text(
                "INSERT INTO building (code, address, floors, geom) VALUES ('BX', 'x', 1, ST_GeomFromText(:w, 4326))"
            ),
            {"w": bowtie},
        )
