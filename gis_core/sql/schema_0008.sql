-- A grid worker's report checked against their own track (轨迹核验): where the track puts them
-- when they filed it. NULL until checked; {"status": "ok" | "far" | "no_track", ...} after.
ALTER TABLE incident ADD COLUMN track_check jsonb;
CREATE INDEX incident_track_unchecked_idx ON incident (reported_at)
    WHERE source = 'grid_worker' AND track_check IS NULL;
