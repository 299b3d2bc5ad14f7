/* hyperd/status.h: status codes shared by every libhyperd call.
 *
 * A status says whether a call *worked*. Why a solve *stopped* (converged,
 * budget spent, ...) is a separate thing: see hyd_stop_reason in maid.h.
 * Codes are append-only: a released value never changes meaning. */
#ifndef HYPERD_STATUS_H
#define HYPERD_STATUS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum hyd_status {
  HYD_OK = 0,
  HYD_EINVAL = 1,     /* bad argument or option value */
  HYD_ENOMEM = 2,     /* an allocation failed */
  HYD_ECALLBACK = 3,  /* a user callback returned non-zero */
  HYD_ENONFINITE = 4, /* a callback produced NaN or Inf */
  HYD_ESTATE = 5,     /* not allowed in the object's current state */
  HYD_ENOOPTION = 6,  /* unknown option name */
  HYD_EINTR = 7       /* a solve was cut short by hyd_maid_interrupt */
};

/* Static English text for a status code; never NULL. */
const char *hyd_strerror(int status);

/* Allocation hooks. Objects copy the struct they are given (NULL means the
 * C library's malloc/free) and use it for every allocation they make, so an
 * embedder can account for memory or inject failures. `alloc` returns NULL
 * on failure; `release` accepts NULL. */
typedef struct hyd_allocator {
  void *(*alloc)(void *user, size_t size);
  void (*release)(void *user, void *ptr);
  void *user;
} hyd_allocator;

/* Library version, "MAJOR.MINOR.PATCH". */
const char *hyd_version(void);

#ifdef __cplusplus
}
#endif
#endif
