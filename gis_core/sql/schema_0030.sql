-- Rate limits shared by every server process and host (issue 25): per key and minute, how many
-- hits. A limiter reads this minute's count and the last one's (a sliding-window counter), so
-- N processes or hosts give one limit, not N. Unlogged: counts of the last two minutes are not
-- worth a WAL record each, and after a crash they may start again from nothing.
CREATE UNLOGGED TABLE rate_window (
    key          text NOT NULL,
    window_start timestamptz NOT NULL,
    hits         int NOT NULL,
    PRIMARY KEY (key, window_start)
);
-- the request role counts its own reports on its own connection (api.rate_limits)
GRANT SELECT, INSERT, UPDATE, DELETE ON rate_window TO onegrid_app;
