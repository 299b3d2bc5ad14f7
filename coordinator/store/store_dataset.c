/* store_dataset.c: the datasets table (name, URL, sha256). */
#include "store_internal.h"

#include <stdio.h>

int hyd_store_put_dataset(hyd_store *st, const char *name, const char *url,
                          const char *sha256) {
  if (!st)
    return HYD_STORE_EINVAL;
  int status = hyd_store_check_writable(st, "put data set");
  if (!status && (!name || !*name || !sha256))
    status = hyd_store_fail(st, HYD_STORE_EINVAL, "put data set: name and sha256 are required");
  sqlite3_stmt *q = NULL;
  if (!status)
    status = hyd_store_stmt(st, STMT_PUT_DATASET, &q);
  if (status)
    return hyd_store_iteration_failed(st, status);
  int rc = hyd_store_bind_text(q, 1, name);
  if (rc == SQLITE_OK) rc = hyd_store_bind_text(q, 2, url);
  if (rc == SQLITE_OK) rc = hyd_store_bind_text(q, 3, sha256);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(q);
  if (rc == SQLITE_DONE)
    status = HYD_STORE_OK;
  else if (rc == SQLITE_CONSTRAINT_CHECK)
    status = hyd_store_fail(st, HYD_STORE_EINVAL,
                            "put data set \"%s\": sha256 must be 64 lower-case hex digits",
                            name);
  else
    status = hyd_store_fail_sqlite(st, rc, "put data set");
  (void)sqlite3_reset(q);
  if (!status)
    hyd_store_ok(st);
  return hyd_store_iteration_failed(st, status);
}

int hyd_store_get_dataset(hyd_store *st, const char *name, char **url,
                          char sha256[65]) {
  if (!st)
    return HYD_STORE_EINVAL;
  if (!name || !sha256)
    return hyd_store_fail(st, HYD_STORE_EINVAL, "get data set: name and sha256 buffer required");
  if (url)
    *url = NULL;
  sqlite3_stmt *q = NULL;
  int status = hyd_store_stmt(st, STMT_GET_DATASET, &q);
  if (status)
    return status;
  int rc = hyd_store_bind_text(q, 1, name);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(q);
  if (rc == SQLITE_ROW) {
    const char *sum = (const char *)sqlite3_column_text(q, 1);
    (void)snprintf(sha256, 65, "%s", sum ? sum : "");
    char *u = (char *)sqlite3_column_text(q, 0);
    if (url && u && hyd_store_dup_string(&u) != 0)
      status = hyd_store_fail(st, HYD_STORE_ENOMEM, "out of memory reading a data set");
    else if (url)
      *url = u;
  } else if (rc == SQLITE_DONE) {
    status = hyd_store_fail(st, HYD_STORE_ENOTFOUND, "no data set named \"%s\"", name);
  } else {
    status = hyd_store_fail_sqlite(st, rc, "get data set");
  }
  (void)sqlite3_reset(q);
  if (!status)
    hyd_store_ok(st);
  return status;
}
