-- Migration 0011: the caller's reach computed once per transaction, not once per policy use,
-- and the duplicate search planned once per session.
--
-- Every statement on a protected table evaluated onegrid_reach() once for each field a policy
-- reads (five InitPlans on incident), and each call re-planned its SQL body: 0.8 ms a call,
-- 4 ms a statement, so a report's five statements spent 20 ms of database CPU on it. Now the
-- reach is computed by PL/pgSQL (plans cached per session) and kept for the rest of the
-- transaction in the transaction-local setting `onegrid.reach`, stamped with the user it
-- was computed for: a transaction that names another user (act_as again) recomputes it.
-- Setting `onegrid.reach` by hand is no more power than setting `onegrid.uid` by hand: both
-- are the application's to set, and all its SQL is parameterised.

-- One simple query per role, so that PL/pgSQL's kept generic plans are good ones (an OR over
-- the three areas planned generically scanned every grid).
CREATE FUNCTION onegrid_reach_of(caller int) RETURNS onegrid_reach
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = public, pg_temp SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    u app_user;
    r onegrid_reach;
BEGIN
    SELECT * INTO u FROM app_user WHERE id = caller AND active;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    r.everything := u.role IN ('admin', 'commander', 'planner');
    r.uid := u.id;
    r.worker_id := (SELECT w.id FROM worker w WHERE w.user_id = u.id ORDER BY w.id LIMIT 1);
    r.department_code := CASE WHEN u.role = 'department_handler' THEN u.department_code END;
    r.grids := '{}';
    r.workers := '{}';
    IF u.role = 'grid_worker' THEN
        r.grids := ARRAY(SELECT wg.grid_id FROM worker_grid wg JOIN worker w ON w.id = wg.worker_id
                         WHERE w.user_id = u.id);
        r.workers := ARRAY(SELECT DISTINCT wg.worker_id FROM worker_grid wg WHERE wg.grid_id = ANY(r.grids));
    ELSIF u.role = 'community_officer' THEN
        r.community_id := (SELECT c.id FROM community c WHERE c.code = btrim(u.jurisdiction_code));
        r.workers := ARRAY(SELECT DISTINCT wg.worker_id FROM worker_grid wg JOIN grid g ON g.id = wg.grid_id
                           WHERE g.community_id = r.community_id);
    ELSIF u.role = 'street_officer' THEN
        r.street_id := (SELECT s.id FROM street s WHERE s.code = btrim(u.jurisdiction_code));
        r.workers := ARRAY(SELECT DISTINCT wg.worker_id FROM worker_grid wg JOIN grid g ON g.id = wg.grid_id
                           JOIN community c ON c.id = g.community_id WHERE c.street_id = r.street_id);
    END IF;
    RETURN r;
END $$;

-- Not SECURITY DEFINER (a definer's function call costs ~0.1 ms, five times a statement): it
-- reads only settings and calls the definer function above when the kept reach is missing.
-- Names are schema-qualified because it runs with the caller's search_path.
CREATE OR REPLACE FUNCTION onegrid_reach() RETURNS public.onegrid_reach
LANGUAGE plpgsql STABLE AS $$
DECLARE
    caller int := public.onegrid_uid();
    kept text := current_setting('onegrid.reach', true);
    r public.onegrid_reach;
BEGIN
    IF caller IS NULL THEN
        RETURN NULL;
    END IF;
    IF kept IS NOT NULL AND kept <> '' THEN
        r := kept::public.onegrid_reach;
        IF r.uid = caller THEN
            RETURN r;
        END IF;
    END IF;
    r := public.onegrid_reach_of(caller);
    IF r.uid IS NOT NULL THEN  -- (not `r IS NOT NULL`: that needs every field non-null)
        PERFORM set_config('onegrid.reach', r::text, true);
    END IF;
    RETURN r;
END $$;

-- The duplicate search of each new report, as PL/pgSQL so that its plan is kept per session
-- (as an SQL function it was planned on every call, 0.15 ms of a 0.45 ms search), and with
-- the box search first: a 50 m box holds a handful of incidents, while the planner liked to
-- AND it with the category index, thousands of entries for a common category.
CREATE OR REPLACE FUNCTION link_incident_duplicates(new_id bigint, open_states text[], since timestamptz,
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
