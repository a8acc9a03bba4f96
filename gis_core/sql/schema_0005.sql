-- Point-calls (多人点调): the command centre calls chosen workers to a point with a message.
-- Each called worker has a task; acknowledgement comes from their phone, arrival from their
-- track (the first fix within the call's `arrive_m` of the point after the call), by trigger, so an
-- arrival is recorded however the fix reached the database.
CREATE TABLE point_call (
    id              bigserial PRIMARY KEY,
    message         text NOT NULL CHECK (length(message) BETWEEN 1 AND 500),
    created_by      int NOT NULL REFERENCES app_user,
    created_at      timestamptz NOT NULL DEFAULT now(),
    arrive_m        real NOT NULL DEFAULT 50 CHECK (arrive_m > 0),
    idempotency_key text NOT NULL UNIQUE,
    request_hash    text NOT NULL,
    geom            geometry(Point, 4326) NOT NULL,
    grid_id         int REFERENCES grid ON DELETE SET NULL,
    community_id    int REFERENCES community ON DELETE SET NULL,
    street_id       int REFERENCES street ON DELETE SET NULL
);
CREATE INDEX point_call_geom_gist ON point_call USING gist (geom);
CREATE INDEX point_call_created_idx ON point_call (created_at DESC);
CREATE TRIGGER anchor BEFORE INSERT OR UPDATE OF geom ON point_call
    FOR EACH ROW EXECUTE FUNCTION anchor_to_grid();
INSERT INTO anchored_table VALUES ('point_call'::regclass);

CREATE TABLE point_call_task (
    call_id         bigint NOT NULL REFERENCES point_call ON DELETE CASCADE,
    worker_id       int NOT NULL REFERENCES worker,
    acknowledged_at timestamptz,
    arrived_at      timestamptz,
    PRIMARY KEY (call_id, worker_id)
);
CREATE INDEX point_call_task_open_idx ON point_call_task (worker_id) WHERE arrived_at IS NULL;

CREATE FUNCTION point_call_arrivals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE point_call_task t SET arrived_at = a.first_fix
      FROM (SELECT t2.call_id, t2.worker_id, min(n.recorded_at) AS first_fix
              FROM point_call_task t2
              JOIN point_call c ON c.id = t2.call_id
              JOIN new_rows n ON n.worker_id = t2.worker_id AND n.recorded_at >= c.created_at
             WHERE t2.arrived_at IS NULL
               AND ST_DWithin(n.geom::geography, c.geom::geography, c.arrive_m)
             GROUP BY t2.call_id, t2.worker_id) a
     WHERE t.call_id = a.call_id AND t.worker_id = a.worker_id;
    RETURN NULL;
END $$;
CREATE TRIGGER point_call_arrivals AFTER INSERT ON track_point
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION point_call_arrivals();
