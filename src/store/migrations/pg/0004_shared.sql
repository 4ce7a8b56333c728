-- State every node of a deployment shares (store.h: shared state): login-throttle counters (count =
-- failures + attempts in flight in the window that began at window_start) and the jobs that run once
-- per deployment, with their schedule and lease. Both tables are bounded: throttle rows whose window is
-- over are deleted by the throttle.purge job; jobs has one row per job name.
CREATE TABLE throttle (
    key          TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    count        BIGINT NOT NULL,
    inflight     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX throttle_window ON throttle(window_start);

CREATE TABLE jobs (
    name        TEXT PRIMARY KEY,
    next_run_at BIGINT NOT NULL,
    lease_until BIGINT NOT NULL DEFAULT 0,
    leased_by   TEXT NOT NULL DEFAULT '',
    last_run_by TEXT NOT NULL DEFAULT '',
    last_ok_at  BIGINT NOT NULL DEFAULT 0,
    last_error  TEXT NOT NULL DEFAULT '',
    runs        BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX sessions_expiry ON sessions(expires_at);
