"""District-wide scheduled work runs once per interval for the deployment, however many workers."""

from __future__ import annotations

import threading
import time
import uuid

import sqlalchemy as sa

from gis_core.platform.schedule import claim, run_if_due


def test_a_claim_is_refused_at_once_while_held_and_until_the_job_is_due(engine):
    job = f"test-{uuid.uuid4().hex[:8]}"
    with engine.connect() as a, engine.connect() as b:
        with a.begin():
            assert claim(a, job, 60)
            t = time.monotonic()
            with b.begin():
                assert not claim(b, job, 60)  # held by a: refused, not waited for
            assert time.monotonic() - t < 1
        with b.begin():
            assert not claim(b, job, 60)  # ran a moment ago: not due
        with b.begin():
            b.execute(
                sa.text(
                    "UPDATE scheduled_run SET last_run_at = now() - interval '55 seconds' WHERE job = :j"
                ),
                {"j": job},
            )
        with b.begin():
            assert claim(b, job, 60)  # 55 s of a 60 s interval is due: timers drift


def test_failed_work_leaves_the_job_due(engine):
    job = f"test-{uuid.uuid4().hex[:8]}"

    def fail(conn):
        raise RuntimeError("boom")

    try:
        run_if_due(engine, job, 60, fail)
    except RuntimeError:
        pass
    assert run_if_due(engine, job, 60, lambda conn: "ran") == "ran"


def test_workers_whose_timers_fire_together_run_the_job_once(engine):
    job = f"test-{uuid.uuid4().hex[:8]}"
    runs = []
    start = threading.Barrier(4)

    def work(conn):
        runs.append(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar())
        time.sleep(0.3)  # still running when the other timers fire

    def worker():
        start.wait()
        run_if_due(engine, job, 60, work)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(runs) == 1


def test_every_scheduled_job_has_a_timer_and_old_live_events_are_pruned(conn, settings):
    from api.app import scheduled_jobs
    from gis_core.platform.settings import Settings

    jobs = scheduled_jobs(Settings(_env_file=None))  # the defaults a deployment starts with
    assert all(every > 0 for every, _ in jobs.values()), jobs
    old, new = conn.execute(
        sa.text(
            "INSERT INTO live_event (at, kind, data) VALUES "
            "(now() - interval '3 days', 'test', '{}'), (now(), 'test', '{}') RETURNING id"
        )
    ).scalars()
    for _, work in jobs.values():
        work(conn, settings)
    left = (
        conn.execute(sa.text("SELECT id FROM live_event WHERE id = ANY(:ids)"), {"ids": [old, new]})
        .scalars()
        .all()
    )
    assert left == [new]


def test_slow_warning_rules_run_at_their_own_cadence_and_none_due_runs_none(conn, settings):
    from datetime import UTC, datetime

    from gis_core.field import warning_rules

    s = settings.model_copy(update={"warning_interval_s": 60.0})
    conn.execute(sa.text("DELETE FROM scheduled_run WHERE job LIKE 'warning rule %'"))
    assert warning_rules.due_rules(conn, s) == list(warning_rules.RULES)  # first tick: all
    conn.execute(sa.text("UPDATE scheduled_run SET last_run_at = now() - interval '61 seconds'"))
    due = warning_rules.due_rules(conn, s)  # a minute on: all but the slow ones
    assert due == [r for r in warning_rules.RULES if r not in warning_rules.EVERY_S]
    assert warning_rules.evaluate(conn, datetime.now(UTC), s, []) == {}  # nothing due, nothing run
