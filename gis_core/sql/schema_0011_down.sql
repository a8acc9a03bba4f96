CREATE OR REPLACE FUNCTION onegrid_reach() RETURNS onegrid_reach
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
DROP FUNCTION onegrid_reach_of(int);
CREATE OR REPLACE FUNCTION link_incident_duplicates(new_id bigint, open_states text[], since timestamptz,
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
