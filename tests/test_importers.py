"""Importers: formats, CRS detection and reprojection, repair-or-reject, idempotent re-import."""

import json
import subprocess
import sys

import geopandas as gpd
import pytest
import shapely
import sqlalchemy as sa
from shapely.geometry import Point, Polygon

from gis_core.ingest.importers import ImportRejected, import_file


@pytest.fixture
def cleanup(engine):
    yield
    with engine.begin() as c:
        c.execute(sa.text("DELETE FROM camera WHERE code LIKE 'IMP-%'"))
        c.execute(sa.text("DELETE FROM building WHERE code LIKE 'IMP-%'"))
        c.execute(sa.text("DELETE FROM key_point WHERE code LIKE 'IMP-%'"))


@pytest.fixture(scope="module")
def inside_points(engine):
    with engine.connect() as c:
        return c.execute(
            sa.text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid ORDER BY code LIMIT 5) s"
            )
        ).all()


def _cameras(points, crs=4326):
    gdf = gpd.GeoDataFrame(
        {
            "code": [f"IMP-C{i}" for i in range(len(points))],
            "name": ["cam"] * len(points),
            "bearing_deg": [45.0] * len(points),
            "preset_group": [2] * len(points),
        },
        geometry=[Point(x, y) for x, y in points],
        crs=4326,
    )
    return gdf.to_crs(crs)


@pytest.mark.parametrize(
    "driver,suffix", [("GeoJSON", ".geojson"), ("GPKG", ".gpkg"), ("ESRI Shapefile", ".shp")]
)
def test_import_each_format_reprojects_and_anchors(engine, tmp_path, inside_points, cleanup, driver, suffix):
    path = tmp_path / f"cams{suffix}"
    _cameras(inside_points, crs=4550).to_file(path, driver=driver)  # projected CGCS2000 GK 123E
    report = import_file(engine, path, "camera")
    assert report.source_crs == "EPSG:4550"
    assert (report.inserted, report.updated, report.unchanged) == (5, 0, 0)
    with engine.connect() as c:
        rows = c.execute(
            sa.text(
                "SELECT ST_X(c.geom), ST_Y(c.geom), g.code, c.bearing_deg, c.preset_group FROM camera c "
                "JOIN grid g ON g.id = c.grid_id WHERE c.code LIKE 'IMP-%' ORDER BY c.code"
            )
        ).all()
        codes = c.execute(sa.text("SELECT code FROM grid ORDER BY code LIMIT 5")).scalars().all()
    assert [r[2] for r in rows] == codes
    for (x, y), r in zip(inside_points, rows):
        assert abs(r[0] - x) < 1e-7 and abs(r[1] - y) < 1e-7  # sub-centimetre after the round trip
    assert rows[0][3] == 45.0 and rows[0][4] == 2


def test_reimport_changes_nothing(engine, tmp_path, inside_points, cleanup):
    path = tmp_path / "cams.geojson"
    _cameras(inside_points).to_file(path, driver="GeoJSON")
    import_file(engine, path, "camera")
    with engine.connect() as c:
        before = c.execute(
            sa.text("SELECT xmin::text, * FROM camera WHERE code LIKE 'IMP-%' ORDER BY code")
        ).all()
    report = import_file(engine, path, "camera")
    assert (report.inserted, report.updated, report.unchanged) == (0, 0, 5)
    with engine.connect() as c:
        after = c.execute(
            sa.text("SELECT xmin::text, * FROM camera WHERE code LIKE 'IMP-%' ORDER BY code")
        ).all()
    assert before == after  # same row versions: nothing was rewritten


def test_changed_feature_is_updated(engine, tmp_path, inside_points, cleanup):
    path = tmp_path / "cams.geojson"
    gdf = _cameras(inside_points)
    gdf.to_file(path, driver="GeoJSON")
    import_file(engine, path, "camera")
    gdf.loc[0, "bearing_deg"] = 90.0
    gdf.to_file(path, driver="GeoJSON")
    report = import_file(engine, path, "camera")
    assert (report.inserted, report.updated, report.unchanged) == (0, 1, 4)


def test_reimporting_the_grid_layer_changes_nothing(engine, tmp_path):
    with engine.connect() as c:
        grids = gpd.read_postgis(
            "SELECT g.code, g.name, g.kind, c.code AS community_code, g.geom FROM grid g "
            "JOIN community c ON c.id = g.community_id",
            c,
            geom_col="geom",
        )
        rev = c.execute(sa.text("SELECT revision FROM boundary_revision")).scalar()
    path = tmp_path / "grids.gpkg"
    grids.to_file(path, driver="GPKG")
    report = import_file(engine, path, "grid")
    assert report.unchanged == len(grids) and report.inserted == report.updated == 0
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT revision FROM boundary_revision")).scalar() == rev


def _bowtie(x, y, d=0.0004):
    return Polygon([(x, y), (x + d, y + d), (x + d, y), (x, y + d), (x, y)])


def test_self_intersecting_polygon_is_repaired_and_reported(engine, tmp_path, inside_points, cleanup):
    x, y = inside_points[0]
    gdf = gpd.GeoDataFrame(
        {"code": ["IMP-B1"], "address": ["a"], "floors": [3]}, geometry=[_bowtie(x, y)], crs=4326
    )
    path = tmp_path / "b.geojson"
    gdf.to_file(path, driver="GeoJSON")
    report = import_file(engine, path, "building")
    assert report.inserted == 1
    assert len(report.repaired) == 1 and "Self-intersection" in report.repaired[0]["reason"]
    with engine.connect() as c:
        valid, parts = c.execute(
            sa.text("SELECT ST_IsValid(geom), ST_NumGeometries(geom) FROM building WHERE code = 'IMP-B1'")
        ).one()
    assert valid and parts == 2


def test_self_intersecting_polygon_rejected_on_request_and_nothing_stored(
    engine, tmp_path, inside_points, cleanup
):
    x, y = inside_points[0]
    gdf = gpd.GeoDataFrame(
        {"code": ["IMP-B2", "IMP-B3"], "address": ["a", "b"], "floors": [3, 4]},
        geometry=[shapely.box(x, y, x + 0.0002, y + 0.0002), _bowtie(x, y)],
        crs=4326,
    )
    path = tmp_path / "b.geojson"
    gdf.to_file(path, driver="GeoJSON")
    with pytest.raises(ImportRejected) as info:
        import_file(engine, path, "building", invalid="reject")
    rejected = info.value.report.rejected
    assert rejected == [{"feature": 1, "code": "IMP-B3", "reason": rejected[0]["reason"]}]
    assert "Self-intersection" in rejected[0]["reason"]
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM building WHERE code LIKE 'IMP-%'")).scalar() == 0


def test_wrong_geometry_type_and_missing_code_reject_the_file(engine, tmp_path, inside_points, cleanup):
    x, y = inside_points[0]
    gdf = gpd.GeoDataFrame(
        {"code": ["IMP-K1", None], "name": ["a", "b"]},
        geometry=[shapely.box(x, y, x + 0.001, y + 0.001), Point(x, y)],
        crs=4326,
    )
    path = tmp_path / "k.geojson"
    gdf.to_file(path, driver="GeoJSON")
    with pytest.raises(ImportRejected) as info:
        import_file(engine, path, "key_point")
    reasons = sorted(r["reason"] for r in info.value.report.rejected)
    assert reasons == ["Polygon is not a point", "missing code"]


def test_feature_outside_every_parent_is_rejected(engine, tmp_path):
    gdf = gpd.GeoDataFrame(
        {"code": ["999999999999001"], "name": ["x"]}, geometry=[shapely.box(120, 30, 120.01, 30.01)], crs=4326
    )
    path = tmp_path / "g.geojson"
    gdf.to_file(path, driver="GeoJSON")
    with pytest.raises(ImportRejected) as info:
        import_file(engine, path, "grid")
    assert info.value.report.rejected[0]["reason"] == "no community contains it"


def test_missing_crs_with_projected_coordinates_is_rejected(engine, tmp_path):
    path = tmp_path / "nocrs.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"code": "IMP-X", "name": "x"},
                        "geometry": {"type": "Point", "coordinates": [585000.0, 4445000.0]},
                    }
                ],
            }
        )
    )
    # GeoJSON is WGS84 by definition (RFC 7946), so GDAL reports EPSG:4326; the numbers say otherwise
    with pytest.raises(ImportRejected) as info:
        import_file(engine, path, "key_point")
    assert "not longitude/latitude" in info.value.report.rejected[0]["reason"]
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM key_point WHERE code = 'IMP-X'")).scalar() == 0


def test_gcj02_source_is_converted(engine, tmp_path, inside_points, cleanup):
    from gis_core.geo.crs import wgs84_to_gcj02

    x, y = inside_points[1]
    gx, gy = wgs84_to_gcj02(x, y)
    gdf = gpd.GeoDataFrame({"code": ["IMP-K2"], "name": ["gcj"]}, geometry=[Point(gx, gy)], crs=4326)
    path = tmp_path / "gcj.geojson"
    gdf.to_file(path, driver="GeoJSON")
    import_file(engine, path, "key_point", source_crs="GCJ-02")
    with engine.connect() as c:
        lon, lat = c.execute(
            sa.text("SELECT ST_X(geom), ST_Y(geom) FROM key_point WHERE code = 'IMP-K2'")
        ).one()
    assert abs(lon - x) < 1e-7 and abs(lat - y) < 1e-7


def test_cli_reports_rejection_with_exit_code(db_url, tmp_path, inside_points):
    x, y = inside_points[0]
    gpd.GeoDataFrame({"code": ["IMP-B9"], "address": ["a"]}, geometry=[_bowtie(x, y)], crs=4326).to_file(
        tmp_path / "b.geojson", driver="GeoJSON"
    )
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "gis_core.cli",
            "import",
            str(tmp_path / "b.geojson"),
            "--as",
            "building",
            "--invalid",
            "reject",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"ONEGRID_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin"},
    )
    assert r.returncode == 1, r.stderr
    assert json.loads(r.stdout)["rejected"][0]["code"] == "IMP-B9"


def test_asset_outside_the_district_rejects_the_file(engine, tmp_path, inside_points, cleanup):
    x, y = inside_points[0]
    gdf = gpd.GeoDataFrame(
        {"code": ["IMP-K5", "IMP-K6"], "name": ["in", "out"]},
        geometry=[Point(x, y), Point(116.4, 39.9)],
        crs=4326,
    )
    gdf.to_file(tmp_path / "k.geojson", driver="GeoJSON")
    with pytest.raises(ImportRejected) as info:
        import_file(engine, tmp_path / "k.geojson", "key_point")
    assert info.value.report.rejected == [{"feature": 1, "code": "IMP-K6", "reason": "outside the district"}]
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM key_point WHERE code LIKE 'IMP-%'")).scalar() == 0
