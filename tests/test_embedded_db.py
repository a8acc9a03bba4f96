"""The embedded cluster's life cycle, in a scratch folder and on its own port."""

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from gis_core.platform.embedded_db import EmbeddedCluster, EmbeddedDbError
from gis_core.platform.settings import Settings
from tests.live import free_port


def test_start_status_url_stop(tmp_path):
    # a port of its own: the derived one is per checkout path, and two paths can share one
    cluster = EmbeddedCluster(Settings(var_dir=tmp_path / "var", db_port=free_port(), database_url=None))
    assert not cluster.is_initialised()
    try:
        cluster.start()
        status = cluster.status()
        assert status["initialised"] and status["running"]
        assert (tmp_path / "var" / "db-password").stat().st_mode & 0o777 == 0o600
        engine = sa.create_engine(cluster.url())
        with engine.connect() as c:
            assert c.execute(sa.text("SHOW listen_addresses")).scalar() == "127.0.0.1"
            c.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
            assert c.execute(sa.text("SELECT postgis_lib_version()")).scalar().startswith("3.")
        engine.dispose()
        cluster.start()  # idempotent: already running
    finally:
        cluster.stop()
    assert not cluster.status()["running"]


def test_port_is_stable_per_checkout_and_differs_between_checkouts(tmp_path):
    a = Settings(var_dir=tmp_path / "a", database_url=None).embedded_port
    assert a == Settings(var_dir=tmp_path / "a", database_url=None).embedded_port
    assert a != Settings(var_dir=tmp_path / "b", database_url=None).embedded_port


def test_database_url_means_no_embedded_cluster():
    assert not Settings(database_url="postgresql://u:p@db:5432/x").embedded


def test_a_port_held_by_another_server_is_refused_not_mistaken_for_ours(tmp_path, db_url, engine):
    """Found in use: a scratch cluster whose path hashed to the running cluster's port took that
    server for its own and failed with 'password authentication failed'."""
    taken = make_url(db_url).port
    cluster = EmbeddedCluster(Settings(var_dir=tmp_path / "var", db_port=taken, database_url=None))
    try:
        assert not cluster.is_running()  # something answers there, but not this cluster
        with pytest.raises(EmbeddedDbError, match=f"port {taken} is taken by another PostgreSQL server"):
            cluster.start()
    finally:
        cluster.destroy()
    with engine.connect() as c:  # the other server was left alone
        assert c.execute(sa.text("SELECT 1")).scalar() == 1
