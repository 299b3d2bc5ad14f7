#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "job.h"
#include "session.h"

static hyd_maid *volatile running_solver;
static volatile sig_atomic_t signal_seen;

static void on_signal(int sig)
{
  (void)sig;
  signal_seen = 1;
  hyd_maid *s = running_solver;
  if (s)
    hyd_maid_interrupt(s); /* only sets a flag: async-signal-safe */
}

void hyd_session_install_signals(void)
{
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

int hyd_session_signalled(void) { return signal_seen != 0; }

/* A study option value (number, string, boolean) as the text the solver's
 * option parser takes. */
static int option_text(const cJSON *v, char *buf, size_t n)
{
  if (cJSON_IsNumber(v))
    snprintf(buf, n, "%.17g", v->valuedouble);
  else if (cJSON_IsString(v))
    snprintf(buf, n, "%s", v->valuestring);
  else if (cJSON_IsBool(v))
    snprintf(buf, n, "%s", cJSON_IsTrue(v) ? "true" : "false");
  else
    return -1;
  return 0;
}

static const char *webhook_url(const hyd_session *s)
{
  return s->webhook_url ? s->webhook_url : s->study.webhook;
}

int hyd_session_prepare(hyd_session *s, char *err, size_t errsz)
{
  const hyd_study_file *st = &s->study;
  if (webhook_url(s)) {
    char why[512];
    if (hyd_webhook_check_url(webhook_url(s), why, sizeof why) != 0) {
      snprintf(err, errsz, "%s: webhook: %s", st->name, why);
      return 2;
    }
  }
  int rc = hyd_problem_build(st->problem, st->dir, st->name, &s->built, err,
                             errsz);
  if (rc)
    return rc;
  const hyd_problem *prob = s->built.problem;
  if (hyd_maid_create(&s->solver, prob, NULL) != HYD_OK) {
    snprintf(err, errsz, "%s: cannot create the solver", st->name);
    return 1;
  }
  if (hyd_maid_set_option(s->solver, "method", st->method) != HYD_OK) {
    snprintf(err, errsz, "%s: method: %s (rigorous, reference, fixed, hoag)",
             st->name, hyd_maid_errmsg(s->solver));
    return 2;
  }
  if (st->seed) {
    char seed[32];
    snprintf(seed, sizeof seed, "%lu", st->seed);
    hyd_maid_set_option(s->solver, "seed", seed);
  }
  for (const cJSON *o = st->options ? st->options->child : NULL; o;
       o = o->next) {
    char text[128];
    if (option_text(o, text, sizeof text) != 0) {
      snprintf(err, errsz, "%s: options: '%s' must be a number, string or "
               "boolean", st->name, o->string);
      return 2;
    }
    if (strcmp(o->string, "method") == 0) {
      snprintf(err, errsz, "%s: options: give the method as the top-level "
               "key 'method'", st->name);
      return 2;
    }
    if (hyd_maid_set_option(s->solver, o->string, text) != HYD_OK) {
      snprintf(err, errsz, "%s: options: %s", st->name,
               hyd_maid_errmsg(s->solver));
      return 2;
    }
  }
  size_t p = prob->n_theta;
  s->theta_buf = calloc(p, sizeof(double));
  if (!s->theta_buf) {
    snprintf(err, errsz, "out of memory");
    return 1;
  }
  if (st->theta0) {
    if (cJSON_IsNumber(st->theta0)) {
      for (size_t j = 0; j < p; j++)
        s->theta_buf[j] = st->theta0->valuedouble;
    } else {
      size_t n = (size_t)cJSON_GetArraySize(st->theta0);
      if (n != p) {
        snprintf(err, errsz, "%s: theta0 has %zu values but the problem has "
                 "%zu hyperparameters", st->name, n, p);
        return 2;
      }
      size_t j = 0;
      for (const cJSON *v = st->theta0->child; v; v = v->next)
        s->theta_buf[j++] = v->valuedouble;
    }
  } else if (s->built.theta0) {
    memcpy(s->theta_buf, s->built.theta0, p * sizeof *s->theta_buf);
  }
  hyd_maid_set_theta0(s->solver, s->theta_buf);
  return 0;
}

int hyd_session_load_stored(hyd_session *s, const hyd_store_study *row,
                            char *err, size_t errsz)
{
  cJSON *opts = cJSON_Parse(row->options_json ? row->options_json : "{}");
  const cJSON *dir = cJSON_GetObjectItemCaseSensitive(opts, "study_dir");
  int rc = hyd_study_parse(row->study_json,
                           cJSON_IsString(dir) ? dir->valuestring : ".",
                           row->name, &s->study, err, errsz);
  cJSON_Delete(opts);
  if (rc)
    return rc;
  free(s->study.name);
  s->study.name = strdup(row->name);
  if (!s->study.name)
    return 1;
  return hyd_session_prepare(s, err, errsz);
}

char *hyd_session_options_json(const hyd_session *s)
{
  cJSON *root = cJSON_CreateObject();
  cJSON *maid = cJSON_AddObjectToObject(root, "maid");
  cJSON_AddStringToObject(root, "study_dir", s->study.dir);
  for (size_t i = 0; maid && hyd_maid_option_name(i); i++) {
    char buf[128];
    if (hyd_maid_get_option(s->solver, hyd_maid_option_name(i), buf,
                            sizeof buf) == HYD_OK)
      cJSON_AddStringToObject(maid, hyd_maid_option_name(i), buf);
  }
  char *text = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  return text;
}

static void progress(const hyd_session *s, const hyd_maid_info *in)
{
  if (s->quiet)
    return;
  fprintf(stderr,
          "%-16.16s it %5ld %s f in [%.6g, %.6g]  |z| %.3g  eps %.3g  "
          "step %.3g  cost %.0f+%.0f  %.2fs\n",
          s->study.name, in->iter, in->accepted_last ? "+" : " ", in->f_lo,
          in->f_hi, in->z_norm, in->eps, in->step, in->cost.lower_iters,
          in->cost.cg_iters, in->wall_seconds);
}

/* Checkpoints. The state of the last whole iteration is set aside after
 * every iteration (hyd_maid_keep: a copy of the warm starts, about 0.5% of
 * a TV iteration; under MPI each rank copies its own, nothing travels) and
 * written to the database only when writing it costs at most 0.5% of the
 * time since the last write. The cost counted is the whole of it: the
 * gather of the kept copy, the checkpoint's rows, the commit of its
 * transaction (the pages go to the WAL) and the WAL's copy back into the
 * file with its fsyncs, run right after (hyd_store_wal_checkpoint). With
 * the records (about 0.5%) the store thus stays within 2% of a run's time.
 * A signal writes the last whole iteration's state with the study
 * INTERRUPTED, whether it came between iterations or cut one short. A
 * COMPLETE study is never resumed: its final checkpoint keeps theta and
 * the method's state without the warm starts, written with its status in
 * one transaction. A crash (kill -9) can thus lose up to 200 times a
 * write's cost of checkpoint, never of the record: the resume restarts
 * from the older checkpoint and redoes those iterations bit for bit
 * (begin_iteration replaces their rows with identical ones). Under MPI the
 * kept copies travel with samples that dynamic balancing moves; only a
 * keep that failed (no memory on some rank) leaves a signal the last
 * written checkpoint. */
enum { CHECKPOINT_COST_SHARE = 200 }; /* a write per 200 times its cost */

static double monotonic_seconds(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The kept state into theta_buf / warm_buf and *cp; right after a keep
 * (nothing changed since) the current state is the same, and serves where
 * the kept copy is gone. */
static int write_out_kept(hyd_session *s, hyd_maid_checkpoint *cp, int fresh)
{
  if (hyd_maid_save_kept(s->solver, cp, s->theta_buf, s->warm_buf) == HYD_OK)
    return 0;
  if (fresh &&
      hyd_maid_save(s->solver, cp, s->theta_buf, s->warm_buf) == HYD_OK)
    return 0;
  return -1;
}

/* After a whole iteration, inside its transaction; *wrote says whether the
 * checkpoint went into it. */
static int checkpoint_after_iteration(hyd_session *s, int *wrote)
{
  *wrote = 0;
  int reason = hyd_maid_stop_reason(s->solver);
  if (reason != HYD_STOP_NONE && reason != HYD_STOP_INTERRUPTED)
    return 0; /* complete: finish_run writes the last state */
  /* A failed keep (out of memory) leaves the last written checkpoint to a
   * signal, as a crash would; the run goes on. */
  s->kept_pending = hyd_maid_keep(s->solver) == HYD_OK;
  int due = reason == HYD_STOP_NONE &&
            monotonic_seconds() - s->ckpt_written_at >=
                CHECKPOINT_COST_SHARE * s->ckpt_cost;
  if (!due)
    return 0; /* an interrupt: written by finish_run */
  hyd_maid_checkpoint cp;
  if (write_out_kept(s, &cp, 1) != 0 ||
      hyd_store_record_checkpoint(s->store, s->study_id, &cp, s->theta_buf,
                                  hyd_maid_n_theta(s->solver), s->warm_buf,
                                  s->warm_size) != 0)
    return -1;
  *wrote = 1;
  return 0;
}

/* The run's end in one transaction (hyd_store_finish_study): COMPLETE with
 * the solver's final state and no warm starts, or INTERRUPTED with the last
 * whole iteration's state if it was not written yet. */
static int finish_run(hyd_session *s, int reason)
{
  hyd_maid_checkpoint cp;
  hyd_store_finish f = {.stop_reason = hyd_stop_reason_name(reason),
                        .n_theta = hyd_maid_n_theta(s->solver),
                        .theta = s->theta_buf};
  if (reason == HYD_STOP_INTERRUPTED) {
    f.status = HYD_STUDY_INTERRUPTED;
    if (s->kept_pending && write_out_kept(s, &cp, 0) == 0) {
      f.cp = &cp;
      f.warm = s->warm_buf;
      f.n_warm = s->warm_size;
    }
    f.event_level = 2;
    f.event_kind = "interrupted";
    f.event_message = "stopped by a signal; resume with hyperd resume";
  } else {
    if (hyd_maid_save(s->solver, &cp, s->theta_buf, NULL) != HYD_OK)
      return -1;
    f.status = HYD_STUDY_COMPLETE;
    f.cp = &cp;
    f.event_level = 1;
    f.event_kind = "complete";
    f.event_message = hyd_stop_reason_text(reason);
  }
  if (hyd_store_finish_study(s->store, s->study_id, &f) != 0)
    return -1;
  s->kept_pending = 0;
  return 0;
}

/* An event about the study now; iteration < 0 and NaN value when none. */
static void notify(hyd_session *s, const char *event, long iteration,
                   double value, const char *stop_reason, const char *message)
{
  if (!s->webhook)
    return;
  hyd_webhook_event ev = {
      .event = event, .study = s->study.name, .study_id = s->study_id,
      .iteration = iteration, .value = value, .stop_reason = stop_reason,
      .message = message};
  if (s->solver && iteration >= 0) {
    ev.theta = hyd_maid_theta(s->solver);
    ev.n_theta = hyd_maid_n_theta(s->solver);
  }
  hyd_webhook_post(s->webhook, &ev);
}

/* Delivers what is pending (bounded wait) and says if something was lost;
 * a webhook never changes the study's outcome. */
static void finish_webhook(hyd_session *s)
{
  if (!s->webhook)
    return;
  char summary[512];
  hyd_webhook_close(s->webhook, summary, sizeof summary);
  s->webhook = NULL;
  if (summary[0]) {
    fprintf(stderr, "hyperd: %s\n", summary);
    if (s->store)
      hyd_store_record_event(s->store, s->study_id, 2, "webhook", summary);
  }
}

static void open_webhook(hyd_session *s)
{
  char err[256];
  if (!s->webhook && webhook_url(s) &&
      hyd_webhook_open(&s->webhook, webhook_url(s), err, sizeof err) != 0)
    fprintf(stderr, "hyperd: %s (the study goes on without it)\n", err);
}

void hyd_session_notify_failed(hyd_session *s, const char *why)
{
  if (!s->study.name)
    return;
  open_webhook(s);
  notify(s, "failed", -1, NAN, NULL, why);
  finish_webhook(s);
}

static int fail_study(hyd_session *s, const char *what, const char *why)
{
  char msg[600];
  snprintf(msg, sizeof msg, "%s: %s", what, why);
  fprintf(stderr, "hyperd: study '%s' failed: %s\n", s->study.name, msg);
  hyd_maid_info in;
  long iter = -1;
  if (s->solver) {
    hyd_maid_get_info(s->solver, &in);
    iter = in.iter;
  }
  notify(s, "failed", iter, NAN, NULL, msg);
  hyd_store_set_error(s->store, s->study_id, msg);
  hyd_store_record_event(s->store, s->study_id, 3, "failed", msg);
  hyd_store_set_status(s->store, s->study_id, HYD_STUDY_FAILED);
  return 1;
}

/* Sample 0's final lower-level point: the head of the solver's warm state
 * (malloc'ed, at least n_0 values), or NULL. */
static double *final_point(hyd_session *s)
{
  const hyd_problem *prob = s->built.problem;
  size_t ws = hyd_maid_warm_size(s->solver);
  size_t n0 = prob->lower_dim(prob->ctx, 0);
  size_t p = hyd_maid_n_theta(s->solver);
  double *warm = ws >= n0 && n0 > 0 ? malloc(ws * sizeof *warm) : NULL;
  double *theta = malloc((p ? p : 1) * sizeof *theta);
  hyd_maid_checkpoint cp;
  if (warm &&
      (!theta || hyd_maid_save(s->solver, &cp, theta, warm) != HYD_OK)) {
    free(warm);
    warm = NULL;
  }
  free(theta);
  return warm;
}

static void final_report(hyd_session *s, const hyd_maid_info *in, int reason)
{
  const double *theta = hyd_maid_theta(s->solver);
  size_t p = hyd_maid_n_theta(s->solver);
  printf("study '%s': %s after %ld iterations (%ld accepted steps)\n",
         s->study.name, hyd_stop_reason_text(reason), in->iter, in->accepted);
  printf("upper value g = %.8g  (%s f in [%.8g, %.8g])\n", in->g,
         s->built.problem->lower_nonconvex ? "heuristic, NOT certified:"
                                           : "certified",
         in->f_lo, in->f_hi);
  printf("theta =");
  for (size_t j = 0; j < p && j < 12; j++)
    printf(" %.6g", theta[j]);
  if (p > 12)
    printf(" ... (%zu values)", p);
  printf("\ncost: %.0f lower-level + %.0f CG iterations, %.2f s\n",
         in->cost.lower_iters, in->cost.cg_iters, in->wall_seconds);
  if (s->built.report_from) {
    double *x0 = final_point(s);
    s->built.report_from(s->built.owner, theta, x0, stdout);
    free(x0);
  } else if (s->built.report) {
    s->built.report(s->built.owner, theta, stdout);
  }
}

/* A non-convex lower level (the MLP) voids the bound: said on stderr at
 * every start and recorded once, with the study's bound column. */
static void say_not_certified(hyd_session *s, int resume)
{
  if (!s->built.problem->lower_nonconvex)
    return;
  const char *msg = "the lower level is non-convex: omega and the sandwich "
                    "f_lo <= f <= f_hi are NOT certified; the hypergradient "
                    "of implicit differentiation at the lower solve's "
                    "stationary point is used as a heuristic";
  fprintf(stderr, "hyperd: study '%s': %s\n", s->study.name, msg);
  if (!resume)
    hyd_store_record_event(s->store, s->study_id, 2, "bound", msg);
}

int hyd_session_begin(hyd_session *s, int resume)
{
  s->best_g = INFINITY;
  say_not_certified(s, resume);
  open_webhook(s);
  /* Under mpirun the workers build the same study now and the MPI oracle
   * replaces the serial one: before setup, which freezes the oracle. */
  char err[1024];
  if (hyd_job_start(s, err, sizeof err) != 0)
    return fail_study(s, "MPI", err);
  hyd_maid_set_recorder(s->solver, hyd_store_maid_recorder, s->store);
  if (hyd_maid_setup(s->solver) != HYD_OK)
    return fail_study(s, "setup", hyd_maid_errmsg(s->solver));
  s->warm_size = hyd_maid_warm_size(s->solver);
  s->warm_buf = calloc(s->warm_size ? s->warm_size : 1, sizeof(double));
  if (!s->warm_buf)
    return fail_study(s, "setup", "out of memory");
  /* The first write is due once the run has gone on for 200 times what
   * writing the warm starts should cost: about 50 MB/s through SQLite,
   * counting the WAL and its copy back into the file (2.3 MiB take ~20 ms
   * of CPU and 40 ms of wall time on the development machine). A study
   * without a checkpoint resumes from its start, which redoes the same
   * iterations. */
  s->ckpt_written_at = monotonic_seconds();
  s->ckpt_cost = (double)(s->warm_size * sizeof(double)) / 50e6;
  if (!resume) {
    notify(s, "start", 0, NAN, NULL, s->built.summary);
    return 0;
  }
  long iteration;
  size_t n_theta, n_warm;
  hyd_maid_checkpoint cp;
  size_t p = hyd_maid_n_theta(s->solver);
  if (hyd_store_checkpoint_info(s->store, s->study_id, &iteration, &n_theta,
                                &n_warm) != 0)
    return fail_study(s, "resume", hyd_store_errmsg(s->store));
  if (n_theta != p || (n_warm != 0 && n_warm != s->warm_size))
    return fail_study(s, "resume", "the checkpoint does not fit the problem "
                      "built from the study file (data changed?)");
  if (hyd_store_load_checkpoint(s->store, s->study_id, &cp, s->theta_buf, p,
                                n_warm ? s->warm_buf : NULL, n_warm) != 0)
    return fail_study(s, "resume", hyd_store_errmsg(s->store));
  if (hyd_maid_restore(s->solver, &cp, s->theta_buf,
                       n_warm ? s->warm_buf : NULL) != HYD_OK)
    return fail_study(s, "resume", hyd_maid_errmsg(s->solver));
  char msg[128];
  snprintf(msg, sizeof msg, "resumed at iteration %ld", cp.iter);
  hyd_store_record_event(s->store, s->study_id, 1, "resume", msg);
  hyd_store_iteration best;
  if (hyd_store_best(s->store, s->study_id, &best) == 0 && isfinite(best.g))
    s->best_g = best.g; /* only a better value than before is news */
  notify(s, "start", cp.iter, NAN, NULL, msg);
  if (!s->quiet)
    fprintf(stderr, "hyperd: study '%s' %s\n", s->study.name, msg);
  return 0;
}

int hyd_session_loop(hyd_session *s)
{
  hyd_store_set_status(s->store, s->study_id, HYD_STUDY_RUNNING);
  running_solver = s->solver;
  if (signal_seen)
    hyd_maid_interrupt(s->solver);
  int code = 0;
  hyd_maid_info in;
  for (;;) {
    hyd_maid_get_info(s->solver, &in);
    if (hyd_maid_stop_reason(s->solver) != HYD_STOP_NONE)
      break;
    long next = in.iter + 1;
    if (hyd_store_begin_iteration(s->store, s->study_id, next) != 0) {
      code = fail_study(s, "database", hyd_store_errmsg(s->store));
      break;
    }
    int rc = hyd_maid_iterate(s->solver);
    hyd_maid_get_info(s->solver, &in);
    if (rc != HYD_OK) {
      hyd_store_rollback_iteration(s->store);
      code = fail_study(s, hyd_strerror(rc), hyd_maid_errmsg(s->solver));
      break;
    }
    if (in.iter != next) {
      /* Cut short (interrupt, budget): nothing of it is kept, and the
       * checkpoint stays at the last whole iteration, so a resume redoes
       * it exactly as an uninterrupted run would. */
      hyd_store_rollback_iteration(s->store);
      break;
    }
    int wrc = hyd_store_record_iteration(s->store, &in,
                                         hyd_maid_theta(s->solver));
    double t_checkpoint = monotonic_seconds();
    int wrote = 0;
    if (wrc == 0)
      wrc = checkpoint_after_iteration(s, &wrote);
    if (wrc == 0)
      wrc = hyd_store_commit_iteration(s->store);
    else
      hyd_store_rollback_iteration(s->store);
    if (wrc == 0 && wrote) {
      /* The pages just logged go back into the file now, so that their
       * copy and fsync count in the cost of this write. */
      wrc = hyd_store_wal_checkpoint(s->store);
      s->kept_pending = 0;
      s->ckpt_written_at = monotonic_seconds();
      s->ckpt_cost = s->ckpt_written_at - t_checkpoint;
    }
    if (wrc != 0) {
      code = fail_study(s, "database", hyd_store_errmsg(s->store));
      break;
    }
    progress(s, &in);
    if (isfinite(in.g) && in.g < s->best_g) {
      s->best_g = in.g;
      notify(s, "best", in.iter, in.g, NULL, NULL);
    }
  }
  running_solver = NULL;
  if (code) {
    finish_webhook(s);
    return code;
  }
  int reason = hyd_maid_stop_reason(s->solver);
  if (finish_run(s, reason) != 0) {
    finish_webhook(s);
    return fail_study(s, "database", hyd_store_errmsg(s->store));
  }
  if (reason == HYD_STOP_INTERRUPTED) {
    fprintf(stderr, "hyperd: study '%s' interrupted at iteration %ld; "
            "continue it with: hyperd resume '%s'\n", s->study.name, in.iter,
            s->study.name);
    notify(s, "interrupted", in.iter, in.g, hyd_stop_reason_name(reason),
           "stopped by a signal; resume with hyperd resume");
    finish_webhook(s);
    return 0;
  }
  if (!s->no_report)
    final_report(s, &in, reason);
  notify(s, "complete", in.iter, in.g, hyd_stop_reason_name(reason),
         hyd_stop_reason_text(reason));
  finish_webhook(s);
  return 0;
}

void hyd_session_close(hyd_session *s)
{
  hyd_job_stop(s);
  finish_webhook(s);
  hyd_maid_destroy(s->solver);
  hyd_problem_release(&s->built);
  hyd_study_free(&s->study);
  hyd_store_close(s->store);
  free(s->theta_buf);
  free(s->warm_buf);
  memset(s, 0, sizeof *s);
}
