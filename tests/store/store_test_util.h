/* store_test_util.h: fixtures shared by the store tests (temporary
 * directories, a study spec, a filled event, file comparison). */
#ifndef HYPERD_STORE_TEST_UTIL_H
#define HYPERD_STORE_TEST_UTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

/* A fresh directory under /tmp; `path` gets dir + "/" + name. */
static inline void tmp_dir(char dir[64]) {
  strcpy(dir, "/tmp/hyd-store-test-XXXXXX");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    abort();
  }
}

static inline void tmp_path(char *out, size_t size, const char *dir, const char *name) {
  snprintf(out, size, "%s/%s", dir, name);
}

/* Removes a flat directory and its files. */
static inline void rm_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *e;
  char p[512];
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

static inline hyd_store_study_spec test_spec(const char *name, size_t n_theta) {
  hyd_store_study_spec s;
  memset(&s, 0, sizeof s);
  s.name = name;
  s.problem = "quadratic";
  s.method = "rigorous";
  s.study_json = "{\"problem\":\"quadratic\"}";
  s.options_json = "{\"maid.eps0\":\"0.1\"}";
  s.seed = 42;
  s.host = "testhost";
  s.ranks = 1;
  s.n_theta = n_theta;
  s.status = HYD_STUDY_RUNNING;
  return s;
}

/* An event with values derived from (iter, seq) so that reads can check. */
static inline hyd_maid_event test_event(long iter, long seq, const double *theta) {
  hyd_maid_event e;
  memset(&e, 0, sizeof e);
  e.kind = seq == 0 ? HYD_EVENT_EVALUATE : HYD_EVENT_TRIAL;
  e.iter = iter;
  e.theta = theta;
  e.eps = 0.1 / (double)(iter + 1);
  e.delta = 0.2 / (double)(iter + 1);
  e.step = 0.01 * (double)seq;
  e.z_norm = 1.0 + (double)iter;
  e.omega = 0.5;
  e.f_lo = 1.0 - 0.01 * (double)iter;
  e.f_hi = 1.1 - 0.01 * (double)iter;
  e.g = 1.05 - 0.01 * (double)iter;
  e.accepted = seq == 3;
  e.cost.lower_iters = 10.0 * (double)seq;
  e.cost.cg_iters = 5.0;
  e.wall_seconds = 0.001;
  return e;
}

static inline hyd_maid_info test_info(long iter) {
  hyd_maid_info in;
  memset(&in, 0, sizeof in);
  in.iter = iter;
  in.accepted = iter;
  in.eps = 0.1;
  in.delta = 0.1;
  in.alpha = 0.01;
  in.step = 0.01;
  in.z_norm = 1.0 / (double)(iter + 1);
  in.omega = 0.01;
  in.f_lo = 2.0 - 0.1 * (double)iter;
  in.f_hi = 2.2 - 0.1 * (double)iter;
  in.g = 2.1 - 0.1 * (double)iter;
  in.certified = 1;
  in.accepted_last = 1;
  in.cost.lower_iters = 100.0 * (double)iter;
  in.cost.cg_iters = 50.0 * (double)iter;
  in.wall_seconds = 0.01 * (double)iter;
  return in;
}

/* Writes one complete iteration: 1 evaluate + n_trials trials, the
 * iteration row and a checkpoint. Returns the first failing status. */
static inline int write_iteration(hyd_store *st, int64_t study, long k, size_t n_theta,
                                  int n_trials, const double *warm, size_t n_warm) {
  double theta[16] = {0};
  for (size_t i = 0; i < n_theta && i < 16; i++)
    theta[i] = (double)k + 0.125 * (double)i;
  int s = hyd_store_begin_iteration(st, study, k);
  for (int j = 0; !s && j <= n_trials; j++) {
    hyd_maid_event e = test_event(k, j, theta);
    s = hyd_store_record_evaluation(st, &e, NULL);
  }
  hyd_maid_info in = test_info(k);
  if (!s)
    s = hyd_store_record_iteration(st, &in, theta);
  hyd_maid_checkpoint cp;
  memset(&cp, 0, sizeof cp);
  cp.iter = k;
  cp.eps = in.eps;
  if (!s)
    s = hyd_store_record_checkpoint(st, study, &cp, theta, n_theta, warm, n_warm);
  if (!s)
    return hyd_store_commit_iteration(st);
  hyd_store_rollback_iteration(st);
  return s;
}

static inline int count_eval(const hyd_store_evaluation *e, void *user) {
  (void)e;
  ++*(long *)user;
  return 0;
}

static inline int count_iter(const hyd_store_iteration *it, void *user) {
  (void)it;
  ++*(long *)user;
  return 0;
}

static inline int count_study(const hyd_store_study *s, void *user) {
  (void)s;
  ++*(long *)user;
  return 0;
}

/* Reads a whole file (malloc'd, NUL-terminated); *size its length. */
static inline char *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  if (buf) {
    buf[n] = '\0';
    if (size)
      *size = (size_t)n;
  }
  return buf;
}

static inline void write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, n, f) != n) {
    perror(path);
    abort();
  }
  fclose(f);
}

#endif
