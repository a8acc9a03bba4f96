DROP INDEX IF EXISTS incident_track_unchecked_idx;
ALTER TABLE incident DROP COLUMN IF EXISTS track_check;
