-- Webhooks (domain/webhooks.h, Standard Webhooks): a service's endpoints, the outbox of deliveries and
-- every attempt made. secret_sealed / prev_secret_sealed are the whsec_ secrets sealed under the master
-- key (domain/secrets.h); after a rotation the previous secret still signs until prev_secret_until.
-- A delivery row is written in the same transaction as the change it announces (the outbox); its id is
-- the webhook-id header, the same across retries, and payload is the exact body that is signed. The
-- sender leases due rows (lease_owner, lease_until) so that each attempt is made by one node only.
CREATE TABLE webhooks (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    id                 TEXT NOT NULL UNIQUE,
    service_id         TEXT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    url                TEXT NOT NULL,
    events             TEXT NOT NULL,          -- JSON array of event types
    description        TEXT NOT NULL DEFAULT '',
    enabled            INTEGER NOT NULL DEFAULT 1,
    disabled_reason    TEXT NOT NULL DEFAULT '',  -- '' | 'gone' (the endpoint answered 410) | 'operator'
    secret_sealed      BLOB NOT NULL,
    prev_secret_sealed BLOB,
    prev_secret_until  INTEGER NOT NULL DEFAULT 0,
    created_by         TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX webhooks_service ON webhooks(service_id, seq);

CREATE TABLE webhook_deliveries (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,       -- msg_...: the webhook-id header
    webhook_id      TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    service_id      TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    payload         TEXT NOT NULL,              -- {"type","timestamp","data"} exactly as sent
    created_at      INTEGER NOT NULL,
    state           TEXT NOT NULL,              -- pending | delivered | failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,           -- ms; due when <= now and state = pending
    lease_owner     TEXT NOT NULL DEFAULT '',
    lease_until     INTEGER NOT NULL DEFAULT 0,
    last_status     INTEGER NOT NULL DEFAULT 0, -- HTTP status of the last attempt, 0 = none / no answer
    last_error      TEXT NOT NULL DEFAULT '',
    updated_at      INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries(webhook_id, seq);

CREATE TABLE webhook_attempts (
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    n           INTEGER NOT NULL,               -- 1, 2, ...
    at          INTEGER NOT NULL,               -- ms
    status      INTEGER NOT NULL DEFAULT 0,     -- HTTP status, 0 when none came
    error       TEXT NOT NULL DEFAULT '',       -- '' | 'timeout' | 'connect' | 'refused_address' | ...
    duration_ms INTEGER NOT NULL,
    node        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (delivery_id, n)
);
