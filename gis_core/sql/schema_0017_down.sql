-- Handlers read every incident of their department again, dispatched or not.
DO $$
DECLARE
    reach constant text :=
        'coalesce((SELECT (onegrid_reach()).everything), false)'
        ' OR street_id = (SELECT (onegrid_reach()).street_id)'
        ' OR community_id = (SELECT (onegrid_reach()).community_id)'
        ' OR grid_id = ANY ((SELECT (onegrid_reach()).grids)::int[])'
        ' OR reporter_user_id = (SELECT (onegrid_reach()).uid)'
        ' OR department_code = (SELECT (onegrid_reach()).department_code)';
BEGIN
    EXECUTE format('ALTER POLICY reach_read ON incident USING (%s)', reach);
    EXECUTE format('ALTER POLICY reach_update ON incident USING (%s)', reach);
    EXECUTE format('ALTER POLICY reach_delete ON incident USING (%s)', reach);
END $$;
