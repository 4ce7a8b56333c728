-- Response-encryption keys (seed 001; domain/enckeys.h): RSA-3072 key pairs. A client wraps its own
-- AES-256 key to the public key (RSA-OAEP-256) and keyward answers with a JWE under that AES key. The
-- public key as PEM; the private key (PKCS#8 DER) sealed under the master key (domain/secrets.h; never
-- in the clear). The newest active key is published first; a retired key stays published and opens
-- clients' keys until retire_after (the rotation's grace period). version takes a number from the
-- credential change counter with every change, so other nodes notice a new or retired key.
CREATE TABLE encryption_keys (
    kid            TEXT PRIMARY KEY,
    public_pem     TEXT NOT NULL,
    private_sealed BLOB NOT NULL,
    created_at     INTEGER NOT NULL,
    retire_after   INTEGER NOT NULL DEFAULT 0,
    status         TEXT NOT NULL DEFAULT 'active',
    version        INTEGER NOT NULL
);
-- An API key (or token) with require_encryption 1 gets record extracts only as encrypted responses.
ALTER TABLE keys ADD COLUMN require_encryption INTEGER NOT NULL DEFAULT 0;
