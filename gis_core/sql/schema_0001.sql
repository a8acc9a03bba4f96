-- OneGrid domain model (DESIGN.md). Storage CRS EPSG:4326; every geometry has a GiST index.
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS pgrouting;

-- ---------------------------------------------------------------- hierarchy
-- Each level partitions its parent; `onegrid check topology` verifies it.
CREATE TABLE district (
    id    serial PRIMARY KEY,
    code  char(12) NOT NULL UNIQUE CHECK (code ~ '^[0-9]{12}$'),
    name  text NOT NULL,
    geom  geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom))
);
CREATE TABLE street (
    id          serial PRIMARY KEY,
    code        char(12) NOT NULL UNIQUE CHECK (code ~ '^[0-9]{12}$'),
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('street', 'town')),
    district_id int NOT NULL REFERENCES district ON DELETE CASCADE,
    geom        geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom))
);
CREATE TABLE community (
    id        serial PRIMARY KEY,
    code      char(12) NOT NULL UNIQUE CHECK (code ~ '^[0-9]{12}$'),
    name      text NOT NULL,
    kind      text NOT NULL CHECK (kind IN ('community', 'village')),
    street_id int NOT NULL REFERENCES street ON DELETE CASCADE,
    geom      geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom))
);
-- Grid code: the community's 12-digit code plus a 3-digit grid suffix.
CREATE TABLE grid (
    id           serial PRIMARY KEY,
    code         varchar(15) NOT NULL UNIQUE CHECK (code ~ '^[0-9]{15}$'),
    name         text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('urban', 'rural', 'enterprise', 'school')),
    community_id int NOT NULL REFERENCES community ON DELETE CASCADE,
    geom         geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom))
);
CREATE INDEX district_geom_gist ON district USING gist (geom);
CREATE INDEX street_geom_gist ON street USING gist (geom);
CREATE INDEX community_geom_gist ON community USING gist (geom);
CREATE INDEX grid_geom_gist ON grid USING gist (geom);
CREATE INDEX street_district_idx ON street (district_id);
CREATE INDEX community_street_idx ON community (street_id);
CREATE INDEX grid_community_idx ON grid (community_id);

-- Bumped (and NOTIFY'd on channel onegrid_boundaries) whenever the hierarchy or the
-- worker assignments change, so in-process lookup indexes know to rebuild.
CREATE TABLE boundary_revision (
    id       boolean PRIMARY KEY DEFAULT true CHECK (id),
    revision bigint NOT NULL DEFAULT 0,
    changed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO boundary_revision DEFAULT VALUES;

CREATE FUNCTION bump_boundary_revision() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    rev bigint;
BEGIN
    UPDATE boundary_revision SET revision = revision + 1, changed_at = now()
    RETURNING revision INTO rev;
    PERFORM pg_notify('onegrid_boundaries', rev::text);
    RETURN NULL;
END $$;

-- ---------------------------------------------------------------- anchoring
-- The one place where an anchored row's grid, community and street come from its
-- geometry: a point uses itself, a line or polygon its point on surface.
CREATE FUNCTION grid_of(g geometry)
RETURNS TABLE (grid_id int, community_id int, street_id int)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT gr.id, gr.community_id, c.street_id
    FROM grid gr JOIN community c ON c.id = gr.community_id
    WHERE g IS NOT NULL AND ST_Intersects(gr.geom, ST_PointOnSurface(g))
    ORDER BY gr.code
    LIMIT 1
$$;

CREATE FUNCTION anchor_to_grid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT a.grid_id, a.community_id, a.street_id
      INTO NEW.grid_id, NEW.community_id, NEW.street_id
      FROM grid_of(NEW.geom) AS a;
    IF NOT FOUND THEN
        NEW.grid_id := NULL; NEW.community_id := NULL; NEW.street_id := NULL;
    END IF;
    RETURN NEW;
END $$;

-- Tables whose rows are anchored to the grid that contains their geometry.
CREATE TABLE anchored_table (name regclass PRIMARY KEY);

-- When grid boundaries change, every anchored row inside the changed extent is
-- re-derived by touching its geometry (which fires anchor_to_grid).
CREATE FUNCTION reanchor(extent geometry) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    t regclass;
BEGIN
    IF extent IS NULL THEN RETURN; END IF;
    FOR t IN SELECT name FROM anchored_table LOOP
        EXECUTE format('UPDATE %s SET geom = geom WHERE geom && $1', t) USING extent;
    END LOOP;
END $$;

CREATE FUNCTION grid_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    extent geometry;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT ST_Extent(geom)::geometry INTO extent FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT ST_Extent(geom)::geometry INTO extent FROM old_rows;
    ELSE
        SELECT ST_Extent(e)::geometry INTO extent FROM (
            SELECT o.geom AS e FROM old_rows o JOIN new_rows n USING (id)
             WHERE NOT ST_Equals(o.geom, n.geom)
            UNION ALL
            SELECT n.geom FROM old_rows o JOIN new_rows n USING (id)
             WHERE NOT ST_Equals(o.geom, n.geom) OR o.community_id <> n.community_id
        ) AS changed;
    END IF;
    PERFORM reanchor(ST_SetSRID(extent, 4326));
    RETURN NULL;
END $$;

CREATE TRIGGER grid_changed_ins AFTER INSERT ON grid
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION grid_changed();
CREATE TRIGGER grid_changed_upd AFTER UPDATE ON grid
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION grid_changed();
CREATE TRIGGER grid_changed_del AFTER DELETE ON grid
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION grid_changed();

-- ---------------------------------------------------------------- organisations
CREATE TABLE department (
    code  text PRIMARY KEY,
    name  text NOT NULL,
    level text NOT NULL CHECK (level IN ('grid', 'community', 'street', 'district'))
);

-- Incident catalogue: 16 major classes and their items, with routing defaults.
CREATE TABLE category (
    code            text PRIMARY KEY,
    major_code      text NOT NULL,
    major_name      text NOT NULL,
    major_name_en   text NOT NULL,
    name            text NOT NULL,
    name_en         text NOT NULL,
    handling_level  text NOT NULL CHECK (handling_level IN ('grid', 'community', 'street', 'district')),
    department_code text NOT NULL REFERENCES department,
    accept_hours    numeric NOT NULL CHECK (accept_hours > 0),
    dispatch_hours  numeric NOT NULL CHECK (dispatch_hours > 0),
    handle_hours    numeric NOT NULL CHECK (handle_hours > 0)
);
CREATE INDEX category_major_idx ON category (major_code);

-- ---------------------------------------------------------------- users
CREATE TABLE app_user (
    id                serial PRIMARY KEY,
    username          text NOT NULL UNIQUE,
    display_name      text NOT NULL,
    password_hash     text,            -- NULL: cannot log in
    role              text NOT NULL CHECK (role IN ('admin', 'commander', 'street_officer',
                          'community_officer', 'grid_worker', 'department_handler', 'planner', 'citizen')),
    jurisdiction_code text,            -- district/street/community (12) or grid (15) code
    department_code   text REFERENCES department,
    active            boolean NOT NULL DEFAULT true,
    failed_logins     int NOT NULL DEFAULT 0,
    locked_until      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now()
);

-- Opaque bearer tokens, stored as SHA-256: expiry and revocation are a row update.
CREATE TABLE api_token (
    token_hash char(64) PRIMARY KEY,
    user_id    int NOT NULL REFERENCES app_user ON DELETE CASCADE,
    issued_at  timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX api_token_user_idx ON api_token (user_id);

-- ---------------------------------------------------------------- anchored entities
-- Every table below carries geom plus grid_id/community_id/street_id derived by anchor_to_grid.
CREATE TABLE building (
    id           bigserial PRIMARY KEY,
    code         text NOT NULL UNIQUE,
    address      text NOT NULL,
    use          text NOT NULL DEFAULT 'residential'
                 CHECK (use IN ('residential', 'commercial', 'industrial', 'school', 'public', 'rural_house')),
    floors       int NOT NULL CHECK (floors > 0),
    households   int NOT NULL DEFAULT 0 CHECK (households >= 0),
    geom         geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom)),
    grid_id      int REFERENCES grid ON DELETE SET NULL,
    community_id int REFERENCES community ON DELETE SET NULL,
    street_id    int REFERENCES street ON DELETE SET NULL
);

CREATE TABLE person (
    id           bigserial PRIMARY KEY,
    building_id  bigint REFERENCES building ON DELETE SET NULL,
    household_no text NOT NULL,
    name         text NOT NULL,
    id_number    char(18) NOT NULL UNIQUE,
    phone        text,
    gender       char(1) NOT NULL CHECK (gender IN ('M', 'F')),
    birth_date   date NOT NULL,
    residency    text NOT NULL CHECK (residency IN ('resident', 'floating')),
    care_tags    text[] NOT NULL DEFAULT '{}',
    risk_class   char(1) NOT NULL DEFAULT 'D' CHECK (risk_class IN ('A', 'B', 'C', 'D')),
    party_member boolean NOT NULL DEFAULT false,
    geom         geometry(Point, 4326) NOT NULL,
    grid_id      int REFERENCES grid ON DELETE SET NULL,
    community_id int REFERENCES community ON DELETE SET NULL,
    street_id    int REFERENCES street ON DELETE SET NULL
);
CREATE INDEX person_building_idx ON person (building_id);

CREATE TABLE party_org (
    id           serial PRIMARY KEY,
    code         text NOT NULL UNIQUE,
    name         text NOT NULL,
    level        text NOT NULL CHECK (level IN ('district', 'street', 'community', 'grid', 'enterprise')),
    members      int NOT NULL DEFAULT 0,
    geom         geometry(Point, 4326) NOT NULL,
    grid_id      int REFERENCES grid ON DELETE SET NULL,
    community_id int REFERENCES community ON DELETE SET NULL,
    street_id    int REFERENCES street ON DELETE SET NULL
);

CREATE TABLE service_center (
    id             serial PRIMARY KEY,
    code           text NOT NULL UNIQUE,
    name           text NOT NULL,
    level          text NOT NULL CHECK (level IN ('district', 'street', 'community')),
    circle_minutes int NOT NULL CHECK (circle_minutes IN (5, 10, 15)),
    geom           geometry(Point, 4326) NOT NULL,
    grid_id        int REFERENCES grid ON DELETE SET NULL,
    community_id   int REFERENCES community ON DELETE SET NULL,
    street_id      int REFERENCES street ON DELETE SET NULL
);

CREATE TABLE camera (
    id            serial PRIMARY KEY,
    code          text NOT NULL UNIQUE,
    name          text NOT NULL,
    source_system text NOT NULL CHECK (source_system IN ('skynet', 'service_hall', 'street_built')),
    preset_group  int NOT NULL CHECK (preset_group BETWEEN 1 AND 12),
    bearing_deg   real NOT NULL CHECK (bearing_deg >= 0 AND bearing_deg < 360),
    fov_deg       real NOT NULL CHECK (fov_deg > 0 AND fov_deg <= 360),
    range_m       real NOT NULL CHECK (range_m > 0),
    online        boolean NOT NULL DEFAULT true,
    last_seen_at  timestamptz,
    geom          geometry(Point, 4326) NOT NULL,
    grid_id       int REFERENCES grid ON DELETE SET NULL,
    community_id  int REFERENCES community ON DELETE SET NULL,
    street_id     int REFERENCES street ON DELETE SET NULL
);

CREATE TABLE cold_chain_site (
    id           serial PRIMARY KEY,
    code         text NOT NULL UNIQUE,
    name         text NOT NULL,
    category     text NOT NULL CHECK (category IN ('cold_chain_firm', 'cold_store', 'quarantine_hotel')),
    risk_level   text NOT NULL CHECK (risk_level IN ('high', 'medium', 'low')),
    geom         geometry(Geometry, 4326) NOT NULL
                 CHECK (GeometryType(geom) IN ('POINT', 'POLYGON', 'MULTIPOLYGON') AND ST_IsValid(geom)),
    grid_id      int REFERENCES grid ON DELETE SET NULL,
    community_id int REFERENCES community ON DELETE SET NULL,
    street_id    int REFERENCES street ON DELETE SET NULL
);
CREATE TABLE cold_chain_camera (
    site_id   int NOT NULL REFERENCES cold_chain_site ON DELETE CASCADE,
    camera_id int NOT NULL REFERENCES camera ON DELETE CASCADE,
    PRIMARY KEY (site_id, camera_id)
);

CREATE TABLE key_point (
    id                 serial PRIMARY KEY,
    code               text NOT NULL UNIQUE,
    name               text NOT NULL,
    kind               text NOT NULL CHECK (kind IN ('forest_fire', 'flood', 'other')),
    patrol_interval_h  int NOT NULL DEFAULT 24 CHECK (patrol_interval_h > 0),
    geom               geometry(Point, 4326) NOT NULL,
    grid_id            int REFERENCES grid ON DELETE SET NULL,
    community_id       int REFERENCES community ON DELETE SET NULL,
    street_id          int REFERENCES street ON DELETE SET NULL
);

-- ---------------------------------------------------------------- workers and tracks
CREATE TABLE worker (
    id      serial PRIMARY KEY,
    code    text NOT NULL UNIQUE,
    name    text NOT NULL,
    phone   text NOT NULL,
    user_id int UNIQUE REFERENCES app_user ON DELETE SET NULL,
    active  boolean NOT NULL DEFAULT true
);
CREATE TABLE worker_grid (
    worker_id int NOT NULL REFERENCES worker ON DELETE CASCADE,
    grid_id   int NOT NULL REFERENCES grid ON DELETE CASCADE,
    is_primary boolean NOT NULL DEFAULT true,
    PRIMARY KEY (worker_id, grid_id)
);
CREATE INDEX worker_grid_grid_idx ON worker_grid (grid_id);

-- GPS fixes: large and append-mostly, so range-partitioned by month with BRIN on time.
CREATE TABLE track_point (
    worker_id   int NOT NULL REFERENCES worker ON DELETE CASCADE,
    recorded_at timestamptz NOT NULL,
    geom        geometry(Point, 4326) NOT NULL,
    speed_mps   real,
    accuracy_m  real,
    PRIMARY KEY (worker_id, recorded_at)
) PARTITION BY RANGE (recorded_at);
CREATE TABLE track_point_default PARTITION OF track_point DEFAULT;
CREATE INDEX track_point_time_brin ON track_point USING brin (recorded_at);
CREATE INDEX track_point_geom_gist ON track_point USING gist (geom);

-- Monthly partitions for [from_ts, to_ts); idempotent.
CREATE FUNCTION ensure_track_partitions(from_ts timestamptz, to_ts timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', from_ts AT TIME ZONE 'UTC')::date;
BEGIN
    WHILE m < to_ts AT TIME ZONE 'UTC' LOOP
        EXECUTE format(
            'CREATE TABLE IF NOT EXISTS %I PARTITION OF track_point FOR VALUES FROM (%L) TO (%L)',
            'track_point_' || to_char(m, 'YYYY_MM'),
            (m::timestamp AT TIME ZONE 'UTC'), ((m + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
        m := (m + interval '1 month')::date;
    END LOOP;
END $$;

-- ---------------------------------------------------------------- roads (pgRouting)
CREATE TABLE road_vertex (
    id   bigint PRIMARY KEY,
    geom geometry(Point, 4326) NOT NULL
);
CREATE TABLE road (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL DEFAULT '',
    kind         text NOT NULL CHECK (kind IN ('arterial', 'street', 'lane', 'rural', 'bridge')),
    source       bigint NOT NULL REFERENCES road_vertex,
    target       bigint NOT NULL REFERENCES road_vertex,
    length_m     double precision NOT NULL CHECK (length_m >= 0),
    cost         double precision NOT NULL,   -- walking seconds; negative = closed
    reverse_cost double precision NOT NULL,
    geom         geometry(LineString, 4326) NOT NULL
);
CREATE INDEX road_vertex_geom_gist ON road_vertex USING gist (geom);
CREATE INDEX road_geom_gist ON road USING gist (geom);
CREATE INDEX road_source_idx ON road (source);
CREATE INDEX road_target_idx ON road (target);

-- ---------------------------------------------------------------- incidents
CREATE TABLE incident (
    id              bigserial PRIMARY KEY,
    code            text NOT NULL UNIQUE,
    category_code   text NOT NULL REFERENCES category,
    description     text NOT NULL DEFAULT '',
    source          text NOT NULL CHECK (source IN ('grid_worker', 'citizen', 'hotline', 'camera')),
    state           text NOT NULL DEFAULT 'reported' CHECK (state IN ('reported', 'accepted',
                        'dispatched', 'in_progress', 'suspended', 'resolved', 'closed', 'rejected')),
    level           text NOT NULL CHECK (level IN ('grid', 'community', 'street', 'district')),
    department_code text REFERENCES department,
    reporter_user_id int REFERENCES app_user ON DELETE SET NULL,
    reporter_name   text,
    reported_at     timestamptz NOT NULL DEFAULT now(),
    accepted_at     timestamptz,
    dispatched_at   timestamptz,
    resolved_at     timestamptz,
    closed_at       timestamptz,
    due_at          timestamptz,
    closed_level    text CHECK (closed_level IN ('grid', 'community', 'street', 'district')),
    rating          text CHECK (rating IN ('satisfied', 'basic', 'unsatisfied')),
    near_boundary   boolean NOT NULL DEFAULT false,
    idempotency_key text UNIQUE,
    request_hash    char(64),
    version         int NOT NULL DEFAULT 1,
    geom            geometry(Point, 4326) NOT NULL,
    grid_id         int REFERENCES grid ON DELETE SET NULL,
    community_id    int REFERENCES community ON DELETE SET NULL,
    street_id       int REFERENCES street ON DELETE SET NULL
);
CREATE INDEX incident_state_idx ON incident (state);
CREATE INDEX incident_category_idx ON incident (category_code);
CREATE INDEX incident_reported_brin ON incident USING brin (reported_at);

-- Append-only timeline: one row per workflow action.
CREATE TABLE incident_event (
    id            bigserial PRIMARY KEY,
    incident_id   bigint NOT NULL REFERENCES incident ON DELETE CASCADE,
    action        text NOT NULL,
    from_state    text,
    to_state      text NOT NULL,
    actor_user_id int REFERENCES app_user ON DELETE SET NULL,
    at            timestamptz NOT NULL DEFAULT now(),
    note          text NOT NULL DEFAULT ''
);
CREATE INDEX incident_event_incident_idx ON incident_event (incident_id, at);
CREATE FUNCTION forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER incident_event_append_only BEFORE UPDATE OR DELETE ON incident_event
    FOR EACH ROW WHEN (pg_trigger_depth() = 0) EXECUTE FUNCTION forbid_change();

CREATE TABLE incident_photo (
    id           bigserial PRIMARY KEY,
    incident_id  bigint NOT NULL REFERENCES incident ON DELETE CASCADE,
    event_id     bigint REFERENCES incident_event ON DELETE SET NULL,
    sha256       char(64) NOT NULL,
    content_type text NOT NULL,
    width        int NOT NULL,
    height       int NOT NULL,
    bytes        int NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incident_photo_incident_idx ON incident_photo (incident_id);

-- ---------------------------------------------------------------- warnings
CREATE TABLE warning (
    id              bigserial PRIMARY KEY,
    rule            text NOT NULL,
    cause_key       text NOT NULL,
    subject_type    text NOT NULL,
    subject_id      bigint,
    level           text NOT NULL CHECK (level IN ('blue', 'yellow', 'orange', 'red')),
    state           text NOT NULL DEFAULT 'raised' CHECK (state IN ('raised', 'acknowledged', 'cleared')),
    message         text NOT NULL DEFAULT '',
    raised_at       timestamptz NOT NULL DEFAULT now(),
    acknowledged_at timestamptz,
    cleared_at      timestamptz,
    geom            geometry(Geometry, 4326) NOT NULL,
    grid_id         int REFERENCES grid ON DELETE SET NULL,
    community_id    int REFERENCES community ON DELETE SET NULL,
    street_id       int REFERENCES street ON DELETE SET NULL
);
-- A warning is raised once per cause while it is not cleared.
CREATE UNIQUE INDEX warning_active_cause_idx ON warning (rule, cause_key) WHERE state <> 'cleared';

-- ---------------------------------------------------------------- demo bookkeeping
CREATE TABLE demo_manifest (
    id        boolean PRIMARY KEY DEFAULT true CHECK (id),
    loaded_at timestamptz NOT NULL DEFAULT now(),
    manifest  jsonb NOT NULL
);

-- ---------------------------------------------------------------- wiring
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['building', 'person', 'party_org', 'service_center', 'camera',
                             'cold_chain_site', 'key_point', 'incident', 'warning'] LOOP
        EXECUTE format('CREATE INDEX %I ON %I USING gist (geom)', t || '_geom_gist', t);
        EXECUTE format('CREATE INDEX %I ON %I (grid_id)', t || '_grid_idx', t);
        EXECUTE format('CREATE TRIGGER anchor BEFORE INSERT OR UPDATE OF geom ON %I '
                       'FOR EACH ROW EXECUTE FUNCTION anchor_to_grid()', t);
        INSERT INTO anchored_table VALUES (t::regclass);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['district', 'street', 'community', 'grid', 'worker_grid'] LOOP
        EXECUTE format('CREATE TRIGGER boundaries_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE '
                       'ON %I FOR EACH STATEMENT EXECUTE FUNCTION bump_boundary_revision()', t);
    END LOOP;
END $$;
