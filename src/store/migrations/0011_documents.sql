-- Documents (domain/documents.h, issue 10): one row per file a service ingested. The content is
-- AES-256-GCM in chunks under the document's data key, sealed under the master key in sealed_dek. On
-- SQLite the chunks are a file <data-dir>/documents/<id> (written, fsynced and renamed into place
-- before the row commits); deleting a document sets sealed_dek to NULL and removes the file
-- (crypto-shred: the metadata row stays with deleted_at). idempotency_hash is the SHA-256 of the ingest
-- request's body, to tell a retry from a different request under the same Idempotency-Key.
CREATE TABLE documents (
    seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
    id                  TEXT NOT NULL UNIQUE,
    service_id          TEXT NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    service_user_id     TEXT NOT NULL,
    credential_id       TEXT NOT NULL,
    filename            TEXT NOT NULL DEFAULT '',
    media_type          TEXT NOT NULL,
    size                INTEGER NOT NULL,
    sha256              TEXT NOT NULL,
    source_tag          TEXT NOT NULL DEFAULT '',
    external_id         TEXT NOT NULL DEFAULT '',
    document_category   TEXT NOT NULL DEFAULT '',
    department          TEXT NOT NULL DEFAULT '',
    approver_department TEXT NOT NULL DEFAULT '',
    metadata            TEXT NOT NULL DEFAULT '{}',
    sealed_dek          BLOB,
    chunk_size          INTEGER NOT NULL,
    nchunks             INTEGER NOT NULL,
    idempotency_key     TEXT NOT NULL DEFAULT '',
    idempotency_hash    BLOB,
    created_at          INTEGER NOT NULL,
    deleted_at          INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX documents_idem ON documents(service_id, idempotency_key) WHERE idempotency_key <> '';
CREATE INDEX documents_service ON documents(service_id, seq) WHERE deleted_at = 0;
CREATE INDEX documents_source_tag ON documents(service_id, source_tag, seq) WHERE deleted_at = 0;
CREATE INDEX documents_external_id ON documents(service_id, external_id, seq) WHERE deleted_at = 0;
CREATE INDEX documents_category ON documents(service_id, document_category, seq) WHERE deleted_at = 0;
CREATE INDEX documents_department ON documents(service_id, department, seq) WHERE deleted_at = 0;
CREATE INDEX documents_service_user ON documents(service_id, service_user_id, seq) WHERE deleted_at = 0;
CREATE INDEX documents_created ON documents(service_id, created_at) WHERE deleted_at = 0;
