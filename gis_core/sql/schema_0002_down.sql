DROP SEQUENCE IF EXISTS incident_code_seq;
ALTER TABLE incident_photo DROP COLUMN position, DROP COLUMN taken_lon, DROP COLUMN taken_lat;
DROP TABLE IF EXISTS incident_duplicate;
ALTER TABLE incident_event DROP COLUMN level, DROP COLUMN department_code, DROP COLUMN data;
DROP INDEX IF EXISTS incident_due_idx, incident_reporter_idx;
ALTER TABLE incident DROP COLUMN suspended_at, DROP COLUMN merged_into, DROP COLUMN adjacent_grid_codes,
    DROP COLUMN escalations, DROP COLUMN reopened, DROP COLUMN updated_at;
ALTER TABLE incident DROP CONSTRAINT incident_state_check;
ALTER TABLE incident ADD CONSTRAINT incident_state_check CHECK (state IN ('reported', 'accepted',
    'dispatched', 'in_progress', 'suspended', 'resolved', 'closed', 'rejected'));
