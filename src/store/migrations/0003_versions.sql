-- Versions on credential rows (store.h: Versions): one deployment-wide change counter, a version
-- column bumped with every change, the one successor a roll made, and tombstones for deleted keys
-- (so a cache or another node can tell a deletion from a key it never saw, and usage keeps naming
-- a deleted key).
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters(name, value) VALUES ('cred_version', (SELECT coalesce(max(seq), 0) FROM keys));

ALTER TABLE keys ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE keys ADD COLUMN rolled_to TEXT NOT NULL DEFAULT '';
UPDATE keys SET version = seq;
CREATE INDEX keys_version ON keys(version);

CREATE TABLE key_tombstones (
    id          TEXT PRIMARY KEY,
    service_id  TEXT NOT NULL,
    hash        BLOB NOT NULL,
    start       TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    version     INTEGER NOT NULL,
    deleted_at  INTEGER NOT NULL
);
CREATE INDEX key_tombstones_version ON key_tombstones(version);
