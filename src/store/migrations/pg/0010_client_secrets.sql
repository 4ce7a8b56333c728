-- OAuth client secrets as rows of keys (kind 'client_secret', hash = the secret's SHA-256, owner the
-- service user, the user's perms, owner_enabled = the user's enabled flag), so the key cache and sync
-- carry them to every node and POST /oauth/token authenticates a client from memory. Rows for the
-- service users that exist already (the id is the user's with prefix cs_; version the user's).
INSERT INTO keys (id, service_id, hash, start, description, scope, perms, enabled, created_at, created_by,
                  updated_at, version, kind, service_user_id, owner_enabled)
SELECT 'cs_' || substr(id, 4), service_id, client_secret_hash, 'kwcs_', 'OAuth client secret', 0, perms, 1,
       client_secret_set_at, created_by, updated_at, version, 'client_secret', id, enabled
FROM service_users;
