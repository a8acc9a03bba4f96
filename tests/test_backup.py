"""`onegrid db backup` and `onegrid db restore` round-trip the whole database, policies and audit log included."""

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from gis_core.platform.backup import BackupError, restore

TABLES = ["district", "street", "community", "grid", "person", "incident", "incident_event", "track_point",
          "warning", "pii_access", "app_user", "road"]  # fmt: skip
FINGERPRINT = {
    "grid geometry": "SELECT md5(string_agg(code || ST_AsEWKB(geom)::text, ',' ORDER BY id)) FROM grid",
    "incident content": "SELECT md5(string_agg(id || code || state || ST_AsText(geom), ',' ORDER BY id)) FROM incident",
    "person content": "SELECT md5(string_agg(id || id_number_sealed::text || coalesce(phone_sealed::text, ''), ',' ORDER BY id)) "
    "FROM person",
}


def snapshot(url):
    eng = sa.create_engine(url)
    try:
        with eng.connect() as c:
            out = {t: c.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar() for t in TABLES}
            out |= {k: c.execute(sa.text(q)).scalar() for k, q in FINGERPRINT.items()}
            out["policies"] = c.execute(sa.text("SELECT count(*) FROM pg_policies")).scalar()
            out["rls"] = sorted(
                c.execute(sa.text("SELECT relname FROM pg_class WHERE relrowsecurity")).scalars()
            )
            out["revision"] = c.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        return out
    finally:
        eng.dispose()


def cli(url, *args):
    env = {**os.environ, "ONEGRID_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "gis_core.cli", "db", *args], env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


@pytest.fixture
def scratch_db(empty_database):
    return empty_database


def test_backup_then_restore_into_an_empty_database_gives_the_same_database(
    db_url, scratch_db, tmp_path, client, auth
):
    client.get("/collections/persons/items", params={"limit": 1}, headers=auth("commander"))  # an audit row
    dump = tmp_path / "onegrid.dump"
    done = cli(db_url, "backup", str(dump))
    assert done.returncode == 0, done.stderr
    assert dump.stat().st_size > 10_000
    before = snapshot(db_url)
    assert before["pii_access"] >= 1 and before["incident"] > 0 and before["policies"] > 0
    done = cli(scratch_db, "restore", str(dump))
    assert done.returncode == 0, done.stderr
    assert snapshot(scratch_db) == before


def test_restore_over_a_changed_database_brings_it_back_and_a_bad_dump_changes_nothing(
    db_url, scratch_db, tmp_path, settings
):
    dump = tmp_path / "onegrid.dump"
    assert cli(db_url, "backup", str(dump)).returncode == 0
    assert cli(scratch_db, "restore", str(dump)).returncode == 0
    original = snapshot(scratch_db)
    eng = sa.create_engine(scratch_db)
    with eng.begin() as c:
        c.execute(sa.text("DELETE FROM incident WHERE id IN (SELECT id FROM incident ORDER BY id LIMIT 10)"))
        c.execute(
            sa.text(
                "UPDATE person SET phone_sealed = id_number_sealed WHERE id = (SELECT min(id) FROM person)"
            )
        )
    eng.dispose()
    changed = snapshot(scratch_db)
    assert changed != original
    broken = tmp_path / "broken.dump"
    broken.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
    with pytest.raises(BackupError):
        restore(scratch_db, broken, settings)
    assert snapshot(scratch_db) == changed  # one transaction: nothing half-restored
    assert cli(scratch_db, "restore", str(dump)).returncode == 0
    assert snapshot(scratch_db) == original


def test_restore_of_a_missing_file_is_a_clear_error(scratch_db, tmp_path):
    done = cli(scratch_db, "restore", str(tmp_path / "nope.dump"))
    assert done.returncode != 0 and "no dump at" in done.stderr
