/* test_netaddr_ssrf.c - the webhook SSRF guard: which addresses a delivery may connect to
 * (kw_netaddr_forbidden) and socket addresses read back as kw_netaddr. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "core/netaddr.h"

/* The verdict for a literal: NULL (allowed), a range name, or "(invalid)". */
static const char *why(const char *s)
{
    struct kw_netaddr a;

    if (kw_netaddr_parse(s, strlen(s), &a) != KW_OK)
        return "(invalid)";
    return kw_netaddr_forbidden(&a);
}

#define REFUSED(s, name) assert_string_equal(why(s) ? why(s) : "(allowed)", name)
#define ALLOWED(s) assert_null(why(s))

static void test_ipv4_ranges(void **state)
{
    REFUSED("0.0.0.0", "unspecified");
    REFUSED("0.1.2.3", "unspecified");
    REFUSED("127.0.0.1", "loopback");
    REFUSED("127.255.255.254", "loopback");
    REFUSED("10.0.0.1", "private");
    REFUSED("172.16.0.1", "private");
    REFUSED("172.31.255.255", "private");
    REFUSED("192.168.1.1", "private");
    REFUSED("100.64.0.1", "cgnat");
    REFUSED("100.127.255.255", "cgnat");
    REFUSED("169.254.169.254", "link-local"); /* cloud metadata */
    REFUSED("224.0.0.1", "multicast");
    REFUSED("239.255.255.250", "multicast");
    REFUSED("255.255.255.255", "reserved");
    REFUSED("240.0.0.1", "reserved");
    REFUSED("192.0.2.10", "reserved");
    REFUSED("198.51.100.7", "reserved");
    REFUSED("203.0.113.9", "reserved");
    REFUSED("198.18.0.1", "reserved");
    /* the edges just outside each range */
    ALLOWED("1.1.1.1");
    ALLOWED("8.8.8.8");
    ALLOWED("9.255.255.255");
    ALLOWED("11.0.0.0");
    ALLOWED("100.63.255.255");
    ALLOWED("100.128.0.0");
    ALLOWED("126.255.255.255");
    ALLOWED("128.0.0.0");
    ALLOWED("172.15.255.255");
    ALLOWED("172.32.0.0");
    ALLOWED("169.253.255.255");
    ALLOWED("192.167.255.255");
    ALLOWED("192.169.0.0");
    ALLOWED("223.255.255.255");
}

static void test_ipv6_ranges(void **state)
{
    REFUSED("::", "unspecified");
    REFUSED("::1", "loopback");
    REFUSED("fc00::1", "private");
    REFUSED("fd12:3456::1", "private");
    REFUSED("fe80::1", "link-local");
    REFUSED("febf::1", "link-local");
    REFUSED("fec0::1", "reserved");
    REFUSED("ff02::1", "multicast");
    REFUSED("2001:db8::1", "reserved");
    REFUSED("100::1", "reserved");
    REFUSED("::ffff:127.0.0.1", "ipv4-mapped");
    REFUSED("::ffff:8.8.8.8", "ipv4-mapped"); /* an IPv6 socket address that is IPv4-mapped, always */
    REFUSED("::127.0.0.1", "ipv4-compatible");
    REFUSED("64:ff9b::7f00:1", "loopback");    /* NAT64 of 127.0.0.1 */
    REFUSED("64:ff9b::a9fe:a9fe", "link-local"); /* NAT64 of 169.254.169.254 */
    REFUSED("2002:7f00:1::1", "loopback");     /* 6to4 of 127.0.0.1 */
    REFUSED("2002:c0a8:101::1", "private");    /* 6to4 of 192.168.1.1 */
    ALLOWED("2606:4700:4700::1111");
    ALLOWED("2001:4860:4860::8888");
    ALLOWED("64:ff9b::808:808");  /* NAT64 of 8.8.8.8 */
    ALLOWED("2002:808:808::1");   /* 6to4 of 8.8.8.8 */
    ALLOWED("fbff::1");
    ALLOWED("fe00::1");
}

static void test_from_sockaddr(void **state)
{
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
    struct sockaddr sa;
    struct kw_netaddr a;
    char text[KW_NETADDR_TEXT_MAX];

    memset(&in, 0, sizeof(in));
    in.sin_family = AF_INET;
    in.sin_port = htons(80);
    inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
    assert_int_equal(kw_netaddr_from_sockaddr((struct sockaddr *)&in, sizeof(in), &a), KW_OK);
    kw_netaddr_format(&a, text);
    assert_string_equal(text, "127.0.0.1");
    assert_string_equal(kw_netaddr_forbidden(&a), "loopback");
    assert_int_equal(kw_netaddr_from_sockaddr((struct sockaddr *)&in, sizeof(in) - 1, &a), KW_ERR_INVALID);

    memset(&in6, 0, sizeof(in6));
    in6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::ffff:10.0.0.1", &in6.sin6_addr);
    assert_int_equal(kw_netaddr_from_sockaddr((struct sockaddr *)&in6, sizeof(in6), &a), KW_OK);
    assert_string_equal(kw_netaddr_forbidden(&a), "ipv4-mapped");
    inet_pton(AF_INET6, "2606:4700:4700::1111", &in6.sin6_addr);
    assert_int_equal(kw_netaddr_from_sockaddr((struct sockaddr *)&in6, sizeof(in6), &a), KW_OK);
    assert_null(kw_netaddr_forbidden(&a));

    memset(&sa, 0, sizeof(sa));
    sa.sa_family = AF_UNIX;
    assert_int_equal(kw_netaddr_from_sockaddr(&sa, sizeof(sa), &a), KW_ERR_INVALID);
    assert_int_equal(kw_netaddr_from_sockaddr(NULL, 0, &a), KW_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4_ranges),
        cmocka_unit_test(test_ipv6_ranges),
        cmocka_unit_test(test_from_sockaddr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
