"""Registers from the files districts keep (.xlsx, .csv): grid workers, departments, residents.

All or nothing with a row-by-row report; a second import of the same file changes nothing.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import uuid

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from gis_core.ingest.identity import id_number_problem, phone_problem
from gis_core.ingest.registers import RegisterRejected, import_register
from gis_core.platform.sealing import sealer
from tests.conftest import opened

#: The worked example of GB 11643-1999 (a citizen ID number whose check character is X).
STANDARD_EXAMPLE = "11010519491231002X"


def id_number(region: str, born: str, serial: int) -> str:
    """A valid ID number: 6-digit region, yyyymmdd, 3-digit serial, and the check character."""
    body = f"{region}{born}{serial:03d}"
    weights = [2 ** (17 - i) % 11 for i in range(17)]  # the standard's weights, W_i = 2^(i-1) mod 11
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def write(path, header, rows):
    if path.suffix == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as f:
            csv.writer(f).writerows([header, *rows])
    else:
        book = Workbook(write_only=True)
        sheet = book.create_sheet("名册")
        for row in [header, *rows]:
            sheet.append(row)
        book.save(path)
    return path


@pytest.fixture(scope="module")
def place(engine):
    with engine.connect() as c:
        return c.execute(
            sa.text(
                "SELECT (SELECT array_agg(code ORDER BY code) FROM (SELECT code FROM grid ORDER BY code LIMIT 3) g) AS grids, "
                "(SELECT array_agg(code ORDER BY code) FROM (SELECT code FROM building ORDER BY code LIMIT 2) b) AS buildings"
            )
        ).one()


def test_the_checks_are_the_standards():
    assert id_number_problem(STANDARD_EXAMPLE) is None
    assert id_number(STANDARD_EXAMPLE[:6], STANDARD_EXAMPLE[6:14], 2) == STANDARD_EXAMPLE  # the helper agrees
    assert "check digit" in id_number_problem("110105194912310021")
    assert "date of birth" in id_number_problem(id_number("110105", "19490231", 2))
    assert id_number_problem("1101051949123100") is not None
    assert phone_problem("13912345678") is None and phone_problem("0415-2123456") is None
    assert phone_problem("1391234567") and phone_problem("23912345678")


def _forget(engine, table: str, column: str, prefix: str) -> None:
    """Remove what a test imported, so that the shared district is as the demo made it."""
    with engine.begin() as c:
        c.execute(sa.text(f"DELETE FROM {table} WHERE {column} LIKE :p"), {"p": prefix + "%"})


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_workers_with_their_grids_and_a_second_import_changes_nothing(
    engine, tmp_path, place, suffix, request
):
    tag = uuid.uuid4().hex[:5].upper()
    codes = [f"R{tag}{k}" for k in range(3)]
    request.addfinalizer(lambda: _forget(engine, "worker", "code", f"R{tag}"))
    header = ["编号", "姓名", "电话", "网格", "在岗"]
    rows = [
        [codes[0], "赵一", "13900000001", place.grids[0], "是"],
        [codes[1], "钱二", "0415-2123456", f"{place.grids[1]}、{place.grids[2]}", "是"],
        [codes[2], "孙三", "13900000003", place.grids[2], "否"],
    ]
    first = import_register(engine, write(tmp_path / f"w{suffix}", header, rows), "worker")
    assert (first.rows, first.inserted, first.updated, first.unchanged) == (3, 3, 0, 0)
    again = import_register(engine, write(tmp_path / f"w2{suffix}", header, rows), "worker")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    rows[1][2] = "13900000002"  # a new phone, and the second grid first
    rows[1][3] = f"{place.grids[2]},{place.grids[1]}"
    changed = import_register(engine, write(tmp_path / f"w3{suffix}", header, rows), "worker")
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 1, 2)
    with engine.connect() as c:
        got = c.execute(
            sa.text(
                "SELECT w.code, w.phone, w.active, array_agg(g.code ORDER BY NOT wg.is_primary, g.code) AS grids "
                "FROM worker w JOIN worker_grid wg ON wg.worker_id = w.id JOIN grid g ON g.id = wg.grid_id "
                "WHERE w.code = ANY(:c) GROUP BY w.id ORDER BY w.code"
            ),
            {"c": codes},
        ).all()
    assert [tuple(r) for r in got] == [
        (codes[0], "13900000001", True, [place.grids[0]]),
        (codes[1], "13900000002", True, [place.grids[2], place.grids[1]]),
        (codes[2], "13900000003", False, [place.grids[2]]),
    ]


def test_a_register_with_bad_rows_stores_nothing_and_names_each_row(engine, tmp_path, place):
    tag = uuid.uuid4().hex[:5].upper()
    bad_id = STANDARD_EXAMPLE[:17] + "1"
    header = ["身份证号", "姓名", "电话", "楼栋", "户号", "居住类型"]
    rows = [
        [id_number("210602", "19800101", 11), "周一", "13900000011", place.buildings[0], f"H{tag}1", "户籍"],
        [bad_id, "吴二", "", place.buildings[0], f"H{tag}1", "户籍"],
        [id_number("210602", "19800101", 12), "郑三", "1234", "NO-SUCH-BUILDING", f"H{tag}2", "流动"],
        [id_number("210602", "19800101", 11), "王四", "", place.buildings[1], f"H{tag}3", "常住人口"],
    ]
    with engine.connect() as c:
        before = c.execute(sa.text("SELECT count(*) FROM person")).scalar()
    with pytest.raises(RegisterRejected) as refused:
        import_register(engine, write(tmp_path / "r.xlsx", header, rows), "resident")
    problems = [(p["row"], p["column"]) for p in refused.value.report.problems]
    assert problems == [(3, "id_number"), (4, "building"), (4, "phone"), (5, "id_number"), (5, "residency")]
    assert "also on row 2" in refused.value.report.problems[3]["problem"]
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM person")).scalar() == before

    workers = [
        ["编号", "姓名", "电话", "网格"],
        [f"B{tag}", "甲", "13900000000", "000000000000000"],
        [f"B{tag}", "乙", "13900000000", place.grids[0]],
    ]
    with pytest.raises(RegisterRejected) as refused:
        import_register(engine, write(tmp_path / "w.csv", workers[0], workers[1:]), "worker")
    assert [(p["row"], p["column"]) for p in refused.value.report.problems] == [(2, "grids"), (3, "code")]
    with engine.connect() as c:
        assert (
            c.execute(sa.text("SELECT count(*) FROM worker WHERE code = :c"), {"c": f"B{tag}"}).scalar() == 0
        )


def test_residents_are_placed_in_their_buildings_with_gender_and_birth_from_the_number(
    engine, tmp_path, place, request
):
    tag = uuid.uuid4().hex[:5].upper()
    woman, man = id_number("210602", "19760315", 22), id_number("210602", "19950704", 31)
    header = ["身份证号", "姓名", "电话", "楼栋", "户号", "居住类型"]
    rows = [
        [woman, "李桂兰", "13900000021", place.buildings[0], f"H{tag}", "户籍"],
        [man, "张伟", "", place.buildings[0], f"H{tag}", "流动"],
    ]
    request.addfinalizer(
        lambda: _forget(engine, "person", "household_no", f"H{tag}")
    )  # the shared district as it was
    first = import_register(engine, write(tmp_path / "r.csv", header, rows), "resident")
    assert (first.inserted, first.updated, first.unchanged) == (2, 0, 0)
    assert import_register(engine, write(tmp_path / "r2.csv", header, rows), "resident").unchanged == 2
    rows[1][3] = place.buildings[1]  # moved house
    moved = import_register(engine, write(tmp_path / "r3.csv", header, rows), "resident")
    assert (moved.inserted, moved.updated, moved.unchanged) == (0, 1, 1)
    with engine.connect() as c:
        got = c.execute(
            sa.text(
                "SELECT p.id_number_sealed, p.gender, p.birth_date::text, p.residency, b.code, "
                "ST_Contains(b.geom, p.geom) AS inside, p.grid_id = b.grid_id AS anchored "
                "FROM person p JOIN building b ON b.id = p.building_id "
                "WHERE p.id_number_digest = ANY(:n) ORDER BY p.birth_date"
            ),
            {"n": [sealer().digest(woman), sealer().digest(man)]},
        ).all()
    assert [(opened(r[0]), *r[1:]) for r in got] == [
        (woman, "F", "1976-03-15", "resident", place.buildings[0], True, True),
        (man, "M", "1995-07-04", "floating", place.buildings[1], True, True),
    ]


def test_departments_and_the_command_line(db_url, engine, tmp_path):
    code = f"dept_{uuid.uuid4().hex[:5]}"
    path = write(tmp_path / "d.csv", ["编码", "名称", "层级"], [[code, "区水务局", "区"]])

    def onegrid(*args):
        return subprocess.run(
            [sys.executable, "-m", "gis_core.cli", "import", *args],
            capture_output=True,
            text=True,
            check=False,
            env={"ONEGRID_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin"},
        )

    r = onegrid(str(path), "--as", "department")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["inserted"] == 1
    with engine.connect() as c:
        assert c.execute(
            sa.text("SELECT name, level FROM department WHERE code = :c"), {"c": code}
        ).one() == ("区水务局", "district")
    bad = write(tmp_path / "d2.csv", ["编码", "名称", "层级"], [[code, "区水务局", "市"]])
    r = onegrid(str(bad), "--as", "department")
    assert r.returncode == 1 and json.loads(r.stdout)["problems"][0] == {
        "row": 2,
        "column": "level",
        "value": "市",
        "problem": "网格, 社区, 街道 or 区 (grid, community, street, district)",
    }


def test_units_are_placed_in_their_buildings_and_a_bad_kind_stores_nothing(engine, tmp_path, place, request):
    tag = uuid.uuid4().hex[:5].upper()
    request.addfinalizer(lambda: _forget(engine, "unit", "code", f"U{tag}"))
    header = ["编码", "名称", "类型", "楼栋", "行业", "联系人", "联系电话", "从业人数"]
    rows = [
        [f"U{tag}1", "兴东便民超市", "商铺", place.buildings[0], "零售", "刘店长", "13900000041", "6"],
        [f"U{tag}2", "元宝区第二小学", "学校", place.buildings[1], "教育", "", "0415-2123456", "80"],
    ]
    first = import_register(engine, write(tmp_path / "u.xlsx", header, rows), "unit")
    assert (first.inserted, first.updated, first.unchanged) == (2, 0, 0)
    assert import_register(engine, write(tmp_path / "u2.csv", header, rows), "unit").unchanged == 2
    with engine.connect() as c:
        got = c.execute(
            sa.text(
                "SELECT u.code, u.kind, u.employees, b.code, ST_Contains(b.geom, u.geom), u.grid_id = b.grid_id "
                "FROM unit u JOIN building b ON b.id = u.building_id WHERE u.code LIKE :p ORDER BY u.code"
            ),
            {"p": f"U{tag}%"},
        ).all()
    assert [tuple(r) for r in got] == [
        (f"U{tag}1", "shop", 6, place.buildings[0], True, True),
        (f"U{tag}2", "school", 80, place.buildings[1], True, True),
    ]
    rows[0][2], rows[1][7] = "饭店", "很多"
    with pytest.raises(RegisterRejected) as refused:
        import_register(engine, write(tmp_path / "u3.csv", header, rows), "unit")
    assert [(p["row"], p["column"]) for p in refused.value.report.problems] == [(2, "kind"), (3, "employees")]
    with engine.connect() as c:
        kinds = c.execute(
            sa.text("SELECT kind FROM unit WHERE code LIKE :p ORDER BY code"), {"p": f"U{tag}%"}
        )
        assert kinds.scalars().all() == ["shop", "school"]  # nothing stored
