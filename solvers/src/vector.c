#include <math.h>

#include "internal.h"

double hyd_dot(size_t n, const double *a, const double *b)
{
  double s = 0.0;
  for (size_t i = 0; i < n; i++)
    s += a[i] * b[i];
  return s;
}

double hyd_nrm2(size_t n, const double *a) { return sqrt(hyd_dot(n, a, a)); }

void hyd_axpy(size_t n, double alpha, const double *x, double *y)
{
  for (size_t i = 0; i < n; i++)
    y[i] += alpha * x[i];
}

void hyd_copy(size_t n, const double *src, double *dst)
{
  for (size_t i = 0; i < n; i++)
    dst[i] = src[i];
}

void hyd_zero(size_t n, double *x)
{
  for (size_t i = 0; i < n; i++)
    x[i] = 0.0;
}

int hyd_all_finite(size_t n, const double *x)
{
  for (size_t i = 0; i < n; i++)
    if (!isfinite(x[i]))
      return 0;
  return 1;
}
