-- Machine credentials (issue 8): tokens, access keys and bans are rows of keys, told apart by kind
-- ('api_key' | 'token' | 'access_key' | 'ban'), so versions, the verify cache, sync, tombstones and
-- write-behind last use work for them unchanged. service_user_id names the owner of a token or access
-- key; owner_enabled is 0 while that owner is disabled; sealed holds an access key's secret sealed under
-- the master key (NULL for every other kind). Tombstones keep kind and owner so a deleted row stays
-- what it was. Service users are the machine identities that own them.
ALTER TABLE keys ADD COLUMN kind TEXT NOT NULL DEFAULT 'api_key';
ALTER TABLE keys ADD COLUMN service_user_id TEXT NOT NULL DEFAULT '';
ALTER TABLE keys ADD COLUMN owner_enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE keys ADD COLUMN sealed BLOB;
CREATE INDEX keys_owner ON keys(service_user_id, seq);
CREATE INDEX keys_kind ON keys(service_id, kind, seq);

ALTER TABLE key_tombstones ADD COLUMN kind TEXT NOT NULL DEFAULT 'api_key';
ALTER TABLE key_tombstones ADD COLUMN service_user_id TEXT NOT NULL DEFAULT '';

CREATE TABLE service_users (
    seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
    id                   TEXT NOT NULL UNIQUE,
    service_id           TEXT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    name                 TEXT NOT NULL,
    source_system        TEXT NOT NULL,
    perms                INTEGER NOT NULL,
    enabled              INTEGER NOT NULL,
    client_secret_hash   BLOB NOT NULL,
    client_secret_set_at INTEGER NOT NULL,
    created_at           INTEGER NOT NULL,
    created_by           TEXT NOT NULL,
    updated_at           INTEGER NOT NULL,
    version              INTEGER NOT NULL DEFAULT 0,
    UNIQUE (service_id, source_system)
);
CREATE INDEX service_users_service ON service_users(service_id, seq);
