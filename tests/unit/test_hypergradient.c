/* The inexact oracle on the quadratic, against closed forms: the
 * certified omega bounds the true hypergradient error, the sandwich holds,
 * and z converges to grad f as eps, delta -> 0. */
#include <math.h>
#include <stdlib.h>

#include <criterion/criterion.h>
#include <gsl/gsl_eigen.h>

#include "support.h"

static double error_norm(size_t p, const double *a, const double *b)
{
  double s = 0.0;
  for (size_t j = 0; j < p; j++)
    s += (a[j] - b[j]) * (a[j] - b[j]);
  return sqrt(s);
}

/* Evaluates the serial oracle from a cold start at theta. */
static void evaluate_cold(const hyd_problem *prob, const double *theta,
                          double eps, double delta, hyd_eval *ev, double *z)
{
  hyd_serial_oracle *o;
  cr_assert_eq(hyd_serial_oracle_create(&o, prob, theta, NULL), HYD_OK);
  hyd_oracle or = hyd_serial_oracle_as_oracle(o);
  hyd_oracle_config cfg;
  hyd_oracle_config_default(&cfg);
  cr_assert_eq(or.ops->configure(or.self, &cfg), HYD_OK);
  ev->z = z;
  cr_assert_eq(or.ops->evaluate(or.self, theta, eps, delta, ev), HYD_OK);
  hyd_serial_oracle_destroy(o);
}

static void check_bounds_on(hyd_quadratic *q, unsigned seed)
{
  const hyd_problem *prob = hyd_quadratic_problem(q);
  size_t p = prob->n_theta;
  double *theta = malloc(p * sizeof *theta), *z = malloc(p * sizeof *z);
  double *grad = malloc(p * sizeof *grad);
  srand(seed);
  int checked = 0;
  for (int trial = 0; trial < 12; trial++) {
    for (size_t j = 0; j < p; j++)
      theta[j] = 20.0 * ((double)rand() / RAND_MAX - 0.5);
    double f;
    hyd_quadratic_exact(q, theta, &f, grad);
    for (double eps = 1e-1; eps >= 1e-9; eps *= 1e-2)
      for (double delta = 1e-1; delta >= 1e-9; delta *= 1e-4) {
        hyd_eval ev;
        evaluate_cold(prob, theta, eps, delta, &ev, z);
        double err = error_norm(p, z, grad);
        cr_expect_leq(err, ev.omega * (1 + 1e-12) + 1e-12,
                      "omega %g does not bound the error %g (eps %g delta %g)",
                      ev.omega, err, eps, delta);
        cr_expect_leq(ev.f_lo, f + 1e-9 * fabs(f), "f_lo %g > f %g", ev.f_lo, f);
        cr_expect_geq(ev.f_hi, f - 1e-9 * fabs(f), "f_hi %g < f %g", ev.f_hi, f);
        cr_expect(ev.certified);
        checked++;
      }
  }
  cr_assert_eq(checked, 12 * 5 * 3);
  free(theta);
  free(z);
  free(grad);
}

Test(hypergradient, omega_bounds_error_on_reference_instance)
{
  hyd_quadratic *q = test_reference_quadratic();
  cr_assert_not_null(q, "reference instance not readable under " HYD_SHARED_DIR);
  check_bounds_on(q, 1);
  hyd_quadratic_destroy(q);
}

Test(hypergradient, omega_bounds_error_on_generated_instances)
{
  for (unsigned long seed = 1; seed <= 4; seed++) {
    hyd_quadratic *q;
    cr_assert_eq(hyd_quadratic_generate(&q, 200, 20, 8, 1e3, 50.0, 0.01, seed,
                                        NULL), HYD_OK);
    check_bounds_on(q, (unsigned)seed);
    hyd_quadratic_destroy(q);
  }
}

Test(hypergradient, estimate_converges_to_exact_gradient)
{
  hyd_quadratic *q = test_reference_quadratic();
  cr_assert_not_null(q);
  const hyd_problem *prob = hyd_quadratic_problem(q);
  double theta[10], z[10], grad[10], f;
  for (int j = 0; j < 10; j++)
    theta[j] = 1.0 + 0.1 * j;
  hyd_quadratic_exact(q, theta, &f, grad);
  double gnorm = error_norm(10, grad, (double[10]){0});
  double prev = INFINITY;
  for (double acc = 1e-1; acc >= 1e-11; acc *= 1e-2) {
    hyd_eval ev;
    evaluate_cold(prob, theta, acc, acc, &ev, z);
    double err = error_norm(10, z, grad);
    cr_expect_leq(err, ev.omega);
    cr_expect_leq(ev.omega, prev, "omega must shrink with the accuracies");
    prev = ev.omega;
    if (acc <= 1e-11)
      cr_expect_leq(err / gnorm, 1e-8, "relative error %g at eps 1e-11",
                    err / gnorm);
  }
  hyd_quadratic_destroy(q);
}

Test(hypergradient, generated_instance_has_requested_conditioning)
{
  hyd_quadratic *q;
  cr_assert_eq(hyd_quadratic_generate(&q, 300, 30, 10, 400.0, 80.0, 0.0, 7,
                                      NULL), HYD_OK);
  hyd_constants c;
  hyd_quadratic_constants(q, &c);
  cr_expect_float_eq(c.L / c.mu, 400.0, 1e-8);
  /* The Hessian of f, column by column from exact gradients. */
  double H[100], g0[10], zero[10] = {0}, e[10], f;
  hyd_quadratic_exact(q, zero, &f, g0);
  for (int j = 0; j < 10; j++) {
    for (int k = 0; k < 10; k++)
      e[k] = k == j;
    hyd_quadratic_exact(q, e, &f, H + 10 * j);
    for (int k = 0; k < 10; k++)
      H[10 * j + k] -= g0[k];
  }
  gsl_matrix_view hv = gsl_matrix_view_array(H, 10, 10);
  gsl_vector *ev = gsl_vector_alloc(10);
  gsl_eigen_symm_workspace *w = gsl_eigen_symm_alloc(10);
  gsl_eigen_symm(&hv.matrix, ev, w);
  cr_expect_float_eq(gsl_vector_max(ev) / gsl_vector_min(ev), 80.0, 1e-6);
  gsl_eigen_symm_free(w);
  gsl_vector_free(ev);
  hyd_quadratic_destroy(q);
}
