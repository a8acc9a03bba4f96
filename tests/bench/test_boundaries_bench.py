"""Boundary stewardship on the full district: an edit's cost, and PySAL agreeing with OneGrid on every grid."""

from __future__ import annotations

import time

import geopandas as gpd
import shapely
import sqlalchemy as sa
from libpysal.weights import Queen

from gis_core.geo.spatial_stats import queen_weights
from gis_core.ingest import boundary_ops
from tests.bench.conftest import record


def test_queen_equals_onegrid_contiguity_on_the_full_district(bench_engine):
    grids = gpd.read_postgis("SELECT code, geom FROM grid ORDER BY code", bench_engine, geom_col="geom")
    ours = queen_weights(grids.geometry.values)
    theirs = Queen.from_dataframe(grids, use_index=False, silence_warnings=True)
    differ = sum(set(ours[i].indices) != set(theirs.neighbors[i]) for i in range(len(grids)))
    record("contiguity_full", {"grids": len(grids), "mean_neighbours_onegrid": round(ours.sum() / len(grids), 3),
                               "mean_neighbours_libpysal": round(theirs.mean_neighbors, 3), "grids_differing": differ})  # fmt: skip
    assert differ == 0


def test_a_previewed_split_and_merge_on_the_full_district(bench_engine):
    with bench_engine.connect() as c:
        a, b = c.execute(
            sa.text(
                "SELECT a.code, b.code FROM grid a JOIN grid b ON a.community_id = b.community_id "
                "AND a.code < b.code AND ST_Relate(a.geom, b.geom, '****1****') ORDER BY a.code LIMIT 1"
            )
        ).one()
        g = shapely.from_wkb(
            bytes(
                c.execute(
                    sa.text("SELECT ST_AsBinary(geom) FROM grid WHERE code = :a"), {"a": a}
                ).scalar_one()
            )
        )
    p = g.representative_point()
    line = {"type": "LineString", "coordinates": [[p.x - 0.05, p.y], [p.x + 0.05, p.y]]}
    out = {}
    for op, body in (("split", {"code": a, "line": line}), ("merge", {"codes": [a, b]})):
        t = time.perf_counter()
        done = boundary_ops.edit(bench_engine, op, {**body, "reason": "bench"}, "bench", preview=True)
        out[op] = {"seconds": round(time.perf_counter() - t, 2), "reanchored": done.reanchored}
    record("boundary_edit_preview_full", out)
