/* netaddr.c - address and CIDR parsing with inet_pton, and the X-Forwarded-For walk; see netaddr.h. */
#include "core/netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <string.h>

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* A plain IPv4 or IPv6 literal, NUL-terminated, nothing around it. */
static enum kw_err parse_plain(const char *s, struct kw_netaddr *out)
{
    uint8_t v4[4];

    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, s, v4) == 1) {
        out->b[10] = out->b[11] = 0xff;
        memcpy(out->b + 12, v4, 4);
        out->v4 = 1;
        return KW_OK;
    }
    return inet_pton(AF_INET6, s, out->b) == 1 ? KW_OK : KW_ERR_INVALID;
}

/* 1 if s[0..len) is a decimal port 0..65535 of 1..5 digits. */
static int is_port(const char *s, size_t len)
{
    unsigned long v = 0;
    size_t i;

    if (len < 1 || len > 5)
        return 0;
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    return v <= 65535;
}

enum kw_err kw_netaddr_parse(const char *s, size_t len, struct kw_netaddr *out)
{
    char buf[KW_NETADDR_TEXT_MAX];
    char *colon, *close;
    enum kw_err err = KW_ERR_INVALID;

    memset(out, 0, sizeof(*out));
    if (len == 0 || len >= sizeof(buf) || memchr(s, '\0', len) != NULL)
        goto out;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (buf[0] == '[') { /* [v6] or [v6]:port */
        close = strchr(buf, ']');
        if (close == NULL ||
            (close[1] != '\0' && (close[1] != ':' || !is_port(close + 2, strlen(close + 2)))))
            goto out;
        *close = '\0';
        err = parse_plain(buf + 1, out);
        if (err == KW_OK && out->v4)
            err = KW_ERR_INVALID; /* [1.2.3.4] is not a thing */
        goto out;
    }
    colon = strchr(buf, ':');
    if (colon != NULL && strchr(colon + 1, ':') == NULL) { /* one colon: v4:port */
        if (!is_port(colon + 1, strlen(colon + 1)))
            goto out;
        *colon = '\0';
        err = parse_plain(buf, out);
        if (err == KW_OK && !out->v4)
            err = KW_ERR_INVALID;
        goto out;
    }
    err = parse_plain(buf, out);
out:
    if (err != KW_OK)
        memset(out, 0, sizeof(*out));
    return err;
}

/* 1 if the bits of a beyond prefix are all zero. */
static int host_bits_zero(const struct kw_netaddr *a, unsigned prefix)
{
    unsigned i;

    for (i = prefix; i < 128; i++) {
        if (a->b[i / 8] & (0x80u >> (i % 8)))
            return 0;
    }
    return 1;
}

enum kw_err kw_netaddr_cidr_parse(const char *s, size_t len, struct kw_cidr *out)
{
    char buf[KW_NETADDR_TEXT_MAX];
    const char *slash = memchr(s, '/', len);
    size_t alen = slash ? (size_t)(slash - s) : len, plen = slash ? len - alen - 1 : 0, i;
    unsigned prefix = 0, max;
    enum kw_err err = KW_ERR_INVALID;

    memset(out, 0, sizeof(*out));
    if (alen == 0 || alen >= sizeof(buf) || memchr(s, '\0', len) != NULL || (slash && (plen < 1 || plen > 3)))
        goto out;
    memcpy(buf, s, alen);
    buf[alen] = '\0';
    if (parse_plain(buf, &out->addr) != KW_OK)
        goto out;
    max = out->addr.v4 ? 32 : 128;
    for (i = 0; slash && i < plen; i++) {
        if (slash[1 + i] < '0' || slash[1 + i] > '9')
            goto out;
        prefix = prefix * 10 + (unsigned)(slash[1 + i] - '0');
    }
    if (!slash)
        prefix = max;
    if (prefix > max)
        goto out;
    out->prefix = out->addr.v4 ? prefix + 96 : prefix;
    if (host_bits_zero(&out->addr, out->prefix))
        err = KW_OK;
out:
    if (err != KW_OK)
        memset(out, 0, sizeof(*out));
    return err;
}

enum kw_err kw_netaddr_set_parse(const char *list, struct kw_netaddr_set *out)
{
    const char *p = list, *end;
    enum kw_err err = KW_OK;

    memset(out, 0, sizeof(*out));
    while (is_space(*p))
        p++;
    while (*p != '\0' && err == KW_OK) {
        size_t len;
        end = strchr(p, ',');
        len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && is_space(p[len - 1]))
            len--;
        if (out->n == KW_NETADDR_SET_MAX)
            err = KW_ERR_INVALID;
        else
            err = kw_netaddr_cidr_parse(p, len, &out->cidr[out->n++]);
        if (end == NULL)
            break;
        for (p = end + 1; is_space(*p); p++)
            ;
        if (*p == '\0')
            err = KW_ERR_INVALID; /* a trailing comma is an empty item */
    }
    if (err != KW_OK)
        memset(out, 0, sizeof(*out));
    return err;
}

static int cidr_contains(const struct kw_cidr *c, const struct kw_netaddr *a)
{
    unsigned full = c->prefix / 8, rest = c->prefix % 8;

    if (memcmp(c->addr.b, a->b, full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    return ((c->addr.b[full] ^ a->b[full]) & (uint8_t)(0xff00u >> rest)) == 0;
}

int kw_netaddr_set_contains(const struct kw_netaddr_set *set, const struct kw_netaddr *a)
{
    size_t i;

    for (i = 0; i < set->n; i++) {
        if (cidr_contains(&set->cidr[i], a))
            return 1;
    }
    return 0;
}

void kw_netaddr_format(const struct kw_netaddr *a, char out[KW_NETADDR_TEXT_MAX])
{
    if (inet_ntop(a->v4 ? AF_INET : AF_INET6, a->v4 ? (const void *)(a->b + 12) : (const void *)a->b, out,
                  KW_NETADDR_TEXT_MAX) == NULL)
        out[0] = '\0';
}

/* One entry further left across the values into *s and *len (spaces trimmed); 0 at the left end. */
static int prev_entry(const struct kw_netaddr_span *xff, size_t *vi, size_t *pos, const char **s, size_t *len)
{
    const char *v;
    size_t start, end;

    while (*vi > 0 && *pos == 0) { /* this value used up: to the end of the one before */
        (*vi)--;
        *pos = xff[*vi].len + 1;
    }
    if (*pos == 0)
        return 0;
    v = xff[*vi].p;
    end = *pos - 1; /* entry ends before the comma at end (or the value's end) */
    for (start = end; start > 0 && v[start - 1] != ','; start--)
        ;
    *pos = start; /* 0 when this was the value's first entry */
    while (start < end && is_space(v[start]))
        start++;
    while (end > start && is_space(v[end - 1]))
        end--;
    *s = v + start;
    *len = end - start;
    return 1;
}

void kw_netaddr_client(const struct kw_netaddr_set *trusted, const char *peer,
                       const struct kw_netaddr_span *xff, size_t n, char out[KW_NETADDR_TEXT_MAX])
{
    struct kw_netaddr hop, a;
    size_t vi = n, pos = 0, len, walked = 0;
    const char *s;

    if (trusted->n == 0 || kw_netaddr_parse(peer, strlen(peer), &hop) != KW_OK ||
        !kw_netaddr_set_contains(trusted, &hop)) {
        size_t plen = strnlen(peer, KW_NETADDR_TEXT_MAX - 1);
        memcpy(out, peer, plen);
        out[plen] = '\0';
        return;
    }
    while (walked++ < KW_NETADDR_XFF_MAX && prev_entry(xff, &vi, &pos, &s, &len)) {
        if (len == 0)
            continue; /* empty list elements are ignored (RFC 9110 5.6.1) */
        if (kw_netaddr_parse(s, len, &a) != KW_OK)
            break;
        hop = a;
        if (!kw_netaddr_set_contains(trusted, &a))
            break;
    }
    kw_netaddr_format(&hop, out);
}

/* ---- the SSRF guard ---- */

struct forbidden_v4 {
    uint8_t a, b, c, d;
    unsigned prefix;
    const char *why;
};

static const struct forbidden_v4 v4_ranges[] = {
    {0, 0, 0, 0, 8, "unspecified"},      {10, 0, 0, 0, 8, "private"},       {100, 64, 0, 0, 10, "cgnat"},
    {127, 0, 0, 0, 8, "loopback"},       {169, 254, 0, 0, 16, "link-local"}, {172, 16, 0, 0, 12, "private"},
    {192, 0, 0, 0, 24, "reserved"},      {192, 0, 2, 0, 24, "reserved"},     {192, 168, 0, 0, 16, "private"},
    {198, 18, 0, 0, 15, "reserved"},     {198, 51, 100, 0, 24, "reserved"},  {203, 0, 113, 0, 24, "reserved"},
    {224, 0, 0, 0, 4, "multicast"},      {240, 0, 0, 0, 4, "reserved"}, /* includes 255.255.255.255 */
};

static const char *forbidden_v4(const uint8_t v[4])
{
    uint32_t x = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
    size_t i;

    for (i = 0; i < sizeof(v4_ranges) / sizeof(v4_ranges[0]); i++) {
        const struct forbidden_v4 *r = &v4_ranges[i];
        uint32_t net = (uint32_t)r->a << 24 | (uint32_t)r->b << 16 | (uint32_t)r->c << 8 | r->d;
        uint32_t mask = r->prefix == 0 ? 0 : 0xffffffffu << (32 - r->prefix);
        if ((x & mask) == net)
            return r->why;
    }
    return NULL;
}

static int all_zero(const uint8_t *b, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (b[i] != 0)
            return 0;
    return 1;
}

const char *kw_netaddr_forbidden(const struct kw_netaddr *a)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    const uint8_t *b = a->b;

    if (memcmp(b, mapped, 12) == 0)
        return a->v4 ? forbidden_v4(b + 12) : "ipv4-mapped";
    if (all_zero(b, 16))
        return "unspecified";
    if (all_zero(b, 15) && b[15] == 1)
        return "loopback";
    if (all_zero(b, 12))
        return "ipv4-compatible";
    if (memcmp(b, nat64, 12) == 0)
        return forbidden_v4(b + 12);
    if (b[0] == 0x20 && b[1] == 0x02) /* 6to4: 2002:AABB:CCDD::/48 carries AA.BB.CC.DD */
        return forbidden_v4(b + 2);
    if ((b[0] & 0xfe) == 0xfc)
        return "private";
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
        return "link-local";
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
        return "reserved"; /* site-local, deprecated */
    if (b[0] == 0xff)
        return "multicast";
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
        return "reserved"; /* documentation */
    if (b[0] == 0x01 && all_zero(b + 1, 7))
        return "reserved"; /* discard-only 100::/64 */
    return NULL;
}

enum kw_err kw_netaddr_from_sockaddr(const struct sockaddr *sa, size_t len, struct kw_netaddr *out)
{
    memset(out, 0, sizeof(*out));
    if (sa == NULL)
        return KW_ERR_INVALID;
    if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        out->b[10] = out->b[11] = 0xff;
        memcpy(out->b + 12, &in->sin_addr, 4);
        out->v4 = 1;
        return KW_OK;
    }
    if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        memcpy(out->b, &in6->sin6_addr, 16);
        return KW_OK;
    }
    return KW_ERR_INVALID;
}
