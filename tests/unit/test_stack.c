/* The stack adapter (hyperd/stack.h): the stacked problem's callbacks are
 * the per-sample ones laid end to end, its constants the sound
 * combinations, and its hypergradient the serial oracle's z on the
 * per-sample problem. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "support.h"

enum { M = 3, H = 7, W = 6, NP = H * W, NS = M * NP };

/* A small TV instance with deterministic pseudo-random images. */
static hyd_tv *small_tv(unsigned flags)
{
  double noisy[NS], clean[NS];
  unsigned long r = 12345;
  for (size_t j = 0; j < NS; j++) {
    r = r * 6364136223846793005ul + 1442695040888963407ul;
    clean[j] = (double)((j / W) % 3) * 0.3;
    noisy[j] = clean[j] + 0.2 * ((double)(r >> 33) / 2147483648.0 - 0.5);
  }
  hyd_tv *tv;
  cr_assert_eq(hyd_tv_create(&tv, M, H, W, noisy, clean, flags, NULL), HYD_OK);
  return tv;
}

static void fill(size_t n, double *v, double scale, unsigned seed)
{
  for (size_t j = 0; j < n; j++)
    v[j] = scale * sin(0.7 * (double)(j + 1) * (double)seed + 0.3);
}

static double max_diff(size_t n, const double *a, const double *b)
{
  double d = 0.0;
  for (size_t j = 0; j < n; j++)
    d = fmax(d, fabs(a[j] - b[j]));
  return d;
}

Test(stack, table_and_offsets)
{
  hyd_tv *tv = small_tv(0);
  hyd_stack *st;
  cr_assert_eq(hyd_stack_create(&st, hyd_tv_problem(tv), NULL), HYD_OK);
  const hyd_problem *p = hyd_stack_problem(st);
  cr_assert_eq(hyd_problem_check(p), HYD_OK);
  cr_expect_eq(p->n_samples, 1);
  cr_expect_eq(p->n_theta, 2);
  cr_expect_eq(p->upper_convex, 1);
  cr_expect_eq(p->lower_dim(p->ctx, 0), NS);
  cr_expect_eq(p->lower_dim(p->ctx, 1), 0);
  cr_expect_null(p->lower_start); /* TV has none: the sample starts at 0 */
  cr_expect_not_null(p->cross_prod);
  for (size_t i = 0; i <= M; i++)
    cr_expect_eq(hyd_stack_offset(st, i), i * NP);
  cr_expect_eq(hyd_stack_offset(st, M + 1), (size_t)-1);
  cr_expect_eq(hyd_stack_offset(NULL, 0), (size_t)-1);
  cr_expect_null(hyd_stack_problem(NULL));
  hyd_stack_destroy(st);
  hyd_tv_destroy(tv);
}

/* Every callback of the stack against the inner callbacks, sample by
 * sample, with and without the reference scaling. */
Test(stack, derivatives_are_the_per_sample_ones)
{
  for (unsigned flags = 0; flags <= HYD_TV_REFERENCE_SCALING; flags++) {
    hyd_tv *tv = small_tv(flags);
    const hyd_problem *in = hyd_tv_problem(tv);
    hyd_stack *st;
    cr_assert_eq(hyd_stack_create(&st, in, NULL), HYD_OK);
    const hyd_problem *p = hyd_stack_problem(st);
    double theta[2] = {-1.3, -2.1}, v2[2] = {0.4, -1.7};
    double x[NS], v[NS], q[NS], out[NS], ref[NP];
    fill(NS, x, 0.5, 1);
    fill(NS, v, 1.0, 2);
    fill(NS, q, 2.0, 3);

    double value, sum = 0.0;
    cr_assert_eq(p->lower_grad(p->ctx, 0, theta, x, &value, out), HYD_OK);
    for (size_t i = 0; i < M; i++) {
      double vi;
      cr_assert_eq(in->lower_grad(in->ctx, i, theta, x + i * NP, &vi, ref),
                   HYD_OK);
      sum += vi;
      cr_expect_eq(max_diff(NP, out + i * NP, ref), 0.0, "grad of sample %zu", i);
    }
    cr_expect_float_eq(value, sum, 1e-14 * fabs(sum));
    /* value may be NULL */
    cr_assert_eq(p->lower_grad(p->ctx, 0, theta, x, NULL, out), HYD_OK);

    cr_assert_eq(p->lower_hvp(p->ctx, 0, theta, x, v, out), HYD_OK);
    for (size_t i = 0; i < M; i++) {
      in->lower_hvp(in->ctx, i, theta, x + i * NP, v + i * NP, ref);
      cr_expect_eq(max_diff(NP, out + i * NP, ref), 0.0, "A v of sample %zu", i);
    }

    cr_assert_eq(p->cross_prod(p->ctx, 0, theta, x, v2, out), HYD_OK);
    for (size_t i = 0; i < M; i++) {
      in->cross_prod(in->ctx, i, theta, x + i * NP, v2, ref);
      cr_expect_eq(max_diff(NP, out + i * NP, ref), 0.0, "B v of sample %zu", i);
    }

    double bt[2], bsum[2] = {0.0, 0.0}, bi[2];
    cr_assert_eq(p->cross_tprod(p->ctx, 0, theta, x, q, bt), HYD_OK);
    for (size_t i = 0; i < M; i++) {
      in->cross_tprod(in->ctx, i, theta, x + i * NP, q + i * NP, bi);
      bsum[0] += bi[0];
      bsum[1] += bi[1];
    }
    cr_expect_float_eq(bt[0], bsum[0], 1e-14 * fabs(bsum[0]));
    cr_expect_float_eq(bt[1], bsum[1], 1e-14 * fabs(bsum[1]));

    /* g = (1/m) sum g_i, grad g = (1/m) (grad g_i) */
    double g, gsum = 0.0;
    cr_assert_eq(p->upper(p->ctx, 0, x, &g, out), HYD_OK);
    for (size_t i = 0; i < M; i++) {
      double gi;
      in->upper(in->ctx, i, x + i * NP, &gi, ref);
      gsum += gi;
      for (size_t j = 0; j < NP; j++)
        cr_expect_float_eq(out[i * NP + j], ref[j] / M, 1e-15);
    }
    cr_expect_float_eq(g, gsum / M, 1e-14 * gsum);
    cr_assert_eq(p->upper(p->ctx, 0, x, &g, NULL), HYD_OK);

    /* constants: min mu, max L, max Lg / m, sqrt(sum ||B_i||^2), max LB,
     * max LAinv, certified only if all are */
    hyd_constants c, ci;
    cr_assert_eq(p->constants(p->ctx, 0, theta, x, &c), HYD_OK);
    double mu = INFINITY, L = 0, Lg = 0, nb2 = 0, LB = 0, LAinv = 0;
    int cert = 1;
    for (size_t i = 0; i < M; i++) {
      in->constants(in->ctx, i, theta, x + i * NP, &ci);
      mu = fmin(mu, ci.mu);
      L = fmax(L, ci.L);
      Lg = fmax(Lg, ci.Lg);
      nb2 += ci.norm_B * ci.norm_B;
      LB = fmax(LB, ci.LB);
      LAinv = fmax(LAinv, ci.LAinv);
      cert = cert && ci.certified;
    }
    cr_expect_eq(c.mu, mu);
    cr_expect_eq(c.L, L);
    cr_expect_float_eq(c.Lg, Lg / M, 1e-15);
    cr_expect_float_eq(c.norm_B, sqrt(nb2), 1e-14 * sqrt(nb2));
    cr_expect_eq(c.LB, LB);
    cr_expect_eq(c.LAinv, LAinv);
    cr_expect_eq(c.certified, cert);
    cr_expect_eq(c.certified, flags ? 0 : 1);
    /* x-free constants pass NULL on */
    cr_assert_eq(p->constants(p->ctx, 0, theta, NULL, &c), HYD_OK);
    cr_expect(c.norm_B > 0.0);

    /* the stacked norm_B bounds the stacked B: ||B v|| <= norm_B ||v|| */
    cr_assert_eq(p->constants(p->ctx, 0, theta, x, &c), HYD_OK);
    cr_assert_eq(p->cross_prod(p->ctx, 0, theta, x, v2, out), HYD_OK);
    double bv = 0.0;
    for (size_t j = 0; j < NS; j++)
      bv += out[j] * out[j];
    cr_expect_leq(sqrt(bv), c.norm_B * sqrt(v2[0] * v2[0] + v2[1] * v2[1]));

    hyd_stack_destroy(st);
    hyd_tv_destroy(tv);
  }
}

/* z of the stack (one stacked CG) equals the serial oracle's mean of
 * per-sample z_i when both are solved tightly; so do f and the sandwich. */
Test(stack, hypergradient_equals_the_serial_oracle)
{
  hyd_tv *tv = small_tv(0);
  hyd_stack *st;
  cr_assert_eq(hyd_stack_create(&st, hyd_tv_problem(tv), NULL), HYD_OK);
  const hyd_problem *probs[2] = {hyd_tv_problem(tv), hyd_stack_problem(st)};
  double theta[2] = {-2.0, -3.0}, z[2][2];
  hyd_eval ev[2];
  for (int k = 0; k < 2; k++) {
    hyd_serial_oracle *o;
    cr_assert_eq(hyd_serial_oracle_create(&o, probs[k], theta, NULL), HYD_OK);
    hyd_oracle or = hyd_serial_oracle_as_oracle(o);
    hyd_oracle_config cfg;
    hyd_oracle_config_default(&cfg);
    cr_assert_eq(or.ops->configure(or.self, &cfg), HYD_OK);
    ev[k].z = z[k];
    cr_assert_eq(or.ops->evaluate(or.self, theta, 1e-11, 1e-11, &ev[k]),
                 HYD_OK, "%s", or.ops->errmsg(or.self));
    hyd_serial_oracle_destroy(o);
  }
  double zn = hypot(z[0][0], z[0][1]);
  cr_assert(zn > 0.0);
  for (int j = 0; j < 2; j++)
    cr_expect_leq(fabs(z[1][j] - z[0][j]), 1e-8 * zn, "z[%d]: stack %.15g, "
                  "per sample %.15g", j, z[1][j], z[0][j]);
  cr_expect_float_eq(ev[1].g, ev[0].g, 1e-10 * ev[0].g);
  /* both omegas are certified bounds of the same error; both tiny here */
  cr_expect(ev[1].certified && ev[0].certified);
  cr_expect_leq(ev[1].omega, 1e-6 * zn);
  hyd_stack_destroy(st);
  hyd_tv_destroy(tv);
}

Test(stack, upper_lipschitz_override)
{
  hyd_tv *tv = small_tv(0);
  hyd_stack *st;
  cr_assert_eq(hyd_stack_create(&st, hyd_tv_problem(tv), NULL), HYD_OK);
  const hyd_problem *p = hyd_stack_problem(st);
  double theta[2] = {-1.0, -1.0}, x[NS];
  fill(NS, x, 0.5, 4);
  hyd_constants c;
  p->constants(p->ctx, 0, theta, x, &c);
  cr_expect_float_eq(c.Lg, 1.0 / M, 1e-15); /* TV's Lg_i = 1 */
  cr_expect_eq(c.certified, 1);
  /* larger than the combined value: still a bound */
  cr_assert_eq(hyd_stack_set_upper_lipschitz(st, 1.0), HYD_OK);
  p->constants(p->ctx, 0, theta, x, &c);
  cr_expect_eq(c.Lg, 1.0);
  cr_expect_eq(c.certified, 1);
  /* smaller: no longer certified */
  cr_assert_eq(hyd_stack_set_upper_lipschitz(st, 0.01), HYD_OK);
  p->constants(p->ctx, 0, theta, x, &c);
  cr_expect_eq(c.Lg, 0.01);
  cr_expect_eq(c.certified, 0);
  /* 0 restores the combined value */
  cr_assert_eq(hyd_stack_set_upper_lipschitz(st, 0.0), HYD_OK);
  p->constants(p->ctx, 0, theta, x, &c);
  cr_expect_float_eq(c.Lg, 1.0 / M, 1e-15);
  cr_expect_eq(c.certified, 1);
  cr_expect_eq(hyd_stack_set_upper_lipschitz(st, -1.0), HYD_EINVAL);
  cr_expect_eq(hyd_stack_set_upper_lipschitz(st, NAN), HYD_EINVAL);
  cr_expect_eq(hyd_stack_set_upper_lipschitz(st, INFINITY), HYD_EINVAL);
  cr_expect_eq(hyd_stack_set_upper_lipschitz(NULL, 1.0), HYD_EINVAL);
  hyd_stack_destroy(st);
  hyd_tv_destroy(tv);
}

Test(stack, rejects_bad_arguments_and_passes_failures_on)
{
  hyd_tv *tv = small_tv(0);
  hyd_stack *st = (hyd_stack *)1;
  cr_expect_eq(hyd_stack_create(NULL, hyd_tv_problem(tv), NULL), HYD_EINVAL);
  cr_expect_eq(hyd_stack_create(&st, NULL, NULL), HYD_EINVAL);
  cr_expect_null(st);
  hyd_problem broken = *hyd_tv_problem(tv);
  broken.version = 99;
  cr_expect_eq(hyd_stack_create(&st, &broken, NULL), HYD_EINVAL);
  hyd_stack_destroy(NULL);

  cr_assert_eq(hyd_stack_create(&st, hyd_tv_problem(tv), NULL), HYD_OK);
  const hyd_problem *p = hyd_stack_problem(st);
  double x[NS], out[NS], g, th[2] = {0.0, 0.0};
  hyd_constants c;
  fill(NS, x, 0.5, 5);
  /* only sample 0 exists */
  cr_expect_neq(p->lower_grad(p->ctx, 1, th, x, NULL, out), 0);
  cr_expect_neq(p->lower_hvp(p->ctx, 1, th, x, x, out), 0);
  cr_expect_neq(p->cross_tprod(p->ctx, 1, th, x, x, out), 0);
  cr_expect_neq(p->cross_prod(p->ctx, 1, th, x, th, out), 0);
  cr_expect_neq(p->upper(p->ctx, 1, x, &g, out), 0);
  cr_expect_neq(p->constants(p->ctx, 1, th, x, &c), 0);
  /* an inner failure (theta whose nu^2 underflows) comes back unchanged */
  double bad[2] = {0.0, -800.0};
  cr_expect_eq(p->lower_grad(p->ctx, 0, bad, x, NULL, out), HYD_EINVAL);
  cr_expect_eq(p->constants(p->ctx, 0, bad, x, &c), HYD_EINVAL);
  hyd_stack_destroy(st);
  hyd_tv_destroy(tv);
}

Test(stack, allocation_failures_leak_nothing)
{
  hyd_tv *tv = small_tv(0);
  for (long k = 1; k <= 4; k++) {
    test_alloc t = {k, 0, 0};
    hyd_allocator a = test_allocator(&t);
    hyd_stack *st;
    int rc = hyd_stack_create(&st, hyd_tv_problem(tv), &a);
    if (rc == HYD_OK)
      hyd_stack_destroy(st);
    else
      cr_expect_eq(rc, HYD_ENOMEM);
    cr_expect_eq(t.live, 0, "leak when allocation %ld fails", k);
  }
  hyd_tv_destroy(tv);
}
