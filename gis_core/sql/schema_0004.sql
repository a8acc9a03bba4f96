-- Tracks: fixes refused by the track filter.

-- Fixes the filter refused (poor accuracy, impossible jump). Kept for audit and counting,
-- never part of a trajectory: `track_point` holds only fixes taken as truth.
CREATE TABLE track_rejected (
    worker_id   int NOT NULL REFERENCES worker ON DELETE CASCADE,
    recorded_at timestamptz NOT NULL,
    geom        geometry(Point, 4326) NOT NULL,
    speed_mps   real,
    accuracy_m  real,
    reason      text NOT NULL CHECK (reason IN ('accuracy', 'jump')),
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (worker_id, recorded_at)
);
CREATE INDEX track_rejected_time_brin ON track_rejected USING brin (recorded_at);
CREATE INDEX track_rejected_geom_gist ON track_rejected USING gist (geom);
