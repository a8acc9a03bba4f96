-- A department handler reads (and acts on) the incidents dispatched to their department, not
-- the reports whose category names their department before the command centre has sorted
-- them: dispatch (or an escalation of a dispatched incident) sets dispatched_at.
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
    EXECUTE format('ALTER POLICY reach_update ON incident USING (%s)', reach);
    EXECUTE format('ALTER POLICY reach_delete ON incident USING (%s)', reach);
END $$;
