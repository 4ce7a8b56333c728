/* netaddr.h - IP addresses, CIDR sets (the trusted-proxies setting) and the X-Forwarded-For walk.
 *
 * Addresses are kept as 16 bytes; IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d), so an IPv4 CIDR also
 * matches a peer seen as ::ffff:a.b.c.d on a dual-stack socket. */
#ifndef KW_CORE_NETADDR_H
#define KW_CORE_NETADDR_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define KW_NETADDR_TEXT_MAX 64 /* an address as text, NUL included (INET6_ADDRSTRLEN is 46) */
#define KW_NETADDR_SET_MAX 32  /* CIDRs in one set */
#define KW_NETADDR_XFF_MAX 16  /* X-Forwarded-For entries walked at most, right to left */

struct kw_netaddr {
    uint8_t b[16];
    int v4; /* 1 when b is IPv4-mapped and was written as IPv4 */
};

struct kw_cidr {
    struct kw_netaddr addr; /* host bits zero */
    unsigned prefix;        /* 0..128 over the 16 bytes (IPv4 /n is stored as /96+n) */
};

struct kw_netaddr_set {
    struct kw_cidr cidr[KW_NETADDR_SET_MAX];
    size_t n;
};

/* One header value (not NUL-terminated). */
struct kw_netaddr_span {
    const char *p;
    size_t len;
};

/* Parses an IPv4 or IPv6 literal of len bytes. Accepts "[v6]", "[v6]:port" and "v4:port" (the port
 * is dropped), as proxies write them; no spaces, no zone ids. KW_ERR_INVALID otherwise. */
enum kw_err kw_netaddr_parse(const char *s, size_t len, struct kw_netaddr *out);
/* "ADDR" or "ADDR/PREFIX" (bare address: a single host). Host bits set, a prefix over 32 (IPv4) or
 * 128 (IPv6), or anything else is KW_ERR_INVALID. */
enum kw_err kw_netaddr_cidr_parse(const char *s, size_t len, struct kw_cidr *out);
/* Comma-separated CIDRs, spaces around each allowed; "" is the empty set. An empty item or more
 * than KW_NETADDR_SET_MAX is KW_ERR_INVALID. out is empty on failure. */
enum kw_err kw_netaddr_set_parse(const char *list, struct kw_netaddr_set *out);
int kw_netaddr_set_contains(const struct kw_netaddr_set *set, const struct kw_netaddr *a);
/* a as text (IPv4 dotted when a->v4, else RFC 5952 IPv6) into out. */
void kw_netaddr_format(const struct kw_netaddr *a, char out[KW_NETADDR_TEXT_MAX]);

/* SSRF guard (webhook delivery): NULL when a is a public unicast address a webhook may connect to, or
 * the name of the range that forbids it: "unspecified" (0.0.0.0/8, ::), "loopback" (127/8, ::1),
 * "private" (RFC 1918, fc00::/7), "cgnat" (100.64/10), "link-local" (169.254/16 incl. the cloud
 * metadata 169.254.169.254, fe80::/10), "multicast" (224/4, ff00::/8), "reserved" (192.0.0/24,
 * documentation 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32, benchmarking 198.18/15,
 * 240/4 and broadcast, fec0::/10, 100::/64), "ipv4-mapped" (::ffff:0:0/96 met as an IPv6 address;
 * an IPv4 address is stored mapped but flagged v4, and is judged as IPv4), "ipv4-compatible" (::/96).
 * Addresses that embed an IPv4 one (NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by it. */
const char *kw_netaddr_forbidden(const struct kw_netaddr *a);
/* A socket address (AF_INET or AF_INET6, as connect() would take it) into out; KW_ERR_INVALID for any
 * other family or a short length. */
struct sockaddr;
enum kw_err kw_netaddr_from_sockaddr(const struct sockaddr *sa, size_t len, struct kw_netaddr *out);

/* The client address of a request that arrived from peer (text) carrying the X-Forwarded-For header
 * values xff[0..n) in arrival order. If peer is not in trusted, peer itself (XFF is anybody's to
 * write). Otherwise the entries are walked right to left, across the values, over at most
 * KW_NETADDR_XFF_MAX entries: the first that is not in trusted is the client. A malformed or empty
 * entry, the cap, or the left end stops the walk at the last trusted hop seen (the one that
 * forwarded it), since nothing further left was written by a proxy we trust. out gets text. */
void kw_netaddr_client(const struct kw_netaddr_set *trusted, const char *peer,
                       const struct kw_netaddr_span *xff, size_t n, char out[KW_NETADDR_TEXT_MAX]);

#endif
