/* Row-blocked kernels of multinomial logistic regression
 * (logistic_kernels.h). */
#include "logistic_kernels.h"

#include <string.h>

/* An AVX2 clone chosen at load time, as in tv.c. No FMA is enabled and
 * every sum below has a fixed order, so the AVX2 and the baseline clone
 * give the same bits. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    defined(__ELF__)
#define LR_HOT __attribute__((target_clones("avx2", "default")))
#else
#define LR_HOT
#endif
/* Tiles are inlined into each clone, so that they get its instructions. */
#if defined(__GNUC__)
#define LR_TILE static inline __attribute__((always_inline))
#else
#define LR_TILE static inline
#endif

/* Four lanes of doubles: a GNU vector (one AVX2 register, two SSE2 ones),
 * or a plain array elsewhere; the arithmetic is the same lane by lane.
 * Macros, not functions: a function passing AVX vectors by value would
 * have a different ABI in the two clones. */
#if defined(__GNUC__)
typedef double lanes __attribute__((vector_size(4 * sizeof(double))));
#define LANES_ZERO ((lanes){0.0, 0.0, 0.0, 0.0})
#define LANES_MADD(a, x, y) ((a) += (x) * (y))
#define LANE(a, k) ((a)[k])
#define LANES_BROADCAST(dst, s) ((dst) = LANES_ZERO + (s))
#else
typedef struct { double v[4]; } lanes;
#define LANES_ZERO ((lanes){{0.0, 0.0, 0.0, 0.0}})
#define LANES_MADD(a, x, y)                                                    \
  do {                                                                         \
    for (int k_ = 0; k_ < 4; k_++)                                             \
      (a).v[k_] += (x).v[k_] * (y).v[k_];                                      \
  } while (0)
#define LANE(a, k) ((a).v[k])
#define LANES_BROADCAST(dst, s)                                                \
  do {                                                                         \
    for (int k_ = 0; k_ < 4; k_++)                                             \
      (dst).v[k_] = (s);                                                       \
  } while (0)
#endif
#define LANES_LOAD(v, p) memcpy(&(v), (p), sizeof(v))
/* The register tile both data passes share: accumulators a0..a3 (times v0)
 * and b0..b3 (times v1) over the four vectors y0..y3. */
#define TILE_MADD_4X2()                                                        \
  do {                                                                         \
    LANES_MADD(a0, y0, v0);                                                    \
    LANES_MADD(a1, y1, v0);                                                    \
    LANES_MADD(a2, y2, v0);                                                    \
    LANES_MADD(a3, y3, v0);                                                    \
    LANES_MADD(b0, y0, v1);                                                    \
    LANES_MADD(b1, y1, v1);                                                    \
    LANES_MADD(b2, y2, v1);                                                    \
    LANES_MADD(b3, y3, v1);                                                    \
  } while (0)
#define LANES_SUM(a) ((LANE(a, 0) + LANE(a, 1)) + (LANE(a, 2) + LANE(a, 3)))

/* Every dot product here sums lane k over j = k mod 4, then
 * (l0 + l1) + (l2 + l3), then the tail j >= d4 in order. */
LR_TILE double dot_finish(double s, size_t d, size_t d4, const double *x,
                                const double *w)
{
  for (size_t j = d4; j < d; j++)
    s += x[j] * w[j];
  return s;
}

/* Logits of four rows for classes c and c + 1 (two = 1) or c alone: eight
 * accumulators named one by one, so that they stay in registers. */
LR_TILE void logits_4rows(size_t d, size_t C, const double *const x[4],
                                const double *Wt, size_t c, int two,
                                double *Z)
{
  size_t d4 = d & ~(size_t)3;
  const double *w0 = Wt + c * d, *w1 = two ? w0 + d : w0;
  const double *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
  lanes a0 = LANES_ZERO, a1 = LANES_ZERO, a2 = LANES_ZERO, a3 = LANES_ZERO;
  lanes b0 = LANES_ZERO, b1 = LANES_ZERO, b2 = LANES_ZERO, b3 = LANES_ZERO;
  for (size_t j = 0; j < d4; j += 4) {
    lanes v0, v1, y0, y1, y2, y3;
    LANES_LOAD(v0, w0 + j);
    LANES_LOAD(v1, w1 + j);
    LANES_LOAD(y0, x0 + j);
    LANES_LOAD(y1, x1 + j);
    LANES_LOAD(y2, x2 + j);
    LANES_LOAD(y3, x3 + j);
    TILE_MADD_4X2();
  }
  Z[c] = dot_finish(LANES_SUM(a0), d, d4, x0, w0);
  Z[C + c] = dot_finish(LANES_SUM(a1), d, d4, x1, w0);
  Z[2 * C + c] = dot_finish(LANES_SUM(a2), d, d4, x2, w0);
  Z[3 * C + c] = dot_finish(LANES_SUM(a3), d, d4, x3, w0);
  if (two) {
    Z[c + 1] = dot_finish(LANES_SUM(b0), d, d4, x0, w1);
    Z[C + c + 1] = dot_finish(LANES_SUM(b1), d, d4, x1, w1);
    Z[2 * C + c + 1] = dot_finish(LANES_SUM(b2), d, d4, x2, w1);
    Z[3 * C + c + 1] = dot_finish(LANES_SUM(b3), d, d4, x3, w1);
  }
}

LR_HOT void hyd_lr_logits(size_t d, size_t C, const double *X,
                          const size_t *idx, size_t nr, const double *Wt,
                          double *Z)
{
  size_t d4 = d & ~(size_t)3, i = 0;
  for (; i + 4 <= nr; i += 4) {
    const double *x[4] = {X + idx[i] * d, X + idx[i + 1] * d,
                          X + idx[i + 2] * d, X + idx[i + 3] * d};
    size_t c = 0;
    for (; c + 2 <= C; c += 2)
      logits_4rows(d, C, x, Wt, c, 1, Z + i * C);
    if (c < C)
      logits_4rows(d, C, x, Wt, c, 0, Z + i * C);
  }
  for (; i < nr; i++) {
    const double *x = X + idx[i] * d;
    for (size_t c = 0; c < C; c++) {
      const double *w = Wt + c * d;
      lanes a = LANES_ZERO;
      for (size_t j = 0; j < d4; j += 4) {
        lanes xj, wj;
        LANES_LOAD(xj, x + j);
        LANES_LOAD(wj, w + j);
        LANES_MADD(a, xj, wj);
      }
      Z[i * C + c] = dot_finish(LANES_SUM(a), d, d4, x, w);
    }
  }
}

/* Gt[c][j] += sum_r U[r][c] x_r[j] for two classes and 16 features: the
 * eight sums stay in registers over all the block's rows (two broadcasts
 * and four loads per eight multiply-adds, and Gt is touched once). */
LR_TILE void accumulate_2x16(size_t d, size_t C, const double *X,
                                   const size_t *idx, size_t nr,
                                   const double *U, double *Gt, size_t c,
                                   size_t j)
{
  lanes a0 = LANES_ZERO, a1 = LANES_ZERO, a2 = LANES_ZERO, a3 = LANES_ZERO;
  lanes b0 = LANES_ZERO, b1 = LANES_ZERO, b2 = LANES_ZERO, b3 = LANES_ZERO;
  for (size_t r = 0; r < nr; r++) {
    const double *x = X + idx[r] * d + j;
    lanes y0, y1, y2, y3;
    LANES_LOAD(y0, x);
    LANES_LOAD(y1, x + 4);
    LANES_LOAD(y2, x + 8);
    LANES_LOAD(y3, x + 12);
    lanes v0, v1;
    LANES_BROADCAST(v0, U[r * C + c]);
    LANES_BROADCAST(v1, U[r * C + c + 1]);
    TILE_MADD_4X2();
  }
  double *g = Gt + c * d + j, *h = g + d;
  for (int k = 0; k < 4; k++) {
    g[k] += LANE(a0, k);
    g[4 + k] += LANE(a1, k);
    g[8 + k] += LANE(a2, k);
    g[12 + k] += LANE(a3, k);
    h[k] += LANE(b0, k);
    h[4 + k] += LANE(b1, k);
    h[8 + k] += LANE(b2, k);
    h[12 + k] += LANE(b3, k);
  }
}

/* The same sums for one class and one feature: the edges of the tiling
 * (and the same order: every Gt element sums its rows in block order,
 * then joins Gt, so each path gives the same bits). */
LR_TILE void accumulate_1x1(size_t d, size_t C, const double *X,
                                  const size_t *idx, size_t nr,
                                  const double *U, double *Gt, size_t c,
                                  size_t j)
{
  double a = 0.0;
  for (size_t r = 0; r < nr; r++)
    a += U[r * C + c] * X[idx[r] * d + j];
  Gt[c * d + j] += a;
}

LR_HOT void hyd_lr_accumulate(size_t d, size_t C, const double *X,
                              const size_t *idx, size_t nr, const double *U,
                              double *Gt)
{
  size_t d16 = d & ~(size_t)15, c = 0;
  for (; c + 2 <= C; c += 2) {
    for (size_t j = 0; j < d16; j += 16)
      accumulate_2x16(d, C, X, idx, nr, U, Gt, c, j);
    for (size_t j = d16; j < d; j++) {
      accumulate_1x1(d, C, X, idx, nr, U, Gt, c, j);
      accumulate_1x1(d, C, X, idx, nr, U, Gt, c + 1, j);
    }
  }
  if (c < C)
    for (size_t j = 0; j < d; j++)
      accumulate_1x1(d, C, X, idx, nr, U, Gt, c, j);
}

void hyd_lr_transpose(size_t rows, size_t cols, const double *in, double *out)
{
  for (size_t r = 0; r < rows; r++)
    for (size_t c = 0; c < cols; c++)
      out[c * rows + r] = in[r * cols + c];
}
