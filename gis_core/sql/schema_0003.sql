-- Map tiles and features: PII masks usable inside tile SQL, camera field-of-view wedges,
-- workers' last positions, and change notices that invalidate exactly the affected tiles.

-- ---------------------------------------------------------------- PII masks
-- The same masks as gis_core/platform/pii.py (a test checks they agree), so that vector tiles,
-- built entirely in SQL, mask exactly as JSON responses do.
CREATE FUNCTION mask_phone(p text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN p IS NULL OR length(p) < 7 THEN p
                ELSE left(p, 3) || repeat('*', length(p) - 7) || right(p, 4) END
$$;
CREATE FUNCTION mask_id_number(p text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN p IS NULL OR length(p) < 8 THEN p
                ELSE left(p, 4) || repeat('*', length(p) - 8) || right(p, 4) END
$$;
CREATE FUNCTION mask_name(p text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN p IS NULL OR p = '' THEN p ELSE left(p, 1) || repeat('*', length(p) - 1) END
$$;

-- ---------------------------------------------------------------- camera wedges
-- What a camera sees: a sector from its position along its bearing, fov_deg wide and range_m
-- deep (a disc for 360° domes). Stored, indexed and kept current by a trigger, so the
-- high-zoom wedge layer is an indexed read like any other.
CREATE FUNCTION camera_wedge(p geometry, bearing real, fov real, range_m real)
RETURNS geometry LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN fov >= 360 THEN ST_Buffer(p::geography, range_m, 16)::geometry
    ELSE ST_MakePolygon(ST_MakeLine(
        ARRAY[p] || ARRAY(
            SELECT ST_Project(p::geography, range_m, radians(bearing - fov / 2 + fov * i / 16.0))::geometry
            FROM generate_series(0, 16) AS i ORDER BY i) || ARRAY[p]))
    END
$$;
ALTER TABLE camera ADD COLUMN fov_geom geometry(Polygon, 4326);
UPDATE camera SET fov_geom = camera_wedge(geom, bearing_deg, fov_deg, range_m);
ALTER TABLE camera ALTER COLUMN fov_geom SET NOT NULL;
CREATE INDEX camera_fov_geom_gist ON camera USING gist (fov_geom);
CREATE FUNCTION camera_fov() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.fov_geom := camera_wedge(NEW.geom, NEW.bearing_deg, NEW.fov_deg, NEW.range_m);
    RETURN NEW;
END $$;
CREATE TRIGGER camera_fov BEFORE INSERT OR UPDATE OF geom, bearing_deg, fov_deg, range_m ON camera
    FOR EACH ROW EXECUTE FUNCTION camera_fov();

-- ---------------------------------------------------------------- workers' last positions
-- The newest fix of each worker, kept by a statement trigger on track_point so that the map
-- never has to search millions of fixes for "where is everyone now". Anchored like any point.
CREATE TABLE worker_position (
    worker_id    int PRIMARY KEY REFERENCES worker ON DELETE CASCADE,
    recorded_at  timestamptz NOT NULL,
    speed_mps    real,
    accuracy_m   real,
    geom         geometry(Point, 4326) NOT NULL,
    grid_id      int REFERENCES grid ON DELETE SET NULL,
    community_id int REFERENCES community ON DELETE SET NULL,
    street_id    int REFERENCES street ON DELETE SET NULL
);
CREATE INDEX worker_position_geom_gist ON worker_position USING gist (geom);
CREATE INDEX worker_position_grid_idx ON worker_position (grid_id);
CREATE TRIGGER anchor BEFORE INSERT OR UPDATE OF geom ON worker_position
    FOR EACH ROW EXECUTE FUNCTION anchor_to_grid();
INSERT INTO anchored_table VALUES ('worker_position'::regclass);

CREATE FUNCTION track_to_position() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO worker_position AS wp (worker_id, recorded_at, speed_mps, accuracy_m, geom)
    SELECT DISTINCT ON (worker_id) worker_id, recorded_at, speed_mps, accuracy_m, geom
      FROM new_rows ORDER BY worker_id, recorded_at DESC
    ON CONFLICT (worker_id) DO UPDATE
       SET recorded_at = EXCLUDED.recorded_at, speed_mps = EXCLUDED.speed_mps,
           accuracy_m = EXCLUDED.accuracy_m, geom = EXCLUDED.geom
     WHERE EXCLUDED.recorded_at > wp.recorded_at;
    RETURN NULL;
END $$;
CREATE TRIGGER track_to_position AFTER INSERT ON track_point
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION track_to_position();
INSERT INTO worker_position (worker_id, recorded_at, speed_mps, accuracy_m, geom)
SELECT DISTINCT ON (worker_id) worker_id, recorded_at, speed_mps, accuracy_m, geom
  FROM track_point ORDER BY worker_id, recorded_at DESC;

-- ---------------------------------------------------------------- tile invalidation
-- After each statement that changes a watched table, one NOTIFY on `onegrid_tiles` carries the
-- table and the lon/lat extent of what changed (old and new geometries of the changed rows
-- only), so every server process drops exactly the cached tiles that extent touches.
-- TG_ARGV: the key column, then the geometry columns to take extents from.
CREATE FUNCTION notify_tile_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    key text := TG_ARGV[0];
    col text;
    parts text[] := '{}';
    ext box2d;
BEGIN
    FOREACH col IN ARRAY TG_ARGV[1:] LOOP
        IF TG_OP = 'INSERT' THEN
            parts := parts || format('SELECT %I AS g FROM new_rows', col);
        ELSIF TG_OP = 'DELETE' THEN
            parts := parts || format('SELECT %I AS g FROM old_rows', col);
        ELSE
            -- rows whose content changed at all; a no-op UPDATE (e.g. reanchoring) changes nothing
            parts := parts || format(
                'SELECT o.%1$I AS g FROM old_rows o JOIN new_rows n USING (%2$I) WHERE o IS DISTINCT FROM n '
                'UNION ALL SELECT n.%1$I FROM old_rows o JOIN new_rows n USING (%2$I) WHERE o IS DISTINCT FROM n',
                col, key);
        END IF;
    END LOOP;
    EXECUTE 'SELECT ST_Extent(g) FROM (' || array_to_string(parts, ' UNION ALL ') || ') AS changed' INTO ext;
    IF ext IS NOT NULL THEN
        PERFORM pg_notify('onegrid_tiles', json_build_object(
            'table', TG_TABLE_NAME,
            'bbox', json_build_array(ST_XMin(ext), ST_YMin(ext), ST_XMax(ext), ST_YMax(ext)))::text);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION watch_tiles(t regclass, key text, VARIADIC cols text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    args text := quote_literal(key) || ', ' || (SELECT string_agg(quote_literal(c), ', ') FROM unnest(cols) AS c);
BEGIN
    EXECUTE format('CREATE TRIGGER tiles_ins AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows '
                   'FOR EACH STATEMENT EXECUTE FUNCTION notify_tile_change(%s)', t, args);
    EXECUTE format('CREATE TRIGGER tiles_upd AFTER UPDATE ON %s REFERENCING OLD TABLE AS old_rows '
                   'NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION notify_tile_change(%s)', t, args);
    EXECUTE format('CREATE TRIGGER tiles_del AFTER DELETE ON %s REFERENCING OLD TABLE AS old_rows '
                   'FOR EACH STATEMENT EXECUTE FUNCTION notify_tile_change(%s)', t, args);
END $$;

SELECT watch_tiles('district', 'id', 'geom');
SELECT watch_tiles('street', 'id', 'geom');
SELECT watch_tiles('community', 'id', 'geom');
SELECT watch_tiles('grid', 'id', 'geom');
SELECT watch_tiles('road', 'id', 'geom');
SELECT watch_tiles('building', 'id', 'geom');
SELECT watch_tiles('camera', 'id', 'geom', 'fov_geom');
SELECT watch_tiles('cold_chain_site', 'id', 'geom');
SELECT watch_tiles('service_center', 'id', 'geom');
SELECT watch_tiles('key_point', 'id', 'geom');
SELECT watch_tiles('incident', 'id', 'geom');
SELECT watch_tiles('warning', 'id', 'geom');
SELECT watch_tiles('worker_position', 'worker_id', 'geom');
