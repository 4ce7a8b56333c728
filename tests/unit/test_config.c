/* test_config.c - the settings table: defaults < file < environment < flags, bounds, secrets; time. */
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
#include "core/timeutil.h"

static void clear_env(void)
{
    unsetenv("KEYWARD_LISTEN");
    unsetenv("KEYWARD_THREADS");
    unsetenv("KEYWARD_ROOT_TOKEN");
    unsetenv("KEYWARD_MAX_BODY_BYTES");
}

static void test_defaults(void **state)
{
    struct kw_config c;

    kw_config_defaults(&c);
    assert_string_equal(c.listen, "127.0.0.1:8080");
    assert_string_equal(c.data_dir, "./var");
    assert_int_equal(c.threads, 0);
    assert_int_equal(c.max_body_bytes, 65536);
    assert_int_equal(c.max_header_bytes, 8192);
    assert_int_equal(c.idle_timeout_s, 10);
    assert_string_equal(c.root_token, "");
}

static void test_precedence(void **state)
{
    char path[] = "/tmp/kwcfgXXXXXX", err[256];
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    struct kw_config c;
    char *argv[] = {"--threads", "3", "--max-body-bytes=2048"};

    fputs("# comment\n\nlisten = 127.0.0.1:9000\nthreads = 1\ndata-dir = /tmp/x\n", f);
    fclose(f);
    clear_env();
    setenv("KEYWARD_THREADS", "2", 1);
    setenv("KEYWARD_LISTEN", "127.0.0.1:9100", 1);
    kw_config_defaults(&c);
    assert_int_equal(kw_config_load(&c, path, 3, argv, err, sizeof(err)), KW_OK);
    assert_string_equal(c.data_dir, "/tmp/x");       /* file */
    assert_string_equal(c.listen, "127.0.0.1:9100"); /* env beats file */
    assert_int_equal(c.threads, 3);                  /* flag beats env */
    assert_int_equal(c.max_body_bytes, 2048);
    clear_env();
    unlink(path);
}

static void test_errors_name_the_setting(void **state)
{
    struct kw_config c;
    char err[256];
    char *bad_threads[] = {"--threads", "99"};
    char *unknown[] = {"--nope", "1"};
    char *secret[] = {"--root-token", "0123456789012345678901234567890123"};
    char *bad_listen[] = {"--listen", "localhost"};
    char *missing[] = {"--threads"};

    clear_env();
    kw_config_defaults(&c);
    assert_int_equal(kw_config_load(&c, NULL, 2, bad_threads, err, sizeof(err)), KW_ERR_INVALID);
    assert_non_null(strstr(err, "threads"));
    assert_non_null(strstr(err, "0..64"));
    assert_int_equal(kw_config_load(&c, NULL, 2, unknown, err, sizeof(err)), KW_ERR_INVALID);
    assert_non_null(strstr(err, "--nope"));
    assert_int_equal(kw_config_load(&c, NULL, 2, secret, err, sizeof(err)), KW_ERR_INVALID);
    assert_null(strstr(err, "0123456789")); /* the secret is not echoed */
    assert_int_equal(kw_config_load(&c, NULL, 2, bad_listen, err, sizeof(err)), KW_ERR_INVALID);
    assert_int_equal(kw_config_load(&c, NULL, 1, missing, err, sizeof(err)), KW_ERR_INVALID);
    setenv("KEYWARD_ROOT_TOKEN", "short", 1);
    assert_int_equal(kw_config_load(&c, NULL, 0, NULL, err, sizeof(err)), KW_ERR_INVALID);
    assert_non_null(strstr(err, "32"));
    setenv("KEYWARD_ROOT_TOKEN", "a-root-token-of-at-least-thirty-two-chars", 1);
    assert_int_equal(kw_config_load(&c, NULL, 0, NULL, err, sizeof(err)), KW_OK);
    assert_string_equal(c.root_token, "a-root-token-of-at-least-thirty-two-chars");
    clear_env();
}

static void test_time(void **state)
{
    char buf[KW_TIME_RFC3339_LEN];
    int64_t ms;

    kw_time_format(1795412985123LL, buf);
    assert_int_equal(kw_time_parse(buf, &ms), KW_OK);
    assert_true(ms == 1795412985123LL);
    assert_int_equal(kw_time_parse("2026-11-23T05:49:45Z", &ms), KW_OK);
    assert_string_equal((kw_time_format(ms, buf), buf), "2026-11-23T05:49:45.000Z");
    assert_int_equal(kw_time_parse("2026-11-23T07:49:45.5+02:00", &ms), KW_OK);
    assert_string_equal((kw_time_format(ms, buf), buf), "2026-11-23T05:49:45.500Z");
    assert_int_equal(kw_time_parse("2026-11-23t05:49:45z", &ms), KW_OK);
    assert_int_equal(kw_time_parse("2026-11-23 05:49:45Z", &ms), KW_ERR_INVALID);
    assert_int_equal(kw_time_parse("2026-02-30T00:00:00Z", &ms), KW_ERR_INVALID);
    assert_int_equal(kw_time_parse("2026-11-23T05:49:45", &ms), KW_ERR_INVALID);
    assert_int_equal(kw_time_parse("yesterday", &ms), KW_ERR_INVALID);
    assert_int_equal(kw_time_parse("2026-11-23T05:49:45Zjunk", &ms), KW_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_errors_name_the_setting),
        cmocka_unit_test(test_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
