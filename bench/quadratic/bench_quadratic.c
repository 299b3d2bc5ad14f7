/* bench/quadratic: MAID's modes on the reference quadratic instance
 * (shared/reference/quadratic), against the reference implementation's
 * published run (shared/reference/README.md).
 *
 * For each mode: wall time (median of --repeats timed runs without any
 * monitor), lower-level and CG iterations, exact f at fixed iterations,
 * and the work to reach exact f <= 50, 30, 25, 23. Prints Markdown. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hyperd/hyperd.h>

#include "data/table.h"

static const double targets[] = {50, 30, 25, 23};
enum { N_TARGETS = 4 };
static const long checkpoints[] = {1, 2, 5, 10, 100, 1000, 2000, 3000};
enum { N_CHECK = 8 };

typedef struct mode {
  const char *label;
  const char *const *options;
} mode;

typedef struct trace {
  const hyd_quadratic *q;
  double f_at[N_CHECK];
  double lower_at[N_TARGETS], cg_at[N_TARGETS];
} trace;

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int watch(const hyd_maid *s, const hyd_maid_info *in, void *user)
{
  trace *t = user;
  double f;
  hyd_quadratic_exact(t->q, hyd_maid_theta(s), &f, NULL);
  for (int k = 0; k < N_CHECK; k++)
    if (in->iter == checkpoints[k])
      t->f_at[k] = f;
  for (int k = 0; k < N_TARGETS; k++)
    if (f <= targets[k] && isnan(t->lower_at[k])) {
      t->lower_at[k] = in->cost.lower_iters;
      t->cg_at[k] = in->cost.cg_iters;
    }
  return 0;
}

static hyd_maid *solver_for(const hyd_quadratic *q, const mode *m)
{
  hyd_maid *s;
  if (hyd_maid_create(&s, hyd_quadratic_problem(q), NULL) != HYD_OK)
    return NULL;
  double theta0[10];
  for (int j = 0; j < 10; j++)
    theta0[j] = 1.0;
  hyd_maid_set_theta0(s, theta0);
  for (int k = 0; m->options[k]; k += 2)
    if (hyd_maid_set_option(s, m->options[k], m->options[k + 1]) != HYD_OK) {
      fprintf(stderr, "%s: %s\n", m->label, hyd_maid_errmsg(s));
      exit(1);
    }
  return s;
}

static int cmp(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static hyd_quadratic *load(const char *dir)
{
  const char *names[] = {"A1", "A2", "A3", "b1", "b2", "x0"};
  double *a[6] = {0};
  char path[2048], err[512];
  for (int k = 0; k < 6; k++) {
    size_t r, c;
    snprintf(path, sizeof path, "%s/%s.csv", dir, names[k]);
    if (hyd_csv_read(path, &a[k], &r, &c, err, sizeof err) != 0) {
      fprintf(stderr, "%s\n", err);
      exit(2);
    }
  }
  hyd_quadratic *q = NULL;
  hyd_quadratic_create(&q, 1000, 10, 10, a[0], a[1], a[2], a[3], a[4], a[5],
                       NULL);
  for (int k = 0; k < 6; k++)
    free(a[k]);
  return q;
}

int main(int argc, char **argv)
{
  const char *dir = argc > 1 ? argv[1] : "../shared/reference/quadratic";
  int repeats = argc > 2 ? atoi(argv[2]) : 5;
  if (repeats < 1 || repeats > 50)
    repeats = 5;
  hyd_quadratic *q = load(dir);
  if (!q) {
    fprintf(stderr, "cannot build the reference instance\n");
    return 1;
  }
  static const char *const rigorous[] = {"method", "rigorous", "eps0", "1e-3",
                                         "delta0", "1e-3", "max_iter", "3000",
                                         NULL};
  static const char *const reference[] = {
      "method", "reference", "eps0", "1e-3", "delta0", "1e-3", "nu_up", "1.25",
      "ref.stop_scale", "2", "max_iter", "3000", NULL};
  static const char *const fixed[] = {"method", "fixed", "eps0", "1e-5",
                                      "delta0", "1e-5", "max_iter", "3000",
                                      "stall_rounds", "20", NULL};
  static const char *const hoag[] = {"method", "hoag", "eps0", "1e-3",
                                     "max_iter", "3000", "budget", "400000",
                                     NULL};
  const mode modes[] = {{"rigorous (eps0 1e-3)", rigorous},
                        {"reference profile (eps0 1e-3)", reference},
                        {"fixed eps 1e-5", fixed},
                        {"HOAG geometric (eps0 1e-3)", hoag}};
  const int n_modes = 4;
  printf("### Reference quadratic (1000 x 10, p = 10)\n\n");
  printf("Median wall time of %d runs without monitor; iterations and exact "
         "f from one traced run. Reference implementation (Python, float32): "
         "386 s, 313 818 lower-level + 64 107 CG iterations, f = 22.284 "
         "after 3000 iterations; f <= 23 after 260 881 + 55 141.\n\n",
         repeats);
  printf("| mode | stop | wall s | lower-level its | CG its | f(1) | f(2) | "
         "f(10) | f(100) | f(1000) | f(3000) |\n|---|---|---|---|---|---|---|"
         "---|---|---|---|\n");
  trace traces[4];
  for (int m = 0; m < n_modes; m++) {
    double walls[50];
    for (int r = 0; r < repeats; r++) {
      hyd_maid *s = solver_for(q, &modes[m]);
      hyd_maid_setup(s);
      double t0 = now();
      hyd_maid_solve(s);
      walls[r] = now() - t0;
      hyd_maid_destroy(s);
    }
    qsort(walls, (size_t)repeats, sizeof walls[0], cmp);
    trace *t = &traces[m];
    t->q = q;
    for (int k = 0; k < N_CHECK; k++)
      t->f_at[k] = NAN;
    for (int k = 0; k < N_TARGETS; k++)
      t->lower_at[k] = t->cg_at[k] = NAN;
    hyd_maid *s = solver_for(q, &modes[m]);
    hyd_maid_set_monitor(s, watch, t);
    hyd_maid_setup(s);
    hyd_maid_solve(s);
    hyd_maid_info in;
    hyd_maid_get_info(s, &in);
    double lower = strcmp(modes[m].label, "reference profile (eps0 1e-3)") == 0
                       ? in.cost.lower_iters_ref
                       : in.cost.lower_iters;
    printf("| %s | %s | %.3f | %.0f | %.0f | %.4g | %.4g | %.4g | %.4g | %.4g "
           "| %.4g |\n",
           modes[m].label, hyd_stop_reason_name(hyd_maid_stop_reason(s)),
           walls[repeats / 2], lower, in.cost.cg_iters, t->f_at[0],
           t->f_at[1], t->f_at[3], t->f_at[4], t->f_at[5], t->f_at[7]);
    hyd_maid_destroy(s);
  }
  printf("\nWork (lower-level + CG iterations) to first reach exact f <= "
         "target:\n\n| mode | f <= 50 | f <= 30 | f <= 25 | f <= 23 |\n"
         "|---|---|---|---|---|\n");
  printf("| reference implementation | 33 336 + 8 456 | 96 105 + 24 066 | "
         "174 243 + 39 881 | 260 881 + 55 141 |\n");
  for (int m = 0; m < n_modes; m++) {
    printf("| %s", modes[m].label);
    for (int k = 0; k < N_TARGETS; k++) {
      if (isnan(traces[m].lower_at[k]))
        printf(" | not reached");
      else
        printf(" | %.0f + %.0f", traces[m].lower_at[k], traces[m].cg_at[k]);
    }
    printf(" |\n");
  }
  double ratio = (traces[0].lower_at[3] + traces[0].cg_at[3]) /
                 (260881.0 + 55141.0);
  printf("\nRigorous mode reaches f <= 23 with %.3f of the reference's work "
         "(lower-level + CG iterations).\n", ratio);
  hyd_quadratic_destroy(q);
  return 0;
}
