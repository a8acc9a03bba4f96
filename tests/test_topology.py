"""Topology check: the demo partitions cleanly; planted gaps and overlaps are found."""

import subprocess
import sys

import sqlalchemy as sa

from gis_core.ingest.topology import check_topology


def test_demo_district_has_no_topology_defects(conn):
    assert check_topology(conn) == []


def _two_sibling_grids(conn):
    return conn.execute(
        sa.text(
            "SELECT a.code, b.code FROM grid a JOIN grid b ON a.community_id = b.community_id AND a.id < b.id "
            "AND ST_Relate(a.geom, b.geom, 'F***1****') ORDER BY a.code LIMIT 1"
        )
    ).one()


def test_planted_gap_and_overlap_are_reported_with_location_and_area(conn):
    a, b = _two_sibling_grids(conn)
    # gap: carve a hole at grid a's interior point; overlap: grow grid b into grid a along their edge
    hole = conn.execute(
        sa.text(
            "SELECT ST_Buffer(ST_PointOnSurface(geom)::geography, 20)::geometry FROM grid WHERE code = :a"
        ),
        {"a": a},
    ).scalar()
    conn.execute(
        sa.text("UPDATE grid SET geom = ST_Multi(ST_Difference(geom, :h)) WHERE code = :a"),
        {"h": hole, "a": a},
    )
    conn.execute(
        sa.text(
            "UPDATE grid SET geom = ST_Multi(ST_Intersection(ST_Union(geom, ST_Buffer(ST_Intersection(geom, "
            "(SELECT geom FROM grid WHERE code = :a))::geography, 15)::geometry), "
            "(SELECT geom FROM community c WHERE c.id = grid.community_id))) WHERE code = :b"
        ),
        {"a": a, "b": b},
    )
    defects = check_topology(conn)
    gaps = [d for d in defects if d.kind == "gap" and d.level == "grid"]
    overlaps = [d for d in defects if d.kind == "overlap" and d.level == "grid"]
    assert len(gaps) == 1
    assert 1100 < gaps[0].area_m2 < 1300  # a 20 m disc: 1,257 m²
    assert gaps[0].parent_code == a[:12]
    assert sorted(overlaps[0].codes) == sorted([a, b]) and overlaps[0].area_m2 > 100
    assert 124 < gaps[0].lon < 125 and 40 < gaps[0].lat < 41


def test_child_outside_parent_is_reported(conn):
    code = conn.execute(sa.text("SELECT code FROM grid ORDER BY code LIMIT 1")).scalar()
    conn.execute(
        sa.text("UPDATE grid SET geom = ST_Multi(ST_Buffer(geom::geography, 30)::geometry) WHERE code = :c"),
        {"c": code},
    )
    kinds = {(d.kind, tuple(d.codes)) for d in check_topology(conn)}
    assert ("outside_parent", (code,)) in kinds


def test_cli_exit_code_is_zero_on_the_clean_demo(db_url):
    env = {"ONEGRID_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin"}
    r = subprocess.run(
        [sys.executable, "-m", "gis_core.cli", "check", "topology", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_planted_unnoded_edge_and_sliver_are_reported(conn):
    """A vertex inserted into one side of a shared edge only, and a 2 m × 2 m part cut off one grid."""
    a, b = _two_sibling_grids(conn)
    # the middle of the longest segment of a's edge shared with b, added to a alone
    conn.execute(
        sa.text(
            "UPDATE grid SET geom = ST_Multi(ST_Snap(geom, (SELECT ST_LineInterpolatePoint(ST_LineMerge("
            "ST_Intersection(ST_Boundary(x.geom), ST_Boundary(y.geom))), 0.5) FROM grid x, grid y "
            "WHERE x.code = :a AND y.code = :b), 1e-9)) WHERE code = :a"
        ),
        {"a": a, "b": b},
    )
    unnoded = {tuple(d.codes) for d in check_topology(conn) if d.kind == "unnoded_edge"}
    assert (a,) in unnoded or (b,) in unnoded, unnoded
    # a sliver: a 2 m square moved from a's interior to b as a part of its own
    sq = conn.execute(
        sa.text(
            "SELECT ST_Transform(ST_Expand(ST_Transform(ST_PointOnSurface(geom), 4550), 1), 4326) FROM grid WHERE code = :a"
        ),
        {"a": a},
    ).scalar()
    conn.execute(
        sa.text("UPDATE grid SET geom = ST_Multi(ST_Difference(geom, :s)) WHERE code = :a"), {"s": sq, "a": a}
    )
    conn.execute(
        sa.text("UPDATE grid SET geom = ST_Multi(ST_Union(geom, :s)) WHERE code = :b"), {"s": sq, "b": b}
    )
    slivers = [d for d in check_topology(conn) if d.kind == "sliver"]
    assert [d.codes for d in slivers] == [[b]] and 3.5 < slivers[0].area_m2 < 4.5
