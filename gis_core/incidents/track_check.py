"""轨迹核验: a grid worker's report checked against where their own track puts them.

A report filed more than `max_m` from the worker's nearest fix in time (within 10 minutes
either side) is `far`, otherwise `ok`; with no fix in that window it is `no_track`. A fix
within a minute of the report decides at once; otherwise the decision waits 15 minutes for
the phone to upload its track. The result is stored on the incident
(`track_check`) for the handler to see, and open reports that failed raise a warning.
Tracks arrive in batches after the fact, so checking is repeated until each report is decided.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

_CHECK = """
WITH pending AS (
    SELECT i.id, i.geom, i.reported_at, w.id AS worker_id
    FROM incident i JOIN worker w ON w.user_id = i.reporter_user_id
    WHERE i.source = 'grid_worker' AND i.track_check IS NULL
      AND i.reported_at > CAST(:now AS timestamptz) - interval '2 days' AND i.reported_at <= :now
), nearest AS (
    SELECT p.id, f.recorded_at, f.geom, abs(extract(epoch FROM f.recorded_at - p.reported_at)) AS dt
    FROM pending p CROSS JOIN LATERAL (
        SELECT t.recorded_at, t.geom FROM track_point t
        WHERE t.worker_id = p.worker_id
          AND t.recorded_at BETWEEN p.reported_at - interval '10 minutes'
                                AND p.reported_at + interval '10 minutes'
        ORDER BY abs(extract(epoch FROM t.recorded_at - p.reported_at)) LIMIT 1) f
), decided AS (
    SELECT p.id,
           CASE WHEN n.id IS NULL THEN jsonb_build_object('status', 'no_track', 'checked_at', :now)
                ELSE jsonb_build_object(
                    'status', CASE WHEN ST_Distance(n.geom::geography, p.geom::geography) > :max_m
                                   THEN 'far' ELSE 'ok' END,
                    'distance_m', round(ST_Distance(n.geom::geography, p.geom::geography)::numeric, 1),
                    'fix_at', n.recorded_at, 'checked_at', :now)
           END AS result
    FROM pending p LEFT JOIN nearest n ON n.id = p.id
    -- a fix within a minute decides at once; otherwise wait for the phone's uploads
    WHERE n.dt <= 60 OR p.reported_at < CAST(:now AS timestamptz) - interval '15 minutes'
)
UPDATE incident i SET track_check = d.result FROM decided d WHERE i.id = d.id
RETURNING i.id, d.result ->> 'status' AS status
"""


def check(conn: sa.Connection, now: datetime, max_m: float = 200.0) -> dict[str, int]:
    """Decide every grid worker's report that can be decided at `now`; counts per status."""
    out = {"ok": 0, "far": 0, "no_track": 0}
    for _, status in conn.execute(sa.text(_CHECK), {"now": now, "max_m": max_m}):
        out[status] += 1
    return out
