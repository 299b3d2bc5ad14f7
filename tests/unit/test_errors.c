/* Every error path of the public API, provoked: bad options, failing and
 * NaN callbacks, wrong states, NULL handles, allocation failures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "support.h"

static hyd_quadratic *small_problem(void)
{
  hyd_quadratic *q;
  cr_assert_eq(hyd_quadratic_generate(&q, 60, 6, 3, 10.0, 10.0, 0.05, 5,
                                      NULL), HYD_OK);
  return q;
}

Test(errors, invalid_options_are_rejected_and_leave_the_value)
{
  hyd_quadratic *q = small_problem();
  hyd_maid *s;
  hyd_maid_create(&s, hyd_quadratic_problem(q), NULL);
  struct {
    const char *name, *value;
    int status;
  } bad[] = {{"eps0", "-1", HYD_EINVAL},        {"eps0", "nan", HYD_EINVAL},
             {"eps0", "0", HYD_EINVAL},         {"eps0", "1e-3x", HYD_EINVAL},
             {"eps0", "", HYD_EINVAL},          {"rho", "1.5", HYD_EINVAL},
             {"max_iter", "2.5", HYD_EINVAL},   {"max_iter", "-3", HYD_EINVAL},
             {"method", "newton", HYD_EINVAL},  {"cg.warm_start", "maybe", HYD_EINVAL},
             {"epsilon", "1e-3", HYD_ENOOPTION}, {"", "1", HYD_ENOOPTION},
             {"budget", "inf", HYD_OK}};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    char before[64], after[64];
    int known = hyd_maid_get_option(s, bad[k].name, before, sizeof before);
    int rc = hyd_maid_set_option(s, bad[k].name, bad[k].value);
    cr_expect_eq(rc, bad[k].status, "%s=%s gave %d", bad[k].name,
                 bad[k].value, rc);
    if (rc != HYD_OK) {
      cr_expect_neq(strlen(hyd_maid_errmsg(s)), 0);
      if (known == HYD_OK) {
        hyd_maid_get_option(s, bad[k].name, after, sizeof after);
        cr_expect_str_eq(before, after);
      }
    }
  }
  cr_expect_eq(hyd_maid_set_option(s, NULL, "1"), HYD_EINVAL);
  cr_expect_eq(hyd_maid_set_eps0(s, -1.0), HYD_EINVAL);
  cr_expect_eq(hyd_maid_set_method(s, 42), HYD_EINVAL);
  /* maid.* prefix and every listed name round-trip through get/set. */
  cr_expect_eq(hyd_maid_set_option(s, "maid.eps0", "0.25"), HYD_OK);
  char buf[64];
  for (size_t i = 0; hyd_maid_option_name(i); i++) {
    cr_assert_eq(hyd_maid_get_option(s, hyd_maid_option_name(i), buf,
                                     sizeof buf), HYD_OK);
    if (strcmp(hyd_maid_option_name(i), "method") != 0)
      cr_expect_eq(hyd_maid_set_option(s, hyd_maid_option_name(i), buf),
                   HYD_OK, "%s=%s", hyd_maid_option_name(i), buf);
  }
  hyd_maid_get_option(s, "eps0", buf, sizeof buf);
  cr_expect_str_eq(buf, "0.25");
  /* eps_min above eps0 is caught at setup. */
  hyd_maid_set_option(s, "eps_min", "0.5");
  cr_expect_eq(hyd_maid_setup(s), HYD_EINVAL);
  hyd_maid_destroy(s);
  hyd_quadratic_destroy(q);
}

Test(errors, setters_after_setup_and_iterate_before_setup)
{
  hyd_quadratic *q = small_problem();
  hyd_maid *s;
  hyd_maid_create(&s, hyd_quadratic_problem(q), NULL);
  cr_expect_eq(hyd_maid_iterate(s), HYD_ESTATE);
  hyd_maid_checkpoint cp;
  double theta[3];
  cr_expect_eq(hyd_maid_save(s, &cp, theta, NULL), HYD_ESTATE);
  cr_expect_eq(hyd_maid_keep(s), HYD_ESTATE);
  cr_expect_eq(hyd_maid_save_kept(s, &cp, theta, NULL), HYD_ESTATE);
  cr_assert_eq(hyd_maid_setup(s), HYD_OK);
  cr_expect_eq(hyd_maid_setup(s), HYD_ESTATE);
  cr_expect_eq(hyd_maid_set_option(s, "eps0", "1e-2"), HYD_ESTATE);
  cr_expect_eq(hyd_maid_set_eps0(s, 1e-2), HYD_ESTATE);
  cr_expect_eq(hyd_maid_set_theta0(s, theta), HYD_ESTATE);
  cr_expect_eq(hyd_maid_set_monitor(s, NULL, NULL), HYD_ESTATE);
  cr_expect_eq(hyd_maid_set_oracle(s, (hyd_oracle){NULL, NULL}), HYD_ESTATE);
  cr_expect_neq(strlen(hyd_maid_errmsg(s)), 0);
  hyd_maid_destroy(s);
  hyd_quadratic_destroy(q);
}

Test(errors, null_handles)
{
  cr_expect_eq(hyd_maid_create(NULL, NULL, NULL), HYD_EINVAL);
  hyd_maid *s = (hyd_maid *)1;
  cr_expect_eq(hyd_maid_create(&s, NULL, NULL), HYD_EINVAL);
  cr_expect_null(s);
  hyd_maid_destroy(NULL);
  hyd_quadratic_destroy(NULL);
  hyd_serial_oracle_destroy(NULL);
  hyd_sample_destroy(NULL);
  cr_expect_eq(hyd_maid_setup(NULL), HYD_EINVAL);
  cr_expect_eq(hyd_maid_iterate(NULL), HYD_EINVAL);
  cr_expect_eq(hyd_maid_solve(NULL), HYD_EINVAL);
  cr_expect_eq(hyd_maid_keep(NULL), HYD_EINVAL);
  cr_expect_eq(hyd_maid_save_kept(NULL, NULL, NULL, NULL), HYD_EINVAL);
  cr_expect_eq(hyd_maid_set_option(NULL, "eps0", "1"), HYD_EINVAL);
  cr_expect_null(hyd_maid_theta(NULL));
  cr_expect_eq(hyd_maid_stop_reason(NULL), HYD_STOP_NONE);
  cr_expect_not_null(hyd_maid_errmsg(NULL));
  hyd_maid_interrupt(NULL);
  cr_expect_eq(hyd_quadratic_create(NULL, 1, 1, 1, NULL, NULL, NULL, NULL,
                                    NULL, NULL, NULL), HYD_EINVAL);
  cr_expect_eq(hyd_problem_check(NULL), HYD_EINVAL);
  cr_expect_str_neq(hyd_strerror(HYD_ECALLBACK), hyd_strerror(HYD_ENOMEM));
  cr_expect_str_eq(hyd_strerror(-7), "unknown status");
}

Test(errors, bad_problem_tables_are_refused)
{
  hyd_quadratic *q = small_problem();
  hyd_problem p = *hyd_quadratic_problem(q);
  hyd_maid *s;
  p.version = 99;
  cr_expect_eq(hyd_maid_create(&s, &p, NULL), HYD_EINVAL);
  p = *hyd_quadratic_problem(q);
  p.lower_hvp = NULL;
  cr_expect_eq(hyd_maid_create(&s, &p, NULL), HYD_EINVAL);
  p = *hyd_quadratic_problem(q);
  p.n_theta = 0;
  cr_expect_eq(hyd_maid_create(&s, &p, NULL), HYD_EINVAL);
  hyd_quadratic_destroy(q);
}

/* A problem that forwards to the quadratic but fails (or returns NaN) on
 * the k-th call of one callback. */
typedef struct faulty {
  const hyd_problem *inner;
  int which;   /* 0 grad, 1 hvp, 2 cross, 3 upper, 4 constants, 5 hvp_change */
  int fail_at; /* 1-based call number */
  int nan;     /* produce NaN instead of failing */
  int calls;
} faulty;

static int trip(faulty *f, int which, double *out, size_t n)
{
  if (f->which != which || ++f->calls != f->fail_at)
    return 0;
  if (!f->nan)
    return 1;
  out[n > 1 ? 1 : 0] = NAN;
  return 2;
}

static size_t f_dim(void *c, size_t i)
{
  faulty *f = c;
  return f->inner->lower_dim(f->inner->ctx, i);
}
static int f_grad(void *c, size_t i, const double *t, const double *x,
                  double *v, double *g)
{
  faulty *f = c;
  int rc = f->inner->lower_grad(f->inner->ctx, i, t, x, v, g);
  int k = trip(f, 0, g, 6);
  return k == 1 ? -3 : rc;
}
static int f_hvp(void *c, size_t i, const double *t, const double *x,
                 const double *v, double *o)
{
  faulty *f = c;
  int rc = f->inner->lower_hvp(f->inner->ctx, i, t, x, v, o);
  return trip(f, 1, o, 6) == 1 ? -3 : rc;
}
static int f_cross(void *c, size_t i, const double *t, const double *x,
                   const double *q, double *o)
{
  faulty *f = c;
  int rc = f->inner->cross_tprod(f->inner->ctx, i, t, x, q, o);
  return trip(f, 2, o, 3) == 1 ? -3 : rc;
}
static int f_upper(void *c, size_t i, const double *x, double *v, double *g)
{
  faulty *f = c;
  int rc = f->inner->upper(f->inner->ctx, i, x, v, g);
  return trip(f, 3, v, 1) == 1 ? -3 : rc;
}
static int f_const(void *c, size_t i, const double *t, const double *x,
                   hyd_constants *k)
{
  faulty *f = c;
  int rc = f->inner->constants(f->inner->ctx, i, t, x, k);
  if (f->which == 5) /* A is constant: any LAinv is a bound; > 0 makes the */
    k->LAinv = 1e-6; /* oracle ask hvp_change */
  return trip(f, 4, &k->mu, 1) == 1 ? -3 : rc;
}
static int f_change(void *c, size_t i, const double *t, const double *x,
                    const double *q, double radius, double *M)
{
  faulty *f = c;
  (void)i, (void)t, (void)x, (void)q, (void)radius;
  *M = 0.0; /* exact for a constant A */
  return trip(f, 5, M, 1) == 1 ? -3 : 0;
}

static int run_faulty(faulty *f, char *msg, size_t msgsize)
{
  hyd_problem p = *f->inner;
  p.ctx = f;
  p.lower_dim = f_dim;
  p.lower_grad = f_grad;
  p.lower_hvp = f_hvp;
  p.cross_tprod = f_cross;
  p.upper = f_upper;
  p.constants = f_const;
  p.hvp_change = f_change;
  p.lower_start = NULL; /* the inner ones expect the inner context */
  p.cross_prod = NULL;
  hyd_maid *s;
  cr_assert_eq(hyd_maid_create(&s, &p, NULL), HYD_OK);
  hyd_maid_set_max_iter(s, 20);
  int rc = hyd_maid_setup(s);
  if (rc == HYD_OK)
    rc = hyd_maid_solve(s);
  snprintf(msg, msgsize, "%s", hyd_maid_errmsg(s));
  if (rc != HYD_OK) /* a failed solver refuses to go on */
    cr_expect_eq(hyd_maid_iterate(s), HYD_ESTATE);
  hyd_maid_destroy(s);
  return rc;
}

Test(errors, callback_failing_on_third_call_and_nan_results)
{
  hyd_quadratic *q = small_problem();
  const char *names[] = {"gradient", "Hessian-vector", "B^T q", "upper",
                         "constants", "hvp_change"};
  for (int which = 0; which < 6; which++) {
    for (int nan = 0; nan <= 1; nan++) {
      faulty f = {hyd_quadratic_problem(q), which, 3, nan, 0};
      char msg[256];
      int rc = run_faulty(&f, msg, sizeof msg);
      cr_expect_eq(rc, nan ? HYD_ENONFINITE : HYD_ECALLBACK,
                   "callback %d nan %d: status %d (%s)", which, nan, rc, msg);
      cr_expect_not_null(strstr(msg, nan ? "finite" : names[which]),
                         "message '%s' should name the %s callback", msg,
                         names[which]);
    }
  }
  hyd_quadratic_destroy(q);
}

Test(errors, allocation_failure_at_every_point_ends_cleanly)
{
  hyd_quadratic *q = small_problem();
  const char *methods[] = {"rigorous", "reference", "hoag"};
  for (int m = 0; m < 3; m++) {
    int succeeded = 0;
    for (long k = 1; k < 1000 && !succeeded; k++) {
      test_alloc st = {k, 0, 0};
      hyd_allocator a = test_allocator(&st);
      hyd_maid *s = NULL;
      int rc = hyd_maid_create(&s, hyd_quadratic_problem(q), &a);
      if (rc == HYD_OK) {
        hyd_maid_set_option(s, "method", methods[m]);
        hyd_maid_set_max_iter(s, 3);
        rc = hyd_maid_setup(s);
        /* as the daemon runs it: a keep after every iteration */
        while (rc == HYD_OK && hyd_maid_stop_reason(s) == HYD_STOP_NONE &&
               (rc = hyd_maid_iterate(s)) == HYD_OK)
          rc = hyd_maid_keep(s);
      }
      cr_expect(rc == HYD_OK || rc == HYD_ENOMEM, "k=%ld: status %d", k, rc);
      if (rc == HYD_OK) {
        succeeded = 1;
        cr_expect_lt(st.calls, k, "succeeded although allocation %ld failed", k);
      }
      hyd_maid_destroy(s);
      cr_expect_eq(st.live, 0, "%s, failing allocation %ld: %ld blocks leaked",
                   methods[m], k, st.live);
    }
    cr_expect(succeeded, "%s never succeeded", methods[m]);
  }
  /* The quadratic's own allocations, likewise. */
  int succeeded = 0;
  for (long k = 1; k < 200 && !succeeded; k++) {
    test_alloc st = {k, 0, 0};
    hyd_allocator a = test_allocator(&st);
    hyd_quadratic *g = NULL;
    int rc = hyd_quadratic_generate(&g, 30, 4, 2, 5.0, 5.0, 0.1, 1, &a);
    cr_expect(rc == HYD_OK || rc == HYD_ENOMEM);
    succeeded = rc == HYD_OK;
    hyd_quadratic_destroy(g);
    cr_expect_eq(st.live, 0, "quadratic, failing allocation %ld: leak", k);
  }
  cr_expect(succeeded);
  hyd_quadratic_destroy(q);
}

Test(errors, quadratic_rejects_bad_input)
{
  double A[6] = {1, 0, 0, 1, 0, 0}, rank_deficient[6] = {1, 1, 1, 1, 1, 1};
  double b[3] = {1, 2, 3}, nan_b[3] = {1, NAN, 3};
  hyd_quadratic *q;
  cr_expect_eq(hyd_quadratic_create(&q, 3, 2, 2, A, rank_deficient, A, b, b,
                                    NULL, NULL), HYD_EINVAL);
  cr_expect_eq(hyd_quadratic_create(&q, 3, 2, 2, A, A, A, nan_b, b, NULL,
                                    NULL), HYD_ENONFINITE);
  cr_expect_eq(hyd_quadratic_create(&q, 1, 2, 2, A, A, A, b, b, NULL, NULL),
               HYD_EINVAL);
  cr_expect_eq(hyd_quadratic_generate(&q, 10, 4, 5, 2, 2, 0, 1, NULL),
               HYD_EINVAL);
  cr_expect_eq(hyd_quadratic_generate(&q, 10, 4, 2, 0.5, 2, 0, 1, NULL),
               HYD_EINVAL);
  cr_expect_eq(hyd_quadratic_create(&q, 3, 2, 2, A, A, A, b, b, NULL, NULL),
               HYD_OK);
  hyd_quadratic_destroy(q);
}
