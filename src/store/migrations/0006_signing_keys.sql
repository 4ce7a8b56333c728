-- Signing keys for JWT access tokens (domain/signing.h): Ed25519, the public key raw (32 bytes), the
-- private key sealed under the master key (domain/secrets.h; never in the clear). The newest active
-- key signs; a retired key stays published (JWKS) and accepted until retire_after, when the last token
-- it signed has expired. version takes a number from the credential change counter with every change,
-- so other nodes notice a new or retired key.
CREATE TABLE signing_keys (
    kid            TEXT PRIMARY KEY,
    alg            TEXT NOT NULL DEFAULT 'EdDSA',
    public_key     BLOB NOT NULL,
    private_sealed BLOB NOT NULL,
    created_at     INTEGER NOT NULL,
    retire_after   INTEGER NOT NULL DEFAULT 0,
    status         TEXT NOT NULL DEFAULT 'active',
    version        INTEGER NOT NULL
);
