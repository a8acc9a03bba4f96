DROP TABLE IF EXISTS pii_access;
DROP FUNCTION IF EXISTS pii_access_append_only();
DROP FUNCTION IF EXISTS link_incident_duplicates(bigint, text[], timestamptz, float8, float8);
DROP FUNCTION IF EXISTS incident_by_key(text);
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['person', 'warning', 'incident', 'incident_event', 'incident_photo',
                             'incident_duplicate', 'warning_event', 'point_call', 'point_call_task',
                             'worker_position', 'track_point', 'track_rejected'] LOOP
        EXECUTE format('DROP POLICY IF EXISTS reach_read ON %I', t);
        EXECUTE format('DROP POLICY IF EXISTS reach_update ON %I', t);
        EXECUTE format('DROP POLICY IF EXISTS reach_delete ON %I', t);
        EXECUTE format('DROP POLICY IF EXISTS app_insert ON %I', t);
        EXECUTE format('ALTER TABLE %I DISABLE ROW LEVEL SECURITY', t);
    END LOOP;
END $$;
DROP FUNCTION IF EXISTS onegrid_my_calls();
DROP FUNCTION IF EXISTS onegrid_reach();
DROP TYPE IF EXISTS onegrid_reach;
DROP FUNCTION IF EXISTS onegrid_uid();
ALTER FUNCTION ensure_track_partitions(timestamptz, timestamptz) SECURITY INVOKER;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM onegrid_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM onegrid_app;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM onegrid_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM onegrid_app;
REVOKE ALL ON SCHEMA public FROM onegrid_app;
-- the role itself is cluster-wide and may serve other databases: it stays
