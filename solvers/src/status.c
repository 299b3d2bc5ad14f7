#include <hyperd/status.h>

const char *hyd_strerror(int status)
{
  switch (status) {
  case HYD_OK: return "success";
  case HYD_EINVAL: return "invalid argument";
  case HYD_ENOMEM: return "out of memory";
  case HYD_ECALLBACK: return "a problem callback failed";
  case HYD_ENONFINITE: return "a problem callback produced NaN or Inf";
  case HYD_ESTATE: return "call not allowed in the current state";
  case HYD_ENOOPTION: return "unknown option";
  case HYD_EINTR: return "interrupted";
  default: return "unknown status";
  }
}

const char *hyd_version(void) { return "0.1.0"; }
