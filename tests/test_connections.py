"""Pooled connections: pinged only after sitting idle; statements prepared once per connection."""

import contextlib
import time

import pytest
import sqlalchemy as sa

from gis_core.platform.db import Prepared, make_engine, ping_when_idle


@contextlib.contextmanager
def one_connection_pool(db_url, settings, idle_s):
    """A pool of one connection, pinged after `idle_s` idle, and the pid of its backend killed."""
    pool = ping_when_idle(make_engine(db_url, settings, pool_size=1, max_overflow=0, pre_ping=False), idle_s)
    try:
        with pool.connect() as c:
            pid = c.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        killer = make_engine(db_url, settings, pool_size=1)
        with killer.connect() as c:
            assert c.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
        killer.dispose()
        yield pool, pid
    finally:
        pool.dispose()


def test_an_idle_connection_is_pinged_and_a_dead_one_replaced(db_url, settings):
    with one_connection_pool(db_url, settings, 0.2) as (pool, dead):
        time.sleep(0.3)  # idle past the threshold: the checkout pings, finds it dead, opens another
        with pool.connect() as c:
            assert c.execute(sa.text("SELECT pg_backend_pid()")).scalar() != dead


def test_a_connection_in_steady_use_is_not_pinged(db_url, settings):
    with one_connection_pool(db_url, settings, 60) as (pool, dead):
        # handed back a moment ago: no ping, so the dead connection's first statement fails
        # (the request's 503), and the pool replaces it for the next checkout
        with pytest.raises(sa.exc.OperationalError), pool.connect() as c:
            c.execute(sa.text("SELECT 1"))
        with pool.connect() as c:
            assert c.execute(sa.text("SELECT pg_backend_pid()")).scalar() != dead


def test_a_prepared_statement_is_planned_once_per_connection_and_answers_as_its_text(
    db_url, settings, engine
):
    stmt = sa.text("SELECT :a + 1 AS n, CAST(:tags AS text[]) AS tags, :a * 2 AS twice")
    prepared = Prepared("onegrid_test_add", stmt)
    params = {"a": 41, "tags": ["甲", "b"]}
    mine = "SELECT count(*) FROM pg_prepared_statements WHERE name = 'onegrid_test_add'"
    with engine.connect() as c:
        assert c.execute(sa.text(mine)).scalar() == 0
        first = prepared.execute(c, params).one()
        c.rollback()  # a prepared statement outlives the transaction that prepared it
        again = prepared.execute(c, {"a": 1, "tags": []}).one()
        assert c.execute(sa.text(mine)).scalar() == 1
        assert tuple(first) == tuple(c.execute(stmt, params).one()) == (42, ["甲", "b"], 82)
        assert tuple(again) == (2, [], 2)
    fresh = make_engine(db_url, settings, pool_size=1)
    try:
        with fresh.connect() as other:  # another session prepares its own
            assert other.execute(sa.text(mine)).scalar() == 0
            assert prepared.execute(other, params).one() == first
    finally:
        fresh.dispose()


def test_a_literal_percent_is_refused_not_mangled():
    with pytest.raises(ValueError, match="literal %"):
        Prepared("onegrid_test_pct", sa.text("SELECT :a || '%'"))
