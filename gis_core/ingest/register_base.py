"""What every register shares: its headers, reading .xlsx and CSV, the row-by-row report, checks.

python-calamine reads .xlsx (a Rust reader: 220,000 rows in seconds), the csv module CSV.
Headers may be Chinese or English (`姓名` or `name`); row numbers are the sheet's (the header
is row 1), so a report's "row 5" is the row a clerk sees as 5.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from gis_core.incidents.workflow import LEVELS

#: Header names accepted for each field (Chinese as districts write them, or English).
HEADERS = {
    "code": ("编号", "编码", "code"),
    "name": ("姓名", "名称", "name"),
    "phone": ("电话", "联系电话", "手机", "phone"),
    "grids": ("网格", "网格编码", "grids"),
    "active": ("在岗", "active"),
    "level": ("层级", "level"),
    "id_number": ("身份证号", "公民身份号码", "id_number"),
    "building": ("楼栋", "楼栋编码", "building"),
    "household_no": ("户号", "household_no"),
    "residency": ("居住类型", "人口类型", "residency"),
    "kind": ("类型", "单位类型", "kind"),
    "industry": ("行业", "所属行业", "industry"),
    "contact": ("联系人", "负责人", "contact_name"),
    "employees": ("从业人数", "员工人数", "employees"),
}
LEVEL_WORDS = {"网格": "grid", "社区": "community", "街道": "street", "区": "district"} | {
    v: v for v in LEVELS
}
RESIDENCY_WORDS = {
    "户籍": "resident",
    "常住": "resident",
    "流动": "floating",
    "resident": "resident",
    "floating": "floating",
}
YES = {"是", "在岗", "true", "1", "yes"}
NO = {"否", "离岗", "false", "0", "no"}
_SPLIT = re.compile(r"[,，、;；\s]+")


@dataclass
class RegisterReport:
    """What an import did, or why it stored nothing."""

    kind: str
    file: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    def bad(self, row: int, column: str, value: Any, problem: str) -> None:
        """Note one problem of one row (row 1 is the header)."""
        self.problems.append({"row": row, "column": column, "value": value, "problem": problem})

    def tally(self, done: Any) -> None:
        """Count one upsert by what it returned: no row (unchanged), or whether it inserted."""
        if done is None:
            self.unchanged += 1
        elif done.inserted:
            self.inserted += 1
        else:
            self.updated += 1

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-able data (what the CLI prints)."""
        return dict(vars(self))


class RegisterRejected(Exception):
    """A register with bad rows: nothing was stored; the report names each row."""

    def __init__(self, report: RegisterReport):
        super().__init__(f"{len(report.problems)} problems in {report.file}")
        self.report = report


def _rows(path: Path) -> Iterator[list[Any]]:
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as f:
            yield from csv.reader(f)
        return
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(str(path))
    yield from book.get_sheet_by_index(0).to_python(skip_empty_area=True)


def _text(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))  # Excel keeps codes typed as numbers as floats
    return "" if v is None else str(v).strip()


def read_register(
    path: Path, fields: tuple[str, ...], report: RegisterReport
) -> list[tuple[int, dict[str, str]]]:
    """(sheet row number, {field: text}) for each non-empty row (the header is row 1)."""
    rows = _rows(path)
    header = [_text(h) for h in next(rows, [])]
    where: dict[str, int] = {}
    for f in fields:
        found = [i for i, h in enumerate(header) if h in HEADERS[f]]
        if found:
            where[f] = found[0]
    out = []
    for n, row in enumerate(rows, start=2):
        cells = {f: _text(row[i]) if i < len(row) else "" for f, i in where.items()}
        if any(cells.values()):
            out.append((n, cells))
    report.rows = len(out)
    return out


@dataclass(frozen=True)
class RegisterKind:
    """One kind of register: its fields (required first), how a row is checked, how rows are stored."""

    fields: tuple[str, ...]
    required: tuple[str, ...]
    check: Callable[[sa.Connection, list[tuple[int, dict[str, str]]], RegisterReport], list[dict[str, Any]]]
    store: Callable[[sa.Connection, list[dict[str, Any]], RegisterReport], None]


def known(conn: sa.Connection, table: str, codes: set[str]) -> dict[str, int]:
    """Which of `codes` exist in `table` (our own table name), with their ids."""
    rows = conn.execute(sa.text(f"SELECT code, id FROM {table} WHERE code = ANY(:c)"), {"c": sorted(codes)})  # noqa: S608
    return {r.code: r.id for r in rows}


def unique(rows: list[tuple[int, dict[str, str]]], key: str, report: RegisterReport) -> None:
    """Report each row whose `key` an earlier row has already."""
    seen: dict[str, int] = {}
    for n, r in rows:
        if r[key] and r[key] in seen:
            report.bad(n, key, r[key], f"also on row {seen[r[key]]}")
        seen.setdefault(r[key], n)


def required(rows: list[tuple[int, dict[str, str]]], fields: tuple[str, ...], report: RegisterReport) -> None:
    """Report each empty cell of a required field."""
    for n, r in rows:
        for f in fields:
            if not r.get(f):
                report.bad(n, f, "", "required")
