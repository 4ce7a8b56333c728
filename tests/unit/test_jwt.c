/* test_jwt.c - JWT access tokens over the signing key set: issue/verify with every claim, the
 * verified-token cache, tampering, wrong typ/alg/iss/aud, expiry, unknown kid, bans (also on a cached
 * token), rotation (the old kid stays valid, the new one signs once published for 2 s), the first key
 * made once, the private key sealed (never in the store in the clear). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "crypto/crypto.h"
#include "domain/app.h"
#include "domain/jwt.h"
#include "domain/keycache.h"
#include "domain/secrets.h"
#include "domain/signing.h"
#include "store/store.h"

struct env {
    char dir[64];
    struct kw_config cfg;
    struct kw_app app;
};

static void env_open(struct env *e, const uint8_t *master)
{
    uint8_t key[32];

    memset(e, 0, sizeof(*e));
    snprintf(e->dir, sizeof(e->dir), "/tmp/kw-jwt-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    kw_config_defaults(&e->cfg);
    e->app.cfg = &e->cfg;
    snprintf(e->app.issuer, sizeof(e->app.issuer), "http://127.0.0.1:8080");
    memset(key, 0x11, sizeof(key));
    assert_int_equal(kw_secrets_from_keys(master != NULL ? master : key, 1, &e->app.secrets), KW_OK);
    assert_int_equal(kw_store_open("sqlite", e->dir, &e->app.store), KW_OK);
    assert_int_equal(kw_store_migrate(e->app.store, NULL, NULL), KW_OK);
    assert_int_equal(kw_keycache_new(&e->app.keys), KW_OK);
    assert_int_equal(kw_signing_open(&e->app, 0, &e->app.signing), KW_OK);
    assert_int_equal(kw_jwt_cache_new(256, &e->app.jwt_cache), KW_OK);
}

static void env_close(struct env *e)
{
    char cmd[128];

    kw_jwt_cache_free(e->app.jwt_cache);
    kw_signing_free(e->app.signing);
    kw_keycache_free(e->app.keys);
    kw_store_free(e->app.store);
    kw_secrets_free(e->app.secrets);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
    assert_int_equal(system(cmd), 0);
}

static void claims(struct kw_jwt_claims *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->sub, sizeof(c->sub), "su_AAAAAAAAAAAAAAAA");
    snprintf(c->client_id, sizeof(c->client_id), "su_AAAAAAAAAAAAAAAA");
    snprintf(c->service_id, sizeof(c->service_id), "svc_BBBBBBBBBBBBBBBB");
    snprintf(c->scope, sizeof(c->scope), "documents:write keys:verify");
    snprintf(c->cred, sizeof(c->cred), "su_AAAAAAAAAAAAAAAA");
}

static void issue(struct env *e, struct kw_jwt_claims *c, char *tok, size_t cap)
{
    assert_int_equal(kw_jwt_issue(&e->app, c, tok, cap), KW_OK);
}

static void test_round_trip(void **state)
{
    struct env e;
    struct kw_jwt_claims c, v;
    char tok[KW_JWT_MAX];
    int64_t now = kw_time_now_ms();

    env_open(&e, NULL);
    claims(&c);
    issue(&e, &c, tok, sizeof(tok));
    assert_true(kw_jwt_looks_like(tok, strlen(tok)));
    assert_int_equal(strncmp(c.jti, "at_", 3), 0);
    assert_int_equal(c.exp - c.iat, 300);
    assert_int_equal(kw_jwt_verify(&e.app, tok, strlen(tok), now, &v), KW_OK);
    assert_string_equal(v.sub, c.sub);
    assert_string_equal(v.jti, c.jti);
    assert_string_equal(v.iss, "http://127.0.0.1:8080");
    assert_string_equal(v.aud, "http://127.0.0.1:8080");
    assert_string_equal(v.client_id, c.client_id);
    assert_string_equal(v.service_id, c.service_id);
    assert_string_equal(v.cred, c.cred);
    assert_string_equal(v.scope, "documents:write keys:verify");
    assert_int_equal(v.perms, KW_PERM_DOCUMENTS_WRITE | KW_PERM_KEYS_VERIFY | KW_PERM_CANDIDATES_READ);
    assert_int_equal(v.exp, c.exp);
    /* again: from the cache, same answer */
    assert_int_equal(kw_jwt_verify(&e.app, tok, strlen(tok), now, &v), KW_OK);
    assert_string_equal(v.jti, c.jti);
    assert_int_equal(strlen(v.kid), 43);
    /* the header as RFC 9068 asks */
    {
        uint8_t h[200];
        size_t n;
        char want[160];
        assert_int_equal(kw_crypto_base64url_decode(tok, strcspn(tok, "."), h, sizeof(h), &n), KW_OK);
        snprintf(want, sizeof(want), "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", v.kid);
        assert_int_equal(n, strlen(want));
        assert_memory_equal(h, want, n);
    }
    env_close(&e);
}

/* Signs header.payload (both JSON text) with the current key, for tokens issue would never make. */
static void forge(struct env *e, const char *header, const char *payload, char *tok, size_t cap)
{
    char kid[KW_KID_MAX];
    uint8_t sig[64];
    size_t len;

    assert_int_equal(kw_signing_current(e->app.signing, kw_time_now_ms(), kid), KW_OK);
    len = kw_crypto_base64url_encode(header, strlen(header), tok, cap);
    tok[len++] = '.';
    len += kw_crypto_base64url_encode(payload, strlen(payload), tok + len, cap - len);
    assert_int_equal(kw_signing_sign(e->app.signing, kid, tok, len, sig), KW_OK);
    tok[len++] = '.';
    kw_crypto_base64url_encode(sig, 64, tok + len, cap - len);
}

static void expect(struct env *e, const char *tok, enum kw_err err, const char *reason)
{
    struct kw_jwt_claims v;

    assert_int_equal(kw_jwt_verify(&e->app, tok, strlen(tok), kw_time_now_ms(), &v), err);
    assert_non_null(v.reason);
    assert_string_equal(v.reason, reason);
}

static void test_refused(void **state)
{
    struct env e;
    struct kw_jwt_claims c;
    char tok[KW_JWT_MAX], hdr[160], pay[512], kid[KW_KID_MAX];
    int64_t now = kw_time_now_ms() / 1000;
    size_t len;

    env_open(&e, NULL);
    assert_int_equal(kw_signing_current(e.app.signing, kw_time_now_ms(), kid), KW_OK);
    /* tampered payload, tampered signature */
    claims(&c);
    issue(&e, &c, tok, sizeof(tok));
    len = strlen(tok);
    tok[strcspn(tok, ".") + 5] ^= 1;
    expect(&e, tok, KW_ERR_MALFORMED, "signature");
    tok[strcspn(tok, ".") + 5] ^= 1;
    tok[len - 3] = tok[len - 3] == 'A' ? 'B' : 'A';
    expect(&e, tok, KW_ERR_MALFORMED, "signature");
    expect(&e, "eyJhbGciOiJub25lIn0.e30.", KW_ERR_MALFORMED, "malformed");
    expect(&e, "not a jwt at all", KW_ERR_MALFORMED, "malformed");
    snprintf(
        pay, sizeof(pay),
        "{\"iss\":\"http://127.0.0.1:8080\",\"aud\":\"http://127.0.0.1:8080\",\"sub\":\"su_x\",\"exp\":%lld,"
        "\"jti\":\"at_1\",\"kw_svc\":\"svc_1\",\"scope\":\"keys:verify\"}",
        (long long)now + 60);
    /* wrong typ, wrong alg, no kid, unknown kid */
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"%s\"}", kid);
    forge(&e, hdr, pay, tok, sizeof(tok));
    expect(&e, tok, KW_ERR_MALFORMED, "type");
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"EdDSA\",\"kid\":\"%s\"}", kid);
    forge(&e, hdr, pay, tok, sizeof(tok));
    expect(&e, tok, KW_ERR_MALFORMED, "type");
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", kid);
    forge(&e, hdr, pay, tok, sizeof(tok));
    expect(&e, tok, KW_ERR_MALFORMED, "type");
    forge(&e, "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\"}", pay, tok, sizeof(tok));
    expect(&e, tok, KW_ERR_MALFORMED, "malformed");
    forge(&e, "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"nope\"}", pay, tok, sizeof(tok));
    expect(&e, tok, KW_ERR_NOT_FOUND, "unknown_key");
    /* the right header: accepted; application/at+jwt too */
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"EdDSA\",\"typ\":\"application/at+jwt\",\"kid\":\"%s\"}", kid);
    forge(&e, hdr, pay, tok, sizeof(tok));
    assert_int_equal(kw_jwt_verify(&e.app, tok, strlen(tok), kw_time_now_ms(), &c), KW_OK);
    /* wrong iss, wrong aud, an audience list that holds ours, unknown scope, expired */
    claims(&c);
    snprintf(c.iss, sizeof(c.iss), "http://evil.example");
    issue(&e, &c, tok, sizeof(tok));
    expect(&e, tok, KW_ERR_INVALID, "issuer");
    claims(&c);
    snprintf(c.aud, sizeof(c.aud), "https://elsewhere.example");
    issue(&e, &c, tok, sizeof(tok));
    expect(&e, tok, KW_ERR_INVALID, "audience");
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", kid);
    snprintf(pay, sizeof(pay),
             "{\"iss\":\"http://127.0.0.1:8080\",\"aud\":[\"x\",\"http://"
             "127.0.0.1:8080\"],\"sub\":\"su_x\",\"exp\":%lld,"
             "\"jti\":\"at_2\",\"kw_svc\":\"svc_1\",\"scope\":\"keys:verify\"}",
             (long long)now + 60);
    forge(&e, hdr, pay, tok, sizeof(tok));
    assert_int_equal(kw_jwt_verify(&e.app, tok, strlen(tok), kw_time_now_ms(), &c), KW_OK);
    snprintf(
        pay, sizeof(pay),
        "{\"iss\":\"http://127.0.0.1:8080\",\"aud\":\"http://127.0.0.1:8080\",\"sub\":\"su_x\",\"exp\":%lld,"
        "\"jti\":\"at_3\",\"kw_svc\":\"svc_1\",\"scope\":\"admin:all\"}",
        (long long)now + 60);
    forge(&e, hdr, pay, tok, sizeof(tok));
    expect(&e, tok, KW_ERR_MALFORMED, "malformed");
    claims(&c);
    c.iat = now - 100;
    c.exp = now - 1;
    issue(&e, &c, tok, sizeof(tok));
    expect(&e, tok, KW_ERR_CONFLICT, "expired");
    /* a cached token expires too */
    claims(&c);
    issue(&e, &c, tok, sizeof(tok));
    assert_int_equal(kw_jwt_verify(&e.app, tok, strlen(tok), kw_time_now_ms(), &c), KW_OK);
    assert_int_equal(kw_jwt_verify(&e.app, tok, strlen(tok), (c.exp + 1) * 1000, &c), KW_ERR_CONFLICT);
    env_close(&e);
}

static void ban(struct env *e, const char *what, int64_t version)
{
    struct kw_key k;

    memset(&k, 0, sizeof(k));
    assert_int_equal(kw_crypto_sha256(what, strlen(what), k.hash), KW_OK);
    snprintf(k.id, sizeof(k.id), "ban_%lld", (long long)version);
    snprintf(k.service_id, sizeof(k.service_id), "svc_BBBBBBBBBBBBBBBB");
    snprintf(k.kind, sizeof(k.kind), "ban");
    k.enabled = 1;
    k.version = version;
    assert_int_equal(kw_keycache_put(e->app.keys, &k), KW_OK);
}

static void test_bans(void **state)
{
    struct env e;
    struct kw_jwt_claims c, v;
    char tok[KW_JWT_MAX], tok2[KW_JWT_MAX], tok3[KW_JWT_MAX], what[80];

    env_open(&e, NULL);
    claims(&c);
    issue(&e, &c, tok, sizeof(tok));
    assert_int_equal(kw_jwt_verify(&e.app, tok, strlen(tok), kw_time_now_ms(), &v), KW_OK); /* cached now */
    snprintf(what, sizeof(what), "jti:%s", c.jti);
    ban(&e, what, 1);
    expect(&e, tok, KW_ERR_CONFLICT, "revoked");
    claims(&c);
    snprintf(c.cred, sizeof(c.cred), "KWAKAAAAAAAAAAAAAAAA");
    issue(&e, &c, tok2, sizeof(tok2));
    claims(&c);
    issue(&e, &c, tok3, sizeof(tok3));
    ban(&e, "cred:KWAKAAAAAAAAAAAAAAAA", 2);
    expect(&e, tok2, KW_ERR_CONFLICT, "revoked");
    assert_int_equal(kw_jwt_verify(&e.app, tok3, strlen(tok3), kw_time_now_ms(), &v), KW_OK);
    ban(&e, "su:su_AAAAAAAAAAAAAAAA", 3);
    expect(&e, tok3, KW_ERR_CONFLICT, "disabled");
    env_close(&e);
}

static void test_rotation(void **state)
{
    struct env e, other;
    struct kw_jwt_claims c, v;
    char tok[KW_JWT_MAX], tok2[KW_JWT_MAX], kid1[KW_KID_MAX], kid2[KW_KID_MAX], now_kid[KW_KID_MAX];
    struct kw_signing_pub pubs[4];
    int64_t now = kw_time_now_ms();

    env_open(&e, NULL);
    assert_int_equal(kw_signing_current(e.app.signing, now, kid1), KW_OK);
    claims(&c);
    issue(&e, &c, tok, sizeof(tok));
    assert_int_equal(kw_signing_rotate(&e.app, NULL, 300000, kid2), KW_OK);
    assert_string_not_equal(kid1, kid2);
    assert_int_equal(kw_signing_refresh(e.app.signing, 0), KW_OK); /* the stamp moved */
    assert_int_equal(kw_signing_published(e.app.signing, now, pubs, 4), 2);
    assert_string_equal(pubs[0].kid, kid2);
    assert_true(pubs[0].active && pubs[0].can_sign);
    assert_string_equal(pubs[1].kid, kid1);
    assert_false(pubs[1].active);
    assert_true(pubs[1].retire_after > now + 300000);
    /* the new key signs once every node has had time to load it; the old one until then */
    /* (asked at `now`, before the rotation: under load more than KW_SIGNING_ACTIVATE_MS may pass here) */
    assert_int_equal(kw_signing_current(e.app.signing, now, now_kid), KW_OK);
    assert_string_equal(now_kid, kid1);
    assert_int_equal(
        kw_signing_current(e.app.signing, kw_time_now_ms() + KW_SIGNING_ACTIVATE_MS + 10, now_kid), KW_OK);
    assert_string_equal(now_kid, kid2);
    assert_int_equal(kw_jwt_verify(&e.app, tok, strlen(tok), kw_time_now_ms(), &v), KW_OK);
    /* past retire_after the old kid is no longer published nor accepted (fresh cache: as another node) */
    kw_jwt_cache_free(e.app.jwt_cache);
    e.app.jwt_cache = NULL;
    assert_int_equal(kw_jwt_verify(&e.app, tok, strlen(tok), pubs[1].retire_after + 1, &v), KW_ERR_NOT_FOUND);
    assert_int_equal(kw_signing_published(e.app.signing, pubs[1].retire_after + 1, pubs, 4), 1);
    /* a token of another deployment's key: unknown kid */
    env_open(&other, NULL);
    claims(&c);
    issue(&other, &c, tok2, sizeof(tok2));
    expect(&e, tok2, KW_ERR_NOT_FOUND, "unknown_key");
    env_close(&other);
    env_close(&e);
}

/* The key a rotation makes is the newest even when the current one's created_at is not behind this
 * node's clock: made in the same millisecond (a fast machine), or by a node whose clock runs ahead.
 * Ordered by created_at alone, the new key could sort behind the retired one and never sign. */
static void test_rotation_same_instant(void **state)
{
    struct env e;
    struct kw_signing_key rows[4];
    struct kw_signing_pub pubs[4];
    struct kw_tx *tx = NULL;
    char kid1[KW_KID_MAX], kid2[KW_KID_MAX], now_kid[KW_KID_MAX];
    size_t n = 0;
    int64_t ahead;

    env_open(&e, NULL);
    assert_int_equal(kw_signing_current(e.app.signing, kw_time_now_ms(), kid1), KW_OK);
    /* the first key's created_at a minute ahead of this node's clock */
    assert_int_equal(kw_store_begin(e.app.store, KW_TX_WRITE, &tx), KW_OK);
    assert_int_equal(kw_store_signing_key_list(tx, rows, 4, &n), KW_OK);
    assert_int_equal(n, 1);
    ahead = rows[0].created_at + 60000;
    rows[0].created_at = ahead;
    assert_int_equal(kw_store_signing_key_delete(tx, rows[0].kid), KW_OK); /* created_at is not updatable */
    assert_int_equal(kw_store_signing_key_insert(tx, &rows[0]), KW_OK);
    assert_int_equal(kw_store_commit(tx), KW_OK);
    assert_int_equal(kw_signing_refresh(e.app.signing, 0), KW_OK);
    assert_int_equal(kw_signing_rotate(&e.app, NULL, 300000, kid2), KW_OK);
    assert_int_equal(kw_signing_refresh(e.app.signing, 0), KW_OK);
    assert_int_equal(kw_signing_published(e.app.signing, kw_time_now_ms(), pubs, 4), 2);
    assert_string_equal(pubs[0].kid, kid2);
    assert_true(pubs[0].created_at > ahead);
    /* once the new key is old enough it signs, not the retired one */
    assert_int_equal(kw_signing_current(e.app.signing, pubs[0].created_at + KW_SIGNING_ACTIVATE_MS + 10, now_kid),
                     KW_OK);
    assert_string_equal(now_kid, kid2);
    env_close(&e);
}

/* A node with another master key keeps the published set (verify works) but cannot sign, and does not
 * make a second active key; the private key is never in the database in the clear. */
static void test_wrong_master_and_sealed(void **state)
{
    struct env e;
    struct kw_app app2;
    struct kw_signing *s2 = NULL;
    struct kw_signing_pub pubs[4];
    struct kw_jwt_claims c, v;
    uint8_t other[32];
    char tok[KW_JWT_MAX], kid[KW_KID_MAX];

    env_open(&e, NULL);
    claims(&c);
    issue(&e, &c, tok, sizeof(tok));
    memset(other, 0x22, sizeof(other));
    app2 = e.app;
    assert_int_equal(kw_secrets_from_keys(other, 1, &app2.secrets), KW_OK);
    app2.jwt_cache = NULL;
    assert_int_equal(kw_signing_open(&app2, 0, &s2), KW_OK);
    app2.signing = s2;
    assert_int_equal(kw_signing_published(s2, kw_time_now_ms(), pubs, 4), 1);
    assert_false(pubs[0].can_sign);
    assert_int_equal(kw_signing_current(s2, kw_time_now_ms(), kid), KW_ERR_NOT_FOUND);
    assert_int_equal(kw_jwt_verify(&app2, tok, strlen(tok), kw_time_now_ms(), &v), KW_OK);
    claims(&c);
    assert_int_equal(kw_jwt_issue(&app2, &c, tok, sizeof(tok)), KW_ERR_NOT_FOUND);
    kw_signing_free(s2);
    kw_secrets_free(app2.secrets);
    /* a second open on the same store finds the key: still one */
    assert_int_equal(kw_signing_open(&e.app, 0, &s2), KW_OK);
    assert_int_equal(kw_signing_published(s2, kw_time_now_ms(), pubs, 4), 1);
    kw_signing_free(s2);
    env_close(&e);
}

static void test_scope(void **state)
{
    uint32_t p;
    char out[128], bad[64];

    assert_int_equal(kw_jwt_scope_perms("", &p, bad, sizeof(bad)), KW_OK);
    assert_int_equal(p, 0);
    assert_int_equal(kw_jwt_scope_perms("keys:verify  documents:read", &p, bad, sizeof(bad)), KW_OK);
    assert_int_equal(p, KW_PERM_KEYS_VERIFY | KW_PERM_DOCUMENTS_READ);
    assert_int_equal(kw_jwt_scope_perms("keys:verify root", &p, bad, sizeof(bad)), KW_ERR_INVALID);
    assert_string_equal(bad, "root");
    kw_jwt_perms_scope(KW_PERM_ALL, out, sizeof(out));
    assert_string_equal(out, "candidates:read candidates:archive documents:write documents:read keys:verify");
    kw_jwt_perms_scope(0, out, sizeof(out));
    assert_string_equal(out, "");
}

static void test_thumbprint(void **state)
{
    /* RFC 8037 Appendix A.3: the thumbprint of the A.2 public key. */
    uint8_t x[32];
    size_t n;
    char kid[KW_KID_MAX];

    assert_int_equal(kw_crypto_base64url_decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", 43, x, 32, &n),
                     KW_OK);
    assert_int_equal(kw_signing_thumbprint(x, kid), KW_OK);
    assert_string_equal(kid, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
}

static int setup(void **state)
{
    kw_log_set_level(KW_LOG_ERROR + 1);
    return kw_crypto_init() == KW_OK ? 0 : -1;
}

static int teardown(void **state)
{
    kw_crypto_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_bans),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_rotation_same_instant),
        cmocka_unit_test(test_wrong_master_and_sealed),
        cmocka_unit_test(test_scope),
        cmocka_unit_test(test_thumbprint),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
