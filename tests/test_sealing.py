"""Residents' ID numbers and phones sealed at rest: a dump holds neither, search and rotation still work."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import sqlalchemy as sa

from gis_core.platform.db import alembic_config
from gis_core.platform.sealed_columns import rotate
from gis_core.platform.sealing import ConfigError, Sealer, new_key, sealer
from tests.conftest import assert_problem, opened
from tests.test_backup import scratch_db  # noqa: F401 - a fixture
from tests.test_registers import id_number


def residents(engine) -> list[tuple[int, str, str | None]]:
    with engine.connect() as c:
        got = c.execute(sa.text("SELECT id, id_number_sealed, phone_sealed FROM person ORDER BY id")).all()
    return [(pid, opened(idn), opened(phone)) for pid, idn, phone in got]


def test_a_dump_of_the_database_holds_no_id_number_or_phone_in_clear(engine, db_url, settings, tmp_path):
    people = residents(engine)
    numbers = {idn for _, idn, _ in people}
    phones = {p for _, _, p in people if p}
    assert len(numbers) == len(people) > 1000 and len(phones) > 500
    dump = tmp_path / "plain.sql"
    url = sa.engine.make_url(db_url)
    done = subprocess.run(
        [str(settings.pg_bin / "pg_dump"), "--no-owner", "-h", url.host or "", "-p", str(url.port),
         "-U", url.username or "", "-d", url.database or "", "-f", str(dump)],
        capture_output=True, text=True, check=False, env={"PGPASSWORD": url.password or ""},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = dump.read_text()
    assert "COPY public.person" in text  # the residents are in the dump, only not readable
    in_dump = set(re.findall(r"(?<![0-9])[0-9]{17}[0-9X](?![0-9])", text))
    assert in_dump & numbers == set()
    assert set(re.findall(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])", text)) & phones == set()
    # nor in the reversible 'masked' shape that, with a birth date, would give the number back
    assert not any(f"{n[:4]}**********{n[-4:]}" in text for n in list(numbers)[:200])


def test_exact_search_by_id_number_finds_the_person_for_those_who_may_see_it(client, auth, engine):
    pid, idn, phone = next(p for p in residents(engine) if p[2])
    for spelling in (idn, idn.lower(), f" {idn} "):
        found = client.get("/collections/persons/items", params={"id_number": spelling}, headers=auth())
        assert found.status_code == 200, found.text
        assert [(f["id"], f["properties"]["id_number"]) for f in found.json()["features"]] == [(pid, idn)]
    by_phone = client.get("/collections/persons/items", params={"phone": phone}, headers=auth()).json()
    assert pid in [f["id"] for f in by_phone["features"]]
    other = id_number("210602", "19000101", 999)
    assert (
        client.get("/collections/persons/items", params={"id_number": other}, headers=auth()).json()[
            "numberMatched"
        ]
        == 0
    )
    # a role that sees ID numbers masked may not probe for one
    assert_problem(
        client.get("/collections/persons/items", params={"id_number": idn}, headers=auth("planner")), 403
    )
    masked = client.get(f"/collections/persons/items/{pid}", headers=auth("planner")).json()["properties"]
    assert masked["id_number"] == idn[:4] + "*" * 10 + idn[-4:]
    assert_problem(
        client.get("/collections/persons/items", params={"sortby": "id_number"}, headers=auth()), 400
    )


def test_rotating_the_key_keeps_every_record_readable_and_findable(engine):
    people = {pid: (idn, phone) for pid, idn, phone in residents(engine)}
    current = sealer()
    fresh, digest_key = new_key(), new_key()
    rotating = Sealer([fresh, *_file_keys()], digest_key)  # new key first, old still opens; new digest key
    with engine.connect() as c:
        tx = c.begin()
        try:
            # a hotline caller's phone is sealed like a resident's (issue 22): it rotates with them
            c.execute(
                sa.text(
                    "INSERT INTO hotline_case (case_number, received_at, caller_phone_sealed, caller_phone_digest, "
                    "address_text, category_code, request_hash, state) "
                    "VALUES ('ROTATE-1', now(), :s, :d, '某地', '0101', repeat('0', 64), 'unplaced')"
                ),
                dict(zip(("s", "d"), current.seal_and_digest("13800000000"), strict=True)),
            )
            cases = c.execute(sa.text("SELECT count(*) FROM hotline_case")).scalar_one()
            done = rotate(c, rotating)
            assert done == {"person": len(people), "hotline_case": cases}
            after = Sealer([fresh], digest_key)
            phone = c.execute(
                sa.text("SELECT caller_phone_sealed FROM hotline_case WHERE case_number = 'ROTATE-1'")
            ).scalar_one()
            assert after.open(phone) == "13800000000"
            rows = c.execute(sa.text("SELECT id, id_number_sealed, phone_sealed FROM person")).all()
            assert {pid: (after.open(i), after.open(p)) for pid, i, p in rows} == people  # old key dropped
            with pytest.raises(ConfigError):
                current.open(rows[0][1])  # the old key alone no longer opens anything
            pid, (idn, _) = next(iter(people.items()))
            hit = c.execute(
                sa.text("SELECT id FROM person WHERE id_number_digest = :d"), {"d": after.digest(idn)}
            ).scalar_one()
            assert hit == pid
        finally:
            tx.rollback()  # the shared test database stays under the key file's keys


def _file_keys() -> list[str]:
    from gis_core.platform.sealing import _key_file
    from gis_core.platform.settings import get_settings

    return list(_key_file(str(get_settings().var_dir))["keys"])


def test_the_migration_seals_clear_columns_and_its_downgrade_opens_them(scratch_db):  # noqa: F811
    from alembic import command

    cfg = alembic_config(scratch_db)
    command.upgrade(cfg, "0024")
    idn = id_number("210602", "19800101", 17)
    engine = sa.create_engine(scratch_db)
    with engine.begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO person (household_no, name, id_number, phone, gender, birth_date, residency, geom) "
                "VALUES ('H1', '甲', :i, '13912345678', 'M', '1980-01-01', 'resident', "
                "ST_SetSRID(ST_MakePoint(124.38, 40.13), 4326)), "
                "('H1', '乙', :j, NULL, 'F', '1980-01-01', 'resident', ST_SetSRID(ST_MakePoint(124.38, 40.13), 4326))"
            ),
            {"i": idn, "j": id_number("210602", "19800101", 18)},
        )
    command.upgrade(cfg, "0025")
    with engine.connect() as c:
        cols = {
            r[0]
            for r in c.execute(
                sa.text("SELECT column_name FROM information_schema.columns WHERE table_name = 'person'")
            )
        }
        assert "id_number" not in cols and "phone" not in cols
        got = c.execute(
            sa.text("SELECT id_number_sealed, phone_sealed, phone_digest FROM person ORDER BY id")
        ).all()
    assert [(opened(a), opened(b), d is None) for a, b, d in got] == [
        (idn, "13912345678", False),
        (id_number("210602", "19800101", 18), None, True),
    ]
    command.downgrade(cfg, "0024")
    with engine.connect() as c:
        back = c.execute(sa.text("SELECT id_number, phone FROM person ORDER BY id")).all()
    engine.dispose()
    assert [tuple(r) for r in back] == [(idn, "13912345678"), (id_number("210602", "19800101", 18), None)]


def test_new_key_prints_a_usable_key_and_a_wrong_key_is_a_clear_error():
    out = subprocess.run(
        [sys.executable, "-m", "gis_core.cli", "pii", "new-key"], capture_output=True, text=True, check=True
    ).stdout.strip()
    token = Sealer([out], new_key()).seal("13912345678")
    assert Sealer([out], new_key()).open(token) == "13912345678"
    with pytest.raises(ConfigError, match="opens under none"):
        Sealer([new_key()], new_key()).open(token)
    with pytest.raises(ConfigError, match="PII_KEYS"):
        Sealer(["not a key"], new_key())
