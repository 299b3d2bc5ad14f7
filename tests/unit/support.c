#include <stdio.h>
#include <stdlib.h>

#include "support.h"

double *test_read_csv(const char *path, size_t count)
{
  FILE *f = fopen(path, "r");
  if (!f)
    return NULL;
  double *v = malloc(count * sizeof(double));
  size_t k = 0;
  while (v && k < count && fscanf(f, " %lf ,", &v[k]) == 1)
    k++;
  fclose(f);
  if (k != count) {
    free(v);
    return NULL;
  }
  return v;
}

hyd_quadratic *test_reference_quadratic(void)
{
  const char *dir = HYD_SHARED_DIR "/reference/quadratic/";
  const char *names[] = {"A1", "A2", "A3", "b1", "b2", "x0"};
  size_t counts[] = {10000, 10000, 10000, 1000, 1000, 10};
  double *a[6] = {0};
  char path[1024];
  int ok = 1;
  for (int i = 0; i < 6; i++) {
    snprintf(path, sizeof path, "%s%s.csv", dir, names[i]);
    a[i] = test_read_csv(path, counts[i]);
    ok = ok && a[i];
  }
  hyd_quadratic *q = NULL;
  if (ok)
    hyd_quadratic_create(&q, 1000, 10, 10, a[0], a[1], a[2], a[3], a[4], a[5],
                         NULL);
  for (int i = 0; i < 6; i++)
    free(a[i]);
  return q;
}

static void *counting_alloc(void *user, size_t size)
{
  test_alloc *t = user;
  t->calls++;
  if (t->fail_at > 0 && t->calls == t->fail_at)
    return NULL;
  void *p = malloc(size);
  if (p)
    t->live++;
  return p;
}

static void counting_release(void *user, void *ptr)
{
  test_alloc *t = user;
  if (ptr)
    t->live--;
  free(ptr);
}

hyd_allocator test_allocator(test_alloc *state)
{
  hyd_allocator a = {counting_alloc, counting_release, state};
  return a;
}
