/* Helpers shared by the unit tests: the reference quadratic instance and
 * a fault-injecting allocator. */
#ifndef HYPERD_TEST_SUPPORT_H
#define HYPERD_TEST_SUPPORT_H

#include <stddef.h>

#include <hyperd/hyperd.h>

/* Reads a header-free numeric CSV of exactly `count` values (row-major);
 * returns a malloc'ed array or NULL. */
double *test_read_csv(const char *path, size_t count);

/* The instance in shared/reference/quadratic/ (NULL if it cannot be read). */
hyd_quadratic *test_reference_quadratic(void);

/* An allocator that fails its k-th allocation (k >= 1; 0 never fails) and
 * counts live blocks, to find leaks and unchecked failures. */
typedef struct test_alloc {
  long fail_at, calls, live;
} test_alloc;
hyd_allocator test_allocator(test_alloc *state);

#endif
