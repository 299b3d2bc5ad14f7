/* MPI oracle benchmark: TV denoising on the 24 Kodak 96x96 gray images
 * (sigma 0.1 noise), a fixed number of MAID iterations, wall time and the
 * bytes communicated per outer iteration against the communication model
 * of docs/parallel.md. Run it under mpirun with 1 and 2 ranks (bench/mpi/
 * run-mpi-bench does both and prints the efficiency).
 *
 *   bench_mpi [--data DIR] [--images M] [--iters K] [--method M]
 *             [--oracle mpi|serial] [--size S]
 *
 * --size S crops the images to S x S (top-left) to see the model's
 * independence of the image size. Prints one "RESULT" line (key=value) and
 * a table of bytes per request kind. balance = sum of the ranks' busy time
 * / (P x the busiest rank's): the efficiency the sample spread allows, were
 * communication and waiting free. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include <hyperd/maid.h>
#include <hyperd/tv.h>

#include "data/image.h"
#include "data/noise.h"
#include "mpi_oracle.h"

#ifndef HYD_SHARED_DIR
#define HYD_SHARED_DIR "../shared"
#endif

typedef struct opts {
  const char *data, *method, *oracle;
  size_t images, size;
  long iters;
} opts;

static int parse(int argc, char **argv, opts *o)
{
  o->data = HYD_SHARED_DIR "/data/kodak_gray_96";
  o->method = "rigorous";
  o->oracle = "mpi";
  o->images = 24;
  o->size = 96;
  o->iters = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp(k, "--data")) o->data = v;
    else if (!strcmp(k, "--images")) o->images = (size_t)atol(v);
    else if (!strcmp(k, "--iters")) o->iters = atol(v);
    else if (!strcmp(k, "--method")) o->method = v;
    else if (!strcmp(k, "--oracle")) o->oracle = v;
    else if (!strcmp(k, "--size")) o->size = (size_t)atol(v);
    else return -1;
  }
  return argc % 2 == 1 && o->images > 0 && o->images <= 24 && o->iters > 0 &&
                 o->size >= 2 && o->size <= 96
             ? 0
             : -1;
}

/* Every rank reads the same images and draws the same noise (seed per
 * image), so every rank builds the same problem table. */
static int load(const opts *o, double *clean, double *noisy)
{
  size_t n = o->size * o->size;
  for (size_t k = 0; k < o->images; k++) {
    char path[1024], err[256];
    snprintf(path, sizeof path, "%s/kodim%02zu.pgm", o->data, k + 1);
    hyd_image img;
    memset(&img, 0, sizeof img);
    if (hyd_pgm_read(path, &img, err, sizeof err) != 0) {
      fprintf(stderr, "%s\n", err);
      return -1;
    }
    if (img.width < o->size || img.height < o->size) {
      fprintf(stderr, "%s: smaller than %zu x %zu\n", path, o->size, o->size);
      hyd_image_free(&img);
      return -1;
    }
    for (size_t r = 0; r < o->size; r++)
      memcpy(clean + k * n + r * o->size, img.pixels + r * img.width,
             o->size * sizeof(double));
    hyd_image_free(&img);
    if (hyd_noise_gaussian(clean + k * n, noisy + k * n, n, 0.1,
                           1000u + (unsigned long)k) != 0)
      return -1;
  }
  return 0;
}

static const char *cmd_name[HYD_MPI_NCMD] = {
    "shutdown", "configure", "evaluate", "trials",
    "accept",   "upper_now", "save_state", "load_state", "rebalance",
    "keep_state", "save_kept"};

/* Bytes the model of docs/parallel.md predicts for one request of kind c
 * with P ranks, m samples (m0 of them on rank 0, state0 doubles of warm
 * state on rank 0, state doubles in all), p hyperparameters; P <= m, one
 * trial point per trials call; ref: the reference bound's second pass. */
static double model(int c, int ref, double P, double m, double m0, double p,
                    double state, double state0)
{
  const double H = HYD_MPI_HEADER_BYTES, R = HYD_MPI_STATUS_BYTES;
  const double EV = (double)(sizeof(hyd_sample_eval) / sizeof(double));
  const double TR = (double)(sizeof(hyd_sample_trial) / sizeof(double));
  double w = P - 1.0, off = m - m0;
  switch (c) {
  case HYD_MPI_CMD_SHUTDOWN: return w * H;
  case HYD_MPI_CMD_CONFIGURE: return w * (H + (double)sizeof(hyd_oracle_config) + R);
  case HYD_MPI_CMD_EVALUATE: /* reference bound: z back, cross_max home */
    return w * (H + 8 * p + R) + 8 * off * (EV + p) +
           (ref ? w * (8 * (p + 1) + R) + 8 * off : 0.0);
  case HYD_MPI_CMD_TRIALS: return w * (H + 8 * p + R) + 8 * off * TR;
  case HYD_MPI_CMD_ACCEPT: return w * (H + R);
  case HYD_MPI_CMD_UPPER_NOW: return w * (H + R) + 8 * off;
  case HYD_MPI_CMD_REBALANCE: return NAN; /* depends on what moves */
  case HYD_MPI_CMD_KEEP_STATE: return w * H; /* each rank copies locally */
  default: return w * (H + R) + 8 * (state - state0); /* save / load */
  }
}

static int run(const opts *o, const hyd_problem *prob, hyd_mpi_oracle *mo,
               int size, double *wall, hyd_maid_info *info)
{
  hyd_maid *s = NULL;
  int rc = hyd_maid_create(&s, prob, NULL);
  if (rc != HYD_OK)
    return rc;
  double theta0[2] = {-5.0, -5.0};
  char iters[32];
  snprintf(iters, sizeof iters, "%ld", o->iters);
  hyd_oracle orc;
  if (mo)
    orc = hyd_mpi_oracle_as_oracle(mo);
  double t0 = MPI_Wtime();
  if ((rc = hyd_maid_set_option(s, "method", o->method)) == HYD_OK &&
      (rc = hyd_maid_set_option(s, "max_iter", iters)) == HYD_OK &&
      (rc = hyd_maid_set_theta0(s, theta0)) == HYD_OK &&
      (!mo || (rc = hyd_maid_set_oracle(s, orc)) == HYD_OK) &&
      (rc = hyd_maid_setup(s)) == HYD_OK)
    rc = hyd_maid_solve(s);
  *wall = MPI_Wtime() - t0;
  hyd_maid_get_info(s, info);
  if (rc != HYD_OK)
    fprintf(stderr, "MAID: %s\n", hyd_maid_errmsg(s));
  (void)size;
  hyd_maid_destroy(s);
  return rc;
}

int main(int argc, char **argv)
{
  if (MPI_Init(&argc, &argv) != MPI_SUCCESS)
    return 1;
  int rank = 0, size = 1, code = 1;
  if (MPI_Comm_rank(MPI_COMM_WORLD, &rank) != MPI_SUCCESS ||
      MPI_Comm_size(MPI_COMM_WORLD, &size) != MPI_SUCCESS) {
    MPI_Finalize();
    return 1;
  }
  opts o;
  int serial = 0;
  if (parse(argc, argv, &o) != 0 ||
      ((serial = !strcmp(o.oracle, "serial")) && size > 1)) {
    if (rank == 0)
      fprintf(stderr, "usage: see bench/mpi/bench_mpi.c\n");
    MPI_Finalize();
    return 2;
  }
  size_t n = o.size * o.size;
  double *clean = malloc(o.images * n * sizeof *clean);
  double *noisy = malloc(o.images * n * sizeof *noisy);
  hyd_tv *tv = NULL;
  hyd_mpi_oracle *mo = NULL;
  double theta0[2] = {-5.0, -5.0};
  /* Every rank must reach the collective create, whatever happened here. */
  int ok = clean && noisy && load(&o, clean, noisy) == 0 &&
           hyd_tv_create(&tv, o.images, o.size, o.size, noisy, clean, 0u,
                         NULL) == HYD_OK;
  const hyd_problem *prob = ok ? hyd_tv_problem(tv) : NULL;
  if (!serial && hyd_mpi_oracle_create(&mo, prob, theta0, MPI_COMM_WORLD,
                                       NULL) != HYD_OK) {
    if (rank == 0)
      fprintf(stderr, "creating the MPI oracle failed\n");
    goto done;
  }
  if (!ok)
    goto done;
  double wall = 0.0;
  hyd_maid_info info;
  memset(&info, 0, sizeof info);
  if (rank > 0) {
    code = hyd_mpi_worker_serve(mo) == HYD_OK ? 0 : 1;
  } else {
    int rc = run(&o, prob, mo, size, &wall, &info);
    if (mo && hyd_mpi_oracle_shutdown(mo) != HYD_OK)
      rc = HYD_MPI_ECOMM;
    code = rc == HYD_OK ? 0 : 1;
  }
  /* Bytes summed over ranks; the model needs rank 0's share of samples. */
  hyd_mpi_stats st, sum;
  memset(&st, 0, sizeof st);
  memset(&sum, 0, sizeof sum);
  if (mo)
    hyd_mpi_oracle_stats(mo, &st);
  double busy_max = 0.0;
  if (!serial &&
      (MPI_Reduce(st.bytes_sent, sum.bytes_sent, HYD_MPI_NCMD, MPI_DOUBLE,
                  MPI_SUM, 0, MPI_COMM_WORLD) != MPI_SUCCESS ||
       MPI_Reduce(&st.busy_seconds, &sum.busy_seconds, 1, MPI_DOUBLE, MPI_SUM,
                  0, MPI_COMM_WORLD) != MPI_SUCCESS ||
       MPI_Reduce(&st.busy_seconds, &busy_max, 1, MPI_DOUBLE, MPI_MAX, 0,
                  MPI_COMM_WORLD) != MPI_SUCCESS))
    code = 1;
  if (rank == 0 && code == 0) {
    size_t T = mo ? hyd_mpi_oracle_group_size(mo) : 1;
    double m0 = 0, state = 0, state0 = 0, total = 0, predicted = 0;
    for (size_t i = 0; i < o.images; i++) {
      double si = 2.0 * (double)n + 1.0;
      state += si;
      if (!mo || hyd_mpi_oracle_owner(mo, i) == 0) {
        m0 += 1;
        state0 += si;
      }
    }
    printf("| request | calls | bytes | bytes/call | model bytes/call |\n"
           "|---|---:|---:|---:|---:|\n");
    for (int c = 0; c < HYD_MPI_NCMD; c++) {
      double pred = model(c, !strcmp(o.method, "reference"), size,
                          (double)o.images, m0, 2.0, state, state0);
      total += sum.bytes_sent[c];
      if (st.calls[c] > 0) /* nan once samples moved: not modelled */
        predicted += pred * st.calls[c];
      if (st.calls[c] > 0 && T == 1 && !isnan(pred))
        printf("| %s | %.0f | %.0f | %.1f | %.1f |\n", cmd_name[c],
               st.calls[c], sum.bytes_sent[c],
               sum.bytes_sent[c] / st.calls[c], pred);
      else if (st.calls[c] > 0) /* the table models P <= m, fixed owners */
        printf("| %s | %.0f | %.0f | %.1f | - |\n", cmd_name[c],
               st.calls[c], sum.bytes_sent[c],
               sum.bytes_sent[c] / st.calls[c]);
    }
    double it = info.iter > 0 ? (double)info.iter : 1.0;
    printf("RESULT oracle=%s method=%s np=%d m=%zu n=%zu p=2 T=%zu iters=%ld "
           "accepted=%ld wall_s=%.4f bytes=%.0f bytes_per_iter=%.1f "
           "model_bytes=%.0f lower_iters=%.0f cg_iters=%.0f f_hi=%.10g "
           "busy_sum_s=%.4f busy_max_s=%.4f balance=%.3f\n",
           o.oracle, o.method, size, o.images, n,
           T, info.iter, info.accepted, wall, total, total / it,
           T == 1 ? predicted : NAN, info.cost.lower_iters,
           info.cost.cg_iters, info.f_hi, sum.busy_seconds, busy_max,
           busy_max > 0 ? sum.busy_seconds / (size * busy_max) : 1.0);
  }
done:
  hyd_mpi_oracle_destroy(mo);
  hyd_tv_destroy(tv);
  free(clean);
  free(noisy);
  MPI_Finalize();
  return code;
}
