/* migrations.h (internal): the schema migrations embedded at build time
 * (schema/NNN_name.sql -> generated schema_sql.c, see embed_schema.cmake).
 * Migration i (1-based) moves a database from user_version i-1 to i. */
#ifndef HYPERD_STORE_MIGRATIONS_H
#define HYPERD_STORE_MIGRATIONS_H

typedef struct hyd_store_migration {
  int version;      /* the user_version after it */
  const char *name; /* from the file name, for messages */
  const char *sql;  /* the whole file, NUL-terminated */
} hyd_store_migration;

extern const hyd_store_migration hyd_store_migrations[];
extern const int hyd_store_migration_count;

#endif
