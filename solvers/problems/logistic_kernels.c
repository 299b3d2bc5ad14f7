/* Row-blocked kernels of multinomial logistic regression
 * (logistic_kernels.h). */
#include "logistic_kernels.h"

/* An AVX2 clone chosen at load time, as in tv.c. Every loop below keeps
 * four independent partial sums per dot product in a fixed order and no
 * FMA is enabled, so the AVX2 and the baseline clone give the same bits. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    defined(__ELF__)
#define LR_HOT __attribute__((target_clones("avx2", "default")))
#else
#define LR_HOT
#endif

/* Four partial sums, lane k over j = k mod 4, then (s0 + s1) + (s2 + s3)
 * and the tail: the one summation order of every dot product here. */
static inline double dot_finish(const double a[4], size_t d, size_t j0,
                                const double *x, const double *w)
{
  double s = (a[0] + a[1]) + (a[2] + a[3]);
  for (size_t j = j0; j < d; j++)
    s += x[j] * w[j];
  return s;
}

LR_HOT void hyd_lr_logits(size_t d, size_t C, const double *X,
                          const size_t *idx, size_t nr, const double *Wt,
                          double *Z)
{
  size_t d4 = d & ~(size_t)3, i = 0;
  for (; i + 4 <= nr; i += 4) {
    const double *x0 = X + idx[i] * d, *x1 = X + idx[i + 1] * d,
                 *x2 = X + idx[i + 2] * d, *x3 = X + idx[i + 3] * d;
    for (size_t c = 0; c < C; c++) {
      const double *w = Wt + c * d;
      double a0[4] = {0}, a1[4] = {0}, a2[4] = {0}, a3[4] = {0};
      for (size_t j = 0; j < d4; j += 4)
        for (size_t k = 0; k < 4; k++) {
          a0[k] += x0[j + k] * w[j + k];
          a1[k] += x1[j + k] * w[j + k];
          a2[k] += x2[j + k] * w[j + k];
          a3[k] += x3[j + k] * w[j + k];
        }
      Z[i * C + c] = dot_finish(a0, d, d4, x0, w);
      Z[(i + 1) * C + c] = dot_finish(a1, d, d4, x1, w);
      Z[(i + 2) * C + c] = dot_finish(a2, d, d4, x2, w);
      Z[(i + 3) * C + c] = dot_finish(a3, d, d4, x3, w);
    }
  }
  for (; i < nr; i++) {
    const double *x = X + idx[i] * d;
    for (size_t c = 0; c < C; c++) {
      const double *w = Wt + c * d;
      double a[4] = {0};
      for (size_t j = 0; j < d4; j += 4)
        for (size_t k = 0; k < 4; k++)
          a[k] += x[j + k] * w[j + k];
      Z[i * C + c] = dot_finish(a, d, d4, x, w);
    }
  }
}

LR_HOT void hyd_lr_accumulate(size_t d, size_t C, const double *X,
                              const size_t *idx, size_t nr, const double *U,
                              double *Gt)
{
  size_t i = 0;
  for (; i + 4 <= nr; i += 4) {
    const double *x0 = X + idx[i] * d, *x1 = X + idx[i + 1] * d,
                 *x2 = X + idx[i + 2] * d, *x3 = X + idx[i + 3] * d;
    for (size_t c = 0; c < C; c++) {
      double u0 = U[i * C + c], u1 = U[(i + 1) * C + c],
             u2 = U[(i + 2) * C + c], u3 = U[(i + 3) * C + c];
      double *g = Gt + c * d;
      for (size_t j = 0; j < d; j++)
        g[j] += (u0 * x0[j] + u1 * x1[j]) + (u2 * x2[j] + u3 * x3[j]);
    }
  }
  for (; i < nr; i++) {
    const double *x = X + idx[i] * d;
    for (size_t c = 0; c < C; c++) {
      double u = U[i * C + c];
      double *g = Gt + c * d;
      for (size_t j = 0; j < d; j++)
        g[j] += u * x[j];
    }
  }
}

void hyd_lr_transpose(size_t rows, size_t cols, const double *in, double *out)
{
  for (size_t r = 0; r < rows; r++)
    for (size_t c = 0; c < cols; c++)
      out[c * rows + r] = in[r * cols + c];
}
