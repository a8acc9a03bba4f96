-- Warnings (预警查看): what happened to each warning, and the cold-chain monitoring readings
-- that one of the rules watches.

-- The timeline of a warning: raised, acknowledged and cleared, by whom (NULL: the rules engine).
CREATE TABLE warning_event (
    id            bigserial PRIMARY KEY,
    warning_id    bigint NOT NULL REFERENCES warning ON DELETE CASCADE,
    action        text NOT NULL CHECK (action IN ('raise', 'acknowledge', 'clear')),
    actor_user_id int REFERENCES app_user,
    at            timestamptz NOT NULL DEFAULT now(),
    note          text NOT NULL DEFAULT ''
);
CREATE INDEX warning_event_warning_idx ON warning_event (warning_id, at);
CREATE INDEX warning_state_idx ON warning (state, rule);

-- Readings posted by the cold-chain monitoring system (temperature probes at each site).
CREATE TABLE cold_chain_reading (
    site_id         int NOT NULL REFERENCES cold_chain_site ON DELETE CASCADE,
    recorded_at     timestamptz NOT NULL,
    temperature_c   real NOT NULL CHECK (temperature_c BETWEEN -80 AND 80),
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, recorded_at)
);
