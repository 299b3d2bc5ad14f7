/* compander_penalty.h (internal): the compander's penalty kappa psi(w/a),
 * shared by the problems that compand weights (logistic.c, mlp.c).
 *
 * psi(u) = tan^2 u for tan^2 u <= T (|u| <= u_c = atan sqrt T), continued
 * beyond by its second-order Taylor polynomial at u_c: convex, C^2, defined
 * everywhere, psi'' >= 2. Inside, with t = tan u, s = 1 + t^2:
 *   psi' = 2 t s,  psi'' = 2 (s^2 + 2 t^2 s),  psi''' = 8 t s (2 s + t^2),
 * psi'' and |psi'''| increasing in |u| up to u_c; beyond, psi'' = P2 and
 * psi''' = 0. */
#ifndef HYPERD_COMPANDER_PENALTY_H
#define HYPERD_COMPANDER_PENALTY_H

#include <stddef.h>

typedef struct hyd_psi {
  double T, uc;     /* cut-off tan^2 and the |u| where it is reached */
  double P1, P2;    /* psi', psi'' at u_c (value there: T) */
} hyd_psi;

/* HYD_EINVAL unless 0 < T <= 1e12. */
int hyd_psi_init(hyd_psi *psi, double cutoff_tan2);

/* psi, psi', psi'' at u. */
void hyd_psi_eval(const hyd_psi *psi, double u, double *p0, double *p1,
                  double *p2);

/* psi'' and psi''' at min(|u|, u_c): their sup over [-u, u]. */
void hyd_psi_sup23(const hyd_psi *psi, double u, double *p2, double *p3);

/* The terms of one weight w under kappa psi(w/a) + (l2/2) w^2: value, d/dw,
 * d2/dw2, and the log-parameter derivatives of d/dw: da = a d/da, dk =
 * kappa d/dkappa (the entries of B). */
typedef struct hyd_psi_terms {
  double v, d1, d2, da, dk;
} hyd_psi_terms;

void hyd_psi_terms_at(const hyd_psi *psi, double a, double kappa, double l2,
                      double w, hyd_psi_terms *t);

/* Bounds of group g's penalty for weights with |w|/a <= umax (the caller
 * adds its Lipschitz radius / a): curvature lo (mu) and hi (global L, as
 * the lower solver needs), the Lipschitz constant lb of w -> (da, dk) and la
 * of w -> d2. */
void hyd_psi_group_bounds(const hyd_psi *psi, double a, double kappa,
                          double l2, double umax, double *lo, double *hi,
                          double *lb, double *la);

/* Largest operator norm over groups of B's blocks, from per-group sums
 * gram = [sum da^2 (G), sum da dk (G), sum dk^2 (G)]: each group's columns
 * (da, dk) have disjoint supports from the other groups', so ||B|| is the
 * largest sqrt(lambda_max) of the 2 x 2 Gram matrices. */
double hyd_psi_norm_B(size_t G, const double *gram);

#endif
