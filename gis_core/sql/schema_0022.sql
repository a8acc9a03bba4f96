-- The four ends of the loop (issue 20):
-- 拆分: the command centre splits an accepted report into sub-tasks for several units; each
--   child runs its own loop, the parent resolves when every child has, and the reporter rates
--   the parent (subtasks counts the children, so a parent is told apart without a join).
-- A phone's retried action is taken once: its Idempotency-Key is kept on the timeline row.
-- 打卡: a grid worker's check-in at a key point, accepted by the server from the worker's own
--   recent fixes, stored once per key.
-- The live feed says where a call is and why (the phone rings with both), and tells of every
--   workflow action (督办 and 延期 change no state, but every screen shows them).
ALTER TABLE incident ADD COLUMN parent_id bigint REFERENCES incident ON DELETE CASCADE,
                     ADD COLUMN subtasks int NOT NULL DEFAULT 0 CHECK (subtasks >= 0);
CREATE INDEX incident_parent_idx ON incident (parent_id) WHERE parent_id IS NOT NULL;
ALTER TABLE incident_event ADD COLUMN idempotency_key text UNIQUE;

CREATE TABLE key_point_check_in (
    id              bigserial PRIMARY KEY,
    key_point_id    int NOT NULL REFERENCES key_point ON DELETE CASCADE,
    worker_id       int NOT NULL REFERENCES worker ON DELETE CASCADE,
    at              timestamptz NOT NULL,
    distance_m      real NOT NULL,
    idempotency_key text NOT NULL UNIQUE
);
CREATE INDEX key_point_check_in_point_idx ON key_point_check_in (key_point_id, at);
CREATE INDEX key_point_check_in_worker_idx ON key_point_check_in (worker_id, at);
ALTER TABLE key_point_check_in ENABLE ROW LEVEL SECURITY;
CREATE POLICY reach_read ON key_point_check_in FOR SELECT TO onegrid_app USING (
    coalesce((SELECT (onegrid_reach()).everything), false)
    OR worker_id = (SELECT (onegrid_reach()).worker_id)
    OR worker_id = ANY ((SELECT (onegrid_reach()).workers)::int[]));
CREATE POLICY app_insert ON key_point_check_in FOR INSERT TO onegrid_app WITH CHECK (true);

CREATE OR REPLACE FUNCTION live_call_task() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO live_event (kind, data, grid_id, community_id, street_id)
    SELECT 'call.task',
           jsonb_build_object('call_id', n.call_id, 'worker_id', n.worker_id,
                              'acknowledged_at', n.acknowledged_at, 'arrived_at', n.arrived_at,
                              'message', c.message, 'lon', ST_X(c.geom), 'lat', ST_Y(c.geom)),
           c.grid_id, c.community_id, c.street_id
    FROM new_rows n JOIN point_call c ON c.id = n.call_id
    ORDER BY n.call_id, n.worker_id;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION live_incident_state() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO live_event (kind, data, grid_id, community_id, street_id)
    SELECT 'incident.state',
           jsonb_build_object('id', n.id, 'code', n.code, 'from', o.state, 'state', n.state, 'level', n.level,
                              'version', n.version, 'due_at', n.due_at, 'parent_id', n.parent_id,
                              'lon', ST_X(n.geom), 'lat', ST_Y(n.geom)),
           n.grid_id, n.community_id, n.street_id
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE o.state IS DISTINCT FROM n.state OR o.level IS DISTINCT FROM n.level
       OR o.version IS DISTINCT FROM n.version
    ORDER BY n.id;
    RETURN NULL;
END $$;
