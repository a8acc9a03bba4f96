-- The role requests run as (migration 0009): NOLOGIN, no superuser, no BYPASSRLS, owner of
-- nothing. Cluster-wide, so it is in no dump: `onegrid db restore` runs this file first too.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'onegrid_app') THEN
        CREATE ROLE onegrid_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT;
    END IF;
    -- the owner switches its request connections to it (SET ROLE needs membership unless superuser)
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('GRANT onegrid_app TO %I', current_user);
    END IF;
END $$;
