-- Undo schema_0003.sql.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['district', 'street', 'community', 'grid', 'road', 'building', 'camera',
                             'cold_chain_site', 'service_center', 'key_point', 'incident', 'warning', 'worker_position'] LOOP
        EXECUTE format('DROP TRIGGER tiles_ins ON %I; DROP TRIGGER tiles_upd ON %I; DROP TRIGGER tiles_del ON %I',
                       t, t, t);
    END LOOP;
END $$;
DROP FUNCTION watch_tiles(regclass, text, text[]);
DROP FUNCTION notify_tile_change();
DROP TRIGGER track_to_position ON track_point;
DROP FUNCTION track_to_position();
DELETE FROM anchored_table WHERE name = 'worker_position'::regclass;
DROP TABLE worker_position;
DROP TRIGGER camera_fov ON camera;
DROP FUNCTION camera_fov();
ALTER TABLE camera DROP COLUMN fov_geom;
DROP FUNCTION camera_wedge(geometry, real, real, real);
DROP FUNCTION mask_phone(text);
DROP FUNCTION mask_id_number(text);
DROP FUNCTION mask_name(text);
