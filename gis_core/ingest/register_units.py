"""Units (实有单位) from a register: shops, enterprises, institutions, schools, clinics, social organisations.

Each in its building, with a contact person and phone; keyed on the unit's code. A unit is
placed inside its building (its grid, community and street follow by the anchor trigger).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from gis_core.ingest.identity import phone_problem
from gis_core.ingest.register_base import RegisterReport, known, unique

KIND_WORDS = {
    "商铺": "shop", "门店": "shop", "个体工商户": "shop", "企业": "enterprise", "机关": "institution",
    "事业单位": "institution", "机关事业": "institution", "学校": "school", "医疗": "medical",
    "医疗机构": "medical", "诊所": "medical", "社会组织": "social_org",
} | {k: k for k in ("shop", "enterprise", "institution", "school", "medical", "social_org")}  # fmt: skip


_KINDS_ZH = "、".join(k for k, v in KIND_WORDS.items() if k != v)


def check_units(
    conn: sa.Connection, rows: list[tuple[int, dict[str, str]]], report: RegisterReport
) -> list[dict[str, Any]]:
    """Each row's unit, or a problem per bad cell: kind, building, phone, employees."""
    unique(rows, "code", report)
    buildings = known(conn, "building", {r["building"] for _, r in rows if r.get("building")})
    out = []
    for n, r in rows:
        kind = KIND_WORDS.get(r.get("kind", ""))
        if kind is None:
            report.bad(n, "kind", r.get("kind"), f"one of {_KINDS_ZH}")
        if r.get("building") and r["building"] not in buildings:
            report.bad(n, "building", r["building"], "no building has this code")
        if r.get("phone") and (why := phone_problem(r["phone"])):
            report.bad(n, "phone", r["phone"], why)
        employees = r.get("employees") or "0"
        if not employees.isdigit():
            report.bad(n, "employees", employees, "a whole number of people")
        out.append(
            {
                "code": r["code"],
                "name": r["name"],
                "kind": kind,
                "industry": r.get("industry") or "",
                "building": r.get("building"),
                "contact": r.get("contact") or None,
                "phone": r.get("phone") or None,
                "employees": int(employees) if employees.isdigit() else 0,
            }
        )
    return out


_UPSERT = sa.text(
    """
    INSERT INTO unit AS u (code, name, kind, industry, building_id, contact_name, contact_phone, employees,
                           geom)
    SELECT :code, :name, :kind, :industry, b.id, :contact, :phone, :employees, ST_PointOnSurface(b.geom)
    FROM building b WHERE b.code = :building
    ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, industry = EXCLUDED.industry,
        building_id = EXCLUDED.building_id, contact_name = EXCLUDED.contact_name,
        contact_phone = EXCLUDED.contact_phone, employees = EXCLUDED.employees, geom = EXCLUDED.geom
    WHERE (u.name, u.kind, u.industry, u.building_id, u.contact_name, u.contact_phone, u.employees)
          IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.kind, EXCLUDED.industry, EXCLUDED.building_id,
                            EXCLUDED.contact_name, EXCLUDED.contact_phone, EXCLUDED.employees)
    RETURNING xmax = 0 AS inserted
    """
)


def store_units(conn: sa.Connection, rows: list[dict[str, Any]], report: RegisterReport) -> None:
    """Insert new units, update changed ones, leave the rest (a district has thousands, not 220,000)."""
    for r in rows:
        report.tally(conn.execute(_UPSERT, r).first())
