-- Standard addresses (一标三实, issue 22): road/lane (街路巷) → door plate (门牌, a point at the
-- entrance) → building (楼栋) → unit (单元) → room (户/室), one table with a parent link, so a
-- level may be skipped where it does not exist (a rural house has no unit). Each row is a point
-- anchored to its grid like every other place; households and persons attach to a room, shops
-- and organisations to a door plate or a room.
CREATE EXTENSION IF NOT EXISTS pg_trgm;        -- trigram similarity of names (trusted: the owner may create it)
CREATE EXTENSION IF NOT EXISTS fuzzystrmatch;  -- levenshtein, multibyte-aware

CREATE TABLE address (
    id           bigserial PRIMARY KEY,
    code         text NOT NULL UNIQUE,
    level        text NOT NULL CHECK (level IN ('road', 'door', 'building', 'unit', 'room')),
    parent_id    bigint REFERENCES address ON DELETE CASCADE,
    label        text NOT NULL,   -- this level's part as written: 锦山路 / 12号 / 3号楼 / 2单元 / 502室
    number       int,             -- the door, building, unit or room number; NULL for a road
    full_name    text NOT NULL,   -- the standard address, administrative prefix included
    search_name  text NOT NULL,   -- the full name as the geocoder normalises text (gis_core.geo.addresses)
    search_grams text,            -- a road's: its name as characters and bigrams (addresses.grams)
    building_id  bigint REFERENCES building ON DELETE SET NULL,
    geom         geometry(Point, 4326) NOT NULL,
    grid_id      int REFERENCES grid ON DELETE SET NULL,
    community_id int REFERENCES community ON DELETE SET NULL,
    street_id    int REFERENCES street ON DELETE SET NULL,
    CHECK ((level = 'road') = (parent_id IS NULL)),
    CHECK (level = 'road' OR number IS NOT NULL)
);
CREATE INDEX address_parent_idx ON address (parent_id, number);
CREATE INDEX address_geom_gist ON address USING gist (geom);
CREATE INDEX address_building_idx ON address (building_id);
CREATE TRIGGER anchor BEFORE INSERT OR UPDATE OF geom ON address FOR EACH ROW EXECUTE FUNCTION anchor_to_grid();
INSERT INTO anchored_table VALUES ('address'::regclass);

-- Names people use for a place besides its standard one: an estate (小区) for a door plate, a
-- former or common name for a road.
CREATE TABLE address_alias (
    id          bigserial PRIMARY KEY,
    address_id  bigint NOT NULL REFERENCES address ON DELETE CASCADE,
    alias       text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('estate', 'former', 'common')),
    search_name text NOT NULL,
    search_grams text NOT NULL,
    UNIQUE (address_id, alias)
);

-- pg_trgm compares trigrams of "words"; a Chinese name is one word of a few characters, so one
-- wrong character leaves almost no trigram in common. Written as each character followed by
-- the bigram it starts ("锦 锦山 山 山路 路", made in Python when a name is stored), a name gives
-- trigrams pg_trgm can match with a character wrong, and in order, so word_similarity finds a
-- road inside a longer text.
CREATE INDEX address_road_trgm ON address USING gin (search_grams gin_trgm_ops) WHERE level = 'road';
-- the roads alone, without a trip through the trigram index
CREATE INDEX address_roads ON address (id) WHERE level = 'road';
CREATE INDEX address_alias_trgm ON address_alias USING gin (search_grams gin_trgm_ops);

ALTER TABLE person ADD COLUMN address_id bigint REFERENCES address ON DELETE SET NULL;
ALTER TABLE unit ADD COLUMN address_id bigint REFERENCES address ON DELETE SET NULL;
CREATE INDEX person_address_idx ON person (address_id);
CREATE INDEX unit_address_idx ON unit (address_id);
