"""Clean coverages: noded levels that libpysal agrees with, and hand-drawn layers cleaned within a tolerance."""

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely
import sqlalchemy as sa
from esda.getisord import G_Local
from libpysal.weights import Queen
from pyproj import Transformer

from gis_core.geo import coverage
from gis_core.geo.spatial_stats import queen_weights
from gis_core.ingest.importers import ImportRejected, import_file
from gis_core.ingest.topology import check_topology
from tests.conftest import demo_database

EPSG = 4550
TO_M = Transformer.from_crs(4326, EPSG, always_xy=True)
TO_LL = Transformer.from_crs(EPSG, 4326, always_xy=True)


def _ll(geom):
    return shapely.transform(geom, lambda c: np.column_stack(TO_LL.transform(c[:, 0], c[:, 1])))


def _m(geom):
    return shapely.transform(geom, lambda c: np.column_stack(TO_M.transform(c[:, 0], c[:, 1])))


@pytest.mark.parametrize("level", ["street", "community", "grid"])
def test_libpysal_queen_equals_onegrid_contiguity_on_every_unit(engine, level):
    """The demo's levels are noded coverages: vertex-based Queen finds exactly the touching units."""
    units = gpd.read_postgis(f"SELECT code, geom FROM {level} ORDER BY code", engine, geom_col="geom")
    ours = queen_weights(units.geometry.values)
    theirs = Queen.from_dataframe(units, use_index=False, silence_warnings=True)
    assert all(set(ours[i].indices) == set(theirs.neighbors[i]) for i in range(len(units)))
    assert ours.sum() > 0


def test_hotspot_z_equals_esda_on_libpysal_own_weights(client, auth, engine):
    body = client.get("/api/v1/hotspots?unit=grid&from=2025-01-01T00:00:00Z", headers=auth()).json()
    units = gpd.read_postgis("SELECT code, geom FROM grid ORDER BY code", engine, geom_col="geom")
    by_code = {f["id"]: f["properties"] for f in body["features"]}
    y = np.array([by_code[c]["count"] for c in units.code], dtype=float)
    w = Queen.from_dataframe(units, use_index=False, silence_warnings=True)
    g = G_Local(y, w, transform="B", star=True, permutations=0)
    z = np.array([by_code[c]["z"] for c in units.code])
    assert y.sum() > 0 and np.max(np.abs(z - g.Zs)) < 1e-9


def _hand_drawn():
    """A 3×3 block of 200 m cells near the district, drawn by hand: one unnoded edge, one 0.6 m
    overshoot into a neighbour, one 0.5 m sliver gap. Returns codes, lon/lat polygons, and where
    each defect was planted (code, metric point)."""
    x0, y0 = TO_M.transform(124.40, 40.15)
    cells = {f"C{r}{c}": shapely.box(x0 + 200 * c, y0 + 200 * r, x0 + 200 * (c + 1), y0 + 200 * (r + 1))
             for r in range(3) for c in range(3)}  # fmt: skip
    cells = {k: shapely.segmentize(v, 50.0) for k, v in cells.items()}
    planted = {}
    # unnoded: C00 gets a vertex on its shared edge with C01 that C01 does not have
    ex = x0 + 200
    c00 = list(cells["C00"].exterior.coords)
    k = next(i for i, (x, y) in enumerate(c00) if x == ex and y == y0 + 50)
    c00.insert(k + 1, (ex, y0 + 75.0))
    cells["C00"] = shapely.Polygon(c00)
    planted["unnoded"] = ("C00", (ex, y0 + 75.0))
    # overshoot: C11's vertex on its edge with C12 pushed 0.6 m into C12
    ex = x0 + 400
    c11 = [(x + 0.6, y) if x == ex and y == y0 + 300 else (x, y) for x, y in cells["C11"].exterior.coords]
    cells["C11"] = shapely.Polygon(c11)
    planted["overshoot"] = ("C11", (ex + 0.6, y0 + 300))
    # sliver gap: C21's vertex on its edge with C20 pulled 0.5 m back into C21
    ex = x0 + 200
    c21 = [(x + 0.5, y) if x == ex and y == y0 + 500 else (x, y) for x, y in cells["C21"].exterior.coords]
    cells["C21"] = shapely.Polygon(c21)
    planted["gap"] = ("C21", (ex + 0.5, y0 + 500))
    codes = list(cells)
    return codes, [_ll(cells[c]) for c in codes], planted


def test_a_hand_drawn_layer_is_cleaned_and_every_planted_defect_reported():
    codes, geoms, planted = _hand_drawn()
    before = coverage.invalid_edges(geoms, EPSG, gap_m=1.0)
    assert {codes[i] for i, e in enumerate(before) if not e.is_empty} >= {
        "C00",
        "C01",
        "C11",
        "C12",
        "C20",
        "C21",
    }
    cleaned, changes = coverage.clean(codes, geoms, EPSG, tolerance_m=1.0)
    after = coverage.invalid_edges(cleaned, EPSG)
    assert all(e.is_empty for e in after) and shapely.coverage_is_valid(cleaned)
    for kind, (code, (x, y)) in planted.items():
        lon, lat = TO_LL.transform(x, y)
        near = [c for c in changes if c.code in (code, *codes) and
                shapely.Point(TO_M.transform(c.lon, c.lat)).distance(shapely.Point(x, y)) < 1.0]  # fmt: skip
        assert near, f"{kind} at {lon:.6f},{lat:.6f} not in the report"
    assert all(c.metres <= 1.0 for c in changes)  # nothing moved beyond the tolerance
    total = shapely.area(_m(shapely.union_all(cleaned)))
    assert abs(total - 9 * 200 * 200) < 1.0  # the block's area is kept


@pytest.fixture(scope="module")
def own_engine(db_url):
    """A district of its own for the imports that write: the shared one stays as generated."""
    with demo_database(db_url, prefix="onegrid_cov") as url:
        eng = sa.create_engine(url)
        yield eng
        eng.dispose()


def _community_file(engine, tmp_path, change):
    """One community's grids as a GeoJSON file, with `change(code, metric polygon)` applied."""
    grids = gpd.read_postgis(
        "SELECT g.code, g.name, g.kind, c.code AS community_code, g.geom FROM grid g "
        "JOIN community c ON c.id = g.community_id WHERE c.code = (SELECT min(code) FROM community) ORDER BY g.code",
        engine, geom_col="geom",
    )  # fmt: skip
    grids["geom"] = [_ll(change(code, _m(g))) for code, g in zip(grids.code, grids.geom, strict=True)]
    path = tmp_path / "grids.geojson"
    grids.set_geometry("geom").to_file(path, driver="GeoJSON")
    return path, list(grids.code)


def test_an_import_that_would_break_the_partition_is_refused_and_changes_nothing(own_engine, tmp_path):
    engine = own_engine

    def overlap_neighbour(code, g):  # the first grid grows 30 m into its neighbours
        return g.buffer(30) if code == first else g

    with engine.connect() as c:
        first = c.execute(sa.text("SELECT min(g.code) FROM grid g JOIN community c ON c.id = g.community_id "
                                  "WHERE c.code = (SELECT min(code) FROM community)")).scalar_one()  # fmt: skip
        was = c.execute(
            sa.text("SELECT ST_AsBinary(geom) FROM grid WHERE code = :c"), {"c": first}
        ).scalar_one()
    path, _ = _community_file(engine, tmp_path, overlap_neighbour)
    with pytest.raises(ImportRejected) as refused:
        import_file(engine, path, "grid")
    reasons = {r["reason"] for r in refused.value.report.rejected}
    assert {"overlap", "outside_parent"} & reasons, refused.value.report.rejected
    assert all(r.get("lon") for r in refused.value.report.rejected)  # each says where
    with engine.connect() as c:
        now = c.execute(
            sa.text("SELECT ST_AsBinary(geom) FROM grid WHERE code = :c"), {"c": first}
        ).scalar_one()
        assert bytes(now) == bytes(was) and check_topology(c) == []


def test_an_import_cleaned_within_a_tolerance_keeps_the_partition(own_engine, tmp_path):
    """A vertex two of the file's grids share, 0.41 m off in one of them (an overshoot into the
    other, or a sliver between them): cleaned within 0.5 m, reported, and the partition holds."""
    engine = own_engine
    moved = {}
    shared = {}

    def find_shared(code, g):
        shared[code] = {tuple(p) for p in shapely.get_coordinates(g)}
        return g

    _community_file(engine, tmp_path, find_shared)
    first, second = list(shared)[:2]
    vertex = sorted(shared[first] & shared[second])[len(shared[first] & shared[second]) // 2]

    def nudge(code, g):  # across the shared edge, whichever way it runs
        if code != first:
            return g
        ring = shapely.get_coordinates(g)
        k = int(np.flatnonzero((ring == vertex).all(axis=1))[0])
        along = ring[(k + 1) % (len(ring) - 1)] - ring[k - 1 if k else len(ring) - 2]
        across = np.array([-along[1], along[0]]) / np.hypot(*along)
        moved[code] = tuple(np.asarray(vertex) + 0.41 * across)
        return shapely.transform(g, lambda c: np.where((c == vertex).all(axis=1)[:, None], moved[code], c))

    path, _ = _community_file(engine, tmp_path, nudge)
    with pytest.raises(ImportRejected):  # not cleaned, the file breaks the partition
        import_file(engine, path, "grid")
    report = import_file(engine, path, "grid", clean_coverage_m=0.5)
    x, y = moved[first]
    assert any(shapely.Point(TO_M.transform(c["lon"], c["lat"])).distance(shapely.Point(x, y)) < 0.5
               and c["kind"] == "moved" and c["code"] in (first, second) for c in report.cleaned), report.cleaned  # fmt: skip
    with engine.connect() as c:
        assert check_topology(c) == []
    assert json.dumps(report.as_dict())  # the report is JSON for the CLI


def test_densifying_keeps_a_polygon_whose_ring_all_but_touches_itself():
    """Found on Yuanbao's real outline: a town cell whose ring ran back 2e-10 m from one of its
    own vertices came out of GEOS's densifier as slivers of no area (its `buffer(0)` mend)."""
    qx, qy = 270.59, -113.67  # a spike out and back, the way back a hair to the other side
    length = float(np.hypot(qx, qy))
    ux, uy = -qx / length, -qy / length
    back = (250 * ux + 1e-10 * uy, 250 * uy - 1e-10 * ux)
    ring = [(0, 0), (qx, qy), back, (back[0], 300), (100, 300), (100, 60)]
    cell = shapely.Polygon([(x + 611325.0, y + 4447434.0) for x, y in ring])
    assert cell.is_valid
    assert shapely.segmentize(cell, 5.0).area < 1.0  # the GEOS behaviour this guards against
    dense = coverage.densify(cell, 5.0)
    assert dense.is_valid
    assert dense.area == pytest.approx(cell.area, rel=1e-9)
    xy = np.asarray(dense.exterior.coords)
    assert np.hypot(*np.diff(xy, axis=0).T).max() <= 5.0 + 1e-9  # densified: no edge over 5 m
