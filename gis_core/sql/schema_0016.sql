-- When each piece of district-wide scheduled work (warning rules, escalation) last ran, so
-- that it runs once per interval for the whole deployment, not once in every server worker.
CREATE TABLE scheduled_run (
    job text PRIMARY KEY,
    last_run_at timestamptz NOT NULL
);
