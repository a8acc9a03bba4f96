"""The embedded cluster's life cycle, in a scratch folder and on its own port."""

import sqlalchemy as sa

from gis_core.embedded_db import EmbeddedCluster
from gis_core.settings import Settings


def test_start_status_url_stop(tmp_path):
    cluster = EmbeddedCluster(Settings(var_dir=tmp_path / "var", db_port=None, database_url=None))
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
