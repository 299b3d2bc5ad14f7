/* hyperd/oracle.h: the inexact oracle, and the seam where it is distributed.
 *
 * MAID (maid.h) never touches samples itself. It asks an oracle two
 * questions (design/maid.md section 2):
 *   evaluate(theta, eps, delta): solve every lower level to eps (warm from
 *     the current points, which it updates), every adjoint to delta, and
 *     return the hypergradient estimate z, its error bound omega and the
 *     function-value sandwich f_lo <= f(theta) <= f_hi;
 *   trials(theta_1..theta_n, eps): solve the lower levels at trial points
 *     (warm from the last evaluate) and return their sandwiches; accept(k)
 *     then makes trial k's solutions the warm starts.
 *
 * The serial oracle (hyd_serial_oracle_*) loops over the samples. A
 * distributed oracle implements the same hyd_oracle_ops with the per-sample
 * building blocks below (hyd_sample_*) on each rank and hyd_eval_reduce on
 * the coordinator, so decisions and numbers do not depend on how samples
 * are spread. */
#ifndef HYPERD_ORACLE_H
#define HYPERD_ORACLE_H

#include <signal.h>
#include <stddef.h>
#include <hyperd/problem.h>
#include <hyperd/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Lower-level solver used inside the oracle. */
enum hyd_lower_method {
  HYD_LOWER_FISTA = 0, /* Nesterov/FISTA with known mu, L and gradient restart */
  HYD_LOWER_GD = 1,    /* gradient descent, step 1/L */
  HYD_LOWER_GD_REFERENCE = 2, /* the reference code's loop (maid.md section 4) */
  HYD_LOWER_NEWTON_CG = 3      /* Newton-CG with Armijo search (needs h values) */
};

/* How omega is formed. */
enum hyd_bound_kind {
  HYD_BOUND_CERTIFIED = 0, /* maid.md section 2, with the achieved accuracies */
  HYD_BOUND_REFERENCE = 1  /* the reference's proxy (maid.md section 4) */
};

/* Settings of the per-sample solves; plain data so that a distributed
 * oracle can ship it as bytes. */
typedef struct hyd_oracle_config {
  int lower_method;        /* enum hyd_lower_method */
  int bound;               /* enum hyd_bound_kind */
  int lower_restart;       /* FISTA: gradient-based adaptive restart */
  int cg_warm_start;       /* start CG from the previous adjoint */
  long lower_max_iter;     /* cap per lower-level solve */
  long cg_max_iter;        /* cap per CG solve */
  double stop_scale;       /* reference GD: stop when ||grad h||/(s mu) < eps */
  unsigned long seed;      /* reference bound's random-point estimates */
  int float32;             /* reference: CG vectors rounded to float32 */
  double cg_balance;       /* certified bound: CG may stop at a residual
                              above delta while its term of omega,
                              (||B||/mu) residual, stays within this
                              fraction of the eps terms (0: residual <=
                              delta, as design/maid.md states it) */
} hyd_oracle_config;

/* Default configuration (rigorous mode). */
void hyd_oracle_config_default(hyd_oracle_config *cfg);

/* Work done, in the paper's unit (iterations) and the reference's. */
typedef struct hyd_cost {
  double lower_iters;    /* lower-level iterations summed over samples */
  double cg_iters;       /* CG iterations summed over samples */
  double lower_batches;  /* per solve round, the largest per-sample count */
  double cg_batches;
  double lower_iters_ref; /* the reference's count (maid.md section 4), per
                           * batch like its stacked solve: the largest
                           * per-sample count of each solve */
  double evaluations;    /* oracle evaluate() calls */
  double trials;         /* line-search trial points solved */
  double capped_solves;  /* lower solves that stopped at their cap */
} hyd_cost;

void hyd_cost_add(hyd_cost *total, const hyd_cost *part);

/* What one sample's evaluate produced. All doubles so that it travels as a
 * flat array; hyd_eval_reduce combines them in sample order. */
typedef struct hyd_sample_eval {
  double g;           /* g_i(x_i) */
  double grad_g_norm; /* ||grad g_i(x_i)|| */
  double radius_lo;   /* g_i(x_i) - r_lo <= g_i(xhat_i) */
  double radius_hi;   /* g_i(xhat_i) <= g_i(x_i) + r_hi */
  double omega;       /* certified omega_i, achieved accuracies */
  double eps_achieved;   /* ||grad h_i(x_i)|| / mu_i, bounds ||x_i - xhat_i|| */
  double delta_achieved; /* CG residual norm */
  double delta_binding;  /* the adjoint accuracy below which CG would go on
                            from this adjoint: its residual, or 0 where
                            cg.balance's room alone let it stop */
  double mu, Lg, norm_B, LB, LAinv;
  double certified;   /* 1 if the constants are true bounds (never for a
                         lower_nonconvex problem) */
  double cross_max;   /* reference bound: max_j |(B_i z)_j|, filled later */
  double lower_iters, lower_iters_ref, cg_iters, capped;
} hyd_sample_eval;

/* One trial point's sandwich. */
typedef struct hyd_sample_trial {
  double g, grad_g_norm, radius_lo, radius_hi, eps_achieved;
  double lower_iters, lower_iters_ref, capped;
} hyd_sample_trial;

/* The reduced result of evaluate. z is owned by the caller (n_theta). */
typedef struct hyd_eval {
  double *z;
  double z_norm;
  double omega;        /* the bound the method uses (kind per config) */
  double omega_certified; /* section-2 bound, whatever the config */
  double f_lo, f_hi;   /* sandwich of f(theta) */
  double g;            /* (1/m) sum g_i(x_i) */
  double grad_g_norm;  /* ||(1/m) (grad g_1, ..., grad g_m)|| */
  double eps_achieved, delta_achieved; /* worst over samples */
  double delta_binding; /* largest over samples (hyd_sample_eval) */
  double Lg;           /* largest Lg over samples */
  int certified;       /* 1 if omega is a certified bound */
  hyd_cost cost;       /* work of this call */
} hyd_eval;

typedef struct hyd_trial {
  double f_lo, f_hi, g, grad_g_norm, eps_achieved;
  hyd_cost cost;
} hyd_trial;

/* ---- per-sample building blocks (one object per sample) ---- */
typedef struct hyd_sample hyd_sample;

/* Creates sample `index` of `problem` with its cold start at theta0.
 * The problem table is borrowed and must outlive the sample. `alloc` is
 * copied (NULL: malloc). `n_slots` trial slots are allocated up front. */
int hyd_sample_create(hyd_sample **out, const hyd_problem *problem,
                      size_t index, const double *theta0, size_t n_slots,
                      const hyd_allocator *alloc);
void hyd_sample_destroy(hyd_sample *s);

/* Lower solve at theta to eps, adjoint to delta, z_i = -B_i^T q_i into
 * z_i[p] (not divided by m). Updates the warm starts. */
int hyd_sample_evaluate(hyd_sample *s, const hyd_oracle_config *cfg,
                        const double *theta, double eps, double delta,
                        hyd_sample_eval *out, double *z_i);

/* Reference bound only: out->cross_max = max_j |(B_i z)_j| at x_i. */
int hyd_sample_cross_max(hyd_sample *s, const double *theta,
                         const double *z, hyd_sample_eval *out);

/* Lower solve at a trial point into `slot`, warm from the current point. */
int hyd_sample_solve_trial(hyd_sample *s, const hyd_oracle_config *cfg,
                     const double *theta, double eps, size_t slot,
                     hyd_sample_trial *out);

/* g_i at the current point, without solving anything (the reference
 * profile's g_old at the unsolved start). */
int hyd_sample_upper_now(hyd_sample *s, double *g);

/* While *flag is non-zero, the sample's solves give up at their next
 * iteration with HYD_EINTR (flag borrowed; NULL: never). */
void hyd_sample_set_interrupt(hyd_sample *s,
                              const volatile sig_atomic_t *flag);

/* Makes trial `slot` the current point. */
int hyd_sample_accept(hyd_sample *s, size_t slot);

/* Current lower-level point (borrowed; n_i doubles) and its dimension. */
const double *hyd_sample_point(const hyd_sample *s);
size_t hyd_sample_dim(const hyd_sample *s);
/* Overwrites the current point and forgets the adjoint warm start
 * (used when resuming from a checkpoint). */
int hyd_sample_set_point(hyd_sample *s, const double *x);
/* The sample's whole warm state (point, adjoint) as 2 n_i + 1 doubles, so
 * that a resumed run continues bit for bit. */
size_t hyd_sample_state_size(const hyd_sample *s);
void hyd_sample_save_state(const hyd_sample *s, double *buf);
int hyd_sample_load_state(hyd_sample *s, const double *buf);
/* Text of the last failure of this sample, "" if none. */
const char *hyd_sample_errmsg(const hyd_sample *s);

/* Combines per-sample results in index order: z = (1/m) sum z_i (z_i
 * stacked as m rows of p), sandwich, omega per cfg->bound. `eps`, `delta`
 * are the requested accuracies (the reference bound uses them). */
void hyd_eval_reduce(const hyd_oracle_config *cfg, size_t m, size_t p,
                     const hyd_sample_eval *parts, const double *z_parts,
                     double eps, double delta, hyd_eval *out);
void hyd_trial_reduce(size_t m, const hyd_sample_trial *parts, hyd_trial *out);

/* Solves sample `sample`'s lower level at theta to the certified accuracy
 * ||x - xhat|| <= eps with the default solver (x in: start, out: the
 * solution): the model a learned theta gives, e.g. to report test error.
 * *iters (may be NULL) gets the gradient evaluations. */
int hyd_solve_lower(const hyd_problem *problem, size_t sample,
                    const double *theta, double eps, double *x, long *iters,
                    const hyd_allocator *alloc);

/* The same with a chosen solver (enum hyd_lower_method): Newton-CG, for
 * one, when the lower level is ill-conditioned (small L2 weights) and the
 * problem gives h's values. */
int hyd_solve_lower_with(const hyd_problem *problem, size_t sample,
                         const double *theta, double eps, int lower_method,
                         double *x, long *iters, const hyd_allocator *alloc);

/* ---- the oracle interface MAID drives ---- */
/* 2 added keep_state and save_kept_state; tables of version 1 (without
 * them) are still accepted. */
#define HYD_ORACLE_VERSION 2

typedef struct hyd_oracle_ops {
  int version; /* HYD_ORACLE_VERSION */
  /* Called once from hyd_maid_setup with the effective configuration. */
  int (*configure)(void *self, const hyd_oracle_config *cfg);
  int (*evaluate)(void *self, const double *theta, double eps, double delta,
                  hyd_eval *out);
  /* Solves n trial points (n <= max_trials); thetas[k] has n_theta values. */
  int (*trials)(void *self, size_t n, const double *const *thetas, double eps,
                hyd_trial *out);
  int (*accept)(void *self, size_t k);
  /* (1/m) sum g_i at the current points, nothing solved. */
  int (*upper_now)(void *self, double *g);
  /* How many trial points it solves at once for the price of one (>= 1). */
  size_t (*max_trials)(void *self);
  /* Warm starts for checkpoints: total length, copy out, copy in. */
  size_t (*state_size)(void *self);
  int (*save_state)(void *self, double *buf);
  int (*load_state)(void *self, const double *buf);
  /* Text of the last failure, "" if none. */
  const char *(*errmsg)(void *self);
  /* Optional (both or neither; version 2). keep_state sets the current
   * warm starts aside where they are, cheaply (under MPI each rank copies
   * its own: nothing travels); save_kept_state later writes that copy out
   * as save_state would have written it then, HYD_ESTATE when there is
   * none (none kept, or no memory to keep it). Without them
   * hyd_maid_keep copies save_state's output itself. */
  int (*keep_state)(void *self);
  int (*save_kept_state)(void *self, double *buf);
} hyd_oracle_ops;

typedef struct hyd_oracle {
  const hyd_oracle_ops *ops;
  void *self;
} hyd_oracle;

/* The serial oracle: all samples in this process, evaluated in a loop. */
typedef struct hyd_serial_oracle hyd_serial_oracle;
int hyd_serial_oracle_create(hyd_serial_oracle **out,
                             const hyd_problem *problem,
                             const double *theta0, const hyd_allocator *alloc);
void hyd_serial_oracle_destroy(hyd_serial_oracle *o);
/* Solves give up with HYD_EINTR once *flag is non-zero (hyd_maid does this
 * for the oracle it creates itself, with its hyd_maid_interrupt flag). */
void hyd_serial_oracle_set_interrupt(hyd_serial_oracle *o,
                                     const volatile sig_atomic_t *flag);
hyd_oracle hyd_serial_oracle_as_oracle(hyd_serial_oracle *o);

#ifdef __cplusplus
}
#endif
#endif
