/* Hypergradients of the built-in problems through the per-sample oracle
 * blocks (hyd_sample_*): the tight-accuracy estimate against central
 * differences of the re-solved f(theta), and the certified bound omega
 * against the true error of a loose estimate. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <hyperd/compander.h>
#include <hyperd/foe.h>
#include <hyperd/logistic.h>
#include <hyperd/oracle.h>
#include <hyperd/problem.h>
#include <hyperd/tv.h>

#include "common.h"

#define MAXP 40

static hyd_oracle_config config(void)
{
  hyd_oracle_config cfg;
  hyd_oracle_config_default(&cfg);
  cfg.lower_max_iter = 1000000;
  cfg.cg_max_iter = 100000;
  return cfg;
}

/* z = -(1/m) sum B_i^T q_i and omega = (1/m) sum omega_i at (eps, delta),
 * every sample solved from its cold start. */
static void estimate(const hyd_problem *p, const double *th, double eps,
                     double delta, double *z, double *omega)
{
  hyd_oracle_config cfg = config();
  size_t m = p->n_samples, np = p->n_theta;
  double zi[MAXP];
  memset(z, 0, np * sizeof *z);
  *omega = 0.0;
  for (size_t i = 0; i < m; i++) {
    hyd_sample *s;
    hyd_sample_eval ev;
    cr_assert_eq(hyd_sample_create(&s, p, i, th, 1, NULL), HYD_OK);
    int st = hyd_sample_evaluate(s, &cfg, th, eps, delta, &ev, zi);
    cr_assert_eq(st, HYD_OK, "%s", hyd_sample_errmsg(s));
    cr_assert_eq(ev.certified, 1.0);
    for (size_t k = 0; k < np; k++)
      z[k] += zi[k] / (double)m;
    *omega += ev.omega / (double)m;
    hyd_sample_destroy(s);
  }
}

/* f(theta) = (1/m) sum g_i(x_i) with every lower level solved to eps;
 * *gn gets the largest ||grad g_i(x_i)||. */
static double f_solved(const hyd_problem *p, const double *th, double eps,
                       double *gn)
{
  hyd_oracle_config cfg = config();
  double f = 0.0;
  for (size_t i = 0; i < p->n_samples; i++) {
    hyd_sample *s;
    hyd_sample_trial tr;
    cr_assert_eq(hyd_sample_create(&s, p, i, th, 1, NULL), HYD_OK);
    int st = hyd_sample_solve_trial(s, &cfg, th, eps, 0, &tr);
    cr_assert_eq(st, HYD_OK, "%s", hyd_sample_errmsg(s));
    f += tr.g / (double)p->n_samples;
    *gn = fmax(*gn, tr.grad_g_norm);
    hyd_sample_destroy(s);
  }
  return f;
}

static double fd_component(const hyd_problem *p, const double *th, size_t k,
                           double h, double eps, double *gn)
{
  double tp[MAXP];
  memcpy(tp, th, p->n_theta * sizeof *th);
  tp[k] = th[k] + h;
  double fp = f_solved(p, tp, eps, gn);
  tp[k] = th[k] - h;
  double fm = f_solved(p, tp, eps, gn);
  return (fp - fm) / (2 * h);
}

/* Tight z against central differences of f. The tolerance: the
 * truncation error of the step-h/2 difference, estimated from the steps h
 * and h/2 (Richardson: about |fd(h) - fd(h/2)| / 3, taken once, not a
 * third), plus the lower-level error of each f value (||grad g|| eps
 * + Lg eps^2/2, divided by the step) and omega of the tight estimate. */
static void check_against_fd(const hyd_problem *p, const double *th,
                             double h)
{
  double eps = 1e-11, z[MAXP], omega;
  estimate(p, th, eps, eps, z, &omega);
  double zmax = 0.0;
  for (size_t k = 0; k < p->n_theta; k++)
    zmax = fmax(zmax, fabs(z[k]));
  for (size_t k = 0; k < p->n_theta; k++) {
    double gn = 0.0;
    double f1 = fd_component(p, th, k, h, eps, &gn);
    double f2 = fd_component(p, th, k, h / 2, eps, &gn);
    double tol = fabs(f1 - f2) + 2.0 * (gn * eps + eps * eps) / h + omega;
    cr_assert(fabs(z[k] - f2) <= tol, "z[%zu] %.12g fd %.12g tol %g", k,
              z[k], f2, tol);
    cr_assert(tol <= 1e-5 * zmax, "tolerance %g too loose", tol);
  }
}

/* omega at loose accuracies bounds the true error of that estimate. */
static void check_omega(const hyd_problem *p, const double *th,
                        double eps_loose)
{
  double zt[MAXP], zl[MAXP], om_t, om_l, err = 0.0;
  estimate(p, th, 1e-11, 1e-11, zt, &om_t);
  estimate(p, th, eps_loose, eps_loose, zl, &om_l);
  for (size_t k = 0; k < p->n_theta; k++)
    err += (zl[k] - zt[k]) * (zl[k] - zt[k]);
  err = sqrt(err);
  cr_assert(err <= om_l + om_t, "error %g omega %g", err, om_l);
  cr_log_info("eps = delta = %g: error %.3g, omega %.3g", eps_loose, err,
              om_l);
}

static hyd_tv *small_tv(void)
{
  enum { M = 2, H = 6, W = 5 };
  double clean[M * H * W], noisy[M * H * W];
  test_rng r;
  rng_seed(&r, 41);
  for (size_t i = 0; i < M * H * W; i++) {
    clean[i] = ((i / W) % H < 3) ? 0.2 : 0.8; /* an edge per image */
    noisy[i] = clean[i] + 0.1 * rng_normal(&r);
  }
  hyd_tv *tv;
  cr_assert_eq(hyd_tv_create(&tv, M, H, W, noisy, clean, 0, NULL), HYD_OK);
  return tv;
}

Test(hypergradient, tv_matches_finite_differences)
{
  hyd_tv *tv = small_tv();
  const double th[2] = {log(0.2), log(0.05)};
  check_against_fd(hyd_tv_problem(tv), th, 1e-3);
  hyd_tv_destroy(tv);
}

/* Two images of the reference's own instance (shared/reference/tv96) at
 * the reference's final theta, with its scaling: the hypergradient of the
 * scaled problem is the unscaled one's (design/problems.md). */
Test(hypergradient, tv_reference_instance)
{
  enum { N = 24, NP96 = 96 * 96, M = 2 };
  double *clean = read_f32(HYD_SHARED_DIR "/reference/tv96/clean.f32", N * NP96);
  double *noisy = read_f32(HYD_SHARED_DIR "/reference/tv96/noisy.f32", N * NP96);
  cr_assert(clean && noisy, "cannot read shared/reference/tv96");
  hyd_tv *a, *b;
  cr_assert_eq(hyd_tv_create(&a, M, 96, 96, noisy, clean, 0, NULL), HYD_OK);
  cr_assert_eq(hyd_tv_create(&b, M, 96, 96, noisy, clean,
                             HYD_TV_REFERENCE_SCALING, NULL),
               HYD_OK);
  const double th[2] = {-2.0923, -5.0256};
  check_against_fd(hyd_tv_problem(a), th, 1e-3);
  double za[2], zb[2], oa;
  estimate(hyd_tv_problem(a), th, 1e-10, 1e-10, za, &oa);
  hyd_oracle_config cfg = config();
  /* the scaled problem's constants are the reference's, not bounds: only
   * compare z (its per-sample certified flag is 0) */
  size_t m = M;
  double zi[2];
  zb[0] = zb[1] = 0.0;
  for (size_t i = 0; i < m; i++) {
    hyd_sample *s;
    hyd_sample_eval ev;
    cr_assert_eq(hyd_sample_create(&s, hyd_tv_problem(b), i, th, 1, NULL),
                 HYD_OK);
    cr_assert_eq(hyd_sample_evaluate(s, &cfg, th, 1e-10, 1e-10 / N, &ev, zi),
                 HYD_OK, "%s", hyd_sample_errmsg(s));
    cr_assert_eq(ev.certified, 0.0);
    zb[0] += zi[0] / (double)m;
    zb[1] += zi[1] / (double)m;
    hyd_sample_destroy(s);
  }
  for (int k = 0; k < 2; k++)
    cr_assert(fabs(za[k] - zb[k]) <= 1e-6 * (fabs(za[0]) + fabs(za[1])),
              "z[%d] %.12g scaled %.12g", k, za[k], zb[k]);
  hyd_tv_destroy(a);
  hyd_tv_destroy(b);
  free(clean);
  free(noisy);
}

Test(hypergradient, tv_omega_bounds_the_error)
{
  hyd_tv *tv = small_tv();
  const double th[2] = {log(0.2), log(0.05)};
  check_omega(hyd_tv_problem(tv), th, 1e-3);
  check_omega(hyd_tv_problem(tv), th, 1e-1);
  hyd_tv_destroy(tv);
}

typedef struct lr_data {
  double X[60 * 4];
  int y[60];
  size_t idx[120];
  hyd_logistic_fold folds[2];
} lr_data;

static hyd_logistic *small_lr(lr_data *d, int grouping)
{
  test_rng r;
  rng_seed(&r, 43);
  for (size_t i = 0; i < 60; i++) {
    d->y[i] = (int)(i % 3);
    for (size_t j = 0; j < 4; j++)
      d->X[i * 4 + j] = rng_normal(&r) + (j == (size_t)d->y[i] ? 1.0 : 0.0);
  }
  two_folds(60, 40, d->idx, d->folds);
  hyd_logistic *lr;
  cr_assert_eq(hyd_logistic_create(&lr, 60, 4, 3, d->X, d->y, 2, d->folds,
                                   grouping, 0, NULL),
               HYD_OK);
  return lr;
}

Test(hypergradient, logistic_matches_finite_differences)
{
  lr_data d;
  hyd_logistic *lr = small_lr(&d, HYD_LOGISTIC_PER_CLASS);
  const double th[3] = {-1.0, -0.5, -2.0};
  check_against_fd(hyd_logistic_problem(lr), th, 1e-3);
  hyd_logistic_destroy(lr);
  lr = small_lr(&d, HYD_LOGISTIC_PER_WEIGHT);
  double thw[12];
  for (size_t k = 0; k < 12; k++)
    thw[k] = -2.0 + 0.1 * (double)k;
  check_against_fd(hyd_logistic_problem(lr), thw, 1e-3);
  hyd_logistic_destroy(lr);
}

Test(hypergradient, logistic_omega_bounds_the_error)
{
  lr_data d;
  hyd_logistic *lr = small_lr(&d, HYD_LOGISTIC_PER_FEATURE);
  const double th[4] = {-1.0, -0.5, -2.0, 0.0};
  check_omega(hyd_logistic_problem(lr), th, 1e-3);
  check_omega(hyd_logistic_problem(lr), th, 1e-1);
  hyd_logistic_destroy(lr);
}

static hyd_foe *small_foe(double *th)
{
  enum { M = 2, H = 6, W = 5 };
  double clean[M * H * W], noisy[M * H * W];
  test_rng r;
  rng_seed(&r, 47);
  for (size_t i = 0; i < M * H * W; i++) {
    clean[i] = ((i % W) < 2) ? 0.3 : 0.7;
    noisy[i] = clean[i] + 0.1 * rng_normal(&r);
  }
  hyd_foe_options o = {2, 3, 1};
  hyd_foe *fo;
  cr_assert_eq(hyd_foe_create(&fo, M, H, W, noisy, clean, &o, NULL), HYD_OK);
  cr_assert_eq(hyd_foe_n_theta(&o), 23);
  cr_assert_eq(hyd_foe_theta_init(&o, 5, th), HYD_OK);
  th[0] = log(0.5);
  th[1] = -1.0;
  th[2] = 0.0;
  th[3] = log(0.1);
  th[4] = log(0.2);
  return fo;
}

Test(hypergradient, foe_matches_finite_differences)
{
  double th[23];
  hyd_foe *fo = small_foe(th);
  check_against_fd(hyd_foe_problem(fo), th, 1e-3);
  hyd_foe_destroy(fo);
}

Test(hypergradient, foe_omega_bounds_the_error)
{
  double th[23];
  hyd_foe *fo = small_foe(th);
  check_omega(hyd_foe_problem(fo), th, 1e-3);
  check_omega(hyd_foe_problem(fo), th, 1e-1);
  hyd_foe_destroy(fo);
}

/* radius: the Lipschitz radius of LB and LAinv, at least the largest eps
 * the test certifies with (hyd_logistic_penalty) */
static hyd_logistic *small_compander(lr_data *d, double radius)
{
  hyd_logistic *lr = small_lr(d, HYD_LOGISTIC_SCALAR); /* fills d */
  hyd_logistic_destroy(lr);
  hyd_compander_options o;
  hyd_compander_options_default(&o); /* per class, T = 100 */
  o.lipschitz_radius = radius;
  cr_assert_eq(hyd_compander_create(&lr, 60, 4, 3, d->X, d->y, 2, d->folds,
                                    &o, NULL),
               HYD_OK);
  return lr;
}

Test(hypergradient, compander_matches_finite_differences)
{
  lr_data d;
  hyd_logistic *lr = small_compander(&d, 1e-9); /* eps = 1e-11 */
  const double th[6] = {log(0.5), 0.0, log(2.0), log(0.05), log(0.2), -1.0};
  /* f curves more in log a than the L2 problem in theta: a smaller step */
  check_against_fd(hyd_logistic_problem(lr), th, 2e-4);
  hyd_logistic_destroy(lr);
}

Test(hypergradient, compander_omega_bounds_the_error)
{
  lr_data d;
  hyd_logistic *lr = small_compander(&d, 0.1); /* eps up to 0.1 */
  const double th[6] = {log(0.5), 0.0, log(2.0), log(0.05), log(0.2), -1.0};
  check_omega(hyd_logistic_problem(lr), th, 1e-3);
  check_omega(hyd_logistic_problem(lr), th, 1e-1);
  hyd_logistic_destroy(lr);
}
