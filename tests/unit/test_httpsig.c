/* test_httpsig.c - RFC 9421 signature verification (domain/httpsig.h) with the RFC's own example
 * (Appendix B.2.5: hmac-sha256 with the shared secret of B.1.4 over the request of B.2), RFC 9530
 * Content-Digest examples, keyward's coverage and time policy, tampering, and malformed headers; the
 * RFC 8941 parser (core/sfv.h) and base64 (core/base64.h) underneath. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/sfv.h"
#include "crypto/crypto.h"
#include "domain/httpsig.h"

#define S(x) x, sizeof(x) - 1

/* RFC 9421 B.1.4 */
static const char shared_secret_b64[] =
    "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==";
static const char body[] = "{\"hello\": \"world\"}";
/* RFC 9530 section 2 / RFC 9421 B.2 */
static const char digest256[] = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:";
static const char digest512[] =
    "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:";

static struct kw_httpsig_field fields[8];

/* The test request of RFC 9421 B.2: POST /foo?param=Value&Pet=dog, Host example.com. */
static void b2_request(struct kw_httpsig_request *r)
{
    static const char *const kv[][2] = {
        {"host", "example.com"},
        {"date", "Tue, 20 Apr 2021 02:07:55 GMT"},
        {"content-type", "application/json"},
        {"content-digest", digest512},
        {"content-length", "18"},
    };
    size_t i;

    for (i = 0; i < 5; i++)
        fields[i] = (struct kw_httpsig_field){kv[i][0], strlen(kv[i][0]), kv[i][1], strlen(kv[i][1])};
    memset(r, 0, sizeof(*r));
    r->method = "POST";
    r->method_len = 4;
    r->scheme = "https";
    r->authority = "example.com";
    r->authority_len = 11;
    r->path = "/foo";
    r->path_len = 4;
    r->query = "param=Value&Pet=dog";
    r->query_len = strlen(r->query);
    r->fields = fields;
    r->nfields = 5;
    r->body = body;
    r->body_len = strlen(body);
}

static size_t secret(uint8_t *key)
{
    size_t n = 0;

    assert_int_equal(kw_httpsig_b64_decode(S(shared_secret_b64), key, 64, &n), 0);
    assert_int_equal(n, 64);
    return n;
}

static void test_rfc9421_b25(void **state)
{
    static const char input[] =
        "sig-b25=(\"date\" \"@authority\" \"content-type\");created=1618884473;keyid=\"test-shared-secret\"";
    static const char sig[] = "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:";
    static const char want_base[] = "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n"
                                    "\"@authority\": example.com\n"
                                    "\"content-type\": application/json\n"
                                    "\"@signature-params\": (\"date\" \"@authority\" \"content-type\")"
                                    ";created=1618884473;keyid=\"test-shared-secret\"";
    struct kw_httpsig s;
    struct kw_httpsig_request r;
    uint8_t key[64];
    char base[1024];
    size_t len = 0, klen = secret(key);

    b2_request(&r);
    assert_int_equal(kw_httpsig_parse(S(input), S(sig), &s), KW_HTTPSIG_OK);
    assert_string_equal(s.label, "sig-b25");
    assert_string_equal(s.keyid, "test-shared-secret");
    assert_int_equal(s.created, 1618884473);
    assert_int_equal(s.ncomponents, 3);
    assert_int_equal(s.sig_len, 32);
    assert_int_equal(kw_httpsig_base(&s, &r, base, sizeof(base), &len), KW_HTTPSIG_OK);
    assert_string_equal(base, want_base);
    assert_int_equal(len, strlen(want_base));
    assert_int_equal(kw_httpsig_verify(&s, &r, key, klen), KW_HTTPSIG_OK);
    key[0] ^= 1;
    assert_int_equal(kw_httpsig_verify(&s, &r, key, klen), KW_HTTPSIG_MISMATCH);
    key[0] ^= 1;
    /* a different date breaks it */
    fields[1].value = "Tue, 20 Apr 2021 02:07:56 GMT";
    assert_int_equal(kw_httpsig_verify(&s, &r, key, klen), KW_HTTPSIG_MISMATCH);
    /* keyward's policy: B.2.5 covers neither @method nor @path, and its created is long past */
    assert_int_equal(kw_httpsig_check(&s, &r, 1618884473), KW_HTTPSIG_COVERAGE);
    assert_int_equal(kw_httpsig_check(&s, &r, 1618884473 + 301), KW_HTTPSIG_STALE);
    /* a covered field that is absent */
    r.nfields = 0;
    assert_int_equal(kw_httpsig_verify(&s, &r, key, klen), KW_HTTPSIG_COMPONENT_MISSING);
}

static void test_content_digest(void **state)
{
    static const char both[] =
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:, "
        "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:";
    size_t n = strlen(body);

    assert_int_equal(kw_httpsig_content_digest(S(digest256), body, n), KW_HTTPSIG_OK);
    assert_int_equal(kw_httpsig_content_digest(S(digest512), body, n), KW_HTTPSIG_OK);
    assert_int_equal(kw_httpsig_content_digest(S(both), body, n), KW_HTTPSIG_OK);
    assert_int_equal(kw_httpsig_content_digest(S(digest256), body, n - 1), KW_HTTPSIG_DIGEST_MISMATCH);
    assert_int_equal(kw_httpsig_content_digest(S(both), "{\"hello\": \"World\"}", n), KW_HTTPSIG_DIGEST_MISMATCH);
    /* an unknown algorithm is ignored, but one of ours must be there */
    assert_int_equal(kw_httpsig_content_digest(S("md5=:AAAA:"), body, n), KW_HTTPSIG_DIGEST_MALFORMED);
    assert_int_equal(kw_httpsig_content_digest(S("md5=:AAAA:, sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"),
                                               body, n),
                     KW_HTTPSIG_OK);
    assert_int_equal(kw_httpsig_content_digest(S("sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="), body, n),
                     KW_HTTPSIG_DIGEST_MALFORMED);
    assert_int_equal(kw_httpsig_content_digest(S("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBP=:"), body, n),
                     KW_HTTPSIG_DIGEST_MALFORMED);
    assert_int_equal(kw_httpsig_content_digest(S("sha-256=:AAAA:"), body, n), KW_HTTPSIG_DIGEST_MISMATCH);
    assert_int_equal(kw_httpsig_content_digest(S(""), body, n), KW_HTTPSIG_DIGEST_MALFORMED);
}

/* Signs r as a client would: the base built from the expected text, HMAC'd with key. */
static void sign(const char *input, const char *base, const uint8_t *key, size_t klen, char *sigfield, size_t cap)
{
    uint8_t mac[32];
    char b64[64];
    const char *eq = strchr(input, '=');

    assert_int_equal(kw_crypto_hmac_sha256(key, klen, base, strlen(base), mac), KW_OK);
    assert_true(kw_crypto_base64_encode(mac, sizeof(mac), b64, sizeof(b64)) > 0);
    snprintf(sigfield, cap, "%.*s=:%s:", (int)(eq - input), input, b64);
}

static void test_policy_and_tampering(void **state)
{
    static const char input[] = "sig1=(\"@method\" \"@authority\" \"@path\" \"@query\" \"content-digest\")"
                                ";created=1700000000;keyid=\"KWAKABCDEFGHIJKLMNOP\";alg=\"hmac-sha256\"";
    static const char want[] = "\"@method\": POST\n\"@authority\": example.com\n\"@path\": /foo\n"
                               "\"@query\": ?param=Value&Pet=dog\n\"content-digest\": " /* + digest512 */;
    uint8_t key[40];
    char base[2048], sigf[256];
    struct kw_httpsig s;
    struct kw_httpsig_request r;

    memset(key, 'k', sizeof(key));
    b2_request(&r);
    r.authority = "Example.COM:443"; /* lower-cased, default port dropped */
    r.authority_len = strlen(r.authority);
    snprintf(base, sizeof(base), "%s%s\n\"@signature-params\": %s", want, digest512, strchr(input, '=') + 1);
    sign(input, base, key, sizeof(key), sigf, sizeof(sigf));
    assert_int_equal(kw_httpsig_parse(S(input), sigf, strlen(sigf), &s), KW_HTTPSIG_OK);
    assert_string_equal(s.alg, "hmac-sha256");
    assert_string_equal(s.params, strchr(input, '=') + 1);
    assert_int_equal(kw_httpsig_check(&s, &r, 1700000000), KW_HTTPSIG_OK);
    assert_int_equal(kw_httpsig_check(&s, &r, 1700000000 + 300), KW_HTTPSIG_OK);
    assert_int_equal(kw_httpsig_check(&s, &r, 1700000000 - 300), KW_HTTPSIG_OK);
    assert_int_equal(kw_httpsig_check(&s, &r, 1700000000 + 301), KW_HTTPSIG_STALE);
    assert_int_equal(kw_httpsig_check(&s, &r, 1700000000 - 301), KW_HTTPSIG_STALE);
    assert_int_equal(kw_httpsig_verify(&s, &r, key, sizeof(key)), KW_HTTPSIG_OK);
    /* tampered method, path, query: the HMAC no longer matches */
    r.method = "PUT";
    r.method_len = 3;
    assert_int_equal(kw_httpsig_verify(&s, &r, key, sizeof(key)), KW_HTTPSIG_MISMATCH);
    b2_request(&r);
    r.path = "/bar";
    assert_int_equal(kw_httpsig_verify(&s, &r, key, sizeof(key)), KW_HTTPSIG_MISMATCH);
    b2_request(&r);
    r.query = NULL;
    assert_int_equal(kw_httpsig_verify(&s, &r, key, sizeof(key)), KW_HTTPSIG_MISMATCH);
    /* tampered body with the signed digest: the digest check catches it */
    b2_request(&r);
    r.body = "{\"hello\": \"WORLD\"}";
    assert_int_equal(kw_httpsig_verify(&s, &r, key, sizeof(key)), KW_HTTPSIG_DIGEST_MISMATCH);
    /* a body needs content-digest covered */
    assert_int_equal(kw_httpsig_parse(S("s=(\"@method\" \"@authority\" \"@path\");created=1700000000;keyid=\"k\""),
                                      S("s=:AAAA:"), &s),
                     KW_HTTPSIG_OK);
    assert_int_equal(kw_httpsig_check(&s, &r, 1700000000), KW_HTTPSIG_COVERAGE);
    r.body_len = 0;
    assert_int_equal(kw_httpsig_check(&s, &r, 1700000000), KW_HTTPSIG_OK);
    assert_int_equal(kw_httpsig_verify(&s, &r, key, sizeof(key)), KW_HTTPSIG_MISMATCH); /* 3 bytes, not 32 */
    /* alg, keyid, created, expires */
    assert_int_equal(kw_httpsig_parse(S("s=(\"@method\" \"@authority\" \"@path\");created=1;keyid=\"k\";alg=\"rsa-v1_5-sha256\""),
                                      S("s=:AAAA:"), &s),
                     KW_HTTPSIG_OK);
    assert_int_equal(kw_httpsig_check(&s, &r, 1), KW_HTTPSIG_UNSUPPORTED);
    assert_int_equal(kw_httpsig_parse(S("s=(\"@method\" \"@authority\" \"@path\");created=1"), S("s=:AAAA:"), &s),
                     KW_HTTPSIG_OK);
    assert_int_equal(kw_httpsig_check(&s, &r, 1), KW_HTTPSIG_MALFORMED);
    assert_int_equal(kw_httpsig_parse(S("s=(\"@method\" \"@authority\" \"@path\");keyid=\"k\""), S("s=:AAAA:"), &s),
                     KW_HTTPSIG_OK);
    assert_int_equal(kw_httpsig_check(&s, &r, 1), KW_HTTPSIG_STALE);
    assert_int_equal(kw_httpsig_parse(S("s=(\"@method\" \"@authority\" \"@path\");keyid=\"k\";created=10;expires=20"),
                                      S("s=:AAAA:"), &s),
                     KW_HTTPSIG_OK);
    assert_int_equal(kw_httpsig_check(&s, &r, 20), KW_HTTPSIG_OK);
    assert_int_equal(kw_httpsig_check(&s, &r, 21), KW_HTTPSIG_EXPIRED);
}

static void test_derived_components(void **state)
{
    static const char input[] = "s=(\"@target-uri\" \"@request-target\" \"@scheme\" \"content-length\" \"x-multi\")"
                                ";created=1;keyid=\"k\"";
    struct kw_httpsig_field f[3] = {
        {"x-multi", 7, "  a ", 4},
        {"content-length", 14, "0", 1},
        {"x-multi", 7, "\tb,c", 4},
    };
    struct kw_httpsig_request r;
    struct kw_httpsig s;
    char base[1024];
    size_t len;

    memset(&r, 0, sizeof(r));
    r.method = "GET";
    r.method_len = 3;
    r.scheme = "http";
    r.authority = "localhost:80";
    r.authority_len = strlen(r.authority);
    r.path = "";
    r.fields = f;
    r.nfields = 3;
    assert_int_equal(kw_httpsig_parse(S(input), S("s=:AAAA:"), &s), KW_HTTPSIG_OK);
    assert_int_equal(kw_httpsig_base(&s, &r, base, sizeof(base), &len), KW_HTTPSIG_OK);
    assert_string_equal(base, "\"@target-uri\": http://localhost/\n\"@request-target\": /\n\"@scheme\": http\n"
                              "\"content-length\": 0\n\"x-multi\": a, b,c\n\"@signature-params\": "
                              "(\"@target-uri\" \"@request-target\" \"@scheme\" \"content-length\" \"x-multi\")"
                              ";created=1;keyid=\"k\"");
    assert_int_equal(kw_httpsig_base(&s, &r, base, 40, &len), KW_HTTPSIG_MALFORMED); /* too small */
}

static void test_malformed(void **state)
{
    static const char *const bad_input[] = {
        "",
        "sig",                                 /* not an inner list */
        "sig=\"@method\"",                     /* an item, not a list */
        "sig=(\"@method\"",                    /* unterminated */
        "sig=(@method)",                       /* a token, not a string */
        "sig=(\"@method\" \"@method\");keyid=\"k\"", /* covered twice */
        "sig=(\"@signature-params\")",
        "sig=(\"Date\")",                      /* upper case */
        "sig=(\"da te\")",
        "sig=();created=abc",
        "sig=();created=-5",
        "sig=();created=1.5",
        "sig=();keyid=k",                      /* a token */
        "sig=();keyid=\"\"",
        "sig=();created=1;created=2",          /* repeated parameter */
        "sig=(), sig=()",                      /* repeated member */
        "Sig=()",
        "sig=() ,",
        "sig=();nonce=5",
        "other=()",                            /* no Signature member of that label */
        "sig=(\"a\"\"b\")",
        "sig=();created=1234567890123456",     /* 16 digits */
        "sig=(\"\\x\")",
    };
    static const char *const bad_sig[] = {"sig=:A:", "sig=AAAA", "sig=(:AAAA:)", "sig=:AA=A:", "sig=:AA", "sig=:~~~~:"};
    static const char *const unsupported[] = {"sig=(\"@status\")", "sig=(\"@query-param\";name=\"a\")",
                                              "sig=(\"content-type\";sf)", "sig=(\"@foo\")"};
    struct kw_httpsig s;
    char big[KW_HTTPSIG_FIELD_MAX + 2];
    size_t i;

    for (i = 0; i < sizeof(bad_input) / sizeof(bad_input[0]); i++)
        assert_int_equal(kw_httpsig_parse(bad_input[i], strlen(bad_input[i]), S("sig=:AAAA:"), &s),
                         KW_HTTPSIG_MALFORMED);
    for (i = 0; i < sizeof(bad_sig) / sizeof(bad_sig[0]); i++)
        assert_int_equal(kw_httpsig_parse(S("sig=()"), bad_sig[i], strlen(bad_sig[i]), &s), KW_HTTPSIG_MALFORMED);
    for (i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
        assert_int_equal(kw_httpsig_parse(unsupported[i], strlen(unsupported[i]), S("sig=:AAAA:"), &s),
                         KW_HTTPSIG_UNSUPPORTED);
    assert_int_equal(kw_httpsig_parse(NULL, 0, S("sig=:AAAA:"), &s), KW_HTTPSIG_MALFORMED);
    memset(big, ' ', sizeof(big));
    memcpy(big, "sig=()", 6);
    assert_int_equal(kw_httpsig_parse(big, sizeof(big), S("sig=:AAAA:"), &s), KW_HTTPSIG_MALFORMED);
    /* the second signature is used when the first has no Signature member */
    assert_int_equal(kw_httpsig_parse(S("a=();keyid=\"x\", b=();keyid=\"y\""), S("b=:AAAA:"), &s), KW_HTTPSIG_OK);
    assert_string_equal(s.label, "b");
    assert_string_equal(s.keyid, "y");
    assert_string_equal(s.sig_b64, "AAAA");
}

static void test_sfv(void **state)
{
    struct kw_sf_dict d;
    char out[256];
    size_t at = 0;

    assert_int_equal(kw_sf_parse_dict(S("a=1, b=?0;x, c=(\"s\\\"q\" tok:/x 1.25 :AAAA:);p=-7 ,\td"), &d), 0);
    assert_int_equal(d.n, 4);
    assert_int_equal(d.m[0].item.v.type, KW_SF_INTEGER);
    assert_int_equal(d.m[0].item.v.i, 1);
    assert_int_equal(d.m[1].item.v.type, KW_SF_BOOLEAN);
    assert_int_equal(d.m[1].item.nparams, 1);
    assert_true(d.m[2].inner);
    assert_int_equal(d.m[2].nitems, 4);
    assert_int_equal(d.items[d.m[2].item0 + 1].v.type, KW_SF_TOKEN);
    assert_int_equal(d.items[d.m[2].item0 + 2].v.type, KW_SF_DECIMAL);
    assert_int_equal(d.items[d.m[2].item0 + 3].v.type, KW_SF_BYTES);
    assert_int_equal(d.m[3].item.v.type, KW_SF_BOOLEAN);
    assert_int_equal(kw_sf_string(&d.items[d.m[2].item0].v, out, sizeof(out)), 0);
    assert_string_equal(out, "s\"q");
    assert_int_equal(kw_sf_string(&d.items[d.m[2].item0].v, out, 3), -1);
    assert_int_equal(kw_sf_serialize_params(&d, d.m[2].item.param0, d.m[2].item.nparams, out, sizeof(out), &at), 0);
    assert_string_equal(out, ";p=-7");
    assert_non_null(kw_sf_dict_get(&d, "c"));
    assert_null(kw_sf_dict_get(&d, "e"));
    assert_int_equal(kw_sf_parse_dict(S("a=(1 2)x"), &d), -1);
    assert_int_equal(kw_sf_parse_dict(S("a=\"\x01\""), &d), -1);
    assert_int_equal(kw_sf_parse_dict(S("a=1.2345"), &d), -1);
    assert_int_equal(kw_sf_parse_dict(S("a=1."), &d), -1);
    assert_int_equal(kw_sf_parse_dict(S("a=?2"), &d), -1);
    assert_int_equal(kw_sf_parse_dict(S("a=-"), &d), -1);
    assert_int_equal(kw_sf_parse_dict(S("a=%"), &d), -1);
    assert_int_equal(kw_sf_parse_dict(S("a=1;"), &d), -1);
    /* caps */
    assert_int_equal(kw_sf_parse_dict(S("a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p"), &d), 0);
    assert_int_equal(kw_sf_parse_dict(S("a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q"), &d), -1);
}

static void test_base64(void **state)
{
    uint8_t out[16];
    char enc[16];
    size_t n = 0;

    assert_int_equal(kw_crypto_base64_encode((const uint8_t *)"ab", 2, enc, sizeof(enc)), 4);
    assert_string_equal(enc, "YWI=");
    assert_int_equal(kw_httpsig_b64_decode(S("YWI="), out, sizeof(out), &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(kw_httpsig_b64_decode(S("YWI"), out, sizeof(out), &n), 0); /* padding optional */
    assert_int_equal(n, 2);
    assert_int_equal(kw_httpsig_b64_decode(S("YQ"), out, sizeof(out), &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(kw_httpsig_b64_decode(S(""), out, sizeof(out), &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(kw_httpsig_b64_decode(S("YWJ="), out, sizeof(out), &n), -1); /* non-zero unused bits */
    assert_int_equal(kw_httpsig_b64_decode(S("YWI=="), out, sizeof(out), &n), -1);
    assert_int_equal(kw_httpsig_b64_decode(S("Y"), out, sizeof(out), &n), -1);
    assert_int_equal(kw_httpsig_b64_decode(S("YW-_"), out, sizeof(out), &n), -1); /* url alphabet */
    assert_int_equal(kw_httpsig_b64_decode(S("YW I"), out, sizeof(out), &n), -1);
    assert_int_equal(kw_httpsig_b64_decode(S("YWJjZA=="), out, 3, &n), -1); /* 4 bytes, cap 3 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc9421_b25),       cmocka_unit_test(test_content_digest),
        cmocka_unit_test(test_policy_and_tampering), cmocka_unit_test(test_derived_components),
        cmocka_unit_test(test_malformed),         cmocka_unit_test(test_sfv),
        cmocka_unit_test(test_base64),
    };

    if (kw_crypto_init() != KW_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
