/* store_owner.c: which process runs a study. A study is claimed (marked
 * RUNNING with its owner's host and pid) in one transaction that reads its
 * status and owner again, so two processes that resume or serve the same
 * study at once cannot both win; the owner's heartbeat is renewed by every
 * iteration it commits (store_iteration.c). */
#include "store_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

/* Whether process `pid` of this host still exists (a zombie, which has
 * ended and waits for its parent, does not count). */
static int process_alive(long pid) {
  if (pid <= 0 || pid > INT_MAX)
    return 0;
  if (kill((pid_t)pid, 0) != 0 && errno != EPERM)
    return 0;
  char path[64];
  (void)snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return 1; /* no /proc: kill's answer stands */
  char buf[512];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *state = strrchr(buf, ')'); /* "pid (comm) S ..." */
  return !(state && state[1] == ' ' && state[2] == 'Z');
}

typedef struct owner_row {
  char name[256];
  int status;
  int has_owner;
  char host[256];
  long pid;
  double heartbeat_age;     /* seconds; NaN without a heartbeat */
  double longest_iteration; /* seconds; NaN without iterations */
} owner_row;

static int read_owner(hyd_store *st, int64_t study, owner_row *r) {
  sqlite3_stmt *q = NULL;
  int status = hyd_store_row_by_key(st, STMT_STUDY_OWNER, study, "claim study", &q);
  if (status == HYD_STORE_ENOTFOUND)
    return hyd_store_fail(st, status, "no study with id %lld", (long long)study);
  if (status)
    return status;
  memset(r, 0, sizeof *r);
  const char *name = (const char *)sqlite3_column_text(q, 0);
  const char *host = (const char *)sqlite3_column_text(q, 2);
  (void)snprintf(r->name, sizeof r->name, "%s", name ? name : "?");
  r->status = hyd_study_status_parse((const char *)sqlite3_column_text(q, 1));
  r->has_owner = sqlite3_column_type(q, 3) != SQLITE_NULL;
  (void)snprintf(r->host, sizeof r->host, "%s", host ? host : "");
  r->pid = (long)sqlite3_column_int64(q, 3);
  r->heartbeat_age = hyd_store_column_double(q, 4);
  r->longest_iteration = hyd_store_column_double(q, 5);
  (void)sqlite3_reset(q);
  return HYD_STORE_OK;
}

/* HYD_STORE_OK if `me` may take the study over, else the refusal. */
static int may_claim(hyd_store *st, const owner_row *r, const hyd_store_owner *me,
                     unsigned from) {
  if (r->status < 0 || !(from & (1u << r->status)))
    return hyd_store_fail(st, HYD_STORE_ESTATE, "study '%s' is %s", r->name,
                          r->status < 0 ? "in an unknown state"
                                        : hyd_study_status_name(r->status));
  if (r->status != HYD_STUDY_RUNNING || !r->has_owner || me->take_over)
    return HYD_STORE_OK;
  if (strcmp(r->host, me->host) == 0) {
    if (r->pid == me->pid || !process_alive(r->pid))
      return HYD_STORE_OK;
    return hyd_store_fail(st, HYD_STORE_EBUSY,
                          "study '%s' is RUNNING in process %ld on this host (%s); "
                          "stop that process first (SIGTERM interrupts it with its "
                          "checkpoint)", r->name, r->pid, r->host);
  }
  double timeout = HYD_STORE_OWNER_TIMEOUT_S;
  if (isfinite(r->longest_iteration) && 2.0 * r->longest_iteration > timeout)
    timeout = 2.0 * r->longest_iteration;
  if (!(r->heartbeat_age <= timeout)) /* also without a heartbeat */
    return HYD_STORE_OK;
  return hyd_store_fail(st, HYD_STORE_EBUSY,
                        "study '%s' is RUNNING in process %ld on host %s (last "
                        "heartbeat %.0f s ago; taken for gone after %.0f s); if that "
                        "process is gone, resume with --take-over", r->name, r->pid,
                        r->host, r->heartbeat_age, timeout);
}

static int write_claim(hyd_store *st, int64_t study, const hyd_store_owner *me) {
  sqlite3_stmt *q = NULL;
  int status = hyd_store_stmt(st, STMT_CLAIM, &q);
  if (status)
    return status;
  int rc = sqlite3_bind_int64(q, 1, study);
  if (rc == SQLITE_OK)
    rc = hyd_store_bind_text(q, 2, me->host);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(q, 3, me->pid);
  if (rc != SQLITE_OK) {
    status = hyd_store_fail_sqlite(st, rc, "claim study");
    (void)sqlite3_reset(q);
    return status;
  }
  return hyd_store_step_done(st, q, "claim study");
}

int hyd_store_claim_study(hyd_store *st, int64_t study, const hyd_store_owner *me,
                          unsigned from) {
  if (!st)
    return HYD_STORE_EINVAL;
  int status = hyd_store_check_writable(st, "claim study");
  if (!status && (!me || !me->host || me->pid <= 0))
    status = hyd_store_fail(st, HYD_STORE_EINVAL, "claim study: no owner (host and pid)");
  if (!status && st->in_iteration)
    status = hyd_store_fail(st, HYD_STORE_ESTATE, "claim study: an iteration is open");
  if (status)
    return status;
  /* First without the write lock: a study that is running elsewhere is
   * refused at once, not after waiting for that writer's transaction. */
  owner_row row;
  status = read_owner(st, study, &row);
  if (!status)
    status = may_claim(st, &row, me, from);
  if (!status)
    status = hyd_store_exec_stmt(st, STMT_BEGIN, "claim study");
  if (status)
    return status;
  status = read_owner(st, study, &row);
  if (!status)
    status = may_claim(st, &row, me, from);
  if (!status)
    status = write_claim(st, study, me);
  if (!status)
    status = hyd_store_exec_stmt(st, STMT_COMMIT, "claim study");
  if (status)
    return hyd_store_undo(st, STMT_ROLLBACK, status);
  st->owned_study = study;
  hyd_store_ok(st);
  return HYD_STORE_OK;
}
