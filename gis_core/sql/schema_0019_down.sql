DO $$
DECLARE
    reach constant text :=
        'coalesce((SELECT (onegrid_reach()).everything), false)'
        ' OR street_id = (SELECT (onegrid_reach()).street_id)'
        ' OR community_id = (SELECT (onegrid_reach()).community_id)'
        ' OR grid_id = ANY ((SELECT (onegrid_reach()).grids)::int[])'
        ' OR reporter_user_id = (SELECT (onegrid_reach()).uid)'
        ' OR (department_code = (SELECT (onegrid_reach()).department_code) AND dispatched_at IS NOT NULL)';
BEGIN
    EXECUTE format('ALTER POLICY reach_read ON incident USING (%s)', reach);
END $$;
DROP TABLE incident_share;
DROP TRIGGER incident_shares_open ON incident;
DROP FUNCTION incident_shares_open();
DROP TRIGGER incident_shared_units ON incident;
DROP FUNCTION incident_shared_units();
ALTER TABLE incident DROP COLUMN shared_grid_ids, DROP COLUMN shared_community_ids, DROP COLUMN shared_street_ids;
