CREATE OR REPLACE FUNCTION live_incident_state() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO live_event (kind, data, grid_id, community_id, street_id)
    SELECT 'incident.state',
           jsonb_build_object('id', n.id, 'code', n.code, 'from', o.state, 'state', n.state, 'level', n.level,
                              'lon', ST_X(n.geom), 'lat', ST_Y(n.geom)),
           n.grid_id, n.community_id, n.street_id
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE o.state IS DISTINCT FROM n.state OR o.level IS DISTINCT FROM n.level
    ORDER BY n.id;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION live_call_task() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO live_event (kind, data, grid_id, community_id, street_id)
    SELECT 'call.task',
           jsonb_build_object('call_id', n.call_id, 'worker_id', n.worker_id,
                              'acknowledged_at', n.acknowledged_at, 'arrived_at', n.arrived_at),
           c.grid_id, c.community_id, c.street_id
    FROM new_rows n JOIN point_call c ON c.id = n.call_id
    ORDER BY n.call_id, n.worker_id;
    RETURN NULL;
END $$;
DROP TABLE key_point_check_in;
ALTER TABLE incident_event DROP COLUMN idempotency_key;
DROP INDEX incident_parent_idx;
ALTER TABLE incident DROP COLUMN subtasks, DROP COLUMN parent_id;
