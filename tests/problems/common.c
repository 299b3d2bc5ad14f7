#include "common.h"

#include <criterion/criterion.h>
#include <string.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void rng_seed(test_rng *r, unsigned long long seed)
{
  r->s = seed * 2862933555777941757ULL + 3037000493ULL;
}

double rng_uniform(test_rng *r)
{
  /* splitmix64: good enough and identical everywhere */
  unsigned long long z = (r->s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return (double)(z >> 11) * 0x1.0p-53;
}

double rng_normal(test_rng *r)
{
  double u = rng_uniform(r), v = rng_uniform(r);
  return sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
}

void rng_fill(test_rng *r, size_t n, double lo, double hi, double *x)
{
  for (size_t i = 0; i < n; i++)
    x[i] = lo + (hi - lo) * rng_uniform(r);
}

long fault_loop(void *ctx, fault_create_fn create,
                void (*then)(void *obj, test_alloc *state),
                void (*destroy)(void *obj))
{
  for (long k = 1;; k++) {
    test_alloc fa = {k, 0, 0};
    hyd_allocator a = test_allocator(&fa);
    void *obj = NULL;
    int st = create(ctx, &a, &obj);
    if (st == HYD_OK) {
      cr_assert_lt(fa.calls, k, "succeeded although allocation %ld failed", k);
      if (then)
        then(obj, &fa);
      destroy(obj);
      cr_assert_eq(fa.live, 0, "leaked %ld", fa.live);
      return k;
    }
    cr_assert_eq(st, HYD_ENOMEM, "k=%ld st=%d", k, st);
    cr_assert_null(obj);
    cr_assert_eq(fa.live, 0, "k=%ld leaked %ld", k, fa.live);
    cr_assert(k < 1000);
  }
}

double fd_tol(double h, double M3, double fscale)
{
  return 10.0 * (h * h * M3 / 6.0 + 2.0 * DBL_EPSILON * fabs(fscale) / h);
}

double vec_dot(size_t n, const double *a, const double *b)
{
  double s = 0.0;
  for (size_t i = 0; i < n; i++)
    s += a[i] * b[i];
  return s;
}

double vec_norm(size_t n, const double *a)
{
  return sqrt(vec_dot(n, a, a));
}

double *read_f32(const char *path, size_t count)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  float *buf = malloc(count * sizeof *buf);
  double *out = malloc(count * sizeof *out);
  int ok = buf && out && fread(buf, sizeof *buf, count, f) == count &&
           fgetc(f) == EOF;
  fclose(f);
  if (ok)
    for (size_t i = 0; i < count; i++)
      out[i] = (double)buf[i];
  free(buf);
  if (!ok) {
    free(out);
    out = NULL;
  }
  return out;
}

double *read_pgm(const char *path, size_t *height, size_t *width)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  int w = 0, h = 0, maxv = 0;
  double *img = NULL;
  if (fscanf(f, "P5 %d %d %d", &w, &h, &maxv) == 3 && w > 0 && h > 0 &&
      maxv > 0 && maxv < 256 && fgetc(f) != EOF) {
    size_t n = (size_t)w * (size_t)h;
    unsigned char *buf = malloc(n);
    img = malloc(n * sizeof *img);
    if (buf && img && fread(buf, 1, n, f) == n) {
      for (size_t i = 0; i < n; i++)
        img[i] = buf[i] / (double)maxv;
      *height = (size_t)h;
      *width = (size_t)w;
    } else {
      free(img);
      img = NULL;
    }
    free(buf);
  }
  fclose(f);
  return img;
}

/* ---- finite-difference checks (assert through Criterion) ---- */

double lower_value(const hyd_problem *p, size_t i, const double *th,
                   const double *x, double *scratch)
{
  double v = NAN;
  cr_assert_eq(p->lower_grad(p->ctx, i, th, x, &v, scratch), 0);
  return v;
}

void fd_check_grad(const hyd_problem *p, size_t i, const double *th,
                   const double *x, double hstep, double M)
{
  size_t n = p->lower_dim(p->ctx, i);
  double *g = malloc(n * sizeof *g), *xp = malloc(n * sizeof *xp);
  double *s = malloc(n * sizeof *s);
  double f0;
  cr_assert_eq(p->lower_grad(p->ctx, i, th, x, &f0, g), 0);
  double tol = fd_tol(hstep, M, f0);
  memcpy(xp, x, n * sizeof *x);
  for (size_t j = 0; j < n; j++) {
    xp[j] = x[j] + hstep;
    double fp = lower_value(p, i, th, xp, s);
    xp[j] = x[j] - hstep;
    double fm = lower_value(p, i, th, xp, s);
    xp[j] = x[j];
    double fd = (fp - fm) / (2 * hstep);
    cr_assert(fabs(fd - g[j]) <= tol, "grad[%zu] %.12g fd %.12g tol %g", j,
              g[j], fd, tol);
  }
  free(g);
  free(xp);
  free(s);
}

void fd_check_hvp(const hyd_problem *p, size_t i, const double *th,
                  const double *x, const double *v, double hstep, double M)
{
  size_t n = p->lower_dim(p->ctx, i);
  double *Av = malloc(n * sizeof *Av), *xp = malloc(n * sizeof *xp);
  double *gp = malloc(n * sizeof *gp), *gm = malloc(n * sizeof *gm);
  cr_assert_eq(p->lower_hvp(p->ctx, i, th, x, v, Av), 0);
  for (size_t j = 0; j < n; j++)
    xp[j] = x[j] + hstep * v[j];
  cr_assert_eq(p->lower_grad(p->ctx, i, th, xp, NULL, gp), 0);
  for (size_t j = 0; j < n; j++)
    xp[j] = x[j] - hstep * v[j];
  cr_assert_eq(p->lower_grad(p->ctx, i, th, xp, NULL, gm), 0);
  double gmax = 0.0;
  for (size_t j = 0; j < n; j++)
    gmax = fmax(gmax, fabs(gp[j]));
  double tol = fd_tol(hstep, M, gmax);
  for (size_t j = 0; j < n; j++) {
    double fd = (gp[j] - gm[j]) / (2 * hstep);
    cr_assert(fabs(fd - Av[j]) <= tol, "Av[%zu] %.12g fd %.12g tol %g", j,
              Av[j], fd, tol);
  }
  free(Av);
  free(xp);
  free(gp);
  free(gm);
}

void fd_check_btq(const hyd_problem *p, size_t i, const double *th,
                  const double *x, const double *q, double hstep, double M)
{
  size_t n = p->lower_dim(p->ctx, i), np = p->n_theta;
  double *Btq = malloc(np * sizeof *Btq), *tp = malloc(np * sizeof *tp);
  double *g = malloc(n * sizeof *g);
  cr_assert_eq(p->cross_tprod(p->ctx, i, th, x, q, Btq), 0);
  /* rounding of <grad h, q> scales with sum |grad_j q_j| */
  cr_assert_eq(p->lower_grad(p->ctx, i, th, x, NULL, g), 0);
  double fscale = 0.0;
  for (size_t j = 0; j < n; j++)
    fscale += fabs(g[j] * q[j]);
  memcpy(tp, th, np * sizeof *th);
  for (size_t k = 0; k < np; k++) {
    tp[k] = th[k] + hstep;
    cr_assert_eq(p->lower_grad(p->ctx, i, tp, x, NULL, g), 0);
    double fp = vec_dot(n, g, q);
    tp[k] = th[k] - hstep;
    cr_assert_eq(p->lower_grad(p->ctx, i, tp, x, NULL, g), 0);
    double fm = vec_dot(n, g, q);
    tp[k] = th[k];
    double fd = (fp - fm) / (2 * hstep);
    double tol = fd_tol(hstep, M, fscale);
    cr_assert(fabs(fd - Btq[k]) <= tol, "BTq[%zu] %.12g fd %.12g tol %g", k,
              Btq[k], fd, tol);
  }
  free(Btq);
  free(tp);
  free(g);
}

void fd_check_upper(const hyd_problem *p, size_t i, const double *x,
                    double hstep, double M)
{
  size_t n = p->lower_dim(p->ctx, i);
  double *g = malloc(n * sizeof *g), *xp = malloc(n * sizeof *xp);
  double gv;
  cr_assert_eq(p->upper(p->ctx, i, x, &gv, g), 0);
  double tol = fd_tol(hstep, M, gv);
  memcpy(xp, x, n * sizeof *x);
  for (size_t j = 0; j < n; j++) {
    double fp, fm;
    xp[j] = x[j] + hstep;
    cr_assert_eq(p->upper(p->ctx, i, xp, &fp, NULL), 0);
    xp[j] = x[j] - hstep;
    cr_assert_eq(p->upper(p->ctx, i, xp, &fm, NULL), 0);
    xp[j] = x[j];
    double fd = (fp - fm) / (2 * hstep);
    cr_assert(fabs(fd - g[j]) <= tol, "grad g[%zu] %.12g fd %.12g tol %g", j,
              g[j], fd, tol);
  }
  free(g);
  free(xp);
}

void check_adjoint(const hyd_problem *p, size_t i, const double *th,
                   const double *x, const double *w, const double *q)
{
  size_t n = p->lower_dim(p->ctx, i), np = p->n_theta;
  double *Bw = malloc(n * sizeof *Bw), *Btq = malloc(np * sizeof *Btq);
  cr_assert_eq(p->cross_prod(p->ctx, i, th, x, w, Bw), 0);
  cr_assert_eq(p->cross_tprod(p->ctx, i, th, x, q, Btq), 0);
  double lhs = vec_dot(n, Bw, q), rhs = vec_dot(np, w, Btq);
  double scale = 0.0;
  for (size_t j = 0; j < n; j++)
    scale += fabs(Bw[j] * q[j]);
  cr_assert(fabs(lhs - rhs) <= 1e-13 * scale, "<Bw,q> %.17g <w,B^Tq> %.17g",
            lhs, rhs);
  free(Bw);
  free(Btq);
}

double gram_lmax(size_t n, size_t p, const double *cols)
{
  double *v = malloc(p * sizeof *v), *w = malloc(p * sizeof *w);
  double *mv = malloc(n * sizeof *mv), rho = 0.0;
  for (size_t a = 0; a < p; a++)
    v[a] = 1.0 + 0.01 * (double)a;
  for (int it = 0; it < 2000; it++) {
    double nv = vec_norm(p, v);
    for (size_t a = 0; a < p; a++)
      v[a] /= nv;
    memset(mv, 0, n * sizeof *mv);
    for (size_t a = 0; a < p; a++)
      for (size_t j = 0; j < n; j++)
        mv[j] += cols[a * n + j] * v[a];
    for (size_t a = 0; a < p; a++)
      w[a] = vec_dot(n, cols + a * n, mv);
    rho = vec_dot(p, v, w);
    memcpy(v, w, p * sizeof *v);
  }
  free(v);
  free(w);
  free(mv);
  return rho;
}

void two_folds(size_t rows, size_t nt, size_t *idx, hyd_logistic_fold f[2])
{
  for (size_t i = 0; i < rows; i++) {
    idx[i] = i;                      /* fold 0: train then val */
    idx[rows + i] = (i + rows - nt) % rows; /* fold 1: train then val */
  }
  f[0].train = idx;
  f[0].n_train = nt;
  f[0].val = idx + nt;
  f[0].n_val = rows - nt;
  f[1].train = idx + rows;
  f[1].n_train = nt;
  f[1].val = idx + rows + nt;
  f[1].n_val = rows - nt;
}
