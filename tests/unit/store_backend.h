/* store_backend.h - for store tests: a fresh store on either backend. SQLite: a temporary directory.
 * PostgreSQL (when KEYWARD_TEST_PG holds a URI, as scripts/test sets it): a fresh database on that
 * cluster, created per fixture and dropped (WITH (FORCE)) at teardown. */
#ifndef KW_TESTS_STORE_BACKEND_H
#define KW_TESTS_STORE_BACKEND_H

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

enum test_backend { TB_SQLITE, TB_PG };

struct store_env {
    enum test_backend backend;
    char dir[64];    /* data directory (SQLite's file; unused by PostgreSQL but always made) */
    char db[64];     /* PostgreSQL: the database's name */
    char spec[1024]; /* what kw_store_open gets */
};

/* The cluster URI, or NULL when PostgreSQL is not under test. */
static inline const char *tb_pg_admin(void)
{
    const char *u = getenv("KEYWARD_TEST_PG");
    return u != NULL && u[0] != '\0' ? u : NULL;
}

/* uri with its database name replaced by db (the path after the host list; parameters kept). */
static inline int tb_uri_with_db(const char *uri, const char *db, char *out, size_t cap)
{
    const char *hosts = strstr(uri, "://"), *path, *params;

    if (hosts == NULL)
        return -1;
    path = hosts + 3 + strcspn(hosts + 3, "/?");
    params = path + strcspn(path, "?");
    return snprintf(out, cap, "%.*s/%s%s", (int)(path - uri), uri, db, params) < (int)cap ? 0 : -1;
}

/* Runs one statement on the cluster's admin database (or db when non-NULL); 0 on success. */
static inline int tb_pg_exec(const char *db, const char *sql)
{
    char uri[1024];
    PGconn *c;
    PGresult *r;
    int ok;

    if (tb_uri_with_db(tb_pg_admin(), db ? db : "postgres", uri, sizeof(uri)) != 0)
        return -1;
    c = PQconnectdb(uri);
    r = PQexec(c, sql);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "tb_pg_exec: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return ok ? 0 : -1;
}

/* Makes a fresh, empty store location for backend; 0 on success. */
static inline int tb_env_init(struct store_env *e, enum test_backend backend)
{
    static atomic_int counter;
    char sql[128];

    memset(e, 0, sizeof(*e));
    e->backend = backend;
    snprintf(e->dir, sizeof(e->dir), "/tmp/kwstoreXXXXXX");
    if (mkdtemp(e->dir) == NULL)
        return -1;
    if (backend == TB_SQLITE) {
        snprintf(e->spec, sizeof(e->spec), "sqlite");
        return 0;
    }
    snprintf(e->db, sizeof(e->db), "kwtest_%d_%d", (int)getpid(), atomic_fetch_add(&counter, 1));
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", e->db);
    if (tb_pg_exec(NULL, sql) != 0)
        return -1;
    return tb_uri_with_db(tb_pg_admin(), e->db, e->spec, sizeof(e->spec));
}

static inline int tb_env_cleanup(struct store_env *e)
{
    char cmd[128];
    int rc = 0;

    if (e->backend == TB_PG) {
        snprintf(cmd, sizeof(cmd), "DROP DATABASE IF EXISTS %s WITH (FORCE)", e->db);
        rc = tb_pg_exec(NULL, cmd);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
    if (system(cmd) != 0)
        rc = -1;
    return rc;
}

static inline enum kw_err tb_open(const struct store_env *e, struct kw_store **out)
{
    return kw_store_open(e->spec, e->dir, out);
}

#endif
