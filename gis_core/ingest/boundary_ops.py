"""The four boundary edits: each checks its own preconditions, changes the outlines, and says which.

`gis_core.ingest.boundaries` runs them in a transaction that checks the partition before and
after, re-anchors what is pinned and keeps the versions; a precondition that fails is a 400
problem naming the input and the place.
"""

from __future__ import annotations

from typing import Any

import shapely
import shapely.ops
import sqlalchemy as sa

from gis_core.geo import coverage
from gis_core.ingest import partition
from gis_core.ingest.boundaries import EditResult, _area_m2, _polygon, _renode, _set, _units, run
from gis_core.platform.errors import Conflict, InvalidInput, NotFound
from gis_core.platform.settings import get_settings

#: Areas below this (m²) are floating-point dust when outlines are compared.
DUST_M2 = 1.0
_COMMUNITY = "id, code, street_id, ST_AsBinary(geom) AS wkb FROM community"


def _geom(row: Any) -> shapely.Geometry:
    return shapely.from_wkb(bytes(row.wkb))


def _at(geom: shapely.Geometry) -> str:
    p = geom.representative_point()
    return f"{p.x:.6f},{p.y:.6f}"


def _unit(
    level: str, code: str, before: shapely.Geometry | None, after: shapely.Geometry | None
) -> dict[str, Any]:
    return {
        "level": level,
        "code": code,
        "area_before_m2": _area_m2(before),
        "area_after_m2": _area_m2(after),
    }


def split(conn: sa.Connection, body: dict[str, Any], result: EditResult) -> shapely.Geometry:
    """Cut a grid in two by a line; the larger part keeps the code, the other gets a new one."""
    code = str(body.get("code", ""))
    try:
        line = shapely.geometry.shape(body.get("line") or {})
    except Exception:  # noqa: BLE001 - shapely raises many kinds for malformed input
        raise InvalidInput("line must be a GeoJSON LineString", where="body.line") from None
    if line.geom_type != "LineString" or not line.is_valid:
        raise InvalidInput("line must be a valid GeoJSON LineString", where="body.line")
    old = _units(conn, [code], "body.code")[code]
    g = _geom(old)
    parts = sorted(shapely.get_parts(shapely.ops.split(g, line)), key=lambda p: -p.area)
    if len(parts) < 2:
        raise InvalidInput(f"the line does not cut grid {code} in two (it must cross it from edge to edge)",
                           where="body.line", place=_at(g))  # fmt: skip
    if len(parts) > 2:
        raise InvalidInput(f"the line cuts grid {code} into {len(parts)} parts; draw one that cuts it in two",
                           where="body.line", place=_at(g))  # fmt: skip
    keep, cut = partition.as_multi(parts[0]), partition.as_multi(parts[1])
    new_code = str(body.get("new_code") or _next_code(conn, old.community_code.strip()))
    if not (new_code.isdigit() and len(new_code) == 15 and new_code.startswith(old.community_code.strip())):
        raise InvalidInput(f"a grid code of this community is {old.community_code.strip()} and 3 digits",
                           where="body.new_code")  # fmt: skip
    if conn.execute(sa.text("SELECT 1 FROM grid WHERE code = :c"), {"c": new_code}).first():
        raise Conflict(f"grid {new_code} exists already", where="body.new_code")
    name = str(body.get("new_name") or f"网格{new_code[-5:]}")
    _set(conn, "grid", code, keep)
    conn.execute(
        sa.text(
            "INSERT INTO grid (code, name, kind, community_id, geom) SELECT :c, :n, kind, community_id, "
            "ST_Multi(ST_GeomFromWKB(:g, 4326)) FROM grid WHERE code = :old"
        ),
        {"c": new_code, "n": name, "g": shapely.to_wkb(cut), "old": code},
    )
    _renode(conn, "grid", [code, new_code])  # the line's ends are new vertices on the neighbours' edges
    result.units = [_unit("grid", code, g, keep), _unit("grid", new_code, None, cut)]
    return g


def _next_code(conn: sa.Connection, community_code: str) -> str:
    used = conn.execute(
        sa.text("SELECT coalesce(max(right(code, 3)::int), 0) FROM grid WHERE code LIKE :p"),
        {"p": community_code + "%"},
    ).scalar_one()
    if used >= 999:
        raise Conflict(f"community {community_code} has no grid code left", where="body.new_code")
    return f"{community_code}{used + 1:03d}"


def merge(conn: sa.Connection, body: dict[str, Any], result: EditResult) -> shapely.Geometry:
    """Join two neighbouring grids of one community; the first code stays, the second is retired."""
    codes = [str(c) for c in body.get("codes") or []]
    if len(codes) != 2 or codes[0] == codes[1]:
        raise InvalidInput("give the two grids to merge, the one that stays first", where="body.codes")
    units = _units(conn, codes, "body.codes")
    a, b = units[codes[0]], units[codes[1]]
    ga, gb = _geom(a), _geom(b)
    if not shapely.relate_pattern(ga, gb, "****1****"):
        gap = shapely.shortest_line(ga, gb)
        raise InvalidInput(f"grids {codes[0]} and {codes[1]} do not share a boundary (nearest at {_at(gap)})",
                           where="body.codes", place=_at(gap))  # fmt: skip
    if a.community_id != b.community_id:
        shared = shapely.intersection(ga.boundary, gb.boundary)
        raise InvalidInput(f"grids {codes[0]} and {codes[1]} are in different communities; move one first",
                           where="body.codes", place=_at(shared))  # fmt: skip
    _repoint(conn, b.id, a.id)
    conn.execute(sa.text("DELETE FROM grid WHERE id = :b"), {"b": b.id})
    joined = partition.as_multi(shapely.coverage_union_all([ga, gb]))
    _set(conn, "grid", codes[0], joined)
    result.units = [_unit("grid", codes[0], ga, joined), _unit("grid", codes[1], gb, None)]
    return joined


def _repoint(conn: sa.Connection, old_id: int, new_id: int) -> None:
    """Every row referring to grid `old_id` made to refer to `new_id` (assignments not doubled)."""
    conn.execute(
        sa.text(
            "DELETE FROM worker_grid w WHERE grid_id = :old "
            "AND EXISTS (SELECT 1 FROM worker_grid x WHERE x.worker_id = w.worker_id AND x.grid_id = :new)"
        ),
        {"old": old_id, "new": new_id},
    )
    refs = conn.execute(
        sa.text(
            "SELECT c.conrelid::regclass::text AS tbl, a.attname::text AS col FROM pg_constraint c "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
            "WHERE c.confrelid = 'grid'::regclass AND c.contype = 'f' ORDER BY 1"
        )
    ).all()
    for r in refs:  # identifiers from the catalogue, never from input
        repoint = f'UPDATE {r.tbl} SET "{r.col}" = :new WHERE "{r.col}" = :old'  # noqa: S608
        conn.execute(sa.text(repoint), {"old": old_id, "new": new_id})


def redraw(conn: sa.Connection, body: dict[str, Any], result: EditResult) -> shapely.Geometry:
    """Redraw the boundary two neighbouring grids share: their new outlines cover what the old did."""
    codes = [str(c) for c in body.get("codes") or []]
    shapes = body.get("geometries") or []
    if len(codes) != 2 or len(shapes) != 2:
        raise InvalidInput("give two grids and a new outline for each", where="body.codes")
    units = _units(conn, codes, "body.codes")
    old = [_geom(units[c]) for c in codes]
    new = [_polygon(shapes[i], f"body.geometries[{i}]") for i in range(2)]
    if units[codes[0]].community_id != units[codes[1]].community_id:
        raise InvalidInput("the two grids are in different communities; move one first", where="body.codes")
    both, both_new = shapely.union_all(old), shapely.union_all(new)
    for what, piece in (
        ("leave a gap", shapely.difference(both, both_new)),
        (f"reach outside grids {codes[0]} and {codes[1]}", shapely.difference(both_new, both)),
        ("overlap each other", shapely.intersection(new[0], new[1])),
    ):
        if (_area_m2(piece) or 0.0) > DUST_M2:
            raise InvalidInput(f"the new outlines {what}: {_area_m2(piece):,.1f} m² at {_at(piece)}",
                               where="body.geometries", place=_at(piece))  # fmt: skip
    cleaned, _ = coverage.clean(codes, new, get_settings().projected_epsg, coverage.NODE_M)
    for c, g in zip(codes, cleaned, strict=True):
        _set(conn, "grid", c, partition.as_multi(g))
    _renode(conn, "grid", codes)
    result.units = [_unit("grid", c, o, n) for c, o, n in zip(codes, old, cleaned, strict=True)]
    return both


def move(conn: sa.Connection, body: dict[str, Any], result: EditResult) -> shapely.Geometry:
    """Move a grid to a neighbouring community; both communities' outlines follow their grids."""
    code, target = str(body.get("code", "")), str(body.get("community_code", ""))
    grid = _units(conn, [code], "body.code")[code]
    g = _geom(grid)
    to = conn.execute(
        sa.text(f"SELECT {_COMMUNITY} WHERE code = :c FOR UPDATE NOWAIT"),  # noqa: S608
        {"c": target},
    ).first()
    if to is None:
        raise NotFound(f"no community has code {target!r}", where="body.community_code")
    if to.id == grid.community_id:
        raise InvalidInput(f"grid {code} is in community {target} already", where="body.community_code")
    if not shapely.relate_pattern(g, _geom(to), "****1****"):
        raise InvalidInput(f"grid {code} does not border community {target}", where="body.community_code",
                           place=_at(g))  # fmt: skip
    src = conn.execute(
        sa.text(f"SELECT {_COMMUNITY} WHERE id = :i FOR UPDATE NOWAIT"),  # noqa: S608
        {"i": grid.community_id},
    ).one()
    conn.execute(sa.text("UPDATE grid SET community_id = :c WHERE code = :g"), {"c": to.id, "g": code})
    changed = []
    for c in (src, to):  # each community the union of its grids
        outline = _union_of(conn, "grid", "community_id", c.id)
        if outline is None:
            raise InvalidInput(f"community {c.code.strip()} would be left without a grid", where="body.code")
        _set(conn, "community", c.code.strip(), outline)
        changed.append(_unit("community", c.code.strip(), _geom(c), outline))
    _renode(conn, "community", [src.code.strip(), to.code.strip()])
    if src.street_id != to.street_id:  # the streets follow their communities likewise
        streets = conn.execute(
            sa.text(
                "SELECT id, code, ST_AsBinary(geom) AS wkb FROM street WHERE id = ANY(:i) FOR UPDATE NOWAIT"
            ),
            {"i": [src.street_id, to.street_id]},
        ).all()
        for st in streets:
            outline = _union_of(conn, "community", "street_id", st.id)
            _set(conn, "street", st.code.strip(), outline)
            changed.append(_unit("street", st.code.strip(), _geom(st), outline))
        _renode(conn, "street", [st.code.strip() for st in streets])
    result.units = [_unit("grid", code, g, g), *changed]
    return g


def _union_of(conn: sa.Connection, child: str, fk: str, parent_id: int) -> shapely.Geometry | None:
    rows = (
        conn.execute(
            sa.text(f"SELECT ST_AsBinary(geom) FROM {child} WHERE {fk} = :p"),  # noqa: S608 - names from here
            {"p": parent_id},
        )
        .scalars()
        .all()
    )
    if not rows:
        return None
    return partition.as_multi(shapely.coverage_union_all(shapely.from_wkb([bytes(r) for r in rows])))


OPS = {"split": split, "merge": merge, "redraw": redraw, "move": move}


def edit(
    engine: sa.Engine, operation: str, body: dict[str, Any], actor: str, preview: bool = False
) -> EditResult:
    """Run one boundary edit in its own transaction: applied, or (preview) rolled back."""
    if operation not in OPS:
        raise NotFound(
            f"no boundary operation {operation!r}; there are {', '.join(OPS)}", where="path.operation"
        )
    with engine.connect() as conn:
        tx = conn.begin()
        try:
            result = run(conn, operation, actor, str(body.get("reason") or ""), preview,
                         lambda r: OPS[operation](conn, body, r))  # fmt: skip
        except BaseException:
            tx.rollback()
            raise
        if preview:
            tx.rollback()
        else:
            tx.commit()
    return result
