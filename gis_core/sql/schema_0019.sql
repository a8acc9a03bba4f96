-- Joint handling across a boundary (跨网格联动). A report flagged near a grid edge names the
-- grids on the other side (adjacent_grid_codes); the units there read it too, each side has a
-- share of the work (incident_share, one row per grid, done when that side has handled its
-- part), and area statistics credit both sides. Acting on the incident itself (accept,
-- dispatch, resolve) stays with its own grid's chain: the workflow checks that in Python.

ALTER TABLE incident
    ADD COLUMN shared_grid_ids int[] NOT NULL DEFAULT '{}',
    ADD COLUMN shared_community_ids int[] NOT NULL DEFAULT '{}',
    ADD COLUMN shared_street_ids int[] NOT NULL DEFAULT '{}';

-- The other side's units, by id, kept with the codes: the read policy compares arrays, no join.
CREATE FUNCTION incident_shared_units() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    SELECT coalesce(array_agg(g.id ORDER BY g.id), '{}'),
           coalesce(array_agg(DISTINCT g.community_id), '{}'),
           coalesce(array_agg(DISTINCT c.street_id), '{}')
      INTO NEW.shared_grid_ids, NEW.shared_community_ids, NEW.shared_street_ids
      FROM grid g JOIN community c ON c.id = g.community_id
     WHERE g.code = ANY (NEW.adjacent_grid_codes);
    RETURN NEW;
END $$;
CREATE TRIGGER incident_shared_units BEFORE INSERT OR UPDATE OF adjacent_grid_codes ON incident
    FOR EACH ROW EXECUTE FUNCTION incident_shared_units();

CREATE TABLE incident_share (
    incident_id bigint NOT NULL REFERENCES incident ON DELETE CASCADE,
    grid_id     int NOT NULL REFERENCES grid ON DELETE CASCADE,
    own         boolean NOT NULL,
    done_at     timestamptz,
    done_by     int REFERENCES app_user ON DELETE SET NULL,
    note        text NOT NULL DEFAULT '',
    PRIMARY KEY (incident_id, grid_id)
);

-- One share per side when the report is stored: its own grid and each grid across the edge.
CREATE FUNCTION incident_shares_open() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF cardinality(NEW.shared_grid_ids) > 0 THEN
        INSERT INTO incident_share (incident_id, grid_id, own)
        SELECT NEW.id, g, g = NEW.grid_id
          FROM unnest(array_append(NEW.shared_grid_ids, NEW.grid_id)) AS g
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER incident_shares_open AFTER INSERT ON incident
    FOR EACH ROW EXECUTE FUNCTION incident_shares_open();

-- Reports stored before: the same units and shares; a resolved one's shares done when it was.
UPDATE incident SET adjacent_grid_codes = adjacent_grid_codes WHERE cardinality(adjacent_grid_codes) > 0;
INSERT INTO incident_share (incident_id, grid_id, own, done_at)
SELECT i.id, g, g = i.grid_id, i.resolved_at
  FROM incident i, unnest(array_append(i.shared_grid_ids, i.grid_id)) AS g
 WHERE cardinality(i.shared_grid_ids) > 0
ON CONFLICT DO NOTHING;

-- A share is read with its incident, and finished by whoever's area holds its grid.
ALTER TABLE incident_share ENABLE ROW LEVEL SECURITY;
CREATE POLICY reach_read ON incident_share FOR SELECT TO onegrid_app
    USING (EXISTS (SELECT 1 FROM incident i WHERE i.id = incident_id));
CREATE POLICY reach_update ON incident_share FOR UPDATE TO onegrid_app
    USING (coalesce((SELECT (onegrid_reach()).everything), false)
           OR grid_id = ANY ((SELECT (onegrid_reach()).grids)::int[])
           OR EXISTS (SELECT 1 FROM grid g JOIN community c ON c.id = g.community_id
                      WHERE g.id = grid_id
                        AND (c.id = (SELECT (onegrid_reach()).community_id)
                             OR c.street_id = (SELECT (onegrid_reach()).street_id))))
    WITH CHECK (true);

-- The incident is read on both sides (reading only: reach_update and reach_delete stay).
DO $$
DECLARE
    reach constant text :=
        'coalesce((SELECT (onegrid_reach()).everything), false)'
        ' OR street_id = (SELECT (onegrid_reach()).street_id)'
        ' OR community_id = (SELECT (onegrid_reach()).community_id)'
        ' OR grid_id = ANY ((SELECT (onegrid_reach()).grids)::int[])'
        ' OR reporter_user_id = (SELECT (onegrid_reach()).uid)'
        ' OR (department_code = (SELECT (onegrid_reach()).department_code) AND dispatched_at IS NOT NULL)'
        ' OR shared_grid_ids && (SELECT (onegrid_reach()).grids)::int[]'
        ' OR (SELECT (onegrid_reach()).community_id) = ANY (shared_community_ids)'
        ' OR (SELECT (onegrid_reach()).street_id) = ANY (shared_street_ids)';
BEGIN
    EXECUTE format('ALTER POLICY reach_read ON incident USING (%s)', reach);
END $$;
