"""Registers at a district's size: 1,065 grid workers and 220,000 residents from .xlsx (budget: 60 s)."""

from __future__ import annotations

import time
from datetime import date, timedelta

import sqlalchemy as sa
from openpyxl import Workbook

from gis_core.ingest.registers import import_register
from tests.bench.conftest import record
from tests.test_registers import id_number


def _xlsx(path, header, rows):
    book = Workbook(write_only=True)
    sheet = book.create_sheet("名册")
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_workers_and_residents_from_xlsx(bench_url, tmp_path):
    engine = sa.create_engine(bench_url)
    with engine.connect() as c:
        grids = c.execute(sa.text("SELECT code FROM grid ORDER BY code")).scalars().all()
        buildings = c.execute(sa.text("SELECT code FROM building ORDER BY code")).scalars().all()
    workers = _xlsx(
        tmp_path / "workers.xlsx",
        ["编号", "姓名", "电话", "网格", "在岗"],
        ([f"XW{k:05d}", f"网格员{k}", f"139{k:08d}", grids[k % len(grids)], "是"] for k in range(1065)),
    )
    start = date(1950, 1, 1)
    residents = _xlsx(
        tmp_path / "residents.xlsx",
        ["身份证号", "姓名", "电话", "楼栋", "户号", "居住类型"],
        (
            [
                id_number("210699", (start + timedelta(days=k // 900)).strftime("%Y%m%d"), k % 900 + 100),
                f"居民{k}",
                f"138{k:08d}",
                buildings[k % len(buildings)],
                f"XH{k // 3:06d}",
                "户籍" if k % 7 else "流动",
            ]
            for k in range(220_000)
        ),
    )
    out: dict[str, dict[str, float] | float] = {"file_mb": round(residents.stat().st_size / 1e6, 1)}
    try:
        for name, path, kind in (("workers", workers, "worker"), ("residents", residents, "resident")):
            t = time.perf_counter()
            report = import_register(engine, path, kind)
            out[name] = {
                "rows": report.rows,
                "inserted": report.inserted,
                "seconds": round(time.perf_counter() - t, 1),
            }
            t = time.perf_counter()
            again = import_register(engine, path, kind)
            out[f"{name}_again"] = {
                "unchanged": again.unchanged,
                "seconds": round(time.perf_counter() - t, 1),
            }
    finally:  # the district as it was, for the benchmarks after this one and a rerun
        with engine.begin() as c:
            c.execute(sa.text("DELETE FROM person WHERE household_no LIKE 'XH%'"))
            c.execute(sa.text("DELETE FROM worker WHERE code LIKE 'XW%'"))
        engine.dispose()
    record("registers_xlsx", out)
    assert out["residents"]["inserted"] == 220_000 and out["residents_again"]["unchanged"] == 220_000
    assert out["workers"]["seconds"] + out["residents"]["seconds"] < 60
