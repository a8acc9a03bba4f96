"""People and organisations from the files districts keep: Excel (.xlsx) and CSV registers.

Grid workers with their grids and phones, departments, residents (实有人口) with their
households in buildings, and units (实有单位: shops, enterprises, schools …) in their buildings
(`register_units`); reading and reporting are in `register_base`. Every row is checked
before anything is written (an ID number by its GB 11643 check digit and birth date, a phone
by its form, a grid or building by its code, a key not repeated): a file with any bad row
stores nothing, and the report names each row (as numbered in the sheet, the header being
row 1), column and problem. Otherwise rows are matched on their key (a worker's or
department's code, a resident's ID number) and only new or changed ones are written, so
importing the same file again changes nothing. Residents' gender and birth date come from
their ID numbers; each is placed at their building (issue 22's standard addresses will take
its place).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from gis_core.ingest.bulk import copy_rows
from gis_core.ingest.identity import id_number_problem, phone_problem
from gis_core.ingest.register_base import (
    _SPLIT,
    HEADERS,
    LEVEL_WORDS,
    NO,
    RESIDENCY_WORDS,
    YES,
    RegisterKind,
    RegisterRejected,
    RegisterReport,
    known,
    read_register,
    required,
    unique,
)
from gis_core.ingest.register_units import check_units, store_units
from gis_core.platform.sealed_columns import SEALED, seal_rows
from gis_core.platform.sealing import sealer

__all__ = ["REGISTERS", "RegisterRejected", "RegisterReport", "import_register"]


# ---------------------------------------------------------------- grid workers
def _check_workers(
    conn: sa.Connection, rows: list[tuple[int, dict[str, str]]], report: RegisterReport
) -> list[dict[str, Any]]:
    unique(rows, "code", report)
    grids = known(conn, "grid", {g for _, r in rows for g in _SPLIT.split(r.get("grids", "")) if g})
    out = []
    for n, r in rows:
        if r.get("phone") and (why := phone_problem(r["phone"])):
            report.bad(n, "phone", r["phone"], why)
        codes = [g for g in _SPLIT.split(r.get("grids", "")) if g]
        for g in codes:
            if g not in grids:
                report.bad(n, "grids", g, "no grid has this code")
        active = r.get("active", "").lower()
        if active and active not in YES | NO:
            report.bad(n, "active", r["active"], "是 or 否")
        out.append(
            {
                "code": r["code"],
                "name": r["name"],
                "phone": r["phone"],
                "active": active not in NO,
                "grid_ids": [grids[g] for g in codes if g in grids],
            }
        )
    return out


def _store_workers(conn: sa.Connection, rows: list[dict[str, Any]], report: RegisterReport) -> None:
    before = {
        r.code: (r.name, r.phone, r.active, list(r.grid_ids or []))
        for r in conn.execute(
            sa.text(
                "SELECT w.code, w.name, w.phone, w.active, "
                "array_agg(wg.grid_id ORDER BY NOT wg.is_primary, wg.grid_id) "
                "FILTER (WHERE wg.grid_id IS NOT NULL) AS grid_ids FROM worker w "
                "LEFT JOIN worker_grid wg ON wg.worker_id = w.id WHERE w.code = ANY(:c) GROUP BY w.id"
            ),
            {"c": [r["code"] for r in rows]},
        )
    }
    for r in rows:
        primary_first = [r["grid_ids"][0], *sorted(r["grid_ids"][1:])] if r["grid_ids"] else []
        now = (r["name"], r["phone"], r["active"], primary_first)
        if before.get(r["code"]) == now:
            report.unchanged += 1
            continue
        worker = conn.execute(
            sa.text(
                "INSERT INTO worker (code, name, phone, active) VALUES (:code, :name, :phone, :active) "
                "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, phone = EXCLUDED.phone, "
                "active = EXCLUDED.active "
                "RETURNING id"
            ),
            r,
        ).scalar_one()
        conn.execute(sa.text("DELETE FROM worker_grid WHERE worker_id = :w"), {"w": worker})
        conn.execute(
            sa.text(
                "INSERT INTO worker_grid (worker_id, grid_id, is_primary) "
                "SELECT :w, g, n = 1 FROM unnest(CAST(:g AS int[])) WITH ORDINALITY AS x(g, n)"
            ),
            {"w": worker, "g": primary_first},
        )
        if r["code"] in before:
            report.updated += 1
        else:
            report.inserted += 1


# ---------------------------------------------------------------- departments
def _check_departments(
    conn: sa.Connection, rows: list[tuple[int, dict[str, str]]], report: RegisterReport
) -> list[dict[str, Any]]:
    unique(rows, "code", report)
    out = []
    for n, r in rows:
        level = LEVEL_WORDS.get(r["level"])
        if level is None:
            report.bad(n, "level", r["level"], "网格, 社区, 街道 or 区 (grid, community, street, district)")
        out.append({"code": r["code"], "name": r["name"], "level": level})
    return out


def _store_departments(conn: sa.Connection, rows: list[dict[str, Any]], report: RegisterReport) -> None:
    for r in rows:
        done = conn.execute(
            sa.text(
                "INSERT INTO department (code, name, level) VALUES (:code, :name, :level) "
                "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, level = EXCLUDED.level "
                "WHERE (department.name, department.level) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.level) "
                "RETURNING xmax = 0 AS inserted"
            ),
            r,
        ).first()
        report.tally(done)


# ---------------------------------------------------------------- residents
def _check_residents(
    conn: sa.Connection, rows: list[tuple[int, dict[str, str]]], report: RegisterReport
) -> list[dict[str, Any]]:
    unique(rows, "id_number", report)
    buildings = known(conn, "building", {r["building"] for _, r in rows if r.get("building")})
    out = []
    for n, r in rows:
        number = r["id_number"].upper()
        if why := id_number_problem(number):
            report.bad(n, "id_number", r["id_number"], why)
            continue
        if r.get("phone") and (why := phone_problem(r["phone"])):
            report.bad(n, "phone", r["phone"], why)
        if r["building"] not in buildings:
            report.bad(n, "building", r["building"], "no building has this code")
        residency = RESIDENCY_WORDS.get(r.get("residency") or "户籍")
        if residency is None:
            report.bad(n, "residency", r["residency"], "户籍 or 流动 (resident, floating)")
        out.append(
            {
                "id_number": number,
                "name": r["name"],
                "phone": r.get("phone") or None,
                "building": r["building"],
                "household_no": r["household_no"],
                "residency": residency,
                "gender": "M" if int(number[16]) % 2 else "F",
                "birth_date": f"{number[6:10]}-{number[10:12]}-{number[12:14]}",
            }
        )
    return out


_PERSON_COLUMNS = (
    "id_number",
    "name",
    "phone",
    "building",
    "household_no",
    "residency",
    "gender",
    "birth_date",
)
_UPSERT_PERSONS = """
WITH up AS (
    INSERT INTO person (building_id, household_no, name, id_number_sealed, id_number_digest, phone_sealed,
                        phone_digest, gender, birth_date, residency, geom)
    SELECT b.id, t.household_no, t.name, t.id_number_sealed, t.id_number_digest, t.phone_sealed,
           t.phone_digest, t.gender, t.birth_date, t.residency, ST_PointOnSurface(b.geom)
    FROM register_in t JOIN building b ON b.code = t.building
    ON CONFLICT (id_number_digest) DO UPDATE SET building_id = EXCLUDED.building_id,
        household_no = EXCLUDED.household_no, name = EXCLUDED.name, phone_sealed = EXCLUDED.phone_sealed,
        phone_digest = EXCLUDED.phone_digest, residency = EXCLUDED.residency, geom = EXCLUDED.geom
    WHERE (person.building_id, person.household_no, person.name, person.phone_digest, person.residency)
          IS DISTINCT FROM (EXCLUDED.building_id, EXCLUDED.household_no, EXCLUDED.name, EXCLUDED.phone_digest,
                            EXCLUDED.residency)
    RETURNING xmax = 0 AS inserted
)
SELECT count(*) FILTER (WHERE inserted) AS inserted, count(*) FILTER (WHERE NOT inserted) AS updated FROM up
"""


def _store_residents(conn: sa.Connection, rows: list[dict[str, Any]], report: RegisterReport) -> None:
    """COPY the register into a scratch table (ID numbers and phones already sealed), then upsert."""
    columns, sealed = seal_rows(
        sealer(), _PERSON_COLUMNS, ([r[c] for c in _PERSON_COLUMNS] for r in rows), SEALED["person"]
    )
    conn.execute(
        sa.text(
            "CREATE TEMP TABLE register_in (id_number_sealed bytea, id_number_digest bytea, name text, "
            "phone_sealed bytea, phone_digest bytea, building text, household_no text, residency text, "
            "gender char(1), birth_date date) ON COMMIT DROP"
        )
    )
    copy_rows(conn.connection.driver_connection, "register_in", columns, sealed)  # 220,000 rows: COPY
    done = conn.execute(sa.text(_UPSERT_PERSONS)).one()
    report.inserted, report.updated = int(done.inserted), int(done.updated)
    report.unchanged = len(rows) - report.inserted - report.updated


REGISTERS: dict[str, RegisterKind] = {
    "worker": RegisterKind(
        ("code", "name", "phone", "grids", "active"),
        ("code", "name", "phone", "grids"),
        _check_workers,
        _store_workers,
    ),
    "department": RegisterKind(
        ("code", "name", "level"), ("code", "name", "level"), _check_departments, _store_departments
    ),
    "resident": RegisterKind(
        ("id_number", "name", "phone", "building", "household_no", "residency"),
        ("id_number", "name", "building", "household_no"),
        _check_residents,
        _store_residents,
    ),
    "unit": RegisterKind(
        ("code", "name", "kind", "building", "industry", "contact", "phone", "employees"),
        ("code", "name", "kind", "building"),
        check_units,
        store_units,
    ),
}


def import_register(engine: sa.Engine, path: Path, kind: str) -> RegisterReport:
    """Check every row of a register, then store it all in one transaction, or nothing (RegisterRejected)."""
    spec = REGISTERS[kind]
    report = RegisterReport(kind=kind, file=path.name)
    rows = read_register(path, spec.fields, report)
    if not rows:
        report.bad(
            1, "", "", f"no rows under a header with {', '.join(HEADERS[f][0] for f in spec.required)}"
        )
        raise RegisterRejected(report)
    required(rows, spec.required, report)
    with engine.begin() as conn:
        checked = spec.check(conn, rows, report)
        if report.problems:
            report.problems.sort(key=lambda p: (p["row"], p["column"]))
            raise RegisterRejected(report)
        spec.store(conn, checked, report)
    return report
