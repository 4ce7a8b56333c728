/* test_config.c - the settings table: defaults < file < environment < flags, bounds, secrets, help. */
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

#define ROOT "a-root-token-of-at-least-thirty-two-chars"

static const char *const env_vars[] = {
    "KEYWARD_LISTEN",       "KEYWARD_DATA_DIR",          "KEYWARD_STORE",
    "KEYWARD_THREADS",      "KEYWARD_MAX_BODY_BYTES",    "KEYWARD_MAX_HEADER_BYTES",
    "KEYWARD_IDLE_TIMEOUT", "KEYWARD_LOG_LEVEL",         "KEYWARD_FLUSH_INTERVAL_MS",
    "KEYWARD_ROOT_TOKEN",   "KEYWARD_ARGON2_MEMORY_KIB", "KEYWARD_ARGON2_ITERATIONS",
    "KEYWARD_SESSION_IDLE", "KEYWARD_SESSION_MAX",       "KEYWARD_TRUSTED_PROXIES",
};

static void clear_env(void)
{
    size_t i;

    for (i = 0; i < sizeof(env_vars) / sizeof(env_vars[0]); i++)
        unsetenv(env_vars[i]);
}

static int setup(void **state)
{
    clear_env();
    return 0;
}

static void write_file(char *path, const char *text)
{
    int fd = mkstemp(path);
    FILE *f;

    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static enum kw_err load_flags(struct kw_config *c, int argc, char **argv, char *err, size_t cap)
{
    kw_config_defaults(c);
    return kw_config_load(c, NULL, argc, argv, err, cap);
}

static void test_defaults(void **state)
{
    struct kw_config c;
    char err[256] = "x";

    kw_config_defaults(&c);
    assert_string_equal(c.listen, "127.0.0.1:8080");
    assert_string_equal(c.data_dir, "./var");
    assert_string_equal(c.store, "sqlite");
    assert_int_equal(c.threads, 0);
    assert_int_equal(c.max_body_bytes, 65536);
    assert_int_equal(c.max_header_bytes, 8192);
    assert_int_equal(c.idle_timeout_s, 10);
    assert_string_equal(c.log_level, "info");
    assert_int_equal(c.flush_interval_ms, 500);
    assert_string_equal(c.root_token, "");
    /* Nothing set anywhere: load keeps the defaults and clears err. */
    assert_int_equal(kw_config_load(&c, NULL, 0, NULL, err, sizeof(err)), KW_OK);
    assert_string_equal(err, "");
    assert_string_equal(c.listen, "127.0.0.1:8080");
}

static void test_precedence(void **state)
{
    char path[] = "/tmp/kwcfgXXXXXX", err[256];
    struct kw_config c;
    char *argv[] = {"--threads",        "3", "--max-body-bytes=2048", "--config", "ignored-here",
                    "--log-level=debug"};

    write_file(path, "# comment\n\n  listen = 127.0.0.1:9000  \nthreads=1\ndata-dir = /tmp/x\n"
                     "idle-timeout = 30\nlog-level = warn\n");
    setenv("KEYWARD_THREADS", "2", 1);
    setenv("KEYWARD_LISTEN", "127.0.0.1:9100", 1);
    setenv("KEYWARD_MAX_BODY_BYTES", "4096", 1);
    setenv("KEYWARD_FLUSH_INTERVAL_MS", "100", 1);
    kw_config_defaults(&c);
    assert_int_equal(kw_config_load(&c, path, 6, argv, err, sizeof(err)), KW_OK);
    assert_string_equal(c.data_dir, "/tmp/x");       /* file beats default */
    assert_int_equal(c.idle_timeout_s, 30);          /* file */
    assert_string_equal(c.listen, "127.0.0.1:9100"); /* env beats file */
    assert_int_equal(c.flush_interval_ms, 100);      /* env beats default */
    assert_int_equal(c.threads, 3);                  /* flag beats env beats file */
    assert_int_equal(c.max_body_bytes, 2048);        /* --name=value beats env */
    assert_string_equal(c.log_level, "debug");       /* flag beats file */
    assert_int_equal(c.max_header_bytes, 8192);      /* untouched default */
    clear_env();
    unlink(path);
}

static void test_bounds_name_the_setting(void **state)
{
    struct kw_config c;
    char err[256];
    char *threads_hi[] = {"--threads", "65"}, *threads_lo[] = {"--threads=-1"},
         *threads_nan[] = {"--threads", "2x"};
    char *body_lo[] = {"--max-body-bytes", "1023"}, *body_hi[] = {"--max-body-bytes", "16777217"};
    char *flush[] = {"--flush-interval-ms", "5"}, *idle[] = {"--idle-timeout", ""};
    char *level[] = {"--log-level", "loud"}, *huge[] = {"--threads", "99999999999999999999999"};

    assert_int_equal(load_flags(&c, 2, threads_hi, err, sizeof(err)), KW_ERR_INVALID);
    assert_non_null(strstr(err, "threads must be an integer in 0..64"));
    assert_int_equal(load_flags(&c, 1, threads_lo, err, sizeof(err)), KW_ERR_INVALID);
    assert_non_null(strstr(err, "threads"));
    assert_int_equal(load_flags(&c, 2, threads_nan, err, sizeof(err)), KW_ERR_INVALID);
    assert_int_equal(load_flags(&c, 2, huge, err, sizeof(err)), KW_ERR_INVALID);
    assert_int_equal(load_flags(&c, 2, body_lo, err, sizeof(err)), KW_ERR_INVALID);
    assert_non_null(strstr(err, "max-body-bytes must be an integer in 1024..16777216"));
    assert_int_equal(load_flags(&c, 2, body_hi, err, sizeof(err)), KW_ERR_INVALID);
    assert_int_equal(load_flags(&c, 2, flush, err, sizeof(err)), KW_ERR_INVALID);
    assert_non_null(strstr(err, "flush-interval-ms must be an integer in 10..1000"));
    assert_int_equal(load_flags(&c, 2, idle, err, sizeof(err)), KW_ERR_INVALID);
    assert_non_null(strstr(err, "idle-timeout must be an integer in 1..3600"));
    assert_int_equal(load_flags(&c, 2, level, err, sizeof(err)), KW_ERR_INVALID);
    assert_non_null(strstr(err, "log-level"));
    setenv("KEYWARD_MAX_HEADER_BYTES", "70000", 1);
    assert_int_equal(load_flags(&c, 0, NULL, err, sizeof(err)), KW_ERR_INVALID);
    assert_non_null(strstr(err, "KEYWARD_MAX_HEADER_BYTES")); /* where it came from */
    assert_non_null(strstr(err, "1024..65536"));
    clear_env();
}

static void test_listen(void **state)
{
    static const char *const good[] = {"127.0.0.1:8080", "0.0.0.0:1", "localhost:65535",
                                       "[::1]:8080",     "[::]:443",  "[2001:db8::7]:9000"};
    static const char *const bad[] = {"localhost",       "127.0.0.1", "127.0.0.1:",     "127.0.0.1:0",
                                      "127.0.0.1:65536", ":8080",     "example.com:80", "127.0.0.1:+80",
                                      "127.0.0.1:80x",   "::1:8080",  "[::1]8080",      "[::1:8080",
                                      "[zz]:80",         "[]:80",     "1.2.3:80",       "127.0.0.1: 80"};
    struct kw_config c;
    char err[256], *argv[2] = {"--listen", NULL};
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        argv[1] = (char *)good[i];
        if (load_flags(&c, 2, argv, err, sizeof(err)) != KW_OK)
            fail_msg("rejected %s: %s", good[i], err);
        assert_string_equal(c.listen, good[i]);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        argv[1] = (char *)bad[i];
        if (load_flags(&c, 2, argv, err, sizeof(err)) != KW_ERR_INVALID)
            fail_msg("accepted %s", bad[i]);
        assert_non_null(strstr(err, "listen"));
    }
}

static void test_flags(void **state)
{
    struct kw_config c;
    char err[256];
    char *unknown[] = {"--nope", "1"}, *unknown_eq[] = {"--nope=value"}, *missing[] = {"--threads"};
    char *positional[] = {"threads", "2"}, *secret[] = {"--root-token", ROOT},
         *secret_eq[] = {"--root-token=" ROOT};
    char *both[] = {"--store", "sqlite", "--data-dir=/srv/kw"};

    assert_int_equal(load_flags(&c, 2, unknown, err, sizeof(err)), KW_ERR_INVALID);
    assert_non_null(strstr(err, "--nope"));
    assert_int_equal(load_flags(&c, 1, unknown_eq, err, sizeof(err)), KW_ERR_INVALID);
    assert_non_null(strstr(err, "--nope"));
    assert_null(strstr(err, "value"));
    assert_int_equal(load_flags(&c, 1, missing, err, sizeof(err)), KW_ERR_INVALID);
    assert_non_null(strstr(err, "threads"));
    assert_int_equal(load_flags(&c, 2, positional, err, sizeof(err)), KW_ERR_INVALID);
    /* A secret is refused on the command line in both spellings, and is not echoed. */
    assert_int_equal(load_flags(&c, 2, secret, err, sizeof(err)), KW_ERR_INVALID);
    assert_non_null(strstr(err, "root-token"));
    assert_null(strstr(err, "thirty"));
    assert_string_equal(c.root_token, "");
    assert_int_equal(load_flags(&c, 1, secret_eq, err, sizeof(err)), KW_ERR_INVALID);
    assert_null(strstr(err, "thirty"));
    assert_int_equal(load_flags(&c, 3, both, err, sizeof(err)), KW_OK);
    assert_string_equal(c.data_dir, "/srv/kw");
}

static void test_root_token(void **state)
{
    struct kw_config c;
    char err[256], path[] = "/tmp/kwcfgXXXXXX";
    char too_long[300];

    setenv("KEYWARD_ROOT_TOKEN", "short-secret", 1);
    assert_int_equal(load_flags(&c, 0, NULL, err, sizeof(err)), KW_ERR_INVALID);
    assert_non_null(strstr(err, "root-token"));
    assert_non_null(strstr(err, "32"));
    assert_null(strstr(err, "short-secret"));
    memset(too_long, 'x', sizeof(too_long) - 1);
    too_long[sizeof(too_long) - 1] = '\0';
    setenv("KEYWARD_ROOT_TOKEN", too_long, 1);
    assert_int_equal(load_flags(&c, 0, NULL, err, sizeof(err)), KW_ERR_INVALID);
    assert_null(strstr(err, "xxxx"));
    setenv("KEYWARD_ROOT_TOKEN", ROOT, 1);
    assert_int_equal(load_flags(&c, 0, NULL, err, sizeof(err)), KW_OK);
    assert_string_equal(c.root_token, ROOT);
    clear_env();
    write_file(path, "root-token = " ROOT "\n"); /* a file (not argv) may carry it */
    kw_config_defaults(&c);
    assert_int_equal(kw_config_load(&c, path, 0, NULL, err, sizeof(err)), KW_OK);
    assert_string_equal(c.root_token, ROOT);
    unlink(path);
}

static void file_error(const char *text, const char *want1, const char *want2)
{
    char path[] = "/tmp/kwcfgXXXXXX", err[256];
    struct kw_config c;

    write_file(path, text);
    kw_config_defaults(&c);
    assert_int_equal(kw_config_load(&c, path, 0, NULL, err, sizeof(err)), KW_ERR_INVALID);
    if (strstr(err, path) == NULL || strstr(err, want1) == NULL ||
        (want2 != NULL && strstr(err, want2) == NULL))
        fail_msg("error \"%s\" lacks %s / %s", err, want1, want2 ? want2 : "");
    unlink(path);
}

static void test_file_errors(void **state)
{
    char big[1500];
    char err[256];
    struct kw_config c;

    file_error("# ok\nthreads = 2\nbogus = 1\n", ":3:", "bogus");
    file_error("threads = lots\n", ":1:", "threads must be an integer in 0..64");
    file_error("\n\nlisten\n", ":3:", "name = value");
    file_error("log-level = verbose\n", ":1:", "log-level");
    memset(big, 'a', sizeof(big) - 2);
    memcpy(big, "data-dir = ", 11);
    big[sizeof(big) - 2] = '\n';
    big[sizeof(big) - 1] = '\0';
    file_error(big, ":1:", "long");
    kw_config_defaults(&c);
    assert_int_equal(kw_config_load(&c, "/nonexistent/keyward.conf", 0, NULL, err, sizeof(err)),
                     KW_ERR_INVALID);
    assert_non_null(strstr(err, "/nonexistent/keyward.conf"));
}

static void test_string_caps(void **state)
{
    struct kw_config c;
    char err[256], big[600], *argv[2] = {"--data-dir", big};

    memset(big, 'd', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(load_flags(&c, 2, argv, err, sizeof(err)), KW_ERR_INVALID);
    assert_non_null(strstr(err, "data-dir"));
    big[511] = '\0'; /* 511 chars + NUL fits the 512-byte field */
    assert_int_equal(load_flags(&c, 2, argv, err, sizeof(err)), KW_OK);
    assert_int_equal(strlen(c.data_dir), 511);
}

/* trusted-proxies: CIDRs parsed into the set the X-Forwarded-For walk uses; empty by default. */
static void test_trusted_proxies(void **state)
{
    struct kw_config c;
    struct kw_netaddr a;
    char err[256], path[] = "/tmp/kwcfgXXXXXX";
    char *flag[] = {"--trusted-proxies", "127.0.0.1/32, 10.0.0.0/8,::1"}, *flag_eq[] = {"--trusted-proxies="};
    char *bad[] = {"--trusted-proxies", "10.0.0.1/8"}, *junk[] = {"--trusted-proxies", "10.0.0.0/8,nope"};

    kw_config_defaults(&c);
    assert_string_equal(c.trusted_proxies, "");
    assert_int_equal(c.trusted_proxy_set.n, 0);
    assert_int_equal(load_flags(&c, 2, flag, err, sizeof(err)), KW_OK);
    assert_int_equal(c.trusted_proxy_set.n, 3);
    assert_int_equal(kw_netaddr_parse("10.9.8.7", 8, &a), KW_OK);
    assert_true(kw_netaddr_set_contains(&c.trusted_proxy_set, &a));
    assert_int_equal(kw_netaddr_parse("11.9.8.7", 8, &a), KW_OK);
    assert_false(kw_netaddr_set_contains(&c.trusted_proxy_set, &a));
    assert_int_equal(load_flags(&c, 1, flag_eq, err, sizeof(err)), KW_OK); /* explicitly none */
    assert_int_equal(c.trusted_proxy_set.n, 0);
    assert_int_equal(load_flags(&c, 2, bad, err, sizeof(err)), KW_ERR_INVALID);
    assert_non_null(strstr(err, "trusted-proxies must be comma-separated CIDRs"));
    assert_int_equal(load_flags(&c, 2, junk, err, sizeof(err)), KW_ERR_INVALID);
    setenv("KEYWARD_TRUSTED_PROXIES", "2001:db8::/32", 1);
    assert_int_equal(load_flags(&c, 0, NULL, err, sizeof(err)), KW_OK);
    assert_int_equal(c.trusted_proxy_set.n, 1);
    setenv("KEYWARD_TRUSTED_PROXIES", "2001:db8::1/32", 1);
    assert_int_equal(load_flags(&c, 0, NULL, err, sizeof(err)), KW_ERR_INVALID);
    assert_non_null(strstr(err, "KEYWARD_TRUSTED_PROXIES"));
    clear_env();
    write_file(path, "trusted-proxies = 192.0.2.0/24 , 198.51.100.0/24\n");
    kw_config_defaults(&c);
    assert_int_equal(kw_config_load(&c, path, 0, NULL, err, sizeof(err)), KW_OK);
    assert_int_equal(c.trusted_proxy_set.n, 2);
    unlink(path);
}

/* A boolean setting: true|false (or 1|0), anything else names the setting. */
static void test_bool_setting(void **state)
{
    struct kw_config c;
    char err[256];
    char *on[] = {"--webhook-allow-private", "true"}, *off[] = {"--webhook-allow-private=0"},
         *bad[] = {"--webhook-allow-private", "yes"};

    assert_int_equal(load_flags(&c, 0, NULL, err, sizeof(err)), KW_OK);
    assert_int_equal(c.webhook_allow_private, 0);
    assert_int_equal(load_flags(&c, 2, on, err, sizeof(err)), KW_OK);
    assert_int_equal(c.webhook_allow_private, 1);
    assert_int_equal(load_flags(&c, 1, off, err, sizeof(err)), KW_OK);
    assert_int_equal(c.webhook_allow_private, 0);
    assert_int_equal(load_flags(&c, 2, bad, err, sizeof(err)), KW_ERR_INVALID);
    assert_non_null(strstr(err, "webhook-allow-private must be true or false"));
}

static void test_help(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    setenv("KEYWARD_ROOT_TOKEN", ROOT, 1);
    assert_non_null(f);
    kw_config_help(f);
    fclose(f);
    assert_non_null(strstr(buf, "--listen"));
    assert_non_null(strstr(buf, "KEYWARD_LISTEN"));
    assert_non_null(strstr(buf, "127.0.0.1:8080"));
    assert_non_null(strstr(buf, "--threads"));
    assert_non_null(strstr(buf, "0..64"));
    assert_non_null(strstr(buf, "KEYWARD_MAX_BODY_BYTES"));
    assert_non_null(strstr(buf, "KEYWARD_FLUSH_INTERVAL_MS"));
    assert_non_null(strstr(buf, "KEYWARD_ROOT_TOKEN"));
    assert_non_null(strstr(buf, "--trusted-proxies"));
    assert_null(strstr(buf, "--root-token")); /* not offered as a flag */
    assert_null(strstr(buf, ROOT));
    free(buf);
    clear_env();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, setup),
        cmocka_unit_test_setup(test_precedence, setup),
        cmocka_unit_test_setup(test_bounds_name_the_setting, setup),
        cmocka_unit_test_setup(test_listen, setup),
        cmocka_unit_test_setup(test_flags, setup),
        cmocka_unit_test_setup(test_root_token, setup),
        cmocka_unit_test_setup(test_file_errors, setup),
        cmocka_unit_test_setup(test_string_caps, setup),
        cmocka_unit_test_setup(test_trusted_proxies, setup),
        cmocka_unit_test_setup(test_bool_setting, setup),
        cmocka_unit_test_setup(test_help, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
