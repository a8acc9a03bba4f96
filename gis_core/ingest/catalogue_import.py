"""A district's own incident catalogue from a JSON file (the shape of data/catalogue.json).

`{"departments": [{code, name, level}], "majors": [{code, name, name_en?, items: [{code, name,
name_en?, handling_level, department, accept_hours, dispatch_hours, handle_hours}]}]}`. All or
nothing: every department and item is checked first and the report names each problem by its
place in the file (`majors[3].items[2].handle_hours`). Rows are matched on code and only changed
ones written; a changed item's routing or deadlines become a new version (migration 0024), which
incidents reported before keep out of.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from gis_core.incidents.categories import MAX_HOURS
from gis_core.incidents.workflow import LEVELS
from gis_core.ingest.registers import RegisterRejected, RegisterReport

_UPSERT_DEPARTMENT = """
INSERT INTO department (code, name, level) VALUES (:code, :name, :level)
ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, level = EXCLUDED.level
WHERE (department.name, department.level) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.level)
RETURNING xmax = 0 AS inserted
"""
_UPSERT_ITEM = """
INSERT INTO category (code, major_code, major_name, major_name_en, name, name_en, handling_level,
                      department_code, accept_hours, dispatch_hours, handle_hours)
VALUES (:code, :major_code, :major_name, :major_name_en, :name, :name_en, :handling_level, :department,
        :accept_hours, :dispatch_hours, :handle_hours)
ON CONFLICT (code) DO UPDATE SET major_code = EXCLUDED.major_code, major_name = EXCLUDED.major_name,
    major_name_en = EXCLUDED.major_name_en, name = EXCLUDED.name, name_en = EXCLUDED.name_en,
    handling_level = EXCLUDED.handling_level, department_code = EXCLUDED.department_code,
    accept_hours = EXCLUDED.accept_hours, dispatch_hours = EXCLUDED.dispatch_hours,
    handle_hours = EXCLUDED.handle_hours
WHERE (category.major_code, category.major_name, category.major_name_en, category.name, category.name_en,
       category.handling_level, category.department_code, category.accept_hours, category.dispatch_hours,
       category.handle_hours) IS DISTINCT FROM
      (EXCLUDED.major_code, EXCLUDED.major_name, EXCLUDED.major_name_en, EXCLUDED.name, EXCLUDED.name_en,
       EXCLUDED.handling_level, EXCLUDED.department_code, EXCLUDED.accept_hours, EXCLUDED.dispatch_hours,
       EXCLUDED.handle_hours)
RETURNING xmax = 0 AS inserted
"""


def _items(doc: dict[str, Any], known: set[str], report: RegisterReport) -> list[dict[str, Any]]:
    out = []
    seen: set[str] = set()
    for m, major in enumerate(doc.get("majors") or []):
        for k, it in enumerate(major.get("items") or []):
            at = f"majors[{m}].items[{k}]"
            code = str(it.get("code", ""))
            if len(code) != 4 or not code.isdigit() or code[:2] != str(major.get("code")):
                report.bad(0, f"{at}.code", code, "4 digits starting with the class's 2")
            if code in seen:
                report.bad(0, f"{at}.code", code, "twice in the file")
            seen.add(code)
            if it.get("handling_level") not in LEVELS:
                report.bad(0, f"{at}.handling_level", it.get("handling_level"), f"one of {', '.join(LEVELS)}")
            if it.get("department") not in known:
                report.bad(0, f"{at}.department", it.get("department"), "no such department")
            for stage in ("accept_hours", "dispatch_hours", "handle_hours"):
                v = it.get(stage)
                if not isinstance(v, int | float) or not 0 < v <= MAX_HOURS:
                    report.bad(0, f"{at}.{stage}", v, f"hours, more than 0 and at most {MAX_HOURS}")
            out.append(
                {
                    "major_code": str(major.get("code")),
                    "major_name": major.get("name", ""),
                    "major_name_en": major.get("name_en", ""),
                    "name_en": "",
                    **it,
                    "code": code,
                }
            )
    return out


def import_catalogue(engine: sa.Engine, path: Path) -> RegisterReport:
    """Store the file's departments and items, or nothing (RegisterRejected with every problem)."""
    report = RegisterReport(kind="catalogue", file=path.name)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        report.bad(0, "", "", f"not JSON: {exc}")
        raise RegisterRejected(report) from None
    departments = doc.get("departments") or []
    for k, d in enumerate(departments):
        if d.get("level") not in LEVELS or not d.get("code") or not d.get("name"):
            report.bad(0, f"departments[{k}]", d.get("code"), f"code, name and a level ({', '.join(LEVELS)})")
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT set_config('onegrid.actor', :a, true)"), {"a": f"import:{path.name}"})
        known = {d.get("code") for d in departments} | set(
            conn.execute(sa.text("SELECT code FROM department")).scalars()
        )
        items = _items(doc, known, report)
        report.rows = len(departments) + len(items)
        if report.problems or not items:
            if not items:
                report.bad(0, "majors", "", "no items")
            raise RegisterRejected(report)
        for sql, rows in ((_UPSERT_DEPARTMENT, departments), (_UPSERT_ITEM, items)):
            for row in rows:
                report.tally(conn.execute(sa.text(sql), row).first())
    return report
