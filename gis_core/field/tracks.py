"""Grid workers' GPS tracks (轨迹): filtering fixes, storing them, and who may read whose.

Phones upload fixes in batches and retry them on poor networks, so a fix may arrive twice;
GPS also gives fixes of poor accuracy and, now and then, one far off the walk. Duplicates are
dropped, and the refused fixes go to `track_rejected` with their reason, counted, so that
`track_point` holds only fixes taken as truth; `trajectory` reads them back.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa

from gis_core.geo.crs import transformer
from gis_core.platform.auth import User
from gis_core.platform.errors import NotFound
from gis_core.platform.scope import jurisdiction_clause

#: A gap longer than this (seconds) splits a track: the phone was off or out of coverage.
GAP_S = 600.0

KEPT, DUPLICATE, ACCURACY, JUMP = 0, 1, 2, 3
REASON_NAMES = {ACCURACY: "accuracy", JUMP: "jump"}

#: A clock on a phone may run a little fast; beyond this a fix from the future is refused.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class Fixes:
    """A batch of GPS fixes as columns: worker id, epoch seconds, WGS 84 lon/lat, accuracy, speed."""

    worker_id: np.ndarray
    t: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    accuracy_m: np.ndarray  # NaN: not reported
    speed_mps: np.ndarray  # NaN: not reported

    def __len__(self) -> int:
        return len(self.t)


@dataclass(frozen=True)
class Limits:
    """What the filter refuses: fixes less accurate than `max_accuracy_m`, jumps over `max_speed_mps`."""

    max_accuracy_m: float = 50.0
    max_speed_mps: float = 10.0


def classify(
    fixes: Fixes,
    x: np.ndarray,
    y: np.ndarray,
    limits: Limits,
    previous: dict[int, tuple[float, float, float]] | None = None,
) -> np.ndarray:
    """KEPT, DUPLICATE, ACCURACY or JUMP per fix (`x`, `y` metric; `previous`: worker → stored (t, x, y)).

    A duplicate is a second fix of one worker at one instant (the first is kept). A jump is a
    fix reached from the fix before it *and* left to the fix after it faster than the limit:
    a lone spike. A fix that is only reached fast but then agrees with what follows is a
    relocation after a bad earlier fix, and is kept; the first fix of a worker with nothing
    before it has nothing to contradict it and is kept; its last fix in the batch, with
    nothing after it, is kept when it agrees with the fix two back (the one between was the
    spike). Two consecutive spikes at one wrong place pass (each agrees with the other); GPS
    rarely produces them.
    """
    n = len(fixes)
    out = np.zeros(n, dtype=np.int8)
    if n == 0:
        return out
    order = np.lexsort((fixes.t, fixes.worker_id))
    w, t = fixes.worker_id[order], fixes.t[order]
    dup = np.zeros(n, dtype=bool)
    dup[1:] = (w[1:] == w[:-1]) & (t[1:] == t[:-1])
    out[order[dup]] = DUPLICATE
    poor = ~dup & (fixes.accuracy_m[order] > limits.max_accuracy_m)
    out[order[poor]] = ACCURACY
    cand = order[~dup & ~poor]
    if len(cand) == 0:
        return out
    cw, ct, cx, cy = fixes.worker_id[cand], fixes.t[cand], x[cand], y[cand]
    same = cw[1:] == cw[:-1]
    step = np.hypot(np.diff(cx), np.diff(cy)) / np.maximum(np.diff(ct), 1.0)
    step = np.where(same, step, np.nan)  # speed between candidate k and k+1 of one worker
    v_in = np.concatenate([[np.nan], step])
    v_out = np.concatenate([step, [np.nan]])
    if previous:
        first = np.concatenate([[True], ~same])
        for k in np.flatnonzero(first):
            prev = previous.get(int(cw[k]))
            if prev is not None and prev[0] < ct[k]:
                v_in[k] = math.hypot(cx[k] - prev[1], cy[k] - prev[2]) / max(ct[k] - prev[0], 1.0)
    # A worker's last fix in the batch has nothing after it to agree with; it agrees with the
    # track when the fix two back reaches it within the limit (then the one between was the
    # spike). Only a fix that agrees with neither is a trailing spike.
    skip = np.full(len(cand), np.nan)
    if len(cand) > 2:
        s2 = np.hypot(cx[2:] - cx[:-2], cy[2:] - cy[:-2]) / np.maximum(ct[2:] - ct[:-2], 1.0)
        skip[2:] = np.where((cw[2:] == cw[:-2]) & (cw[1:-1] == cw[2:]), s2, np.nan)
    with np.errstate(invalid="ignore"):
        agrees = (v_out <= limits.max_speed_mps) | (np.isnan(v_out) & (skip <= limits.max_speed_mps))
        jump = (v_in > limits.max_speed_mps) & ~agrees
    out[cand[jump]] = JUMP
    return out


@dataclass
class IngestResult:
    """What happened to one uploaded batch; every received fix is in exactly one count."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: dict[str, int] = field(default_factory=lambda: {"accuracy": 0, "jump": 0})


_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS track_stage (worker_id int, t float8, lon float8, lat float8, "
    "speed_mps real, accuracy_m real, reason text) ON COMMIT DELETE ROWS"
)


def _previous_fixes(conn: sa.Connection, fixes: Fixes, epsg: int) -> dict[int, tuple[float, float, float]]:
    """Each worker's last stored fix before their first fix in the batch, in metric x/y."""
    order = np.lexsort((fixes.t, fixes.worker_id))
    workers, start = np.unique(fixes.worker_id[order], return_index=True)
    first = fixes.t[order][start].tolist()
    rows = conn.execute(
        sa.text(
            "SELECT b.w, extract(epoch FROM p.recorded_at), ST_X(p.m), ST_Y(p.m) "
            "FROM unnest(CAST(:w AS int[]), CAST(:t AS float8[])) AS b(w, t) "
            "CROSS JOIN LATERAL (SELECT recorded_at, ST_Transform(geom, :epsg) m FROM track_point "
            "  WHERE worker_id = b.w AND recorded_at < to_timestamp(b.t) "
            "  ORDER BY recorded_at DESC LIMIT 1) p"
        ),
        {"w": [int(v) for v in workers], "t": first, "epsg": epsg},
    ).all()
    return {int(r[0]): (float(r[1]), float(r[2]), float(r[3])) for r in rows}


def _ensure_partitions(conn: sa.Connection, t: np.ndarray) -> None:
    """Monthly partitions for the batch's span, created once under a lock (DDL races otherwise)."""
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('track_partitions'))"))
    conn.execute(
        sa.text("SELECT ensure_track_partitions(to_timestamp(:a), to_timestamp(:b))"),
        {"a": float(t.min()), "b": float(t.max()) + 1},
    )


def _num(v: float) -> str:
    return "\\N" if math.isnan(v) else repr(v)


def ingest(conn: sa.Connection, fixes: Fixes, limits: Limits, projected_epsg: int) -> IngestResult:
    """Filter a batch and store it in the caller's transaction; refused fixes go to `track_rejected`.

    Safe to repeat: a retried batch stores nothing twice and reports its fixes as duplicates.
    """
    result = IngestResult(received=len(fixes))
    if len(fixes) == 0:
        return result
    x, y = transformer(4326, projected_epsg).transform(fixes.lon, fixes.lat)
    reasons = classify(
        fixes, np.asarray(x), np.asarray(y), limits, _previous_fixes(conn, fixes, projected_epsg)
    )
    keep = reasons != DUPLICATE
    _ensure_partitions(conn, fixes.t[keep])
    conn.execute(sa.text(_STAGE))
    buf = io.StringIO()
    for w, t, lon, lat, sp, ac, r in zip(
        fixes.worker_id[keep].tolist(),
        fixes.t[keep].tolist(),
        fixes.lon[keep].tolist(),
        fixes.lat[keep].tolist(),
        fixes.speed_mps[keep].tolist(),
        fixes.accuracy_m[keep].tolist(),
        reasons[keep].tolist(),
        strict=True,
    ):
        buf.write(f"{w}\t{t!r}\t{lon!r}\t{lat!r}\t{_num(sp)}\t{_num(ac)}\t{REASON_NAMES.get(r, '')}\n")
    buf.seek(0)
    with conn.connection.driver_connection.cursor() as cur:  # type: ignore[union-attr]
        cur.copy_expert("COPY track_stage FROM STDIN", buf)
    select = (
        "SELECT worker_id, to_timestamp(t), ST_SetSRID(ST_MakePoint(lon, lat), 4326), "
        "speed_mps, accuracy_m{extra} "
        "FROM track_stage WHERE reason {cond} ORDER BY worker_id, t"
    )
    stored = conn.execute(
        sa.text(
            "INSERT INTO track_point (worker_id, recorded_at, geom, speed_mps, accuracy_m) "
            + select.format(extra="", cond="= ''")
            + " ON CONFLICT DO NOTHING"
        )
    ).rowcount
    conn.execute(
        sa.text(
            "INSERT INTO track_rejected (worker_id, recorded_at, geom, speed_mps, accuracy_m, reason) "
            + select.format(extra=", reason", cond="<> ''")
            + " ON CONFLICT DO NOTHING"
        )
    )
    result.stored = stored
    for code, name in REASON_NAMES.items():
        result.rejected[name] = int((reasons == code).sum())
    result.duplicates = result.received - result.stored - sum(result.rejected.values())
    return result


def newest_position(conn: sa.Connection, user_id: int) -> tuple[float, float] | None:
    """Where the user's own worker was last seen (lon, lat), if they have a worker and a fix."""
    row = conn.execute(
        sa.text(
            "SELECT ST_X(p.geom), ST_Y(p.geom) FROM worker_position p JOIN worker w ON w.id = p.worker_id "
            "WHERE w.user_id = :u ORDER BY p.recorded_at DESC LIMIT 1"
        ),
        {"u": user_id},
    ).first()
    return None if row is None else (float(row[0]), float(row[1]))


def worker_of_user(conn: sa.Connection, user_id: int) -> int | None:
    """The worker record of a grid worker's account (None for other accounts)."""
    return conn.execute(sa.text("SELECT id FROM worker WHERE user_id = :u"), {"u": user_id}).scalar()


def check_workers(conn: sa.Connection, worker_ids: np.ndarray) -> None:
    """404 problem naming the first worker id that does not exist."""
    wanted = np.unique(worker_ids)
    known = set(
        conn.execute(
            sa.text("SELECT id FROM worker WHERE id = ANY(:w)"), {"w": [int(v) for v in wanted]}
        ).scalars()
    )
    for wid in wanted.tolist():
        if wid not in known:
            k = int(np.argmax(worker_ids == wid))
            raise NotFound(f"worker {wid} does not exist", where=f"body.fixes[{k}].worker_id")


def workers_in_area(conn: sa.Connection, user: User, ids: list[int], active_only: bool = False) -> set[int]:
    """Which of `ids` work in `user`'s area: one of the worker's grids is theirs."""
    params: dict[str, Any] = {"ids": ids}
    cond = jurisdiction_clause(user, "a", params)
    sql = (
        "SELECT DISTINCT w.id FROM worker w "  # noqa: S608 - cond is built from bound parameters
        "LEFT JOIN worker_grid wg ON wg.worker_id = w.id LEFT JOIN grid g ON g.id = wg.grid_id "
        "LEFT JOIN community c ON c.id = g.community_id "
        "CROSS JOIN LATERAL (SELECT g.id AS grid_id, c.id AS community_id, c.street_id) a "
        f"WHERE w.id = ANY(:ids) AND {cond}" + (" AND w.active" if active_only else "")
    )
    return {r[0] for r in conn.execute(sa.text(sql), params)}


def check_readable(conn: sa.Connection, user: User, worker_id: int) -> None:
    """404 problem unless `user` may read this worker's track: one of the worker's grids is theirs.

    Not-found and not-yours answer alike, so ids cannot be probed.
    """
    if worker_id not in workers_in_area(conn, user, [worker_id]):
        raise NotFound(f"worker {worker_id} does not exist or is not in your area", where="path.worker_id")
