DROP FUNCTION incident_duplicate_candidates(text, geometry, text[], timestamptz, float8, float8);
CREATE FUNCTION link_incident_duplicates(new_id bigint, open_states text[], since timestamptz,
                                         radius_m float8, radius_deg float8) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO incident_duplicate (incident_id, candidate_id, distance_m)
    WITH n AS (
        SELECT id, category_code, geom FROM incident WHERE id = new_id
    ), near AS MATERIALIZED (
        SELECT o.id, o.category_code, o.state, o.reported_at, o.geom
        FROM n JOIN incident o ON o.geom && ST_Expand(n.geom, radius_deg) AND o.id <> n.id
    )
    SELECT n.id, near.id, ST_Distance(n.geom::geography, near.geom::geography)
    FROM n JOIN near ON near.category_code = n.category_code
     AND near.state = ANY(open_states) AND near.reported_at >= since
     AND ST_DWithin(n.geom::geography, near.geom::geography, radius_m);
END $$;
