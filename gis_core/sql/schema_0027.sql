-- Boundary versions: every street, community and grid outline with the time it was valid,
-- who changed it and why, so lookups and figures can be asked "as of" a date. Kept by
-- triggers, so imports, the demo load and the boundary edits all write history the same way.
CREATE TABLE boundary_version (
    id          bigserial PRIMARY KEY,
    level       text NOT NULL CHECK (level IN ('street', 'community', 'grid')),
    code        text NOT NULL,
    name        text NOT NULL,
    kind        text,
    parent_code text,
    geom        geometry(MultiPolygon, 4326) NOT NULL,
    valid_from  timestamptz NOT NULL,
    valid_to    timestamptz,  -- NULL: the current version
    operation   text NOT NULL,  -- recorded | import | redraw | split | merge | move
    changed_by  text,
    reason      text,
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);
CREATE UNIQUE INDEX boundary_version_current ON boundary_version (level, code) WHERE valid_to IS NULL;
CREATE INDEX boundary_version_code ON boundary_version (level, code, valid_from);
CREATE INDEX boundary_version_geom ON boundary_version USING gist (geom);

-- The edit under way, if any, says what it is and who asked (set_config in its transaction);
-- without one a change is an import, and a unit seen for the first time has been so since
-- records began (-infinity): the figures of past years then fall on the outlines first loaded.
CREATE FUNCTION record_boundary_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    op     text := coalesce(nullif(current_setting('onegrid.boundary_op', true), ''), 'import');
    actor  text := nullif(current_setting('onegrid.boundary_actor', true), '');
    why    text := nullif(current_setting('onegrid.boundary_reason', true), '');
    parent text;
    since  timestamptz := clock_timestamp();
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        IF TG_OP = 'UPDATE' AND NEW.geom IS NOT DISTINCT FROM OLD.geom AND NEW.name IS NOT DISTINCT FROM OLD.name
           AND to_jsonb(NEW) - 'geom' - 'name' = to_jsonb(OLD) - 'geom' - 'name' THEN
            RETURN NULL;  -- nothing a version holds has changed
        END IF;
        UPDATE boundary_version SET valid_to = since
         WHERE level = TG_TABLE_NAME AND code = OLD.code AND valid_to IS NULL;
        IF TG_OP = 'DELETE' THEN
            RETURN NULL;
        END IF;
    END IF;
    IF TG_TABLE_NAME = 'grid' THEN
        SELECT code INTO parent FROM community WHERE id = NEW.community_id;
    ELSIF TG_TABLE_NAME = 'community' THEN
        SELECT code INTO parent FROM street WHERE id = NEW.street_id;
    ELSE
        SELECT code INTO parent FROM district WHERE id = NEW.district_id;
    END IF;
    IF TG_OP = 'INSERT' AND op = 'import'
       AND NOT EXISTS (SELECT 1 FROM boundary_version WHERE level = TG_TABLE_NAME AND code = NEW.code) THEN
        since := '-infinity';
        op := 'recorded';
    END IF;
    INSERT INTO boundary_version (level, code, name, kind, parent_code, geom, valid_from, operation, changed_by, reason)
    VALUES (TG_TABLE_NAME, NEW.code, NEW.name, NEW.kind, parent, NEW.geom, since, op, actor, why);
    RETURN NULL;
END $$;

-- A level emptied wholesale (the demo reloaded) starts its history again.
CREATE FUNCTION forget_boundary_versions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM boundary_version WHERE level = TG_TABLE_NAME;
    RETURN NULL;
END $$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['street', 'community', 'grid'] LOOP
        EXECUTE format('CREATE TRIGGER boundary_versioned AFTER INSERT OR UPDATE OR DELETE ON %I '
                       'FOR EACH ROW EXECUTE FUNCTION record_boundary_version()', t);
        EXECUTE format('CREATE TRIGGER boundary_truncated AFTER TRUNCATE ON %I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION forget_boundary_versions()', t);
    END LOOP;
END $$;

-- the outlines there are now, recorded since records began
INSERT INTO boundary_version (level, code, name, kind, parent_code, geom, valid_from, operation)
SELECT 'street', s.code, s.name, s.kind, d.code, s.geom, '-infinity'::timestamptz, 'recorded'
  FROM street s JOIN district d ON d.id = s.district_id
UNION ALL
SELECT 'community', c.code, c.name, c.kind, s.code, c.geom, '-infinity', 'recorded'
  FROM community c JOIN street s ON s.id = c.street_id
UNION ALL
SELECT 'grid', g.code, g.name, g.kind, c.code, g.geom, '-infinity', 'recorded'
  FROM grid g JOIN community c ON c.id = g.community_id;
