-- What a deleted key was called, so usage (which outlives the key) still names it. Filled by the
-- database itself whenever a keys row goes (DELETE /keys/{id}); a service's rows go with the service,
-- as its usage does. One small row per deleted key: no secret, no hash.
CREATE TABLE deleted_keys (
    id          TEXT PRIMARY KEY,
    service_id  TEXT NOT NULL,
    start       TEXT NOT NULL,
    description TEXT NOT NULL,
    deleted_at  INTEGER NOT NULL
);
CREATE INDEX deleted_keys_service ON deleted_keys(service_id);

CREATE TRIGGER keys_remember_deleted AFTER DELETE ON keys
BEGIN
    INSERT OR REPLACE INTO deleted_keys(id, service_id, start, description, deleted_at)
    VALUES (OLD.id, OLD.service_id, OLD.start, OLD.description,
            CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;

CREATE TRIGGER services_forget_deleted_keys AFTER DELETE ON services
BEGIN
    DELETE FROM deleted_keys WHERE service_id = OLD.id;
END;
