-- One statement stores a report (incidents/submit.py): the incident, its first timeline row,
-- its photos' rows and its links to possible duplicates. The code's date is the session's
-- zone's, which is the district's (db.make_engine). submit.py appends the SELECT of the
-- answer's fields (queries.COLUMNS over the new row).
WITH i AS (
    INSERT INTO incident (code, category_code, category_version, description, source, state, level,
                          department_code, reporter_user_id, reporter_name, reported_at, due_at,
                          near_boundary, adjacent_grid_codes, idempotency_key, request_hash, geom,
                          updated_at)
    VALUES ('YB' || to_char(CAST(:now AS timestamptz), 'YYYYMMDD') || '-'
                || lpad(nextval('incident_code_seq')::text, 6, '0'),
            :cat, :cver, :desc, :src, 'reported', :lvl, :dept, :uid, :uname, :now, :due, :near, :adj,
            :key, :hash, ST_SetSRID(ST_MakePoint(:x, :y), 4326), :now)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING *
), ev AS (
    SELECT nextval('incident_event_id_seq') AS id
), e AS (
    INSERT INTO incident_event (id, incident_id, action, from_state, to_state, actor_user_id, at,
                                level, department_code, data)
    SELECT ev.id, i.id, 'report', NULL, 'reported', :uid, :now, :lvl, :dept, CAST(:event AS jsonb)
    FROM i, ev
), p AS (
    INSERT INTO incident_photo (incident_id, event_id, sha256, content_type, width, height, bytes,
                                position, taken_lon, taken_lat)
    SELECT i.id, ev.id, ph.sha256, ph.content_type, ph.width, ph.height, ph.bytes,
           ph.n - 1, ph.lon, ph.lat
    FROM i, ev, unnest(CAST(:p_sha AS text[]), CAST(:p_type AS text[]), CAST(:p_w AS int[]),
                   CAST(:p_h AS int[]), CAST(:p_bytes AS int[]), CAST(:p_lon AS float8[]),
                   CAST(:p_lat AS float8[]))
            WITH ORDINALITY AS ph(sha256, content_type, width, height, bytes, lon, lat, n)
), d AS (
    INSERT INTO incident_duplicate (incident_id, candidate_id, distance_m)
    SELECT i.id, near.candidate_id, near.distance_m
    FROM i, incident_duplicate_candidates(i.category_code, i.geom, CAST(:open AS text[]), :since,
                                          :r, :deg) AS near
)
