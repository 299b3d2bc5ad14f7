/* The MAID solver's private state, shared by maid.c (the algorithm) and
 * maid_options.c (options by name). */
#ifndef HYPERD_MAID_INTERNAL_H
#define HYPERD_MAID_INTERNAL_H

#include <signal.h>

#include <hyperd/maid.h>

#include "internal.h"

enum hyd_hoag_schedule {
  HYD_HOAG_GEOMETRIC = 0, /* eps0 * 0.9^k */
  HYD_HOAG_QUADRATIC = 1, /* eps0 / (k+1)^2 */
  HYD_HOAG_CUBIC = 2      /* eps0 / (k+1)^3 */
};

typedef struct hyd_maid_options {
  int method;
  double eps0, delta0, alpha0, rho, rho_up, nu_down, nu_up, eta, c_armijo;
  long bt_max0;
  double eps_min, delta_min, gtol;
  long max_iter;
  double budget;       /* lower-level + CG iterations (per sample); inf: none */
  long stall_rounds;   /* fixed accuracy: failed rounds before "stalled" */
  hyd_oracle_config oracle;
  int hoag_schedule;
  double hoag_L0;      /* 0: ||z_0|| as in HOAG */
  long ref_rounds;     /* reference: line-search rounds per iteration */
  double ref_budget;   /* reference: lower-level iterations, its own count */
} hyd_maid_options;

/* Defaults of a method (design/maid.md sections 3-5). */
void hyd_maid_options_default(hyd_maid_options *o, int method);
/* HYD_OK, HYD_ENOOPTION or HYD_EINVAL; message into err. */
int hyd_maid_options_set(hyd_maid_options *o, const char *name,
                         const char *value, char *err);
int hyd_maid_options_get(const hyd_maid_options *o, const char *name,
                         char *buf, size_t size);
/* Cross-field checks done at setup. */
int hyd_maid_options_check(const hyd_maid_options *o, char *err);

struct hyd_maid {
  const hyd_problem *prob;
  hyd_allocator alloc;
  size_t p;
  hyd_maid_options opt;
  int phase;          /* 0 configuring, 1 set up, 2 failed */
  int stop;           /* enum hyd_stop_reason */
  volatile sig_atomic_t interrupt_requested;

  hyd_oracle oracle;
  int oracle_given;
  hyd_serial_oracle *own_oracle;

  double *theta0;     /* p */
  int theta0_given;
  double *theta;      /* p */
  double *trial_thetas; /* max_trials x p */
  const double **trial_ptrs;
  hyd_trial *trial_results;
  size_t max_trials;
  double *warm_snapshot; /* reference: warm starts before the descent loop */
  double *z;          /* p: last hypergradient estimate */
  double *theta_prev; /* p: HOAG's revert point */

  /* hyd_maid_keep: the method's state, theta, and the warm starts where
   * the oracle cannot keep them itself (its save_state output). */
  hyd_maid_checkpoint kept_cp;
  double *kept_theta; /* p */
  double *kept_warm;  /* state_size, allocated at the first keep */
  int have_kept;

  /* Method state (all of it goes into a checkpoint). */
  long iter, accepted, bt_max, failed_rounds;
  double eps, delta, alpha, step, g_old, hoag_L, hoag_g_prev, hoag_step_norm;
  hyd_eval last_eval;
  double cur_f_lo, cur_f_hi, cur_g;
  int accepted_last;
  hyd_cost cost;
  double wall;

  hyd_maid_monitor monitor;
  void *monitor_user;
  hyd_maid_recorder recorder;
  void *recorder_user;
  hyd_logger logger;
  void *logger_user;
  char errmsg[HYD_ERRMSG_SIZE];
};

#endif
