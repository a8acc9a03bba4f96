"""Topology check of the hierarchy: each level must partition its parent exactly, as a noded coverage.

Gaps, overlaps and children outside their parent are found in PostGIS (`topology.sql`); edges
a neighbour does not match vertex for vertex (unnoded) and slivers by GEOS through
`gis_core.geo.coverage`, in the district's metric CRS.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import shapely
import sqlalchemy as sa

from gis_core.geo import coverage
from gis_core.platform.db import sql_file

#: (child level, parent level, foreign key) for each level below the district.
LEVELS = (
    ("street", "district", "district_id"),
    ("community", "street", "street_id"),
    ("grid", "community", "community_id"),
)


@dataclass(frozen=True)
class Defect:
    """One gap, overlap or protrusion, with where it is and how big."""

    kind: str  # gap | overlap | outside_parent | unnoded_edge | sliver
    level: str  # the child level: street | community | grid
    parent_code: str
    codes: list[str]
    area_m2: float
    lon: float
    lat: float
    length_m: float = 0.0  # of an unnoded edge

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return asdict(self)

    def describe(self) -> str:
        """One line for people."""
        who = " & ".join(self.codes) if self.codes else f"children of {self.parent_code}"
        size = f"{self.length_m:,.1f} m" if self.kind == "unnoded_edge" else f"{self.area_m2:,.1f} m²"
        return f"{self.kind:15s} {self.level:9s} {who}: {size} at {self.lon:.6f},{self.lat:.6f}"


def check_topology(
    conn: sa.Connection,
    tolerance_m2: float | None = None,
    sliver_m2: float | None = None,
    epsg: int | None = None,
) -> list[Defect]:
    """Every defect of the hierarchy's partitions and coverages.

    Gaps between siblings, overlaps and children outside their parent larger than
    `tolerance_m2`; every edge not noded with its neighbour's; every part smaller than
    `sliver_m2`. Thresholds and the metric CRS not given come from the settings.
    """
    from gis_core.platform.settings import get_settings

    s = get_settings()
    tolerance_m2 = s.topology_tolerance_m2 if tolerance_m2 is None else tolerance_m2
    sliver_m2 = s.topology_sliver_m2 if sliver_m2 is None else sliver_m2
    epsg = s.projected_epsg if epsg is None else epsg
    template = sql_file("topology.sql")
    defects: list[Defect] = []
    for child, parent, fk in LEVELS:
        query = sa.text(template.format(child=child, parent=parent, fk=fk))
        for r in conn.execute(query, {"tolerance": tolerance_m2}):
            defects.append(
                Defect(
                    r.kind,
                    child,
                    r.parent_code.strip(),
                    list(r.codes),
                    float(r.area_m2),
                    float(r.lon),
                    float(r.lat),
                )
            )
        defects += _coverage_defects(conn, child, fk, parent, sliver_m2, epsg)
    return defects


def _coverage_defects(
    conn: sa.Connection, level: str, fk: str, parent: str, sliver_m2: float, epsg: int
) -> list[Defect]:
    """Unnoded edges and slivers of one level (identifiers from LEVELS, never from input)."""
    rows = conn.execute(
        sa.text(
            f"SELECT c.code, p.code AS parent_code, ST_AsBinary(c.geom) AS wkb "  # noqa: S608
            f"FROM {level} c JOIN {parent} p ON p.id = c.{fk} ORDER BY c.code"
        )
    ).all()
    if not rows:
        return []
    geoms = shapely.from_wkb([bytes(r.wkb) for r in rows])
    out = []
    for r, edges in zip(rows, coverage.invalid_edges(geoms, epsg), strict=True):
        if edges is None or edges.is_empty:
            continue
        where = shapely.line_interpolate_point(shapely.get_geometry(edges, 0), 0.5, normalized=True)
        out.append(Defect("unnoded_edge", level, r.parent_code.strip(), [r.code.strip()], 0.0,
                          where.x, where.y, round(coverage.length_m(edges, epsg), 2)))  # fmt: skip
    for r, geom in zip(rows, geoms, strict=True):
        for part in shapely.get_parts(geom):
            area = coverage.area_m2(part, epsg)
            if area < sliver_m2:
                p = part.representative_point()
                out.append(Defect("sliver", level, r.parent_code.strip(), [r.code.strip()], area, p.x, p.y))
    return out
