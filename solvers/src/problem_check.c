#include <hyperd/problem.h>
#include <hyperd/status.h>

int hyd_problem_check(const hyd_problem *p)
{
  if (!p || p->version != HYD_PROBLEM_VERSION || p->n_theta == 0 ||
      p->n_samples == 0)
    return HYD_EINVAL;
  if (!p->lower_dim || !p->lower_grad || !p->lower_hvp || !p->cross_tprod ||
      !p->upper || !p->constants)
    return HYD_EINVAL;
  return HYD_OK;
}
