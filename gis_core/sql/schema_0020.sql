-- 实有单位: shops (商户) and the other units of a district (企业, 机关事业单位, 学校, 医疗机构,
-- 社会组织), pinned to a grid like every other place, in the building that houses them. Their
-- contact person and phone are personal data, masked for roles outside the layer's pii_roles.
-- Issue 22 will attach them to standard addresses (a door plate or a room); building_id now.

CREATE TABLE unit (
    id            serial PRIMARY KEY,
    code          text NOT NULL UNIQUE,
    name          text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('shop', 'enterprise', 'institution', 'school', 'medical',
                                                'social_org')),
    industry      text NOT NULL DEFAULT '',
    building_id   bigint REFERENCES building ON DELETE SET NULL,
    contact_name  text,
    contact_phone text,
    employees     int NOT NULL DEFAULT 0 CHECK (employees >= 0),
    geom          geometry(Point, 4326) NOT NULL,
    grid_id       int REFERENCES grid ON DELETE SET NULL,
    community_id  int REFERENCES community ON DELETE SET NULL,
    street_id     int REFERENCES street ON DELETE SET NULL
);
CREATE INDEX unit_geom_gist ON unit USING gist (geom);
CREATE INDEX unit_grid_idx ON unit (grid_id);
CREATE INDEX unit_building_idx ON unit (building_id);
CREATE TRIGGER anchor BEFORE INSERT OR UPDATE OF geom ON unit FOR EACH ROW EXECUTE FUNCTION anchor_to_grid();
INSERT INTO anchored_table VALUES ('unit'::regclass);

-- Cached layers drop their tiles where these tables change (party_org never announced it).
SELECT watch_tiles('party_org', 'id', 'geom');
SELECT watch_tiles('unit', 'id', 'geom');
