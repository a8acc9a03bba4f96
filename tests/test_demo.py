"""The demo district: counts follow the scale, data is internally consistent and deterministic."""

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import shapely
import sqlalchemy as sa

from data import yuanbao
from data.demo_district import camera_bearing, generate, id_checksum
from tests.conftest import TEST_SCALE, opened


def count(conn, table, where="true"):
    return conn.execute(sa.text(f"SELECT count(*) FROM {table} WHERE {where}")).scalar()


def test_hierarchy_counts_at_test_scale(conn, manifest):
    assert count(conn, "district") == 1
    assert count(conn, "street", "kind = 'street'") == 4
    assert count(conn, "street", "kind = 'town'") == 1
    n_grids = count(conn, "grid")
    assert (
        n_grids == manifest["counts"]["grids"] == max(2 * count(conn, "community"), round(1035 * TEST_SCALE))
    )
    assert count(conn, "community", "kind = 'village'") >= 2


def test_the_district_is_yuanbaos_outline_with_its_real_streets(conn):
    area, lon, lat, same = conn.execute(
        sa.text(
            "SELECT ST_Area(geom::geography) / 1e6, ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)),"
            " ST_HausdorffDistance(ST_Transform(geom, 4550), ST_Transform(ST_GeomFromText(:outline, 4326), 4550))"
            " FROM district"
        ),
        {"outline": yuanbao.outline().wkt},
    ).one()
    assert abs(area / 91.6 - 1) < 0.015  # the district's 91.6 km², as the simplified map draws it
    assert same < 1.0  # metres: the outline as loaded, densified only
    assert 124.2 < lon < 124.45 and 40.1 < lat < 40.25  # Yuanbao district, Dandong
    names = conn.execute(sa.text("SELECT name FROM street ORDER BY code")).scalars().all()
    assert names == ["七道街道", "广济街道", "九道街道", "兴东街道", "金山镇"]


def test_codes_follow_the_administrative_scheme(conn):
    bad = count(conn, "grid g JOIN community c ON c.id = g.community_id", "left(g.code, 12) <> c.code")
    assert bad == 0
    bad = count(conn, "community c JOIN street s ON s.id = c.street_id", "left(c.code, 9) <> left(s.code, 9)")
    assert bad == 0
    assert count(conn, "street", "left(code, 6) <> '210602'") == 0
    real = {code for *_, kids in yuanbao.divisions() for code, _, _ in kids}
    codes = conn.execute(sa.text("SELECT code FROM community")).scalars().all()
    assert set(codes) <= real  # the statistics bureau's codes, not invented ones


def test_people_have_valid_ids_and_sit_in_a_grid_of_their_building(conn, manifest):
    persons = count(conn, "person")
    assert persons == manifest["counts"]["persons"]
    assert abs(persons - 220_000 * TEST_SCALE) / (220_000 * TEST_SCALE) < 0.02
    for (sealed,) in conn.execute(sa.text("SELECT id_number_sealed FROM person ORDER BY random() LIMIT 500")):
        idn = opened(sealed)
        assert id_checksum(idn[:17]) == idn[17]
    assert count(conn, "person", "grid_id IS NULL") == 0
    assert count(conn, "person p JOIN building b ON b.id = p.building_id", "p.grid_id <> b.grid_id") == 0
    assert count(conn, "person", "risk_class = 'A'") > 0
    assert count(conn, "person", "residency = 'floating'") > 0
    assert count(conn, "person", "'elderly_alone' = ANY(care_tags)") > 0


def test_every_grid_has_a_worker_and_kinds_are_mixed(conn):
    assert count(conn, "grid g", "NOT EXISTS (SELECT 1 FROM worker_grid wg WHERE wg.grid_id = g.id)") == 0
    kinds = set(conn.execute(sa.text("SELECT DISTINCT kind FROM grid")).scalars())
    assert kinds == {"urban", "rural", "enterprise", "school"}


def test_assets_exist_and_are_anchored(conn):
    for table in ("camera", "cold_chain_site", "service_center", "key_point", "party_org", "building"):
        assert count(conn, table) > 0, table
        assert count(conn, table, "grid_id IS NULL") == 0, table
    assert count(conn, "service_center", "level = 'district'") == 1
    assert count(conn, "service_center", "level = 'community'") == count(conn, "community")
    assert set(conn.execute(sa.text("SELECT DISTINCT kind FROM key_point")).scalars()) == {
        "forest_fire",
        "flood",
    }
    assert (
        count(
            conn, "cold_chain_site c", "NOT EXISTS (SELECT 1 FROM cold_chain_camera x WHERE x.site_id = c.id)"
        )
        == 0
    )


def test_catalogue_has_16_major_classes(conn):
    assert conn.execute(sa.text("SELECT count(DISTINCT major_code) FROM category")).scalar() == 16
    assert (
        count(conn, "category c", "NOT EXISTS (SELECT 1 FROM department d WHERE d.code = c.department_code)")
        == 0
    )


def test_incidents_span_a_year_across_categories_with_planted_hotspots(conn, manifest):
    n, majors, days = conn.execute(
        sa.text(
            "SELECT count(*), count(DISTINCT left(category_code, 2)), "
            "extract(day FROM max(reported_at) - min(reported_at)) FROM incident "
            "WHERE reported_at <= :end"  # the demo's own: other tests file reports dated later
        ),
        {"end": manifest["end"]},
    ).one()
    assert n == manifest["counts"]["incidents"] >= 400
    assert majors == 16
    assert days > 300
    # most reports close within grid, community or street, as in the seeds (95%)
    share = conn.execute(
        sa.text(
            "SELECT avg((closed_level IN ('grid','community','street'))::int) FROM incident WHERE state = 'closed'"
        )
    ).scalar()
    assert share > 0.85
    assert len(manifest["hotspots"]) == 4
    for h in manifest["hotspots"]:
        inside = conn.execute(
            sa.text(
                "SELECT count(*) FROM incident WHERE category_code = :c AND reported_at BETWEEN :a AND :b "
                "AND ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography, :r)"
            ),
            {
                "c": h["category"],
                "a": h["from"],
                "b": h["to"],
                "x": h["lon"],
                "y": h["lat"],
                "r": h["radius_m"],
            },
        ).scalar()
        assert inside >= 0.8 * h["count"]
        assert h["grid_codes"]


def test_timeline_matches_incident_state(conn):
    bad = count(
        conn,
        "incident i",
        "i.state <> (SELECT e.to_state FROM incident_event e WHERE e.incident_id = i.id "
        "ORDER BY e.at DESC, e.id DESC LIMIT 1)",
    )
    assert bad == 0


def test_tracks_are_a_week_of_30s_fixes_mostly_in_own_grid(conn, manifest):
    n, workers, span = conn.execute(
        sa.text(
            "SELECT count(*), count(DISTINCT worker_id), extract(epoch FROM max(recorded_at) - min(recorded_at)) / 86400 "
            "FROM (SELECT worker_id, recorded_at FROM track_point UNION ALL SELECT worker_id, recorded_at "
            "      FROM track_rejected) f WHERE recorded_at BETWEEN :a AND :b"
        ),
        {"a": manifest["tracks"]["from"], "b": manifest["tracks"]["to"]},
    ).one()
    assert n == manifest["counts"]["track_points"]
    assert workers == count(conn, "worker")
    assert 6 < span <= 7
    step = conn.execute(
        sa.text(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d) FROM (SELECT extract(epoch FROM recorded_at - "
            "lag(recorded_at) OVER (PARTITION BY worker_id ORDER BY recorded_at)) d FROM track_point) s"
        )
    ).scalar()
    assert step == 30
    inside = conn.execute(
        sa.text(
            "SELECT avg(ST_Intersects(g.geom, t.geom)::int) FROM track_point t JOIN worker_grid wg ON wg.worker_id = t.worker_id "
            "JOIN grid g ON g.id = wg.grid_id WHERE t.accuracy_m < 50"
        )
    ).scalar()
    assert inside > 0.8
    assert manifest["tracks"]["planted_jumps"] > 0


def test_road_network_is_one_routable_component(conn):
    comps = conn.execute(
        sa.text(
            "SELECT count(DISTINCT component) FROM pgr_connectedComponents("
            "'SELECT id, source, target, cost, reverse_cost FROM road')"
        )
    ).scalar()
    assert comps == 1
    a, b = conn.execute(sa.text("SELECT min(id), max(id) FROM road_vertex")).one()
    cost = conn.execute(
        sa.text(
            "SELECT max(agg_cost) FROM pgr_dijkstra('SELECT id, source, target, cost, reverse_cost FROM road', :a, :b, false)"
        ),
        {"a": a, "b": b},
    ).scalar()
    assert cost and cost > 0
    assert count(conn, "road", "kind = 'bridge'") >= 1


def test_generator_is_deterministic_and_scales():
    a = generate(scale=0.01, seed=5)
    b = generate(scale=0.01, seed=5)
    c = generate(scale=0.01, seed=6)
    assert json.dumps(a.manifest, sort_keys=True) == json.dumps(b.manifest, sort_keys=True)
    assert a.table("person").rows[:50] == b.table("person").rows[:50]
    assert a.table("grid").rows != c.table("grid").rows
    assert np.array_equal(a.tracks["lon"], b.tracks["lon"])


def test_camera_bearings_stay_below_360_when_rounded():
    # the fourth district of the demo city drew 359.97°, which rounded to the 360.0 the schema refuses
    for drawn, kept in ((359.97, 0.0), (359.94, 359.9), (-0.02, 0.0), (720.26, 0.3), (0.0, 0.0)):
        assert camera_bearing(drawn) == kept
    assert all(0 <= camera_bearing(d) < 360 for d in np.linspace(-720, 720, 100_001))


def test_generated_grids_partition_each_community_exactly():
    data = generate(scale=0.01, seed=3)
    comms = {r[0]: shapely.from_wkb(r[-1]) for r in data.table("community").rows}
    grids = [(r[3], shapely.from_wkb(r[-1])) for r in data.table("grid").rows]
    for code, cg in comms.items():
        union = shapely.union_all([g for c, g in grids if c == code])
        assert abs(union.area - cg.area) / cg.area < 1e-6
        assert cg.symmetric_difference(union).area / cg.area < 1e-6


def test_every_track_partition_has_the_parents_indexes_after_the_load(conn):
    """The loader drops indexes for its bulk COPY; each partition must get them back."""
    rows = conn.execute(
        sa.text(
            "SELECT c.relname, (SELECT count(*) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_am a ON a.oid = i.relam WHERE x.indrelid = c.oid AND a.amname IN ('gist', 'brin')) "
            "FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid "
            "WHERE h.inhparent = 'track_point'::regclass"
        )
    ).all()
    assert len(rows) >= 2 and all(n == 2 for _, n in rows), rows


def test_every_generated_point_lies_inside_the_district_and_in_a_grid(conn):
    """A point outside the boundary has no grid, community or street: it vanishes from every count."""
    anchored = conn.execute(sa.text("SELECT name::text FROM anchored_table ORDER BY 1")).scalars().all()
    assert {"building", "person", "incident", "key_point"} <= set(anchored)
    for table in anchored:
        outside = count(conn, f"{table} t", "NOT ST_Covers((SELECT geom FROM district), t.geom)")
        assert outside == 0, table
        assert count(conn, table, "grid_id IS NULL OR community_id IS NULL OR street_id IS NULL") == 0, table


def test_forest_fire_incidents_cluster_around_the_forest_key_points(conn):
    """Class 07 incidents are scattered (σ 300 m) around the forest-fire key points, not taken as metres."""
    far = count(
        conn,
        "incident i",
        "left(i.category_code, 2) = '07' AND NOT EXISTS (SELECT 1 FROM key_point k WHERE k.kind = 'forest_fire' "
        "AND ST_DWithin(k.geom::geography, i.geom::geography, 1500))",
    )
    assert count(conn, "incident", "left(category_code, 2) = '07'") > 0
    assert far == 0


def test_a_demo_loaded_today_ends_today():
    """`onegrid demo load` ends the year of incidents and the week of tracks at the start of today."""
    from gis_core.cli import demo_end

    now = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)  # 01:00 on the 5th in Dandong
    end = demo_end("today", now)
    assert end == datetime(2026, 12, 4, 16, 0, tzinfo=UTC)  # the district's midnight that began the 5th
    assert demo_end("2026-11-01", now) == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
    data = generate(scale=0.003, seed=7, end=end)
    assert data.manifest["end"] == "2026-12-05T00:00:00+08:00"
    inc = data.table("incident")
    reported = [datetime.fromisoformat(r[inc.columns.index("reported_at")]) for r in inc.rows]
    assert end - timedelta(days=2) < max(reported) <= end and min(reported) >= end - timedelta(days=366)
    last_fix = datetime.fromtimestamp(float(data.tracks["t"].max()), UTC)
    assert end - timedelta(days=1) < last_fix <= end
