-- Snap-and-report workflow: merged state, stage deadlines, suspension, duplicates, boundary units.
ALTER TABLE incident DROP CONSTRAINT incident_state_check;
ALTER TABLE incident ADD CONSTRAINT incident_state_check CHECK (state IN ('reported', 'accepted',
    'dispatched', 'in_progress', 'suspended', 'resolved', 'closed', 'rejected', 'merged'));
ALTER TABLE incident
    ADD COLUMN suspended_at timestamptz,
    ADD COLUMN merged_into bigint REFERENCES incident ON DELETE SET NULL,
    ADD COLUMN adjacent_grid_codes text[] NOT NULL DEFAULT '{}',
    ADD COLUMN escalations int NOT NULL DEFAULT 0,
    ADD COLUMN reopened int NOT NULL DEFAULT 0,
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX incident_due_idx ON incident (due_at) WHERE state IN ('reported', 'accepted', 'dispatched', 'in_progress');
CREATE INDEX incident_reporter_idx ON incident (reporter_user_id);

ALTER TABLE incident_event
    ADD COLUMN level text,
    ADD COLUMN department_code text,
    ADD COLUMN data jsonb NOT NULL DEFAULT '{}';

-- Possible duplicates: open incidents of the same category nearby, shown to the handler.
CREATE TABLE incident_duplicate (
    incident_id  bigint NOT NULL REFERENCES incident ON DELETE CASCADE,
    candidate_id bigint NOT NULL REFERENCES incident ON DELETE CASCADE,
    distance_m   double precision NOT NULL,
    PRIMARY KEY (incident_id, candidate_id)
);

ALTER TABLE incident_photo
    ADD COLUMN position int NOT NULL DEFAULT 0,
    ADD COLUMN taken_lon double precision,
    ADD COLUMN taken_lat double precision;

CREATE SEQUENCE incident_code_seq;
