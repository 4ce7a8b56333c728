/* test_netaddr.c - address and CIDR parsing, CIDR sets, and the X-Forwarded-For walk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/netaddr.h"

static int parses(const char *s)
{
    struct kw_netaddr a;
    return kw_netaddr_parse(s, strlen(s), &a) == KW_OK;
}

static const char *fmt(const char *s)
{
    static char out[KW_NETADDR_TEXT_MAX];
    struct kw_netaddr a;

    if (kw_netaddr_parse(s, strlen(s), &a) != KW_OK)
        return "(invalid)";
    kw_netaddr_format(&a, out);
    return out;
}

static void test_parse_addresses(void **state)
{
    assert_string_equal(fmt("192.0.2.1"), "192.0.2.1");
    assert_string_equal(fmt("192.0.2.1:8080"), "192.0.2.1");
    assert_string_equal(fmt("2001:DB8::1"), "2001:db8::1");
    assert_string_equal(fmt("[2001:db8::1]"), "2001:db8::1");
    assert_string_equal(fmt("[2001:db8::1]:443"), "2001:db8::1");
    assert_string_equal(fmt("::ffff:192.0.2.1"), "::ffff:192.0.2.1");
    assert_string_equal(fmt("::1"), "::1");
    assert_false(parses(""));
    assert_false(parses("unknown"));
    assert_false(parses("192.0.2"));
    assert_false(parses("192.0.2.256"));
    assert_false(parses("192.0.2.1:"));
    assert_false(parses("192.0.2.1:65536"));
    assert_false(parses("192.0.2.1:80x"));
    assert_false(parses(" 192.0.2.1"));
    assert_false(parses("[192.0.2.1]"));
    assert_false(parses("[2001:db8::1"));
    assert_false(parses("[2001:db8::1]x"));
    assert_false(parses("fe80::1%eth0"));
    assert_false(parses("2001:db8::1::2"));
    assert_false(parses("1234567890123456789012345678901234567890123456789012345678901234567890"));
    assert_int_equal(kw_netaddr_parse("192.0.2.1\0x", 11, &(struct kw_netaddr){0}), KW_ERR_INVALID);
}

static int in_cidr(const char *cidr, const char *addr)
{
    struct kw_netaddr_set set;
    struct kw_netaddr a;

    assert_int_equal(kw_netaddr_set_parse(cidr, &set), KW_OK);
    assert_int_equal(kw_netaddr_parse(addr, strlen(addr), &a), KW_OK);
    return kw_netaddr_set_contains(&set, &a);
}

static void test_cidrs(void **state)
{
    struct kw_cidr c;

    assert_true(in_cidr("10.0.0.0/8", "10.255.1.2"));
    assert_false(in_cidr("10.0.0.0/8", "11.0.0.1"));
    assert_true(in_cidr("192.0.2.128/25", "192.0.2.200"));
    assert_false(in_cidr("192.0.2.128/25", "192.0.2.127"));
    assert_true(in_cidr("127.0.0.1", "127.0.0.1")); /* bare address: /32 */
    assert_false(in_cidr("127.0.0.1", "127.0.0.2"));
    assert_true(in_cidr("0.0.0.0/0", "203.0.113.9"));
    assert_false(in_cidr("0.0.0.0/0", "2001:db8::1"));       /* IPv4 /0 is not every IPv6 address */
    assert_true(in_cidr("127.0.0.0/8", "::ffff:127.0.0.1")); /* dual-stack peer */
    assert_true(in_cidr("2001:db8::/32", "2001:db8:ffff::1"));
    assert_false(in_cidr("2001:db8::/33", "2001:db8:8000::1"));
    assert_true(in_cidr("::1/128", "::1"));
    assert_true(in_cidr("::/0", "2001:db8::1"));
    assert_int_equal(kw_netaddr_cidr_parse("10.0.0.1/8", 10, &c), KW_ERR_INVALID); /* host bits set */
    assert_int_equal(kw_netaddr_cidr_parse("10.0.0.0/33", 11, &c), KW_ERR_INVALID);
    assert_int_equal(kw_netaddr_cidr_parse("::/129", 6, &c), KW_ERR_INVALID);
    assert_int_equal(kw_netaddr_cidr_parse("10.0.0.0/", 9, &c), KW_ERR_INVALID);
    assert_int_equal(kw_netaddr_cidr_parse("10.0.0.0/-1", 11, &c), KW_ERR_INVALID);
    assert_int_equal(kw_netaddr_cidr_parse("10.0.0.0/0008", 13, &c), KW_ERR_INVALID);
    assert_int_equal(kw_netaddr_cidr_parse("[::1]/128", 9, &c), KW_ERR_INVALID);
    assert_int_equal(kw_netaddr_cidr_parse("10.0.0.0:80/8", 13, &c), KW_ERR_INVALID);
    assert_int_equal(kw_netaddr_cidr_parse("/8", 2, &c), KW_ERR_INVALID);
}

static void test_sets(void **state)
{
    struct kw_netaddr_set set;
    char list[1024];
    size_t i, n = 0;

    assert_int_equal(kw_netaddr_set_parse("", &set), KW_OK);
    assert_int_equal(set.n, 0);
    assert_int_equal(kw_netaddr_set_parse("   ", &set), KW_OK);
    assert_int_equal(set.n, 0);
    assert_int_equal(kw_netaddr_set_parse(" 10.0.0.0/8 ,\t::1 , 192.0.2.0/24", &set), KW_OK);
    assert_int_equal(set.n, 3);
    assert_int_equal(kw_netaddr_set_parse("10.0.0.0/8,,::1", &set), KW_ERR_INVALID);
    assert_int_equal(set.n, 0);
    assert_int_equal(kw_netaddr_set_parse("10.0.0.0/8,", &set), KW_ERR_INVALID);
    assert_int_equal(kw_netaddr_set_parse(",10.0.0.0/8", &set), KW_ERR_INVALID);
    assert_int_equal(kw_netaddr_set_parse("10.0.0.0/8 192.0.2.0/24", &set), KW_ERR_INVALID);
    assert_int_equal(kw_netaddr_set_parse("localhost", &set), KW_ERR_INVALID);
    for (i = 0; i < KW_NETADDR_SET_MAX; i++)
        n += (size_t)snprintf(list + n, sizeof(list) - n, "%s10.0.%zu.0/24", i ? "," : "", i);
    assert_int_equal(kw_netaddr_set_parse(list, &set), KW_OK);
    assert_int_equal(set.n, KW_NETADDR_SET_MAX);
    snprintf(list + n, sizeof(list) - n, ",10.1.0.0/16");
    assert_int_equal(kw_netaddr_set_parse(list, &set), KW_ERR_INVALID); /* one too many */
}

/* The client seen from peer with the given X-Forwarded-For lines, trusting `trusted`. */
static const char *client(const char *trusted, const char *peer, const char *const *lines, size_t n)
{
    static char out[KW_NETADDR_TEXT_MAX];
    struct kw_netaddr_span xff[8];
    struct kw_netaddr_set set;
    size_t i;

    assert_int_equal(kw_netaddr_set_parse(trusted, &set), KW_OK);
    for (i = 0; i < n; i++) {
        xff[i].p = lines[i];
        xff[i].len = strlen(lines[i]);
    }
    kw_netaddr_client(&set, peer, xff, n, out);
    return out;
}

#define XFF(...)                                                                                             \
    (const char *const[]){__VA_ARGS__}, sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *)

static void test_forwarded_for_walk(void **state)
{
    const char *proxies = "127.0.0.1/32, 10.0.0.0/8, 2001:db8::/32";
    char many[2048];
    size_t i, n = 0;

    /* Untrusted peer, or no trusted proxies: X-Forwarded-For is anybody's to write. */
    assert_string_equal(client("", "127.0.0.1", XFF("203.0.113.5")), "127.0.0.1");
    assert_string_equal(client(proxies, "198.51.100.2", XFF("203.0.113.5")), "198.51.100.2");
    /* One proxy: the right-most entry. A spoofed entry to its left is never reached. */
    assert_string_equal(client(proxies, "127.0.0.1", XFF("203.0.113.5")), "203.0.113.5");
    assert_string_equal(client(proxies, "127.0.0.1", XFF("6.6.6.6, 203.0.113.5")), "203.0.113.5");
    /* Trusted hops are skipped, spaces and tabs trimmed, ports dropped. */
    assert_string_equal(client(proxies, "127.0.0.1", XFF("6.6.6.6,203.0.113.5 ,\t10.1.2.3")), "203.0.113.5");
    assert_string_equal(client(proxies, "127.0.0.1", XFF("203.0.113.5:4711, 10.1.2.3")), "203.0.113.5");
    /* IPv6, bracketed or not, and an IPv6 proxy. */
    assert_string_equal(client(proxies, "2001:db8::7", XFF("2001:DB8:1::9, [2001:db8::8]:80")),
                        "2001:db8:1::9");
    assert_string_equal(client(proxies, "127.0.0.1", XFF("[2a00:1450::1]:8443")), "2a00:1450::1");
    /* Several header lines form one list, in order: the last line is the right end. */
    assert_string_equal(client(proxies, "127.0.0.1", XFF("6.6.6.6", "203.0.113.5, 10.0.0.1")), "203.0.113.5");
    assert_string_equal(client(proxies, "127.0.0.1", XFF("203.0.113.5", "10.0.0.1", "")), "203.0.113.5");
    /* Empty elements are ignored. */
    assert_string_equal(client(proxies, "127.0.0.1", XFF(" , 203.0.113.5,, ")), "203.0.113.5");
    /* No header, or only trusted hops: the left-most trusted hop. */
    assert_string_equal(client(proxies, "127.0.0.1", NULL, 0), "127.0.0.1");
    assert_string_equal(client(proxies, "127.0.0.1", XFF("10.0.0.2, 10.0.0.1")), "10.0.0.2");
    /* Malformed: the walk stops at the hop that forwarded it, never a client's choice. */
    assert_string_equal(client(proxies, "127.0.0.1", XFF("unknown")), "127.0.0.1");
    assert_string_equal(client(proxies, "127.0.0.1", XFF("203.0.113.5, 10.0.0.1, garbage")), "127.0.0.1");
    assert_string_equal(client(proxies, "127.0.0.1", XFF("203.0.113.5 junk, 10.0.0.1")), "10.0.0.1");
    assert_string_equal(client(proxies, "127.0.0.1", XFF("fe80::1%eth0")), "127.0.0.1");
    /* Too many entries: at most KW_NETADDR_XFF_MAX are walked from the right. */
    n += (size_t)snprintf(many, sizeof(many), "203.0.113.5");
    for (i = 0; i < 40; i++)
        n += (size_t)snprintf(many + n, sizeof(many) - n, ", 10.0.0.%zu", i + 1);
    assert_string_equal(client(proxies, "127.0.0.1", XFF(many)), "10.0.0.25"); /* 40 - 16 + 1 */
    /* The peer text passes through untouched when it is not trusted (even when not an address). */
    assert_string_equal(client(proxies, "", XFF("203.0.113.5")), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_addresses),
        cmocka_unit_test(test_cidrs),
        cmocka_unit_test(test_sets),
        cmocka_unit_test(test_forwarded_for_walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
