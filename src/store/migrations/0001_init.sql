CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE services (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    key_prefix  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE keys (
    seq                     INTEGER PRIMARY KEY AUTOINCREMENT,
    id                      TEXT NOT NULL UNIQUE,
    service_id              TEXT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    hash                    BLOB NOT NULL UNIQUE,
    start                   TEXT NOT NULL,
    description             TEXT NOT NULL DEFAULT '',
    scope                   INTEGER NOT NULL,
    perms                   INTEGER NOT NULL,
    enabled                 INTEGER NOT NULL,
    created_at              INTEGER NOT NULL,
    created_by              TEXT NOT NULL,
    updated_at              INTEGER NOT NULL,
    expires_at              INTEGER NOT NULL DEFAULT 0,
    revoked_at              INTEGER NOT NULL DEFAULT 0,
    archive_after_extract_s INTEGER NOT NULL DEFAULT -1,
    last_used_at            INTEGER NOT NULL DEFAULT 0,
    last_used_ip            TEXT NOT NULL DEFAULT '',
    rolled_from             TEXT NOT NULL DEFAULT ''
);
CREATE INDEX keys_service ON keys(service_id, seq);

CREATE TABLE usage (
    key_id     TEXT NOT NULL,
    service_id TEXT NOT NULL,
    minute     INTEGER NOT NULL,
    valid      INTEGER NOT NULL DEFAULT 0,
    denied     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, minute)
);
CREATE INDEX usage_service ON usage(service_id, minute);

CREATE TABLE audit (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    time        INTEGER NOT NULL,
    actor_type  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    action      TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    service_id  TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    ip          TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    detail      TEXT NOT NULL,
    prev_hash   BLOB NOT NULL,
    hash        BLOB NOT NULL
);
CREATE INDEX audit_time ON audit(time);
CREATE INDEX audit_actor ON audit(actor_id, seq);
CREATE INDEX audit_action ON audit(action, seq);
CREATE INDEX audit_target ON audit(target_id, seq);
CREATE INDEX audit_service ON audit(service_id, seq);
