/* The "logistic" problem type: multinomial logistic regression with
 * learned L2 weights on a numeric table (label in the last column) with a
 * fixed train / validation / test split, or K folds of the training rows;
 * or on Fashion-MNIST ("data": "fashion": the first train_rows images of
 * the IDX training set train, the next val_rows validate, the IDX test set
 * tests; pixels / 255).
 *
 * "parallel": "rows" (one fold only) splits the training and validation
 * rows across the ranks of an MPI job (workers/rowsplit.h): each rank
 * builds a problem over its block, rank 0 gets the row-split table, and
 * job.c connects the blocks when the study starts. With one process (no
 * mpirun) the key changes nothing: the serial problem is built. "none"
 * (the default) keeps the whole problem on every rank (the sample-parallel
 * MPI oracle, which has one sample to place when folds = 1).
 *
 * The "compander" type is the same classifier with the weight compander's
 * penalty (hyperd/compander.h): theta = [log a_g, log kappa_g], started at
 * (a0, kappa0) unless the study gives theta0; serial only (no "parallel"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <hyperd/compander.h>
#include <hyperd/logistic.h>
#include <hyperd/oracle.h>

#include "data/raw.h"
#include "data/sha256.h"
#include "job.h"
#include "rowsplit.h"
#include "problem_types.h"
#include "study.h"
#include "table_split.h"

typedef struct lr_owner {
  hyd_logistic *lr;    /* the study's problem (one fold per sample) */
  hyd_logistic *final; /* train -> validation, for the report (may be lr) */
  size_t *test, n_test, *val, n_val, d, classes;
  hyd_rowsplit *rs;    /* "parallel": "rows" under mpirun: lr is the block */
  double *X;           /* the data lr borrows */
  int *labels;
  double *theta0;      /* compander: the start (a0, kappa0) per group */
} lr_owner;

static void lr_destroy(void *p)
{
  lr_owner *o = p;
  hyd_rowsplit_destroy(o->rs);
  if (o->final != o->lr)
    hyd_logistic_destroy(o->final);
  hyd_logistic_destroy(o->lr);
  free(o->test);
  free(o->val);
  free(o->X);
  free(o->labels);
  free(o->theta0);
  free(o);
}

/* Row split: the lower level through the connected ranks, then loss and
 * accuracy summed over every rank's validation and test rows. */
static void lr_report_rows(lr_owner *o, const double *theta, FILE *out)
{
  size_t n = o->d * o->classes, nv = 0, nt = 0;
  double *W = calloc(n, sizeof *W), vl, va, tl = NAN, ta = NAN;
  const hyd_problem *prob = hyd_rowsplit_problem(o->rs);
  if (W && hyd_rowsplit_connected(o->rs) &&
      hyd_solve_lower_with(prob, 0, theta, 1e-8, HYD_LOWER_NEWTON_CG, W,
                           NULL, NULL) == HYD_OK &&
      hyd_rowsplit_evaluate(o->rs, W, 0, &vl, &va, &nv) == HYD_OK) {
    hyd_rowsplit_evaluate(o->rs, W, 1, &tl, &ta, &nt);
    fprintf(out, "validation: loss %.6f, accuracy %.4f;  test: loss %.6f, "
            "accuracy %.4f  (%zu / %zu rows, split over the ranks)\n", vl, va,
            tl, ta, nv, nt);
  }
  free(W);
}

/* The compander's learned (a, kappa) (up to 4 groups), the L2 weight
 * 2 kappa/a^2 the penalty has near W = 0, and whether the weights stay
 * where the penalty is the paper's barrier kappa tan^2(W/a). */
static void compander_report(const lr_owner *o, const double *theta,
                             const double *W, size_t G, FILE *out)
{
  for (size_t g = 0; g < G && G <= 4; g++) {
    double a = exp(theta[g]), kappa = exp(theta[G + g]);
    fprintf(out, "group %zu: a = %.6g, kappa = %.6g (L2 weight near 0: "
            "2 kappa/a^2 = %.6g)\n", g, a, kappa, 2.0 * kappa / (a * a));
  }
  int inside = 0;
  if (hyd_logistic_compander_inside(o->final, theta, W, &inside) == HYD_OK)
    fprintf(out, "weights %s the barrier's domain (|W| <= a atan(sqrt "
            "cutoff_tan2))\n", inside ? "inside" : "NOT inside");
}

static void lr_report(void *p, const double *theta, const double *x0,
                      FILE *out)
{
  lr_owner *o = p;
  if (o->rs) {
    lr_report_rows(o, theta, out);
    if (hyd_rowsplit_problem(o->rs)->n_theta <= 4) {
      fprintf(out, "L2 weights e^theta =");
      for (size_t j = 0; j < hyd_rowsplit_problem(o->rs)->n_theta; j++)
        fprintf(out, " %.6g", exp(theta[j]));
      fprintf(out, "\n");
    }
    return;
  }
  size_t n = o->d * o->classes;
  double *W = calloc(n, sizeof *W);
  if (!W)
    return;
  const hyd_problem *prob = hyd_logistic_problem(o->final);
  /* o->final is o->lr (one fold) or its train -> validation problem (K
   * folds), whose solution is not fold 0's: then from 0. */
  if (x0 && o->final == o->lr)
    memcpy(W, x0, n * sizeof *W);
  /* Newton-CG, not the default accelerated gradient: with small learned
   * weights the lower level is ill-conditioned, and a 1e-8 solve by FISTA
   * took minutes on Fashion-MNIST with 784 weights. */
  if (hyd_solve_lower_with(prob, 0, theta, 1e-8, HYD_LOWER_NEWTON_CG, W, NULL,
                           NULL) == HYD_OK) {
    double vl, va, tl, ta;
    hyd_logistic_evaluate(o->final, W, o->val, o->n_val, &vl, &va);
    hyd_logistic_evaluate(o->final, W, o->test, o->n_test, &tl, &ta);
    fprintf(out, "validation: loss %.6f, accuracy %.4f;  test: loss %.6f, "
            "accuracy %.4f  (%zu / %zu rows)\n", vl, va, tl, ta, o->n_val,
            o->n_test);
  }
  if (o->theta0)
    compander_report(o, theta, W, prob->n_theta / 2, out);
  else if (prob->n_theta <= 4) {
    fprintf(out, "L2 weights e^theta =");
    for (size_t j = 0; j < prob->n_theta; j++)
      fprintf(out, " %.6g", exp(theta[j]));
    fprintf(out, "\n");
  }
  free(W);
}

static const char *const grouping_names[] = {"scalar", "per_feature",
                                             "per_class", "per_weight"};

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

/* This rank's block of a row-split study (one fold): its slices of the
 * training and validation rows, the test rows' slice for the report. */
static int build_block(lr_owner *o, size_t rows, size_t d, size_t classes,
                       const size_t *train, size_t n_train, int grouping,
                       const char *where, char *err, size_t errsz)
{
  int rank = hyd_job_rank(), size = hyd_job_size();
  if (n_train < (size_t)size || o->n_val < (size_t)size) {
    snprintf(err, errsz, "%s: parallel: rows needs a training and a "
             "validation row per rank (%zu and %zu rows, %d ranks)", where,
             n_train, o->n_val, size);
    return 2;
  }
  size_t tlo, thi, vlo, vhi, xlo, xhi;
  hyd_rowsplit_block(n_train, rank, size, &tlo, &thi);
  hyd_rowsplit_block(o->n_val, rank, size, &vlo, &vhi);
  hyd_rowsplit_block(o->n_test, rank, size, &xlo, &xhi);
  hyd_logistic_fold f = {train + tlo, thi - tlo, o->val + vlo, vhi - vlo};
  int lrc = hyd_logistic_create(&o->lr, rows, d, classes, o->X, o->labels, 1,
                                &f, grouping,
                                HYD_LOGISTIC_BORROW_DATA |
                                    HYD_LOGISTIC_NO_BOUNDS,
                                NULL);
  o->final = o->lr;
  const size_t *ev[2] = {o->val + vlo, o->test ? o->test + xlo : NULL};
  size_t nev[2] = {vhi - vlo, xhi - xlo};
  if (!lrc)
    lrc = hyd_rowsplit_prepare(&o->rs, o->lr, ev, nev, NULL);
  if (lrc) {
    snprintf(err, errsz, "%s: %s (row block of rank %d)", where,
             hyd_strerror(lrc), rank);
    return lrc == HYD_ENOMEM ? 1 : 2;
  }
  return 0;
}

/* Fashion-MNIST from the IDX files: rows train_rows + val_rows (from the
 * training set, in file order) + test_rows (the test set), 784 pixels / 255,
 * 10 classes; train indices into *train. */
static int load_fashion(const cJSON *spec, const char *dir, const char *where,
                        lr_owner *o, size_t *rows, size_t *d, size_t *classes,
                        size_t **train, size_t *n_train, cJSON *sums,
                        char *err, size_t errsz)
{
  size_t ntr = 10000, nval = 5000, ntest = 10000;
  const char *fdir = FASHION_DIR;
  static const char *const names[] = {"train-images-idx3-ubyte.gz",
                                      "train-labels-idx1-ubyte.gz",
                                      "t10k-images-idx3-ubyte.gz",
                                      "t10k-labels-idx1-ubyte.gz"};
  int rc = hyd_json_get_string(spec, where, "dir", 0, &fdir, err, errsz);
  if (!rc && cJSON_GetObjectItemCaseSensitive(spec, "train_rows"))
    rc = hyd_json_get_count(spec, where, "train_rows", 1, &ntr, err, errsz);
  if (!rc && cJSON_GetObjectItemCaseSensitive(spec, "val_rows"))
    rc = hyd_json_get_count(spec, where, "val_rows", 1, &nval, err, errsz);
  if (!rc && cJSON_GetObjectItemCaseSensitive(spec, "test_rows"))
    rc = hyd_json_get_count(spec, where, "test_rows", 1, &ntest, err, errsz);
  if (rc)
    return rc;
  hyd_idx idx[4];
  memset(idx, 0, sizeof idx);
  char path[4096], msg[512], hex[65];
  for (int k = 0; k < 4 && !rc; k++) {
    char rel[4200];
    snprintf(rel, sizeof rel, "%s/%s", fdir, names[k]);
    if (hyd_resolve_path(dir, rel, path, sizeof path) != 0) {
      snprintf(err, errsz, "%s: dir: path too long", where);
      rc = 2;
    } else if (hyd_idx_read(path, &idx[k], msg, sizeof msg) != 0) {
      snprintf(err, errsz, "%s: %s", where, msg);
      rc = 2;
    } else if (hyd_job_rank() == 0 &&
               hyd_sha256_file(path, hex, msg, sizeof msg) == 0) {
      cJSON_AddStringToObject(sums, path, hex);
    }
  }
  size_t px = 0;
  if (!rc) {
    px = idx[0].ndim == 3 ? idx[0].dims[1] * idx[0].dims[2] : 0;
    if (px == 0 || idx[2].ndim != 3 || idx[2].dims[1] * idx[2].dims[2] != px ||
        idx[1].ndim != 1 || idx[1].dims[0] != idx[0].dims[0] ||
        idx[3].ndim != 1 || idx[3].dims[0] != idx[2].dims[0]) {
      snprintf(err, errsz, "%s: the Fashion-MNIST files in %s do not have "
               "the IDX shapes of images and their labels", where, fdir);
      rc = 2;
    } else if (ntr == 0 || nval == 0 || ntr > idx[0].dims[0] ||
               nval > idx[0].dims[0] - ntr || ntest > idx[2].dims[0]) {
      snprintf(err, errsz, "%s: train_rows + val_rows must be in [2, %zu] "
               "(each >= 1) and test_rows <= %zu", where, idx[0].dims[0],
               idx[2].dims[0]);
      rc = 2;
    }
  }
  size_t n = ntr + nval + ntest;
  if (!rc) {
    o->X = malloc(n * px * sizeof *o->X);
    o->labels = malloc(n * sizeof *o->labels);
    *train = malloc(ntr * sizeof **train);
    o->val = malloc(nval * sizeof *o->val);
    o->test = malloc((ntest ? ntest : 1) * sizeof *o->test);
    if (!o->X || !o->labels || !*train || !o->val || !o->test) {
      snprintf(err, errsz, "out of memory");
      rc = 1;
    }
  }
  for (size_t r = 0; r < n && !rc; r++) {
    /* rows [0, ntr + nval) of the training set, then the test set */
    int te = r >= ntr + nval;
    size_t src = te ? r - ntr - nval : r;
    const uint8_t *img = idx[te ? 2 : 0].data + src * px;
    for (size_t j = 0; j < px; j++)
      o->X[r * px + j] = (double)img[j] / 255.0;
    o->labels[r] = idx[te ? 3 : 1].data[src];
    if (o->labels[r] > 9) {
      snprintf(err, errsz, "%s: label %d out of range 0..9", where,
               o->labels[r]);
      rc = 2;
    }
    if (r < ntr)
      (*train)[r] = r;
    else if (!te)
      o->val[r - ntr] = r;
    else
      o->test[r - ntr - nval] = r;
  }
  for (int k = 0; k < 4; k++)
    hyd_idx_free(&idx[k]);
  if (rc)
    return rc;
  *rows = n;
  *d = px;
  *classes = 10;
  *n_train = ntr;
  o->n_val = nval;
  o->n_test = ntest;
  return 0;
}

/* A CSV table with split files (table_split.h): X, labels and the index
 * lists move into o, the training rows into *train. */
static int load_table(const cJSON *spec, const char *dir, const char *where,
                      lr_owner *o, size_t *rows, size_t *d, size_t *classes,
                      size_t **train, size_t *n_train, cJSON *sums, char *err,
                      size_t errsz)
{
  hyd_table_split t;
  int rc = hyd_table_split_load(spec, dir, where, &t, sums, err, errsz);
  if (rc)
    return rc;
  o->X = t.X;
  o->labels = t.labels;
  o->val = t.val;
  o->n_val = t.n_val;
  o->test = t.test;
  o->n_test = t.n_test;
  *train = t.train;
  *n_train = t.n_train;
  *rows = t.rows;
  *d = t.d;
  *classes = t.classes;
  return 0;
}

/* The compander type's own keys: the start and the penalty's settings. */
typedef struct compander_keys {
  double a0, kappa0;
  hyd_logistic_penalty pen;
} compander_keys;

static int read_compander_keys(const cJSON *spec, const char *where,
                               compander_keys *k, char *err, size_t errsz)
{
  hyd_compander_options o;
  hyd_compander_options_default(&o);
  k->a0 = 0.5;
  k->kappa0 = 0.125;
  k->pen = (hyd_logistic_penalty){HYD_LOGISTIC_PENALTY_COMPANDER,
                                  o.cutoff_tan2, o.l2, o.lipschitz_radius};
  int rc = hyd_json_get_number(spec, where, "a0", 0, &k->a0, err, errsz);
  if (!rc)
    rc = hyd_json_get_number(spec, where, "kappa0", 0, &k->kappa0, err, errsz);
  if (!rc)
    rc = hyd_json_get_number(spec, where, "cutoff_tan2", 0,
                             &k->pen.cutoff_tan2, err, errsz);
  if (!rc)
    rc = hyd_json_get_number(spec, where, "l2", 0, &k->pen.l2, err, errsz);
  if (!rc)
    rc = hyd_json_get_number(spec, where, "lipschitz_radius", 0,
                             &k->pen.lipschitz_radius, err, errsz);
  if (rc)
    return rc;
  if (!(k->a0 > 0 && k->kappa0 > 0 && k->pen.cutoff_tan2 > 0 &&
        k->pen.cutoff_tan2 <= 1e12 && k->pen.l2 >= 0 &&
        k->pen.lipschitz_radius > 0)) {
    snprintf(err, errsz, "%s: a0, kappa0 and lipschitz_radius must be > 0, "
             "cutoff_tan2 in (0, 1e12], l2 >= 0", where);
    return 2;
  }
  return 0;
}

/* The logistic type and (compander = 1) the compander type. */
static int build_classifier(const cJSON *spec, const char *dir,
                            const char *where, int compander,
                            hyd_built_problem *out, char *err, size_t errsz)
{
  static const char *const lr_keys[] = {
      "type",     "table",      "feature_scale", "split",     "grouping",
      "folds",    "parallel",   "data",          "train_rows", "val_rows",
      "test_rows", "dir",       NULL};
  static const char *const cmp_keys[] = {
      "type",       "table",    "feature_scale", "split",  "grouping",
      "folds",      "data",     "train_rows",    "val_rows", "test_rows",
      "dir",        "a0",       "kappa0",        "cutoff_tan2", "l2",
      "lipschitz_radius",       NULL};
  int rc = hyd_json_check_keys(spec, where, compander ? cmp_keys : lr_keys,
                               err, errsz);
  const char *grouping_name = "scalar", *parallel = "none", *source = NULL;
  size_t folds = 1;
  compander_keys ck;
  const compander_keys *cmp = compander ? &ck : NULL;
  const hyd_logistic_penalty *pen = compander ? &ck.pen : NULL;
  if (!rc && compander)
    rc = read_compander_keys(spec, where, &ck, err, errsz);
  if (!rc)
    rc = hyd_json_get_string(spec, where, "grouping", 0, &grouping_name, err,
                             errsz);
  if (!rc)
    rc = hyd_json_get_string(spec, where, "parallel", 0, &parallel, err,
                             errsz);
  if (!rc)
    rc = hyd_json_get_string(spec, where, "data", 0, &source, err, errsz);
  if (!rc && cJSON_GetObjectItemCaseSensitive(spec, "folds"))
    rc = hyd_json_get_count(spec, where, "folds", 1, &folds, err, errsz);
  if (rc)
    return rc;
  int grouping = -1;
  for (int k = 0; k < 4; k++)
    if (strcmp(grouping_names[k], grouping_name) == 0)
      grouping = k;
  if (grouping < 0 || folds > 100) {
    snprintf(err, errsz, "%s: grouping must be scalar, per_feature, "
             "per_class or per_weight; folds <= 100", where);
    return 2;
  }
  int by_rows = strcmp(parallel, "rows") == 0;
  if (!by_rows && strcmp(parallel, "none") != 0) {
    snprintf(err, errsz, "%s: parallel must be \"none\" or \"rows\"", where);
    return 2;
  }
  if (by_rows && folds != 1) {
    snprintf(err, errsz, "%s: parallel: rows splits one train / validation "
             "problem; it needs folds = 1", where);
    return 2;
  }
  static const char *const table_only[] = {"table", "split", "feature_scale",
                                           NULL};
  static const char *const fashion_only[] = {"train_rows", "val_rows",
                                             "test_rows", "dir", NULL};
  const char *const *foreign = source ? table_only : fashion_only;
  for (int k = 0; foreign[k]; k++)
    if (cJSON_GetObjectItemCaseSensitive(spec, foreign[k])) {
      snprintf(err, errsz, "%s: '%s' %s", where, foreign[k],
               source ? "does not go with 'data' (a table or a data set, "
                        "not both)"
                      : "belongs to a data set ('data': 'fashion')");
      return 2;
    }
  if (source && strcmp(source, "fashion") != 0) {
    snprintf(err, errsz, "%s: data: unknown data set '%s' (known: fashion)",
             where, source);
    return 2;
  }

  cJSON *sums = cJSON_CreateObject();
  lr_owner *o = calloc(1, sizeof *o);
  size_t *train = NULL, n_train = 0, rows = 0, d = 0, classes = 0;
  if (!o || !sums) {
    snprintf(err, errsz, "out of memory");
    rc = 1;
    goto fail;
  }
  rc = source ? load_fashion(spec, dir, where, o, &rows, &d, &classes,
                             &train, &n_train, sums, err, errsz)
              : load_table(spec, dir, where, o, &rows, &d, &classes, &train,
                           &n_train, sums, err, errsz);
  if (rc)
    goto fail;
  /* Row split only in an MPI job; with one process the serial problem. */
  int split = by_rows && hyd_job_size() > 1;
  int lrc = 0;
  if (split) {
    rc = build_block(o, rows, d, classes, train, n_train, grouping, where,
                     err, errsz);
    if (rc)
      goto fail;
  } else {
    hyd_logistic_fold fixed = {train, n_train, o->val, o->n_val};
    lrc = hyd_logistic_create_penalized(&o->final, rows, d, classes, o->X,
                                        o->labels, 1, &fixed, grouping,
                                        HYD_LOGISTIC_BORROW_DATA, pen, NULL);
  }
  if (split) {
    /* built above */
  } else if (!lrc && folds == 1) {
    o->lr = o->final;
  } else if (!lrc) {
    /* K folds of the training rows, in their given (shuffled) order. */
    hyd_logistic_fold *f = calloc(folds, sizeof *f);
    size_t *tr = malloc(folds * n_train * sizeof *tr);
    if (!f || !tr) {
      lrc = HYD_ENOMEM;
    } else {
      for (size_t k = 0; k < folds; k++) {
        size_t lo = k * n_train / folds, hi = (k + 1) * n_train / folds;
        size_t *t = tr + k * n_train, nt = 0;
        for (size_t r = 0; r < n_train; r++)
          if (r < lo || r >= hi)
            t[nt++] = train[r];
        f[k] = (hyd_logistic_fold){t, nt, train + lo, hi - lo};
      }
      lrc = hyd_logistic_create_penalized(&o->lr, rows, d, classes, o->X,
                                          o->labels, folds, f, grouping,
                                          HYD_LOGISTIC_BORROW_DATA, pen,
                                          NULL);
    }
    free(f);
    free(tr);
  }
  if (lrc) {
    snprintf(err, errsz, "%s: %s (labels, indices and sizes must fit)", where,
             hyd_strerror(lrc));
    rc = lrc == HYD_ENOMEM ? 1 : 2;
    goto fail;
  }
  o->d = d;
  o->classes = classes;
  if (cmp) {
    /* theta = [log a_g, log kappa_g]: G = p / 2 groups */
    size_t p = hyd_logistic_problem(o->lr)->n_theta;
    if (!(o->theta0 = malloc(p * sizeof *o->theta0))) {
      snprintf(err, errsz, "out of memory");
      rc = 1;
      goto fail;
    }
    for (size_t g = 0; g < p / 2; g++) {
      o->theta0[g] = log(cmp->a0);
      o->theta0[p / 2 + g] = log(cmp->kappa0);
    }
    out->theta0 = o->theta0;
  }
  out->problem = split ? hyd_rowsplit_problem(o->rs)
                       : hyd_logistic_problem(o->lr);
  out->owner = o;
  out->destroy = lr_destroy;
  out->report_from = lr_report;
  out->checksums = sums;
  char rows_note[64] = "";
  if (split)
    snprintf(rows_note, sizeof rows_note, ", rows split over %d ranks",
             hyd_job_size());
  snprintf(out->summary, sizeof out->summary,
           "logistic regression%s, %zu features, %zu classes, %zu train / "
           "%zu val / %zu test rows, %s %s, %zu fold%s%s",
           source ? " (Fashion-MNIST)" : "", d, classes, n_train, o->n_val,
           o->n_test, grouping_name, cmp ? "compander" : "L2", folds,
           folds > 1 ? "s" : "", rows_note);
  free(train);
  return 0;
fail:
  free(train);
  if (o)
    lr_destroy(o);
  cJSON_Delete(sums);
  return rc ? rc : 1;
}

int hyd_build_logistic(const cJSON *spec, const char *dir, const char *where,
                       hyd_built_problem *out, char *err, size_t errsz)
{
  return build_classifier(spec, dir, where, 0, out, err, errsz);
}

int hyd_build_compander(const cJSON *spec, const char *dir, const char *where,
                        hyd_built_problem *out, char *err, size_t errsz)
{
  return build_classifier(spec, dir, where, 1, out, err, errsz);
}
