/* The "mlp" problem type: a one-hidden-layer perceptron with companded
 * weights (hyperd/mlp.h) on a numeric table with its fixed split (the keys
 * of the logistic type's table form), or K folds of the training rows.
 *
 * Its lower level is non-convex: the problem table says so
 * (lower_nonconvex), every iteration is recorded as not certified, and the
 * session records and prints that the bound is a heuristic. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <hyperd/mlp.h>
#include <hyperd/oracle.h>

#include "problem_types.h"
#include "study.h"
#include "table_split.h"

typedef struct mlp_owner {
  hyd_mlp *mlp;   /* the study's problem (one fold per sample) */
  hyd_mlp *final; /* train -> validation, for the report (may be mlp) */
  hyd_table_split data;
  double *theta0; /* (a0, kappa0) per group */
} mlp_owner;

static void mlp_destroy(void *p)
{
  mlp_owner *o = p;
  if (o->final != o->mlp)
    hyd_mlp_destroy(o->final);
  hyd_mlp_destroy(o->mlp);
  hyd_table_split_free(&o->data);
  free(o->theta0);
  free(o);
}

/* The network retrained at theta from the seeded start (Newton-CG to
 * ||grad h|| <= 1e-8 mu): what the learned hyperparameters give, since
 * the run's own lower-level point depends on its path. */
static void mlp_report(void *p, const double *theta, FILE *out)
{
  mlp_owner *o = p;
  const hyd_problem *prob = hyd_mlp_problem(o->final);
  hyd_oracle_config cfg;
  hyd_oracle_config_default(&cfg);
  cfg.lower_method = HYD_LOWER_NEWTON_CG;
  cfg.lower_max_iter = 100000;
  hyd_sample *s = NULL;
  hyd_sample_trial tr;
  double vl, va, tl, ta;
  if (hyd_sample_create(&s, prob, 0, theta, 1, NULL) != HYD_OK ||
      hyd_sample_solve_trial(s, &cfg, theta, 1e-8, 0, &tr) != HYD_OK ||
      hyd_sample_accept(s, 0) != HYD_OK ||
      hyd_mlp_evaluate(o->final, hyd_sample_point(s), o->data.val,
                       o->data.n_val, &vl, &va) != HYD_OK ||
      hyd_mlp_evaluate(o->final, hyd_sample_point(s), o->data.test,
                       o->data.n_test, &tl, &ta) != HYD_OK) {
    fprintf(out, "report: retraining at the final theta failed%s%s\n",
            s ? ": " : "", s ? hyd_sample_errmsg(s) : "");
  } else {
    fprintf(out, "validation: loss %.6f, accuracy %.4f;  test: loss %.6f, "
            "accuracy %.4f  (%zu / %zu rows; network retrained from the "
            "seeded start)\n", vl, va, tl, ta, o->data.n_val,
            o->data.n_test);
  }
  hyd_sample_destroy(s);
  size_t G = prob->n_theta / 2;
  for (size_t g = 0; g < G && G <= 4; g++)
    fprintf(out, "group %zu: a = %.6g, kappa = %.6g (L2 weight near 0: "
            "2 kappa/a^2 = %.6g)\n", g, exp(theta[g]), exp(theta[G + g]),
            2.0 * exp(theta[G + g] - 2.0 * theta[g]));
}

static const char *const grouping_names[] = {"scalar", "per_layer",
                                             "per_unit"};

/* hidden, grouping, folds, a0, kappa0, cutoff_tan2, l2, init_scale, seed. */
static int read_keys(const cJSON *spec, const char *where, hyd_mlp_options *mo,
                     size_t *folds, double *a0, double *kappa0, char *err,
                     size_t errsz)
{
  const char *grouping = "per_layer";
  double seed = 0;
  hyd_mlp_options_default(mo);
  *folds = 1;
  *a0 = 0.5;
  *kappa0 = 0.125;
  int rc = hyd_json_get_string(spec, where, "grouping", 0, &grouping, err,
                               errsz);
  if (!rc && cJSON_GetObjectItemCaseSensitive(spec, "hidden"))
    rc = hyd_json_get_count(spec, where, "hidden", 1, &mo->hidden, err, errsz);
  if (!rc && cJSON_GetObjectItemCaseSensitive(spec, "folds"))
    rc = hyd_json_get_count(spec, where, "folds", 1, folds, err, errsz);
  if (!rc)
    rc = hyd_json_get_number(spec, where, "a0", 0, a0, err, errsz);
  if (!rc)
    rc = hyd_json_get_number(spec, where, "kappa0", 0, kappa0, err, errsz);
  if (!rc)
    rc = hyd_json_get_number(spec, where, "cutoff_tan2", 0, &mo->cutoff_tan2,
                             err, errsz);
  if (!rc)
    rc = hyd_json_get_number(spec, where, "l2", 0, &mo->l2, err, errsz);
  if (!rc)
    rc = hyd_json_get_number(spec, where, "init_scale", 0, &mo->init_scale,
                             err, errsz);
  if (!rc)
    rc = hyd_json_get_number(spec, where, "seed", 0, &seed, err, errsz);
  if (rc)
    return rc;
  mo->grouping = -1;
  for (int k = 0; k < 3; k++)
    if (strcmp(grouping_names[k], grouping) == 0)
      mo->grouping = k;
  mo->seed = (unsigned long)seed;
  if (mo->grouping < 0 || mo->hidden < 1 || mo->hidden > 4096 ||
      *folds > 100 || !(*a0 > 0) || !(*kappa0 > 0) ||
      !(mo->cutoff_tan2 > 0 && mo->cutoff_tan2 <= 1e12) || !(mo->l2 >= 0) ||
      !(mo->init_scale > 0) || !(seed >= 0 && seed <= 4294967295.0) ||
      seed != floor(seed)) {
    snprintf(err, errsz, "%s: grouping must be scalar, per_layer or "
             "per_unit; hidden in 1 .. 4096; folds <= 100; a0, kappa0, "
             "init_scale > 0; cutoff_tan2 in (0, 1e12]; l2 >= 0; seed an "
             "integer in [0, 2^32)", where);
    return 2;
  }
  return 0;
}

/* K folds of the training rows in their file order. */
static int create_folds(mlp_owner *o, size_t folds, const hyd_mlp_options *mo)
{
  const hyd_table_split *t = &o->data;
  hyd_logistic_fold *f = calloc(folds, sizeof *f);
  size_t *tr = malloc(folds * t->n_train * sizeof *tr);
  int rc = HYD_ENOMEM;
  if (f && tr) {
    for (size_t k = 0; k < folds; k++) {
      size_t lo = k * t->n_train / folds, hi = (k + 1) * t->n_train / folds;
      size_t *rows = tr + k * t->n_train, nt = 0;
      for (size_t r = 0; r < t->n_train; r++)
        if (r < lo || r >= hi)
          rows[nt++] = t->train[r];
      f[k] = (hyd_logistic_fold){rows, nt, t->train + lo, hi - lo};
    }
    rc = hyd_mlp_create(&o->mlp, t->rows, t->d, t->classes, t->X, t->labels,
                        folds, f, mo, NULL);
  }
  free(f);
  free(tr);
  return rc;
}

int hyd_build_mlp(const cJSON *spec, const char *dir, const char *where,
                  hyd_built_problem *out, char *err, size_t errsz)
{
  static const char *const keys[] = {
      "type", "table", "feature_scale", "split", "hidden", "grouping",
      "folds", "a0", "kappa0", "cutoff_tan2", "l2", "init_scale", "seed",
      NULL};
  hyd_mlp_options mo;
  size_t folds;
  double a0, kappa0;
  int rc = hyd_json_check_keys(spec, where, keys, err, errsz);
  if (!rc)
    rc = read_keys(spec, where, &mo, &folds, &a0, &kappa0, err, errsz);
  if (rc)
    return rc;
  mo.flags = HYD_MLP_BORROW_DATA;
  cJSON *sums = cJSON_CreateObject();
  mlp_owner *o = calloc(1, sizeof *o);
  if (!o || !sums) {
    snprintf(err, errsz, "out of memory");
    rc = 1;
    goto fail;
  }
  if ((rc = hyd_table_split_load(spec, dir, where, &o->data, sums, err,
                                 errsz)))
    goto fail;
  const hyd_table_split *t = &o->data;
  hyd_logistic_fold fixed = {t->train, t->n_train, t->val, t->n_val};
  int mrc = hyd_mlp_create(&o->final, t->rows, t->d, t->classes, t->X,
                           t->labels, 1, &fixed, &mo, NULL);
  if (!mrc && folds == 1)
    o->mlp = o->final;
  else if (!mrc)
    mrc = create_folds(o, folds, &mo);
  size_t p = hyd_mlp_n_groups(&mo) * 2;
  if (!mrc && !(o->theta0 = malloc(p * sizeof *o->theta0)))
    mrc = HYD_ENOMEM;
  if (!mrc)
    mrc = hyd_mlp_theta_init(o->mlp, a0, kappa0, o->theta0);
  if (mrc) {
    snprintf(err, errsz, "%s: %s (labels, indices and sizes must fit)", where,
             hyd_strerror(mrc));
    rc = mrc == HYD_ENOMEM ? 1 : 2;
    goto fail;
  }
  out->problem = hyd_mlp_problem(o->mlp);
  out->owner = o;
  out->destroy = mlp_destroy;
  out->report = mlp_report;
  out->theta0 = o->theta0;
  out->checksums = sums;
  snprintf(out->summary, sizeof out->summary,
           "MLP %zu-%zu-%zu (tanh, companded weights, %s), %zu train / %zu "
           "val / %zu test rows, %zu fold%s, seed %lu", t->d, mo.hidden,
           t->classes, grouping_names[mo.grouping], t->n_train, t->n_val,
           t->n_test, folds, folds > 1 ? "s" : "", mo.seed);
  return 0;
fail:
  if (o)
    mlp_destroy(o);
  cJSON_Delete(sums);
  return rc ? rc : 1;
}
