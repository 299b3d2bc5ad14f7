/* The compander's penalty kappa psi(w/a) (compander_penalty.h), shared by
 * the logistic and MLP problems. Derivations in docs/problems.md. */
#include <math.h>

#include <hyperd/status.h>

#include "compander_penalty.h"

int hyd_psi_init(hyd_psi *psi, double cutoff_tan2)
{
  if (!(isfinite(cutoff_tan2) && cutoff_tan2 > 0.0 && cutoff_tan2 <= 1e12))
    return HYD_EINVAL;
  double T = cutoff_tan2, t = sqrt(T), s = 1.0 + T;
  psi->T = T;
  psi->uc = atan(t);
  psi->P1 = 2.0 * t * s;
  psi->P2 = 2.0 * (s * s + 2.0 * T * s);
  return HYD_OK;
}

void hyd_psi_eval(const hyd_psi *psi, double u, double *p0, double *p1,
                  double *p2)
{
  double au = fabs(u);
  if (au <= psi->uc) {
    double t = tan(u), s = 1.0 + t * t;
    *p0 = t * t;
    *p1 = 2.0 * t * s;
    *p2 = 2.0 * (s * s + 2.0 * t * t * s);
  } else {
    double dd = au - psi->uc, sg = u < 0.0 ? -1.0 : 1.0;
    *p0 = psi->T + psi->P1 * dd + 0.5 * psi->P2 * dd * dd;
    *p1 = sg * (psi->P1 + psi->P2 * dd);
    *p2 = psi->P2;
  }
}

void hyd_psi_sup23(const hyd_psi *psi, double u, double *p2, double *p3)
{
  double um = fabs(u) < psi->uc ? fabs(u) : psi->uc;
  double t = tan(um), s = 1.0 + t * t;
  *p2 = 2.0 * (s * s + 2.0 * t * t * s);
  *p3 = 8.0 * t * s * (2.0 * s + t * t);
}

void hyd_psi_terms_at(const hyd_psi *psi, double a, double kappa, double l2,
                      double w, hyd_psi_terms *t)
{
  double u = w / a, p0, p1, p2;
  hyd_psi_eval(psi, u, &p0, &p1, &p2);
  t->v = kappa * p0 + 0.5 * l2 * w * w;
  t->d1 = kappa / a * p1 + l2 * w;
  t->d2 = kappa / (a * a) * p2 + l2;
  t->da = -kappa / a * (p1 + u * p2); /* a d/da of kappa/a psi'(w/a) */
  t->dk = kappa / a * p1;              /* kappa d/dkappa */
}

/* The derivative in w of B's columns (da, dk) is
 * (kappa/a^2)(-(2 psi'' + u psi'''), psi''), and of the Hessian
 * (kappa/a^3) psi'''; psi'' >= 2 gives lo, psi'' <= P2 gives hi. */
void hyd_psi_group_bounds(const hyd_psi *psi, double a, double kappa,
                          double l2, double umax, double *lo, double *hi,
                          double *lb, double *la)
{
  double c2 = kappa / (a * a), p2, p3;
  hyd_psi_sup23(psi, umax, &p2, &p3);
  double um = umax < psi->uc ? umax : psi->uc;
  double q = 2.0 * p2 + um * p3;
  *lo = 2.0 * c2 + l2;
  *hi = psi->P2 * c2 + l2;
  *lb = c2 * sqrt(q * q + p2 * p2);
  *la = c2 / a * p3;
}

double hyd_psi_norm_B(size_t G, const double *gram)
{
  double nb = 0.0;
  for (size_t g = 0; g < G; g++) {
    double ht = 0.5 * (gram[g] + gram[2 * G + g]);
    double hd = 0.5 * (gram[g] - gram[2 * G + g]);
    double v = sqrt(ht + sqrt(hd * hd + gram[G + g] * gram[G + g]));
    nb = v > nb ? v : nb;
  }
  return nb;
}
