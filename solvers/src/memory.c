#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

static void *libc_alloc(void *user, size_t size)
{
  (void)user;
  return malloc(size);
}

static void libc_release(void *user, void *ptr)
{
  (void)user;
  free(ptr);
}

void hyd_allocator_init(hyd_allocator *dst, const hyd_allocator *alloc)
{
  if (alloc && alloc->alloc && alloc->release) {
    *dst = *alloc;
  } else {
    dst->alloc = libc_alloc;
    dst->release = libc_release;
    dst->user = NULL;
  }
}

void *hyd_alloc_array(const hyd_allocator *a, size_t count, size_t size)
{
  if (size != 0 && count > SIZE_MAX / size)
    return NULL;
  /* Zero-length arrays still get a distinct pointer, so NULL always means
   * failure. */
  size_t bytes = count * size;
  return a->alloc(a->user, bytes ? bytes : 1);
}

void hyd_free(const hyd_allocator *a, void *ptr)
{
  if (ptr)
    a->release(a->user, ptr);
}

int hyd_set_error(char *buf, int status, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, HYD_ERRMSG_SIZE, fmt, ap);
  va_end(ap);
  return status;
}
