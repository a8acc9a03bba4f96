DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['street', 'community', 'grid'] LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS boundary_versioned ON %I', t);
        EXECUTE format('DROP TRIGGER IF EXISTS boundary_truncated ON %I', t);
    END LOOP;
END $$;
DROP FUNCTION IF EXISTS record_boundary_version(), forget_boundary_versions();
DROP TABLE IF EXISTS boundary_version;
