"""District-wide scheduled work, run once per interval for the whole deployment.

Every server worker keeps the same timers, but the warning rules and the escalation of
overdue incidents look at the whole district: run in each of N workers, they cost N times
the database's and the machine's time and decide nothing more. On the two-core reference
machine each run of the warning rules took about a second of a core, and two workers
running them every minute put 700 ms stalls into cached-tile answers (issue 26). A worker
whose timer fires claims the job in `scheduled_run`; the claim fails at once while another
process holds it or when the job ran less than most of an interval ago.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa

T = TypeVar("T")

#: a job that last ran this share of an interval ago is due again: timers of different
#: workers drift, and a run that waited for its claim should not skip a whole interval
DUE_AFTER = 0.9

_CLAIM = """
INSERT INTO scheduled_run AS r (job, last_run_at) VALUES (:job, now())
ON CONFLICT (job) DO UPDATE SET last_run_at = now()
    WHERE r.last_run_at <= now() - make_interval(secs => :gap)
RETURNING job
"""


def claim(conn: sa.Connection, job: str, every_s: float) -> bool:
    """Claim `job` for this transaction if it is due: True means run it now, here.

    Never waits: while another transaction holds the claim, this one gets False. The claim
    and the work share the transaction, so work that fails leaves the job due for the next
    timer, in this worker or another.
    """
    locked = conn.execute(
        sa.text("SELECT pg_try_advisory_xact_lock(hashtext('onegrid-job:' || :job))"), {"job": job}
    ).scalar_one()
    if not locked:
        return False
    return conn.execute(sa.text(_CLAIM), {"job": job, "gap": every_s * DUE_AFTER}).first() is not None


def run_if_due(engine: sa.Engine, job: str, every_s: float, work: Callable[[sa.Connection], T]) -> T | None:
    """Run `work(conn)` in one transaction if `job` is due for the deployment; else None."""
    with engine.begin() as conn:
        if not claim(conn, job, every_s):
            return None
        return work(conn)
