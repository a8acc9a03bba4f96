"""Imports of the hierarchy keep each level a noded partition of its parent.

An imported level is noded against the units the file leaves as they are, optionally cleaned
as one coverage within a tolerance (every vertex change reported), and refused when it would
add a topology defect (`check_topology`) that was not there before.
"""

from __future__ import annotations

from typing import Any

import shapely
import sqlalchemy as sa

from gis_core.geo import coverage
from gis_core.ingest.topology import Defect, check_topology
from gis_core.platform.settings import get_settings

#: The hierarchy's levels: each a partition of its parent, kept noded with its neighbours.
LEVELS = ("district", "street", "community", "grid")


def clean_rows(rows: list[dict[str, Any]], spec: Any, tolerance_m: float, report: Any) -> None:
    """The file's polygons cleaned as one coverage (`gis_core.geo.coverage.clean`), changes reported."""
    cleaned, changes = coverage.clean(
        [str(r["code"]) for r in rows], [r["geom"] for r in rows], get_settings().projected_epsg, tolerance_m
    )
    for r, geom in zip(rows, cleaned, strict=True):
        r["geom"] = as_multi(geom) if spec.table in LEVELS else geom
    report.cleaned = [c.as_dict() for c in changes]


def node_to_neighbours(
    engine: sa.Engine, rows: list[dict[str, Any]], spec: Any, tolerance_m: float | None
) -> None:
    """A level's features noded against the units of that level the file leaves as they are.

    A file's coordinates come back from any format a few ulps off the database's, which would
    unnode every edge shared with a unit outside the file; within a millimetre (or the cleaning
    tolerance) they are taken to be the neighbour's vertices. (Not the parent's: each level is
    noded in itself, and a parent's vertices are not its children's.)
    """
    codes = [str(r["code"]) for r in rows]
    extent = shapely.envelope(shapely.union_all([r["geom"] for r in rows]))
    with engine.connect() as conn:
        context = (
            conn.execute(
                sa.text(
                    f"SELECT ST_AsBinary(geom) FROM {spec.table} "  # noqa: S608 - a table of LEVELS
                    "WHERE code <> ALL(:codes) AND geom && ST_Expand(ST_GeomFromWKB(:box, 4326), 0.001)"
                ),
                {"codes": codes, "box": shapely.to_wkb(extent)},
            )
            .scalars()
            .all()
        )
    snapped = coverage.snap_to([r["geom"] for r in rows], shapely.from_wkb([bytes(c) for c in context]),
                               max(tolerance_m or 0.0, coverage.NODE_M))  # fmt: skip
    for r, geom in zip(rows, snapped, strict=True):
        r["geom"] = as_multi(geom)


def as_multi(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygons of `geom` as a MultiPolygon (the hierarchy's column type)."""
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon"]
    return shapely.MultiPolygon(parts)


def defects(conn: sa.Connection, spec: Any) -> list[Defect]:
    """The hierarchy's topology defects, for a hierarchy level (others: none)."""
    if spec.table not in LEVELS:
        return []
    return check_topology(conn)


def new_defects(before: list[Defect], after: list[Defect]) -> list[Defect]:
    """The defects of `after` that were not there `before` (the same kind, units, parent and size)."""
    seen = {_key(d) for d in before}
    return [d for d in after if _key(d) not in seen]


def _key(d: Defect) -> tuple[Any, ...]:
    return (d.kind, d.level, d.parent_code, tuple(sorted(d.codes)), round(d.area_m2), round(d.length_m))
