"""A demo city: several districts loaded side by side (`onegrid demo load --districts N`).

Each district is generated alone and fitted beside the ones before it: its codes, ids and
outline must not meet theirs, and every row must still refer to rows of its own district.
"""

from __future__ import annotations

import pytest
import shapely
import sqlalchemy as sa

from data.demo_city import city
from data.demo_district import generate
from gis_core.geo.lookup import GridIndex
from gis_core.incidents.hotspots import units_of
from gis_core.ingest.topology import check_topology
from tests.conftest import TEST_SEED, demo_database

N = 4  # two lattice columns and a second row: every kind of neighbour
SCALE = 0.01  # the smallest district: the loader's fitting is what is tested, not the generator


@pytest.fixture(scope="module")
def city_engine(db_url):
    with demo_database(db_url, prefix="onegrid_city", districts=N, scale=SCALE) as url:
        engine = sa.create_engine(url)
        yield engine
        engine.dispose()


def test_the_districts_lie_side_by_side_with_their_own_codes(city_engine):
    units = city(N)
    with city_engine.connect() as c:
        rows = c.execute(
            sa.text("SELECT code, name, ST_AsBinary(geom) AS g FROM district ORDER BY code")
        ).all()
        assert [(r.code, r.name) for r in rows] == sorted((u.code, u.name) for u in units)
        outlines = shapely.from_wkb([bytes(r.g) for r in rows])
        for i in range(N):
            for j in range(i + 1, N):
                assert not shapely.intersects(outlines[i], outlines[j]), (rows[i].code, rows[j].code)
        # every grid within its own district (a metre's tolerance for the densified edges), by code
        stray = c.execute(
            sa.text(
                "SELECT count(*) FROM grid g JOIN community m ON m.id = g.community_id "
                "JOIN street s ON s.id = m.street_id JOIN district d ON d.id = s.district_id "
                "WHERE left(g.code, 6) <> left(d.code, 6) OR NOT ST_CoveredBy(g.geom, ST_Buffer(d.geom, 0.00001))"
            )
        ).scalar_one()
        assert stray == 0
        manifest = c.execute(sa.text("SELECT manifest FROM demo_manifest")).scalar_one()
        per_district = dict(c.execute(sa.text("SELECT left(code, 6), count(*) FROM grid GROUP BY 1")).all())
        assert per_district == {d["code"][:6]: d["counts"]["grids"] for d in manifest["districts"]}
        assert check_topology(c) == []


def test_the_first_district_is_as_it_loads_alone(city_engine):
    alone = generate(scale=SCALE, seed=TEST_SEED)
    with city_engine.connect() as c:
        for level in ("grid", "building", "camera", "worker"):
            table = alone.table(level)
            code = table.columns.index("code")
            made = sorted(r[code] for r in table.rows)
            stored = c.execute(
                sa.text(f"SELECT code FROM {level} WHERE id <= :n ORDER BY code"),  # noqa: S608 - a name from above
                {"n": len(made) if level != "grid" else 10**9},
            ).scalars()
            assert [s.strip() for s in stored if level != "grid" or s.startswith("210602")] == made, level
        grid = alone.table("grid")
        code, geom = grid.columns.index("code"), grid.columns.index("geom")
        rows = c.execute(
            sa.text("SELECT code, ST_AsEWKB(geom) AS g FROM grid WHERE code LIKE '210602%'")
        ).all()
        assert {r[code]: bytes.fromhex(r[geom]) for r in grid.rows} == {r.code: bytes(r.g) for r in rows}


def test_every_row_refers_to_its_own_district(city_engine):
    with city_engine.connect() as c:
        q = lambda sql: c.execute(sa.text(sql)).scalar_one()  # noqa: E731
        # people live in their building, in its room; shops stand in their building
        district_of = "(SELECT left(code, 6) FROM street WHERE id = {}.street_id)"
        p, b = district_of.format("p"), district_of.format("b")
        assert (
            q(f"SELECT count(*) FROM person p JOIN building b ON b.id = p.building_id WHERE {p} <> {b}") == 0
        )
        assert (
            q(
                f"SELECT count(*) FROM person p JOIN address a ON a.id = p.address_id WHERE left(a.code, 6) <> {p}"
            )
            == 0
        )
        assert (
            q(
                "SELECT count(*) FROM unit u JOIN building b ON b.id = u.building_id WHERE NOT ST_Intersects(u.geom, b.geom)"
            )
            == 0
        )
        assert (
            q(
                "SELECT count(*) FROM address a JOIN address p ON p.id = a.parent_id WHERE left(a.code, 6) <> left(p.code, 6)"
            )
            == 0
        )
        # a cold-chain site's own camera is a few metres from it; events follow their incident
        assert (
            q(
                "SELECT max(ST_Distance(s.geom::geography, m.geom::geography)) FROM cold_chain_camera cc "
                "JOIN cold_chain_site s ON s.id = cc.site_id JOIN camera m ON m.id = cc.camera_id"
            )
            < 20
        )
        assert (
            q(
                "SELECT count(*) FROM incident_event e JOIN incident i ON i.id = e.incident_id WHERE e.at < i.reported_at"
            )
            == 0
        )
        # a worker's fixes stay by the district of their grid (within 0.01°, about a kilometre)
        assert (
            q(
                "SELECT count(*) FROM track_point t JOIN worker_grid wg ON wg.worker_id = t.worker_id AND wg.is_primary "
                "JOIN grid g ON g.id = wg.grid_id JOIN district d ON left(d.code, 6) = left(g.code, 6) "
                "WHERE NOT ST_DWithin(t.geom, d.geom, 0.01)"
            )
            == 0
        )
        assert q("SELECT count(DISTINCT worker_id) FROM track_point") > q("SELECT count(*) FROM worker") * 0.9
        codes = c.execute(sa.text("SELECT code FROM worker ORDER BY id")).scalars().all()
        assert codes[0] == "W00001" and any(code.startswith("210604-W") for code in codes)
        # the demo accounts stay the first district's
        assert q("SELECT jurisdiction_code FROM app_user WHERE username = 'community'").startswith("210602")


def test_the_whole_city_is_looked_up_and_counted(city_engine):
    with city_engine.connect() as c:
        index = GridIndex.load(c)
        for unit in city(N):
            lon, lat = c.execute(
                sa.text(
                    "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM district WHERE code = :c) s"
                ),
                {"c": unit.code},
            ).one()
            found = index.locate(lon, lat)
            assert found is not None and found.district.code == unit.code
        # hexagons over every district, not one
        hexes = units_of(c, "hex", 250.0, 4550)
        outlines = shapely.from_wkb(
            [bytes(g) for g in c.execute(sa.text("SELECT ST_AsBinary(geom) FROM district")).scalars()]
        )
        tree = shapely.STRtree(hexes.geoms)
        for outline in outlines:
            assert len(tree.query(outline, predicate="intersects")) > 500
