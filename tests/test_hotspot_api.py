"""GET /api/v1/hotspots: the planted hotspots are found, counts and z-scores check out independently."""

import numpy as np
import pytest
import shapely
import sqlalchemy as sa
from libpysal.weights import WSP, fill_diagonal

from gis_core.geo.spatial_stats import queen_weights
from tests.conftest import assert_problem


def iso(text):
    """The manifest's PostgreSQL timestamps (`… 16:00:00+00`) as RFC 3339."""
    from datetime import datetime

    return datetime.fromisoformat(text).isoformat()


def ask(client, auth, user="commander", **params):
    r = client.get("/api/v1/hotspots", params=params, headers=auth(user))
    assert r.status_code == 200, r.text
    return r.json()


def test_every_planted_hotspot_is_hot_at_99_percent(client, auth, manifest):
    assert manifest["hotspots"]
    for h in manifest["hotspots"]:
        body = ask(
            client,
            auth,
            unit="hex",
            hex_size=250,
            category=h["category"],
            **{"from": iso(h["from"]), "to": iso(h["to"])},
        )
        centre = shapely.Point(h["lon"], h["lat"])
        cell = next(f for f in body["features"] if shapely.geometry.shape(f["geometry"]).contains(centre))
        assert cell["properties"]["bin"] == 3 and cell["properties"]["kind"] == "hot", (
            h["label"],
            cell["properties"],
        )
        assert cell["properties"]["confidence"] == 0.99


def test_grid_counts_equal_sql_and_z_equals_esda_on_the_same_weights(client, auth, engine):
    from esda.getisord import G_Local

    period = {"from": "2026-01-01T00:00:00Z", "to": "2026-07-01T00:00:00Z"}
    body = ask(client, auth, unit="grid", category="01", **period)
    with engine.connect() as c:
        want = dict(
            c.execute(
                sa.text(
                    "SELECT g.code, count(i.id) FROM grid g LEFT JOIN incident i ON i.grid_id = g.id "
                    "AND left(i.category_code, 2) = '01' AND i.reported_at >= :a AND i.reported_at < :b GROUP BY g.code"
                ),
                {"a": period["from"], "b": period["to"]},
            ).all()
        )
    feats = body["features"]
    assert {f["id"]: f["properties"]["count"] for f in feats} == want
    assert body["total"] == sum(want.values()) > 0 and "queen" in body["weights"]["description"]
    y = np.array([f["properties"]["count"] for f in feats], dtype=float)
    geoms = np.array([shapely.geometry.shape(f["geometry"]) for f in feats])
    w = fill_diagonal(WSP(queen_weights(geoms)).to_W(silence_warnings=True), 1.0)
    ref = G_Local(y, w, transform="B", star=None, permutations=0)
    assert np.max(np.abs(np.array([f["properties"]["z"] for f in feats]) - ref.Zs)) < 1e-9


def test_counts_are_limited_to_the_readers_area(client, auth, engine):
    period = {"from": "2025-11-01T00:00:00Z", "to": "2026-11-30T00:00:00Z"}
    body = ask(client, auth, "street", **period)
    with engine.connect() as c:
        n = c.execute(
            sa.text(
                "SELECT count(*) FROM incident i JOIN street s ON s.id = i.street_id WHERE s.code = "
                "(SELECT jurisdiction_code FROM app_user WHERE username = 'street') "
                "AND i.reported_at >= :a AND i.reported_at < :b"
            ),
            {"a": period["from"], "b": period["to"]},
        ).scalar()
    assert body["total"] == n < ask(client, auth, **period)["total"]


@pytest.mark.parametrize(
    "params,status,where",
    [
        ({"unit": "triangle"}, 422, "query.unit"),
        ({"unit": "hex", "hex_size": 10}, 422, "query.hex_size"),
        ({"category": "abc"}, 422, "query.category"),
        ({"from": "2026-05-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"}, 400, "query.to"),
        ({"from": "yesterday"}, 422, "query.from"),
    ],
)
def test_bad_hotspot_queries_are_problems(client, auth, params, status, where):
    r = client.get("/api/v1/hotspots", params=params, headers=auth())
    assert assert_problem(r, status)["where"] == where


def test_citizens_and_grid_workers_may_not_ask(client, auth):
    assert_problem(client.get("/api/v1/hotspots", headers=auth("citizen")), 403)
    assert_problem(client.get("/api/v1/hotspots", headers=auth("gridworker")), 403)


def test_a_planted_hotspot_emerges_where_and_when_it_was_planted(client, auth, manifest):
    from datetime import datetime, timedelta

    h = manifest["hotspots"][0]
    from gis_core.platform.clock import month_starts

    planted_to = datetime.fromisoformat(h["to"])
    # up to the last month start in the planted period: the last calendar month all planted
    until = month_starts(planted_to - timedelta(days=40), planted_to)[-1]
    since = until - timedelta(days=150)  # five or six months, the planted weeks in the last ones
    r = client.get(
        "/api/v1/hotspots/emerging",
        params={
            "from": since.isoformat(),
            "to": until.isoformat(),
            "bin": "month",
            "unit": "hex",
            "hex_size": 250,
            "category": h["category"],
        },
        headers=auth("commander"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    bins = len(month_starts(since, until)) + 1  # calendar months, the first and last cut
    assert len(body["edges"]) == bins + 1 and body["bin"] == "month"
    centre = shapely.Point(h["lon"], h["lat"])
    cell = next(f for f in body["features"] if shapely.geometry.shape(f["geometry"]).contains(centre))
    p = cell["properties"]
    assert sum(p["counts"]) == p["count"] and len(p["z"]) == len(p["bins"]) == bins
    before = datetime.fromisoformat(h["from"])
    first_planted = next(k for k in range(bins) if datetime.fromisoformat(body["edges"][k + 1]) > before)
    assert all(b < 2 for b in p["bins"][:first_planted])  # nothing before it was planted
    assert p["bins"][-1] >= 2
    assert (p["kind"], p["pattern"]) in {("hot", "new"), ("hot", "consecutive")}, p
    # the counts per bin add up to the period's hotspot counts
    flat = ask(
        client,
        auth,
        unit="hex",
        hex_size=250,
        category=h["category"],
        **{"from": since.isoformat(), "to": until.isoformat()},
    )
    assert sum(f["properties"]["count"] for f in flat["features"]) == body["total"]


def test_emerging_refuses_bad_bins(client, auth):
    r = client.get("/api/v1/hotspots/emerging", params={"bin": "year"}, headers=auth("commander"))
    assert_problem(r, 422)
    r = client.get(
        "/api/v1/hotspots/emerging",
        params={"bin": "day", "from": "2024-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        headers=auth("commander"),
    )
    assert assert_problem(r, 400)["where"] == "query.bin"


def test_hexagon_counts_equal_postgis(conn, settings):
    """Each incident counts in the one 500 m hexagon that contains it, as PostGIS finds it."""
    from datetime import UTC, datetime

    from gis_core.incidents.hotspots import HotspotQuery, counts
    from gis_core.platform.auth import User

    q = HotspotQuery(
        datetime(2025, 11, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC), unit="hex", hex_size_m=500
    )
    got = counts(conn, User(0, "c", "c", "commander", None, None), q, settings.projected_epsg)
    mine = {u["code"]: int(n) for u, n in zip(got.units, got.counts[:, 0], strict=True) if n}
    want = dict(
        conn.execute(
            sa.text(
                "SELECT 'H500_' || h.i || '_' || h.j, count(*) FROM district d, "
                "ST_HexagonGrid(500, ST_Transform(ST_Envelope(d.geom), :epsg)) h "
                "JOIN incident i ON ST_Contains(h.geom, ST_Transform(i.geom, :epsg)) "
                "WHERE i.reported_at >= :a AND i.reported_at < :b GROUP BY 1"
            ),
            {"epsg": settings.projected_epsg, "a": q.since, "b": q.until},
        ).all()
    )
    assert mine == want and sum(want.values()) > 100


def test_units_and_weights_are_rebuilt_when_a_boundary_changes(conn, settings):
    from gis_core.incidents.hotspots import units_of

    epsg = settings.projected_epsg
    before = units_of(conn, "grid", 250, epsg)
    assert units_of(conn, "grid", 250, epsg) is before  # cached while nothing changed
    first = before.units[0]["code"]
    conn.execute(sa.text("UPDATE grid SET name = 'renamed' WHERE code = :c"), {"c": first})
    after = units_of(conn, "grid", 250, epsg)
    assert after is not before and after.units[0]["name"] == "renamed"
    assert (after.weights != before.weights).nnz == 0


def test_without_geometry_the_same_units_and_figures_come_without_polygons(client, auth, manifest):
    h = manifest["hotspots"][0]
    period = {"from": iso(h["from"]), "to": iso(h["to"])}
    full = ask(client, auth, **period)
    bare = client.get("/api/v1/hotspots", params={**period, "geometry": "false"}, headers=auth())
    body = bare.json()
    assert all(f["geometry"] is None for f in body["features"])
    assert [(f["id"], f["properties"]) for f in body["features"]] == [
        (f["id"], f["properties"]) for f in full["features"]
    ]
    assert len(bare.content) < len(client.get("/api/v1/hotspots", params=period, headers=auth()).content) / 3


def test_the_hexagon_tiles_are_the_hotspot_units_by_code(client, auth):
    """The wall paints hexagon hotspots by code onto the `hexagons` tiles: the same cells, the same codes."""
    from tests.mvt import decode

    units = client.get("/api/v1/hotspots", params={"unit": "hex", "hex_size": 250, "geometry": "false"},
                       headers=auth()).json()["features"]  # fmt: skip
    tileset = client.get("/collections/hexagons/tiles/WebMercatorQuad", headers=auth()).json()
    z11 = next(lim for lim in tileset["tileMatrixSetLimits"] if lim["tileMatrix"] == "11")
    codes = set()
    for y in range(z11["minTileRow"], z11["maxTileRow"] + 1):
        for x in range(z11["minTileCol"], z11["maxTileCol"] + 1):
            r = client.get(f"/tiles/hexagons/11/{x}/{y}.pbf", headers=auth())
            if r.status_code == 200:
                codes |= {
                    f["properties"]["code"] for f in decode(r.content, 11, x, y)["hexagons"]["features"]
                }
    assert codes == {u["id"] for u in units} and len(codes) > 100
