-- Single-use values (store.h: nonces): the seed-004 exchange's nonces (scope = the access key id) and
-- RFC 9421 signatures already seen (scope "sig:" + keyid, value = the signature in base64). A second
-- insert of the same (scope, value) is a replay; across nodes the primary key decides (a concurrent
-- insert waits for the first and then finds it). Rows older than the acceptance window are deleted by
-- the nonces.purge job, which bounds the table by the exchanges and signed requests of ~10 minutes.
CREATE TABLE nonces (
    scope      TEXT NOT NULL,
    value      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (scope, value)
);
CREATE INDEX nonces_created ON nonces(created_at);
