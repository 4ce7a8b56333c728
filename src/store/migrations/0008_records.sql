-- Identity records (domain/records.h): one row per candidate of a service, its pictures and its status
-- history. attributes_ct and record_pictures.ct are AES-256-GCM under the record's data key, which is
-- sealed under the master key in sealed_dek; archiving sets all three to NULL in one transaction (the
-- database runs with secure_delete=ON, so the freed space is zeroed). certificates is plain metadata.
CREATE TABLE records (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    service_id      TEXT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    ref_id          TEXT NOT NULL,
    identity_id     TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL,
    is_archived     INTEGER NOT NULL DEFAULT 0,
    inreview_date   INTEGER NOT NULL DEFAULT 0,
    waiting_date    INTEGER NOT NULL DEFAULT 0,
    approved_date   INTEGER NOT NULL DEFAULT 0,
    will_archive_at INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    created_by      TEXT NOT NULL,
    version         INTEGER NOT NULL,
    sealed_dek      BLOB,
    attributes_ct   BLOB,
    certificates    TEXT NOT NULL DEFAULT '[]',
    UNIQUE (service_id, ref_id)
);
CREATE INDEX records_updated ON records(service_id, updated_at);
CREATE INDEX records_due ON records(will_archive_at) WHERE will_archive_at > 0 AND is_archived = 0;

CREATE TABLE record_pictures (
    record_id  TEXT NOT NULL REFERENCES records(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size       INTEGER NOT NULL,
    ct         BLOB,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (record_id, name)
);

CREATE TABLE record_history (
    record_id   TEXT NOT NULL REFERENCES records(id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    actor_type  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    comment     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (record_id, seq)
);
