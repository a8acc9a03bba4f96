-- Jurisdiction enforced by the database (issue 6).
--
-- Requests run as `onegrid_app`: not a superuser, owns nothing, cannot bypass row-level
-- security. Each request transaction names its user (`SET LOCAL onegrid.uid`, see
-- gis_core.platform.scope.act_as); the policies below read that user's reach from app_user, worker_grid
-- and the hierarchy, so a forgotten WHERE clause in the application cannot leak a row.
-- Background work (escalation, warning rules, loading) runs as the owner, which RLS does not
-- bind. A connection with no user set sees no protected row at all.

-- the role itself: request_role.sql (run first by the migration, and by `onegrid db restore`)

GRANT USAGE ON SCHEMA public TO onegrid_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO onegrid_app;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO onegrid_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO onegrid_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO onegrid_app;
-- credentials are the auth pool's business (owner), never a request's
REVOKE ALL ON api_token FROM onegrid_app;
REVOKE ALL ON app_user FROM onegrid_app;
GRANT SELECT (id, username, display_name, role, jurisdiction_code, department_code, active, created_at)
    ON app_user TO onegrid_app;
-- track partitions are created on demand by uploads
ALTER FUNCTION ensure_track_partitions(timestamptz, timestamptz) SECURITY DEFINER SET search_path = public, pg_temp;

-- ------------------------------------------------------------------ the caller's reach
CREATE FUNCTION onegrid_uid() RETURNS int LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(current_setting('onegrid.uid', true), '')::int
$$;

-- Whose rows the caller may read. Policies call it inside scalar subqueries, so it runs once
-- per statement (an InitPlan), not once per row. SECURITY DEFINER: it reads app_user and
-- worker_grid whatever the caller may read of them.
CREATE TYPE onegrid_reach AS (
    everything      boolean,   -- admin, commander, planner
    uid             int,
    worker_id       int,       -- the caller's own worker record (grid workers)
    department_code text,      -- department handlers
    street_id       int,       -- street officers
    community_id    int,       -- community officers
    grids           int[],     -- grid workers' own grids
    workers         int[]      -- workers whose tracks the caller may read
);

CREATE FUNCTION onegrid_reach() RETURNS onegrid_reach
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH u AS (
        SELECT u.*,
               CASE WHEN u.role = 'street_officer'
                    THEN (SELECT s.id FROM street s WHERE s.code = btrim(u.jurisdiction_code)) END AS sid,
               CASE WHEN u.role = 'community_officer'
                    THEN (SELECT c.id FROM community c WHERE c.code = btrim(u.jurisdiction_code)) END AS cid,
               CASE WHEN u.role = 'grid_worker'
                    THEN ARRAY(SELECT wg.grid_id FROM worker_grid wg JOIN worker w ON w.id = wg.worker_id
                               WHERE w.user_id = u.id) ELSE '{}'::int[] END AS gids
        FROM app_user u WHERE u.id = onegrid_uid() AND u.active
    )
    SELECT ROW(
        u.role IN ('admin', 'commander', 'planner'),
        u.id,
        (SELECT w.id FROM worker w WHERE w.user_id = u.id ORDER BY w.id LIMIT 1),
        CASE WHEN u.role = 'department_handler' THEN u.department_code END,
        u.sid,
        u.cid,
        u.gids,
        ARRAY(SELECT DISTINCT wg.worker_id FROM worker_grid wg JOIN grid g ON g.id = wg.grid_id
              JOIN community c ON c.id = g.community_id
              WHERE g.id = ANY(u.gids) OR c.id = u.cid OR c.street_id = u.sid)
    )::onegrid_reach
    FROM u
$$;

-- Point-calls with a task for the caller's own worker record (breaks the policy cycle
-- point_call ↔ point_call_task).
CREATE FUNCTION onegrid_my_calls() RETURNS bigint[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT coalesce(array_agg(t.call_id), '{}') FROM point_call_task t
    WHERE t.worker_id = (SELECT (onegrid_reach()).worker_id)
$$;

-- ------------------------------------------------------------------ policies
-- SELECT, UPDATE and DELETE see the caller's reach; INSERT is the application's decision
-- (who may report, call, upload), so its check is open. Child tables follow their parent.
DO $$
DECLARE
    anchored constant text :=
        'coalesce((SELECT (onegrid_reach()).everything), false)'
        ' OR street_id = (SELECT (onegrid_reach()).street_id)'
        ' OR community_id = (SELECT (onegrid_reach()).community_id)'
        ' OR grid_id = ANY ((SELECT (onegrid_reach()).grids)::int[])';
    tracks constant text :=
        'coalesce((SELECT (onegrid_reach()).everything), false)'
        ' OR worker_id = (SELECT (onegrid_reach()).worker_id)'
        ' OR worker_id = ANY ((SELECT (onegrid_reach()).workers)::int[])';
    rules text[][] := ARRAY[
        ['person', anchored],
        ['warning', anchored],
        ['incident', anchored
            || ' OR reporter_user_id = (SELECT (onegrid_reach()).uid)'
            || ' OR department_code = (SELECT (onegrid_reach()).department_code)'],
        ['incident_event', 'EXISTS (SELECT 1 FROM incident i WHERE i.id = incident_id)'],
        ['incident_photo', 'EXISTS (SELECT 1 FROM incident i WHERE i.id = incident_id)'],
        ['incident_duplicate', 'EXISTS (SELECT 1 FROM incident i WHERE i.id = incident_id)'],
        ['warning_event', 'EXISTS (SELECT 1 FROM warning w WHERE w.id = warning_id)'],
        ['point_call', anchored || ' OR id = ANY ((SELECT onegrid_my_calls())::bigint[])'],
        ['point_call_task', 'coalesce((SELECT (onegrid_reach()).everything), false)'
            || ' OR worker_id = (SELECT (onegrid_reach()).worker_id)'
            || ' OR EXISTS (SELECT 1 FROM point_call c WHERE c.id = call_id)'],
        ['worker_position', tracks],
        ['track_point', tracks],
        ['track_rejected', tracks]
    ];
    r text[];
BEGIN
    FOREACH r SLICE 1 IN ARRAY rules LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', r[1]);
        EXECUTE format('CREATE POLICY reach_read ON %I FOR SELECT TO onegrid_app USING (%s)', r[1], r[2]);
        EXECUTE format('CREATE POLICY reach_update ON %I FOR UPDATE TO onegrid_app USING (%s) WITH CHECK (true)',
                       r[1], r[2]);
        EXECUTE format('CREATE POLICY reach_delete ON %I FOR DELETE TO onegrid_app USING (%s)', r[1], r[2]);
        EXECUTE format('CREATE POLICY app_insert ON %I FOR INSERT TO onegrid_app WITH CHECK (true)', r[1]);
    END LOOP;
END $$;

-- ------------------------------------------------------------------ system look-ups
-- A report's idempotency key is unique across all reporters: the replay check must see every
-- report, though it answers only with the id and fingerprint.
CREATE FUNCTION incident_by_key(k text) RETURNS TABLE (id bigint, request_hash text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT i.id, i.request_hash FROM incident i WHERE i.idempotency_key = k
$$;

-- Possible duplicates are found among everyone's open reports, not only the reporter's own.
CREATE FUNCTION link_incident_duplicates(new_id bigint, open_states text[], since timestamptz,
                                         radius_m float8, radius_deg float8) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    INSERT INTO incident_duplicate (incident_id, candidate_id, distance_m)
    SELECT n.id, o.id, ST_Distance(n.geom::geography, o.geom::geography)
    FROM incident n JOIN incident o ON o.id <> n.id AND o.category_code = n.category_code
     AND o.state = ANY(open_states) AND o.reported_at >= since
     AND o.geom && ST_Expand(n.geom, radius_deg)  -- an index-friendly box first, exact metres next
     AND ST_DWithin(n.geom::geography, o.geom::geography, radius_m)
    WHERE n.id = new_id
$$;

-- ------------------------------------------------------------------ personal-data audit
-- One row per unmasked read of personal data: who, what, when, why. Append-only for everyone.
CREATE TABLE pii_access (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    user_id   int NOT NULL,               -- no foreign key: the log outlives accounts
    username  text NOT NULL,
    role      text NOT NULL,
    action    text NOT NULL,          -- tile | features | spatial | lookup
    resource  text NOT NULL,          -- layer id or path
    fields    text[] NOT NULL,
    rows      int,                       -- NULL: not counted (a map tile)
    reason    text NOT NULL,
    client    text
);
CREATE INDEX pii_access_at_idx ON pii_access (at);
CREATE INDEX pii_access_user_idx ON pii_access (user_id, at);

CREATE FUNCTION pii_access_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'pii_access is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER pii_access_append_only BEFORE UPDATE OR DELETE ON pii_access
    FOR EACH ROW EXECUTE FUNCTION pii_access_append_only();
CREATE TRIGGER pii_access_no_truncate BEFORE TRUNCATE ON pii_access
    FOR EACH STATEMENT EXECUTE FUNCTION pii_access_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON pii_access FROM onegrid_app;
GRANT SELECT, INSERT ON pii_access TO onegrid_app;
GRANT USAGE ON SEQUENCE pii_access_id_seq TO onegrid_app;
