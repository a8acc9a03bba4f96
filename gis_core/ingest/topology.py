"""Topology check of the hierarchy: each level must partition its parent exactly."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import sqlalchemy as sa

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

    kind: str  # gap | overlap | outside_parent
    level: str  # the child level: street | community | grid
    parent_code: str
    codes: list[str]
    area_m2: float
    lon: float
    lat: float

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return asdict(self)

    def describe(self) -> str:
        """One line for people."""
        who = " & ".join(self.codes) if self.codes else f"children of {self.parent_code}"
        return (
            f"{self.kind:15s} {self.level:9s} {who}: {self.area_m2:,.1f} m² at {self.lon:.6f},{self.lat:.6f}"
        )


def check_topology(conn: sa.Connection, tolerance_m2: float = 1.0) -> list[Defect]:
    """Every gap between siblings, overlap, and child outside its parent, larger than tolerance."""
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
    return defects
