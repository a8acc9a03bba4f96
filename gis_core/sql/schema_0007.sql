-- Live events for the map wall (GET /api/v1/events): new incidents and state changes, warnings
-- raised or changed, workers' positions, point-call tasks acknowledged or arrived. Triggers
-- append them here and NOTIFY onegrid_events; every server process LISTENs, reads what is new
-- once and fans it out to its clients. The ids let a client that reconnects resume where it
-- left off (Last-Event-ID); old events are pruned.
CREATE TABLE live_event (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    kind         text NOT NULL,
    data         jsonb NOT NULL,
    grid_id      int,
    community_id int,
    street_id    int
);
CREATE INDEX live_event_at_idx ON live_event USING brin (at);

-- One notice per statement that added events, whichever trigger added them.
CREATE FUNCTION live_event_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('onegrid_events', '');
    RETURN NULL;
END $$;
CREATE TRIGGER live_event_notify AFTER INSERT ON live_event
    FOR EACH STATEMENT EXECUTE FUNCTION live_event_notify();

-- A warning as the wall shows it.
CREATE FUNCTION live_warning_data(w warning) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', w.id, 'rule', w.rule, 'level', w.level, 'state', w.state,
                              'message', w.message, 'lon', ST_X(ST_PointOnSurface(w.geom)),
                              'lat', ST_Y(ST_PointOnSurface(w.geom)))
$$;

CREATE FUNCTION live_incident_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO live_event (kind, data, grid_id, community_id, street_id)
    SELECT 'incident.new',
           jsonb_build_object('id', n.id, 'code', n.code, 'category_code', n.category_code, 'state', n.state,
                              'level', n.level, 'reported_at', n.reported_at,
                              'lon', ST_X(n.geom), 'lat', ST_Y(n.geom)),
           n.grid_id, n.community_id, n.street_id
    FROM new_rows n ORDER BY n.id;
    RETURN NULL;
END $$;
CREATE TRIGGER live_incident_new AFTER INSERT ON incident
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION live_incident_new();

CREATE FUNCTION live_incident_state() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER live_incident_state AFTER UPDATE ON incident
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION live_incident_state();

CREATE FUNCTION live_warning_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO live_event (kind, data, grid_id, community_id, street_id)
    SELECT 'warning',
           live_warning_data(n),
           n.grid_id, n.community_id, n.street_id
    FROM new_rows n ORDER BY n.id;
    RETURN NULL;
END $$;
CREATE TRIGGER live_warning_new AFTER INSERT ON warning
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION live_warning_new();

CREATE FUNCTION live_warning_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO live_event (kind, data, grid_id, community_id, street_id)
    SELECT 'warning',
           live_warning_data(n),
           n.grid_id, n.community_id, n.street_id
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE (o.state, o.level) IS DISTINCT FROM (n.state, n.level)
    ORDER BY n.id;
    RETURN NULL;
END $$;
CREATE TRIGGER live_warning_changed AFTER UPDATE ON warning
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION live_warning_changed();

CREATE FUNCTION live_position() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO live_event (kind, data, grid_id, community_id, street_id)
    SELECT 'worker.position',
           jsonb_build_object('worker_id', n.worker_id, 'at', n.recorded_at, 'lon', ST_X(n.geom), 'lat', ST_Y(n.geom)),
           n.grid_id, n.community_id, n.street_id
    FROM new_rows n ORDER BY n.worker_id;
    RETURN NULL;
END $$;
CREATE TRIGGER live_position_new AFTER INSERT ON worker_position
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION live_position();
CREATE TRIGGER live_position_moved AFTER UPDATE ON worker_position
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION live_position();

CREATE FUNCTION live_call_task() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER live_call_task_new AFTER INSERT ON point_call_task
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION live_call_task();
CREATE TRIGGER live_call_task_changed AFTER UPDATE ON point_call_task
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION live_call_task();
