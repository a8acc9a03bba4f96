"""Boundary edits as operations on a partition: redraw a shared boundary, split, merge, move.

Each edit is one transaction that keeps every level a noded partition of its parent or is
refused with the places it would break (`check_topology` before and after: a defect it adds
refuses it). The units it touches are locked without waiting, so of two concurrent edits of the
same grids one wins and the other is a conflict. Everything pinned to the changed area (persons,
buildings, incidents, cameras, …) is re-anchored in the same transaction (`reanchor`, the
schema's own rule) and counted; the triggers of migration 0027 keep each outline's versions
with who and why. A preview runs the whole edit and rolls it back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import shapely
import sqlalchemy as sa

from gis_core.geo import coverage
from gis_core.ingest import partition
from gis_core.ingest.topology import check_topology
from gis_core.platform.errors import Conflict, InvalidInput, NotFound
from gis_core.platform.settings import get_settings

OPERATIONS = ("redraw", "split", "merge", "move")


@dataclass
class EditResult:
    """What an edit changed (or, previewed, would change)."""

    operation: str
    applied: bool
    units: list[dict[str, Any]] = field(default_factory=list)  # level, code, area before/after (m²)
    reanchored: dict[str, int] = field(default_factory=dict)  # table → rows now in another grid

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def _polygon(geojson: Any, where: str) -> shapely.Geometry:
    from gis_core.publishing.features import check_geometry  # the API's own polygon checks

    return shapely.MultiPolygon(shapely.get_parts(check_geometry(geojson, where)))


def _units(conn: sa.Connection, codes: list[str], where: str) -> dict[str, Any]:
    """The grids with `codes`, locked for this transaction; a conflict if another edit holds one."""
    try:
        rows = conn.execute(
            sa.text(
                "SELECT g.id, g.code, g.community_id, c.code AS community_code, ST_AsBinary(g.geom) AS wkb "
                "FROM grid g JOIN community c ON c.id = g.community_id WHERE g.code = ANY(:codes) "
                "ORDER BY g.code FOR UPDATE OF g NOWAIT"
            ),
            {"codes": codes},
        ).all()
    except sa.exc.OperationalError as exc:
        if getattr(exc.orig, "pgcode", None) == "55P03":  # lock_not_available
            raise Conflict(
                f"another boundary edit holds {', '.join(codes)}; try again", where=where
            ) from None
        raise
    found = {r.code.strip(): r for r in rows}
    missing = [c for c in codes if c not in found]
    if missing:
        raise NotFound(f"no grid has code {missing[0]!r}", where=where)
    return found


def _area_m2(geom: shapely.Geometry | None) -> float | None:
    return None if geom is None else round(coverage.area_m2(geom, get_settings().projected_epsg), 1)


def _set(conn: sa.Connection, table: str, code: str, geom: shapely.Geometry, **columns: Any) -> None:
    sets = "".join(f", {c} = :{c}" for c in columns)  # column names from this module, never input
    conn.execute(
        sa.text(f"UPDATE {table} SET geom = ST_Multi(ST_GeomFromWKB(:g, 4326)){sets} WHERE code = :code"),  # noqa: S608
        {"g": shapely.to_wkb(geom), "code": code, **columns},
    )


def _renode(conn: sa.Connection, table: str, codes: list[str]) -> None:
    """The units `codes` of one level and their neighbours noded together again.

    An edit puts new vertices on edges a neighbour shares (a split line's ends, a moved grid's
    outline on a community's): each unit of the group is snapped to the others' vertices
    within a millimetre, which inserts them, until nothing changes.
    """
    rows = conn.execute(
        sa.text(
            f"SELECT DISTINCT n.code, ST_AsBinary(n.geom) AS wkb FROM {table} u JOIN {table} n "  # noqa: S608
            "ON n.geom && u.geom AND ST_Intersects(n.geom, u.geom) WHERE u.code = ANY(:codes) ORDER BY n.code"
        ),
        {"codes": codes},
    ).all()
    names = [r.code.strip() for r in rows]
    geoms = list(shapely.from_wkb([bytes(r.wkb) for r in rows]))
    for _ in range(3):
        before = [g.wkb for g in geoms]
        for i in range(len(geoms)):
            others = geoms[:i] + geoms[i + 1 :]
            geoms[i] = partition.as_multi(coverage.snap_to([geoms[i]], others, coverage.NODE_M)[0])
        if [g.wkb for g in geoms] == before:
            break
    for name, geom, old in zip(names, geoms, rows, strict=True):
        if geom.wkb != bytes(old.wkb):
            _set(conn, table, name, geom)


def _pinned(conn: sa.Connection) -> list[tuple[str, str]]:
    """(table, primary key column) of every table anchored to grids."""
    return [
        (str(r.tbl), r.pk)
        for r in conn.execute(
            sa.text(
                "SELECT a.name::text AS tbl, att.attname::text AS pk FROM anchored_table a "
                "JOIN pg_index i ON i.indrelid = a.name AND i.indisprimary "
                "JOIN pg_attribute att ON att.attrelid = a.name AND att.attnum = i.indkey[0] ORDER BY 1"
            )
        )
    ]


def run(
    conn: sa.Connection,
    operation: str,
    actor: str,
    reason: str,
    preview: bool,
    work: Callable[[EditResult], shapely.Geometry],
) -> EditResult:
    """The common frame: say who and why, check before, do `work`, re-anchor, check after."""
    if not reason or not reason.strip():
        raise InvalidInput("say why the boundary changes", where="body.reason")
    for key, value in (("op", operation), ("actor", actor), ("reason", reason.strip())):
        conn.execute(sa.text("SELECT set_config(:k, :v, true)"), {"k": f"onegrid.boundary_{key}", "v": value})
    before = check_topology(conn)
    result = EditResult(operation, applied=not preview)
    tables = _pinned(conn)
    for t, pk in tables:  # where each pinned row was, to count what moves (names from the catalogue)
        snapshot = f"CREATE TEMP TABLE was_{t} ON COMMIT DROP AS SELECT {pk} AS k, grid_id FROM {t}"  # noqa: S608
        conn.execute(sa.text(snapshot))
    extent = work(result)
    conn.execute(sa.text("SELECT reanchor(ST_GeomFromWKB(:e, 4326))"), {"e": shapely.to_wkb(extent)})
    for t, pk in tables:
        count = f"SELECT count(*) FROM {t} x JOIN was_{t} w ON w.k = x.{pk} "  # noqa: S608
        moved = conn.execute(sa.text(count + "WHERE x.grid_id IS DISTINCT FROM w.grid_id")).scalar_one()
        if moved:
            result.reanchored[t] = int(moved)
    after = check_topology(conn)
    broken = partition.new_defects(before, after)
    if broken:
        where = "; ".join(
            f"{d.kind} {' & '.join(d.codes) or d.parent_code} at {d.lon:.6f},{d.lat:.6f}" for d in broken
        )
        raise InvalidInput(f"the edit would break the partition: {where}", where="body",
                           places=[d.as_dict() for d in broken])  # fmt: skip
    return result


def history(conn: sa.Connection, code: str) -> list[dict[str, Any]]:
    """Every version of the street, community or grid with `code`, oldest first."""
    rows = (
        conn.execute(
            sa.text(
                "SELECT level, code, name, kind, parent_code, valid_from, valid_to, operation, changed_by, "
                "reason, ST_Area(geom::geography) AS area_m2 FROM boundary_version WHERE code = :c "
                "ORDER BY valid_from, id"
            ),
            {"c": code},
        )
        .mappings()
        .all()
    )
    if not rows:
        raise NotFound(f"no street, community or grid has ever had code {code!r}", where="path.code")
    return [
        {
            **r,
            # -infinity (since records began) reaches Python as datetime.min: said as null
            "valid_from": None if r["valid_from"].year <= 1 else r["valid_from"],
            "area_m2": round(r["area_m2"], 1),
        }
        for r in rows
    ]


def located_as_of(
    conn: sa.Connection, lon: float, lat: float, as_of: Any
) -> dict[str, dict[str, str]] | None:
    """The street, community and grid that held a point at `as_of`, by their versions then."""
    rows = conn.execute(
        sa.text(
            "SELECT level, code, name, kind FROM boundary_version WHERE valid_from <= :t "
            "AND (valid_to IS NULL OR valid_to > :t) AND geom && ST_SetSRID(ST_MakePoint(:x, :y), 4326) "
            "AND ST_Intersects(geom, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) ORDER BY level, code"
        ),
        {"t": as_of, "x": lon, "y": lat},
    ).all()
    found = {r.level: {"code": r.code.strip(), "name": r.name, "kind": r.kind} for r in rows}
    return found if {"street", "community", "grid"} <= found.keys() else None
