/* migrations.h - numbered schema migrations, embedded at build time from store/migrations/NNNN_name.sql
 * by cmake/embed_migrations.cmake. Version = the file's leading number. */
#ifndef KW_STORE_MIGRATIONS_H
#define KW_STORE_MIGRATIONS_H

struct kw_migration {
    int version;
    const char *name;
    const char *sql;
};

extern const struct kw_migration kw_migrations[];
extern const int kw_migrations_count;
/* The same versions in PostgreSQL's dialect (store/migrations/pg/). */
extern const struct kw_migration kw_pg_migrations[];
extern const int kw_pg_migrations_count;

#endif
