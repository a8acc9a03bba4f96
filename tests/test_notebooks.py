"""The planners' notebooks run top to bottom on the test district, and their conclusions hold.

Each notebook ends in a cell tagged `conclusions` whose JSON output states what it found; every
claim is checked here against the demo manifest's planted truth or an independent computation
(PostGIS, or numpy on raw fixes), never against the functions the notebook itself used.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from pathlib import Path

import nbformat
import numpy as np
import pytest
import shapely
import sqlalchemy as sa
from nbclient import NotebookClient
from pyproj import Transformer

from gis_core.geo import service_circles
from tests.test_analysis import postgis_patrol

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ("01_hotspots", "02_service_coverage", "03_patrol_coverage", "04_cold_chain")


@pytest.fixture(scope="module")
def executed(db_url):
    """Every notebook executed against the test database: name -> (notebook, conclusions)."""
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ONEGRID_DATABASE_URL", db_url)  # the kernel inherits the environment
        for name in NAMES:
            nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
            NotebookClient(
                nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
            ).execute()
            cell = next(c for c in nb.cells if "conclusions" in c.metadata.get("tags", []))
            found = [
                o["data"]["application/json"] for o in cell.outputs if "application/json" in o.get("data", {})
            ]
            assert len(found) == 1, f"{name}: the conclusions cell shows one JSON result"
            out[name] = (nb, found[0])
    return out


def test_notebooks_are_committed_without_outputs():
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert [p.stem for p in paths] == list(NAMES)
    for p in paths:
        nb = nbformat.read(p, as_version=4)
        nbformat.validate(nb)
        for c in nb.cells:
            if c.cell_type == "code":
                assert c.outputs == [] and c.execution_count is None, f"{p.name}: outputs not stripped"


def test_every_notebook_reads_as_a_report_and_draws_offline(executed):
    for name, (nb, _) in executed.items():
        kinds = [c.cell_type for c in nb.cells]
        assert kinds[0] == "markdown" and "**Question.**" in nb.cells[0].source, name
        assert any("## Conclusion" in c.source for c in nb.cells if c.cell_type == "markdown"), name
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
        assert not [o for o in outputs if o.get("output_type") == "error"], name
        maps = [
            html.unescape(o["data"]["text/html"])
            for o in outputs
            if "leaflet" in o.get("data", {}).get("text/html", "")
        ]
        charts = [o for o in outputs if "image/png" in o.get("data", {})]
        assert maps and charts, f"{name}: a map and a chart"
        for page in maps:
            # no script or stylesheet from the network, and no basemap tiles
            assert not re.search(r"""<(script|link)[^>]+(src|href)=["']https?://""", page), name
            assert "tile.openstreetmap" not in page and "L.tileLayer" not in page, name


def _planted_months(h):
    a, b = datetime.fromisoformat(h["from"]), datetime.fromisoformat(h["to"])
    months, y, m = set(), a.year, a.month
    while (y, m) <= (b.year, b.month):
        months.add(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months


def test_01_finds_every_planted_hotspot_where_and_when_it_was_planted(executed, manifest):
    items = executed["01_hotspots"][1]["items"]
    for h in manifest["hotspots"]:
        assert h["category"] in items, h["label"]
        found = items[h["category"]]
        assert shapely.from_wkt(found["hotspot_wkt"]).contains(shapely.Point(h["lon"], h["lat"])), h["label"]
        assert found["hotspot_incidents"] >= 0.8 * h["count"], h["label"]
        assert found["peak_month"] in _planted_months(h), (h["label"], found["peak_month"])
        a, b = datetime.fromisoformat(h["from"]), datetime.fromisoformat(h["to"])
        hot = [
            (datetime.fromisoformat(s + "T00:00:00+08:00"), datetime.fromisoformat(e + "T00:00:00+08:00"))
            for s, e in found["hot_bins"]
        ]
        assert any(s < b and e > a for s, e in hot), h["label"]


def test_02_uncovered_households_equal_postgis(executed, conn, settings):
    found = executed["02_service_coverage"][1]
    epsg = settings.projected_epsg
    circles = service_circles.service_circles(conn, epsg)
    conn.execute(sa.text("CREATE TEMP TABLE circles (geom geometry)"))
    for c in circles:
        conn.execute(
            sa.text("INSERT INTO circles VALUES (ST_GeomFromWKB(:w, :e))"), {"w": c.polygon.wkb, "e": epsg}
        )
    outside_sql = (
        "FROM building b LEFT JOIN grid g ON g.id = b.grid_id WHERE b.households > 0 AND NOT EXISTS "
        "(SELECT 1 FROM circles k WHERE ST_Intersects(k.geom, ST_Transform(ST_PointOnSurface(b.geom), :e)))"
    )
    households = conn.execute(
        sa.text(f"SELECT coalesce(sum(b.households), 0) {outside_sql}"), {"e": epsg}
    ).scalar_one()  # noqa: S608
    by_grid = dict(
        conn.execute(
            sa.text(
                f"SELECT g.code, sum(b.households)::int {outside_sql} AND g.code IS NOT NULL GROUP BY g.code"
            ),  # noqa: S608
            {"e": epsg},
        ).all()
    )
    care = conn.execute(
        sa.text(
            "SELECT count(*) FROM person p WHERE cardinality(care_tags) > 0 AND NOT EXISTS "
            "(SELECT 1 FROM circles k WHERE ST_Intersects(k.geom, ST_Transform(p.geom, :e)))"
        ),
        {"e": epsg},
    ).scalar_one()
    assert found["households_outside"] == households > 0
    assert found["special_care_outside"] == care
    assert found["by_grid"] == by_grid
    assert found["if_every_centre"]["15"] <= found["if_every_centre"]["10"] <= found["if_every_centre"]["5"]
    # the proposed point's gain, recounted by PostGIS inside a fresh isochrone from it
    new = found["new_point"]
    (reach,) = service_circles.isochrones(conn, [(0, new["lon"], new["lat"])], new["minutes"], epsg)
    gain = conn.execute(
        sa.text(
            f"SELECT coalesce(sum(b.households), 0) {outside_sql} "  # noqa: S608
            "AND ST_Intersects(ST_GeomFromWKB(:r, :e), ST_Transform(ST_PointOnSurface(b.geom), :e))"
        ),
        {"e": epsg, "r": reach.polygon.wkb},
    ).scalar_one()
    assert new["covers"] == gain > 0


def test_03_least_patrolled_grids_and_overdue_key_points_check_out(executed, conn, settings, manifest):
    found = executed["03_patrol_coverage"][1]
    since, until = (datetime.fromisoformat(t) for t in found["period"])
    assert (since, until) == (
        datetime.fromisoformat(manifest["tracks"]["from"]),
        datetime.fromisoformat(manifest["tracks"]["to"]),
    )
    shares = []
    for g in found["least_patrolled"]:
        road_m, own_m = postgis_patrol(conn, g["grid_code"], since, until, settings.projected_epsg)
        assert g["road_m"] == pytest.approx(road_m, abs=1)
        # patrol coverage counts 10 m road pieces: within 1 % of the grid's road length
        assert abs(g["patrolled_by_own_m"] - own_m) <= 0.01 * road_m
        shares.append(own_m / road_m)
    assert np.all(np.diff(shares) >= -0.02), shares  # least first (to the same 1 % either side)
    # overdue key points from the raw fixes: nearest approach within 50 m, in metres by pyproj
    to_m = Transformer.from_crs(4326, settings.projected_epsg, always_xy=True)
    fixes = np.array(
        conn.execute(
            sa.text(
                "SELECT ST_X(geom), ST_Y(geom), extract(epoch FROM recorded_at) FROM track_point WHERE recorded_at < :at"
            ),
            {"at": until},
        ).all(),
        dtype=float,
    )
    fx, fy = to_m.transform(fixes[:, 0], fixes[:, 1])
    overdue = []
    for code, lon, lat, hours in conn.execute(
        sa.text("SELECT code, ST_X(geom), ST_Y(geom), patrol_interval_h FROM key_point ORDER BY code")
    ):
        kx, ky = to_m.transform(lon, lat)
        near = np.hypot(fx - kx, fy - ky) <= 50
        last = fixes[near, 2].max() if near.any() else None
        if last is None or until.timestamp() - last > hours * 3600:
            overdue.append(code)
    assert found["overdue_key_points"] == overdue
    assert found["key_points"] == conn.execute(sa.text("SELECT count(*) FROM key_point")).scalar_one() > 0


def test_04_watch_and_alert_history_equal_postgis(executed, conn, settings):
    found = executed["04_cold_chain"][1]
    watched = [
        r[0]
        for r in conn.execute(
            sa.text(
                "SELECT s.code FROM cold_chain_site s WHERE EXISTS (SELECT 1 FROM camera c WHERE c.online "
                "AND ST_Within(ST_PointOnSurface(s.geom), c.fov_geom)) ORDER BY s.code"
            )
        )
    ]
    assert found["watched"] == watched and watched
    unwatched_high = [
        r[0]
        for r in conn.execute(
            sa.text(
                "SELECT s.code FROM cold_chain_site s WHERE s.risk_level = 'high' AND NOT EXISTS (SELECT 1 FROM "
                "camera c WHERE c.online AND ST_Within(ST_PointOnSurface(s.geom), c.fov_geom)) ORDER BY s.code"
            )
        )
    ]
    assert found["unwatched_high_risk"] == unwatched_high
    alerts = dict(
        conn.execute(
            sa.text(
                "SELECT n.code, count(*) FROM incident i CROSS JOIN LATERAL ("
                "  SELECT s.code, ST_Distance(ST_Transform(s.p, :e), ST_Transform(i.geom, :e)) d FROM "
                "  (SELECT code, ST_PointOnSurface(geom) p FROM cold_chain_site) s "
                "  ORDER BY ST_Transform(s.p, :e) <-> ST_Transform(i.geom, :e) LIMIT 1) n "
                "WHERE left(i.category_code, 2) = '06' AND n.d <= :near "
                "AND i.reported_at >= :a AND i.reported_at < :b GROUP BY n.code"
            ),
            {
                "e": settings.projected_epsg,
                "near": found["near_m"],
                "a": datetime.fromisoformat(found["period"][0]),
                "b": datetime.fromisoformat(found["period"][1]),
            },
        ).all()
    )
    assert found["alerts_near_sites"] == alerts and sum(alerts.values()) > 0
