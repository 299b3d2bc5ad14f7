/* store_event.c: the events table, a log of notable things for people. */
#include "store_internal.h"

int hyd_store_record_event(hyd_store *st, int64_t study, int level,
                           const char *kind, const char *message) {
  if (!st)
    return HYD_STORE_EINVAL;
  int status = hyd_store_check_writable(st, "record event");
  if (!status && (level < 0 || level > 3 || !kind || !*kind || !message || study < 0))
    status = hyd_store_fail(st, HYD_STORE_EINVAL,
                            "record event: level 0..3, a kind and a message are required");
  sqlite3_stmt *q = NULL;
  if (!status)
    status = hyd_store_stmt(st, STMT_INSERT_EVENT, &q);
  if (status)
    return hyd_store_iteration_failed(st, status);
  int rc = study > 0 ? sqlite3_bind_int64(q, 1, study) : sqlite3_bind_null(q, 1);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int(q, 2, level);
  if (rc == SQLITE_OK) rc = hyd_store_bind_text(q, 3, kind);
  if (rc == SQLITE_OK) rc = hyd_store_bind_text(q, 4, message);
  if (rc != SQLITE_OK) {
    status = hyd_store_fail_sqlite(st, rc, "record event");
    (void)sqlite3_reset(q);
  } else {
    rc = sqlite3_step(q);
    status = rc == SQLITE_DONE ? HYD_STORE_OK
             : (rc & 0xff) == SQLITE_CONSTRAINT
                 ? hyd_store_fail(st, HYD_STORE_ENOTFOUND,
                                  "record event: no study with id %lld", (long long)study)
                 : hyd_store_fail_sqlite(st, rc, "record event");
    (void)sqlite3_reset(q);
  }
  if (!status)
    hyd_store_ok(st);
  return hyd_store_iteration_failed(st, status);
}
