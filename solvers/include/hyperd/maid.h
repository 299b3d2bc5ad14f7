/* hyperd/maid.h: MAID, the adaptively inexact bilevel method, and the
 * baselines that share its machinery (design/maid.md).
 *
 * Life cycle (GSL / PETSc-TAO style):
 *   hyd_maid_create -> set options (typed setters or by name) ->
 *   hyd_maid_setup -> hyd_maid_iterate ... or hyd_maid_solve ->
 *   read results -> hyd_maid_destroy.
 *
 * Each call returns a status (status.h). Why the run stopped is separate:
 * hyd_maid_stop_reason. On a failed call hyd_maid_errmsg says what went
 * wrong; the solver then refuses further iterations (HYD_ESTATE). */
#ifndef HYPERD_MAID_H
#define HYPERD_MAID_H

#include <stddef.h>
#include <hyperd/oracle.h>
#include <hyperd/problem.h>
#include <hyperd/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hyd_maid hyd_maid;

enum hyd_method {
  HYD_METHOD_RIGOROUS = 0,  /* maid.md section 3 (default) */
  HYD_METHOD_REFERENCE = 1, /* maid.md section 4: the reference code's decisions */
  HYD_METHOD_FIXED = 2,     /* eps, delta never change (section 5) */
  HYD_METHOD_HOAG = 3       /* HOAG accuracy schedule and step rule (section 5) */
};

enum hyd_stop_reason {
  HYD_STOP_NONE = 0,        /* still running */
  HYD_STOP_GTOL = 1,        /* ||z|| + omega <= gtol */
  HYD_STOP_EPS_FLOOR = 2,   /* eps reached eps_min: converged to attainable accuracy */
  HYD_STOP_MAX_ITER = 3,
  HYD_STOP_BUDGET = 4,      /* lower-level + CG iterations spent */
  HYD_STOP_USER = 5,        /* the monitor returned non-zero */
  HYD_STOP_INTERRUPTED = 6, /* hyd_maid_interrupt */
  HYD_STOP_STALLED = 7      /* fixed accuracy: no step can be certified any more */
};

/* Short stable name ("converged", "eps_floor", ...) and a sentence. */
const char *hyd_stop_reason_name(int reason);
const char *hyd_stop_reason_text(int reason);

/* What the method knows after each outer iteration. */
typedef struct hyd_maid_info {
  long iter;             /* outer iterations done */
  long accepted;         /* accepted steps */
  double eps, delta;     /* accuracies for the next evaluation */
  double alpha;          /* step for the next line search */
  double step;           /* step taken by the last accepted iteration (0 if none) */
  double z_norm, omega;  /* at the last evaluation */
  double f_lo, f_hi;     /* sandwich of f at the current theta */
  double g;              /* upper value at the current lower-level points */
  int certified;         /* omega certified (constants are true bounds) */
  int accepted_last;     /* 1 if the last iteration moved theta */
  hyd_cost cost;         /* everything spent so far */
  double wall_seconds;   /* inside iterate/solve */
} hyd_maid_info;

/* Called after every outer iteration; non-zero stops with HYD_STOP_USER. */
typedef int (*hyd_maid_monitor)(const hyd_maid *solver,
                                const hyd_maid_info *info, void *user);

/* One record per oracle call or line-search trial, for logging stores. */
typedef struct hyd_maid_event {
  int kind;              /* HYD_EVENT_EVALUATE or HYD_EVENT_TRIAL */
  long iter;
  const double *theta;   /* borrowed, n_theta values */
  double eps, delta, step;
  double z_norm, omega, f_lo, f_hi, g;
  int accepted;          /* trials: 1 if this trial was accepted */
  hyd_cost cost;         /* of this call */
  double wall_seconds;
} hyd_maid_event;
enum { HYD_EVENT_EVALUATE = 0, HYD_EVENT_TRIAL = 1 };
typedef void (*hyd_maid_recorder)(const hyd_maid_event *event, void *user);

/* Log lines (level 0 debug .. 3 error); the library never prints. */
typedef void (*hyd_logger)(int level, const char *message, void *user);

/* Creates a solver for `problem` (borrowed: must outlive the solver).
 * `alloc` is copied; NULL means malloc/free. */
int hyd_maid_create(hyd_maid **out, const hyd_problem *problem,
                    const hyd_allocator *alloc);
void hyd_maid_destroy(hyd_maid *s);

/* Replaces the built-in serial oracle (borrowed). Before setup only. */
int hyd_maid_set_oracle(hyd_maid *s, hyd_oracle oracle);

/* Options by name, the same that the typed setters reach:
 *   method (rigorous|reference|fixed|hoag), eps0, delta0, alpha0, rho,
 *   rho_up, nu_down, nu_up, eta, c_armijo, bt_max0, eps_min, delta_min,
 *   gtol, max_iter, budget, stall_rounds, lower.method (fista|gd|gd_reference),
 *   lower.restart, lower.max_iter, cg.max_iter, cg.warm_start,
 *   hoag.schedule (geometric|quadratic|cubic), hoag.L0, ref.rounds,
 *   ref.stop_scale, ref.budget.
 * Values are text ("1e-3", "rigorous", "true"); before setup only.
 * Setting `method` also resets the method-specific defaults (so set it
 * first). HYD_ENOOPTION for an unknown name, HYD_EINVAL for a bad value. */
int hyd_maid_set_option(hyd_maid *s, const char *name, const char *value);
/* Current value as text into buf (always NUL-terminated). */
int hyd_maid_get_option(const hyd_maid *s, const char *name, char *buf,
                        size_t size);
/* Name of option number i (0..), NULL past the end: for listing them. */
const char *hyd_maid_option_name(size_t i);

int hyd_maid_set_method(hyd_maid *s, int method);
int hyd_maid_set_eps0(hyd_maid *s, double eps0);
int hyd_maid_set_delta0(hyd_maid *s, double delta0);
int hyd_maid_set_alpha0(hyd_maid *s, double alpha0);
int hyd_maid_set_max_iter(hyd_maid *s, long max_iter);
int hyd_maid_set_budget(hyd_maid *s, double budget);
int hyd_maid_set_gtol(hyd_maid *s, double gtol);

/* Starting hyperparameters (copied). Default: zeros. Before setup only. */
int hyd_maid_set_theta0(hyd_maid *s, const double *theta0);

int hyd_maid_set_monitor(hyd_maid *s, hyd_maid_monitor fn, void *user);
int hyd_maid_set_recorder(hyd_maid *s, hyd_maid_recorder fn, void *user);
int hyd_maid_set_logger(hyd_maid *s, hyd_logger fn, void *user);

/* Allocates everything the iterations need; options are frozen after. */
int hyd_maid_setup(hyd_maid *s);
/* One outer iteration (until a step is accepted, the iteration's rounds
 * are used up, or the run stops). */
int hyd_maid_iterate(hyd_maid *s);
/* Iterates until a stop reason is set. */
int hyd_maid_solve(hyd_maid *s);

/* Asks a running solve to stop at the next safe point with
 * HYD_STOP_INTERRUPTED. Only sets a flag: safe from a signal handler. */
void hyd_maid_interrupt(hyd_maid *s);

int hyd_maid_stop_reason(const hyd_maid *s);
const double *hyd_maid_theta(const hyd_maid *s); /* borrowed, n_theta */
size_t hyd_maid_n_theta(const hyd_maid *s);
void hyd_maid_get_info(const hyd_maid *s, hyd_maid_info *info);
const char *hyd_maid_errmsg(const hyd_maid *s); /* "" when no error */

/* Everything needed to continue a run exactly: the method's scalars and
 * counters (here) plus theta and the oracle's warm starts. */
typedef struct hyd_maid_checkpoint {
  long iter, accepted, bt_max, failed_rounds;
  double eps, delta, alpha, step, g_old, hoag_L, hoag_g_prev;
  double z_norm, omega, f_lo, f_hi, g;
  hyd_cost cost;
  double wall_seconds;
} hyd_maid_checkpoint;

/* After setup: copy the state out / restore it (theta has n_theta values;
 * warm starts have the oracle's state_size values, may be NULL on load to
 * keep the current ones). */
int hyd_maid_save(const hyd_maid *s, hyd_maid_checkpoint *cp, double *theta,
                  double *warm);
int hyd_maid_restore(hyd_maid *s, const hyd_maid_checkpoint *cp,
                     const double *theta, const double *warm);
size_t hyd_maid_warm_size(const hyd_maid *s);

/* The state of the last whole iteration, for an interruption that cuts
 * the next one short (a signal): hyd_maid_keep after each iteration sets
 * the state aside (as cheaply as the oracle can: under MPI each rank keeps
 * its own warm starts, nothing is gathered); hyd_maid_save_kept writes out
 * what hyd_maid_save would have written at that keep. HYD_ESTATE before
 * the first keep, or when the oracle could not keep its copy (out of
 * memory): the caller then falls back to an older checkpoint. */
int hyd_maid_keep(hyd_maid *s);
int hyd_maid_save_kept(const hyd_maid *s, hyd_maid_checkpoint *cp,
                       double *theta, double *warm);

#ifdef __cplusplus
}
#endif
#endif
