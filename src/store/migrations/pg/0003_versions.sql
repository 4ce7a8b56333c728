-- Versions on credential rows (store.h: Versions): one deployment-wide change counter, a version
-- column bumped with every change, the one successor a roll made, and tombstones for deleted keys.
-- The counter is one row updated with RETURNING inside the writing transaction (postgres_rows.c):
-- its row lock serialises credential writers across nodes, so versions commit in number order.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters(name, value) VALUES ('cred_version', (SELECT coalesce(max(seq), 0) FROM keys));

ALTER TABLE keys ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE keys ADD COLUMN rolled_to TEXT NOT NULL DEFAULT '';
UPDATE keys SET version = seq;
CREATE INDEX keys_version ON keys(version);

CREATE TABLE key_tombstones (
    id          TEXT PRIMARY KEY,
    service_id  TEXT NOT NULL,
    hash        BYTEA NOT NULL,
    start       TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    deleted_at  BIGINT NOT NULL
);
CREATE INDEX key_tombstones_version ON key_tombstones(version);
