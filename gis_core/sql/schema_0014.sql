-- A new report's possible duplicates, found by the statement that stores the report: the
-- search takes the new report's category and point as arguments instead of reading its row,
-- which that statement's own snapshot cannot see yet, and the statement inserts the links.
-- One round trip and one statement fewer per report than a separate link_incident_duplicates
-- call after the insert. SECURITY DEFINER: duplicates are searched among everyone's open
-- reports, not only those the reporter may read. The box search comes first (see 0011).
CREATE FUNCTION incident_duplicate_candidates(category text, at geometry, open_states text[],
                                              since timestamptz, radius_m float8, radius_deg float8)
RETURNS TABLE (candidate_id bigint, distance_m float8)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    RETURN QUERY
    WITH near AS MATERIALIZED (
        SELECT o.id, o.category_code, o.state, o.reported_at, o.geom
        FROM incident o WHERE o.geom && ST_Expand(at, radius_deg)
    )
    SELECT near.id, ST_Distance(at::geography, near.geom::geography)
    FROM near
    WHERE near.category_code = category AND near.state = ANY(open_states) AND near.reported_at >= since
      AND ST_DWithin(at::geography, near.geom::geography, radius_m);
END $$;

DROP FUNCTION link_incident_duplicates(bigint, text[], timestamptz, float8, float8);
