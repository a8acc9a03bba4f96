"""`onegrid import FILE --as address`: standard addresses (一标三实) from a file of points, all or nothing.

Each feature is one address: `code`, `level` (road, door, building, unit, room), `label` (as the
address writes it: 锦山路, 12号, 3号楼, 2单元, 502室), `number` (all but roads), `parent_code`
(all but roads: an address of a coarser level, in the file or already stored), and optionally
`full_name` (else the parent's followed by the label), `building_code` (a building, unit or
room's footprint in `building`) and `aliases` (names people use, separated by ; — an estate for
a door plate, a former name for a road). Rows are matched on `code`; a re-import changes
nothing. Any feature that cannot be stored refuses the whole file, with the reason per feature.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import shapely
import sqlalchemy as sa

from gis_core.geo.addresses import LEVELS, PARENTS, grams, normalize
from gis_core.ingest.importers import ImportRejected, ImportReport, _check_lonlat, _read, _to_wgs84

_RANK = {level: i for i, level in enumerate(LEVELS)}
_UPSERT = sa.text(
    """
    INSERT INTO address (code, level, parent_id, label, number, full_name, search_name, search_grams,
                         building_id, geom)
    VALUES (:code, :level, (SELECT id FROM address WHERE code = :parent), :label, :number, :full, :search,
            :grams, (SELECT id FROM building WHERE code = :building), ST_SetSRID(ST_MakePoint(:x, :y), 4326))
    ON CONFLICT (code) DO UPDATE SET
        (level, parent_id, label, number, full_name, search_name, search_grams, building_id, geom) =
        (EXCLUDED.level, EXCLUDED.parent_id, EXCLUDED.label, EXCLUDED.number, EXCLUDED.full_name,
         EXCLUDED.search_name, EXCLUDED.search_grams, EXCLUDED.building_id, EXCLUDED.geom)
    WHERE (address.level, address.parent_id, address.label, address.number, address.full_name,
           address.building_id, ST_AsBinary(address.geom))
          IS DISTINCT FROM (EXCLUDED.level, EXCLUDED.parent_id, EXCLUDED.label, EXCLUDED.number,
                            EXCLUDED.full_name, EXCLUDED.building_id, ST_AsBinary(EXCLUDED.geom))
    RETURNING (xmax = 0) AS inserted, grid_id IS NULL AS outside
    """
)


def _text(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return str(v).strip() or None


def import_addresses(
    engine: sa.Engine, path: Path, layer: str | None = None, source_crs: str | None = None
) -> ImportReport:
    """Import `path` as standard addresses; the report, or ImportRejected (nothing stored)."""
    report = ImportReport(file=str(path), kind="address")
    gdf = _to_wgs84(_read(path, layer, report), source_crs, report)
    report.features = len(gdf)
    rows = _rows(gdf, report)
    if report.rejected:
        raise ImportRejected(report, f"{len(report.rejected)} feature(s) cannot be stored; nothing imported")
    with engine.begin() as conn:
        _resolve_parents(conn, rows, report)
        if report.rejected:
            raise ImportRejected(report, "addresses without a parent of a coarser level; nothing imported")
        for r in sorted(rows, key=lambda r: _RANK[r["level"]]):  # parents first
            out = conn.execute(_UPSERT, r).first()
            if out is None:
                report.unchanged += 1
                continue
            if out.outside:
                report.rejected.append(
                    {"feature": r["n"], "code": r["code"], "reason": "outside the district"}
                )
            report.inserted += bool(out.inserted)
            report.updated += not out.inserted
            for alias in r["aliases"]:
                conn.execute(
                    sa.text(
                        "INSERT INTO address_alias (address_id, alias, kind, search_name, search_grams) "
                        "SELECT id, :a, :k, :s, :g FROM address WHERE code = :c "
                        "ON CONFLICT (address_id, alias) DO NOTHING"
                    ),
                    {
                        "a": alias,
                        "k": "estate" if r["level"] == "door" else "former",
                        "c": r["code"],
                        "s": normalize(alias),
                        "g": grams(normalize(alias)),
                    },  # fmt: skip
                )
        if report.rejected:
            raise ImportRejected(report, "addresses outside the district; nothing imported")
    return report


def _rows(gdf: Any, report: ImportReport) -> list[dict[str, Any]]:
    rows = []
    seen: set[str] = set()
    props_list = gdf.drop(columns=gdf.geometry.name).to_dict("records")
    for i, (p, geom) in enumerate(zip(props_list, gdf.geometry.values, strict=True)):
        code, level, label = _text(p.get("code")), _text(p.get("level")), _text(p.get("label"))
        parent, number = _text(p.get("parent_code")), p.get("number")

        def reject(why: str, code: str | None = code, i: int = i) -> None:
            report.rejected.append({"feature": i, "code": code, "reason": why})

        if not code or level not in _RANK or label is None and level != "building":
            reject("code, level (road, door, building, unit or room) and label are required")
            continue
        if code in seen:
            reject("duplicate code in file")
            continue
        seen.add(code)
        if geom is None or geom.is_empty or geom.geom_type != "Point":
            reject("an address is a point (a door plate's is its entrance)")
            continue
        if not _check_lonlat(i, code, geom, report):
            continue
        if level != "road" and (parent is None or _text(number) is None):
            reject("every level below a road needs parent_code and number")
            continue
        try:
            number = None if level == "road" else int(float(number))
        except (TypeError, ValueError):
            reject(f"number must be a whole number, not {number!r}")
            continue
        aliases = [a.strip() for a in (_text(p.get("aliases")) or "").split(";") if a.strip()]
        full, building = _text(p.get("full_name")), _text(p.get("building_code"))
        rows.append({"n": i, "code": code, "level": level, "parent": parent, "label": label or "",
                     "number": number, "full": full, "building": building, "aliases": aliases,
                     "x": float(shapely.get_x(geom)), "y": float(shapely.get_y(geom))})  # fmt: skip
    return rows


def _resolve_parents(conn: sa.Connection, rows: list[dict[str, Any]], report: ImportReport) -> None:
    """Check each parent is of the level above (in the file or stored); build full names top-down."""
    stored = {
        r.code: (r.level, r.full_name)
        for r in conn.execute(
            sa.text("SELECT code, level, full_name FROM address WHERE code = ANY(:c)"),
            {"c": [r["parent"] for r in rows if r["parent"]]},
        )
    }
    known = dict(stored)
    for r in sorted(rows, key=lambda r: _RANK[r["level"]]):
        if r["parent"] is not None:
            level, full = known.get(r["parent"], (None, None))
            if level not in PARENTS[r["level"]]:
                why = f"a {r['level']}'s parent must be a {' or '.join(PARENTS[r['level']])}: "
                why += f"{r['parent']} is {level or 'not an address'}"
                report.rejected.append({"feature": r["n"], "code": r["code"], "reason": why})
                continue
            r["full"] = r["full"] or f"{full}{r['label']}"
        r["full"] = r["full"] or r["label"]
        r["search"] = normalize(r["label"] if r["level"] == "road" else r["full"])  # a road: its name
        r["grams"] = grams(normalize(r["label"])) if r["level"] == "road" else None
        known[r["code"]] = (r["level"], r["full"])
