/* bench/kernels: throughput of the TV and Field-of-Experts lower-level
 * gradient and Hessian-vector callbacks against the machine's memory
 * bandwidth, measured in the same run with a STREAM-like triad.
 *
 *   bench_kernels KODAK256_DIR [REPEATS] [TV_COPIES] [FOE_IMAGES]
 *
 * Triad: a[i] = b[i] + s c[i] on three arrays of TRIAD_N doubles (3 x 128
 * MiB, far beyond the last-level cache), best of max(REPEATS, 5) passes.
 * Bandwidth is counted STREAM's way, 3 x 8 bytes per element (two reads, one
 * write); the write-allocate read of a[] makes the real traffic 4 x 8.
 *
 * TV: the 24 Kodak images (256 x 256, sigma 0.1 noise) repeated TV_COPIES
 * times (default 2: 48 images, 3.1 Mpixel; x, y and the output are then 75
 * MB, over twice the 32 MB L3) as samples of one hyd_tv_problem; one pass
 * calls the callback on every sample with its own x and output. Bytes per
 * pixel are counted from tv.c the same way as the triad's (no
 * write-allocate): the gradient reads x and y and writes the gradient
 * (3 x 8 B: the differences live in three L1-resident scratch rows, and the
 * row below x is still in cache when it is reused); the HVP reads x and v
 * and writes A v (3 x 8 B).
 *
 * FoE: 48 filters of 7 x 7 (hyd_foe_theta_init(seed 0), weights e^-6),
 * FOE_IMAGES (default 2) of the images; compute-bound, so the image count
 * does not matter. Flops per pixel counted from foe.c: per filter, one
 * correlation or adjoint is fs^2 multiply-adds (2 fs^2 flops); the gradient
 * does 2 of them + 6 flops of nonlinearity, the HVP 3 + 6; plus 3 flops per
 * pixel for x - y and the fit term (gradient) or the copy (HVP, 0).
 *
 * Times are thread CPU time (CLOCK_THREAD_CPUTIME_ID), best of REPEATS
 * passes: on a shared machine wall time also counts the waits for a core,
 * which would make every figure depend on the other jobs. Prints one
 * Markdown section. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hyperd/foe.h>
#include <hyperd/hyperd.h>
#include <hyperd/tv.h>

#include "data/image.h"
#include "data/noise.h"

enum { N_KODAK = 24, TRIAD_N = 1 << 24 };

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void die(const char *msg)
{
  fprintf(stderr, "bench_kernels: %s\n", msg);
  exit(1);
}

/* Best triad time over `reps` passes; returns bytes/s (3 x 8 per element). */
static double triad_bandwidth(int reps)
{
  size_t n = TRIAD_N;
  double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b),
         *c = malloc(n * sizeof *c);
  if (!a || !b || !c)
    die("out of memory (triad)");
  for (size_t i = 0; i < n; i++) {
    a[i] = 0.0;
    b[i] = 1.0 + (double)(i & 7);
    c[i] = 0.5;
  }
  double best = HUGE_VAL, s = 3.0, check = 0.0;
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    for (size_t i = 0; i < n; i++)
      a[i] = b[i] + s * c[i];
    double t = now() - t0;
    best = t < best ? t : best;
    check += a[n / 2 + (size_t)r];
  }
  if (!(check > 0.0))
    die("triad check failed");
  free(a);
  free(b);
  free(c);
  return 3.0 * 8.0 * (double)n / best;
}

/* The 24 Kodak images (clean) into one array, sizes into *h, *w. */
static double *load_kodak(const char *dir, size_t *h, size_t *w)
{
  double *all = NULL;
  for (int i = 0; i < N_KODAK; i++) {
    char path[4096], msg[512];
    snprintf(path, sizeof path, "%s/kodim%02d.pgm", dir, i + 1);
    hyd_image img = {0, 0, NULL};
    if (hyd_image_read(path, &img, msg, sizeof msg) != 0)
      die(msg);
    if (i == 0) {
      *h = img.height;
      *w = img.width;
      all = malloc(N_KODAK * *h * *w * sizeof *all);
      if (!all)
        die("out of memory (images)");
    } else if (img.height != *h || img.width != *w) {
      die("the images differ in size");
    }
    memcpy(all + (size_t)i * *h * *w, img.pixels,
           *h * *w * sizeof *all);
    hyd_image_free(&img);
  }
  return all;
}

typedef struct kernel_run {
  const hyd_problem *p;
  const double *theta;
  size_t m, n;
  double *x, *v, *out; /* m * n each */
} kernel_run;

/* Best time of one pass of the gradient (hvp = 0) or HVP over all samples. */
static double time_pass(const kernel_run *k, int hvp, int reps)
{
  double best = HUGE_VAL;
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    for (size_t i = 0; i < k->m; i++) {
      int st = hvp ? k->p->lower_hvp(k->p->ctx, i, k->theta, k->x + i * k->n,
                                     k->v + i * k->n, k->out + i * k->n)
                   : k->p->lower_grad(k->p->ctx, i, k->theta, k->x + i * k->n,
                                      NULL, k->out + i * k->n);
      if (st)
        die("a callback failed");
    }
    double t = now() - t0;
    best = t < best ? t : best;
  }
  return best;
}

static void fill_run(kernel_run *k, const double *noisy)
{
  size_t total = k->m * k->n;
  k->x = malloc(total * sizeof *k->x);
  k->v = malloc(total * sizeof *k->v);
  k->out = malloc(total * sizeof *k->out);
  if (!k->x || !k->v || !k->out)
    die("out of memory (kernel arrays)");
  for (size_t j = 0; j < total; j++) {
    k->x[j] = noisy[j];
    k->v[j] = sin(0.001 * (double)j);
    k->out[j] = 0.0;
  }
}

static void free_run(kernel_run *k)
{
  free(k->x);
  free(k->v);
  free(k->out);
}

int main(int argc, char **argv)
{
  if (argc < 2 || argc > 5) {
    fprintf(stderr, "usage: bench_kernels KODAK256_DIR [REPEATS] "
            "[TV_COPIES] [FOE_IMAGES]\n");
    return 2;
  }
  int reps = argc > 2 ? atoi(argv[2]) : 5;
  int copies = argc > 3 ? atoi(argv[3]) : 2;
  int foe_images = argc > 4 ? atoi(argv[4]) : 2;
  if (reps < 1 || copies < 1 || foe_images < 1 || foe_images > N_KODAK)
    die("REPEATS, TV_COPIES >= 1 and 1 <= FOE_IMAGES <= 24");
  size_t h = 0, w = 0;
  double *clean1 = load_kodak(argv[1], &h, &w);
  size_t n = h * w, m = (size_t)copies * N_KODAK;
  double *clean = malloc(m * n * sizeof *clean),
         *noisy = malloc(m * n * sizeof *noisy);
  if (!clean || !noisy)
    die("out of memory (images)");
  for (size_t c = 0; c < (size_t)copies; c++)
    memcpy(clean + c * N_KODAK * n, clean1, N_KODAK * n * sizeof *clean);
  free(clean1);
  hyd_noise_gaussian(clean, noisy, m * n, 0.1, 1);

  double bw = triad_bandwidth(reps > 5 ? reps : 5);

  /* TV at the values learned on Kodak 96 (docs/results.md) */
  hyd_tv *tv;
  if (hyd_tv_create(&tv, m, h, w, noisy, clean, 0, NULL) != HYD_OK)
    die("hyd_tv_create failed");
  double tv_theta[2] = {log(0.1219), log(0.00712)};
  kernel_run k = {hyd_tv_problem(tv), tv_theta, m, n, NULL, NULL, NULL};
  fill_run(&k, noisy);
  time_pass(&k, 0, 1); /* warm-up: page in the arrays */
  double t_tvg = time_pass(&k, 0, reps), t_tvh = time_pass(&k, 1, reps);
  free_run(&k);
  hyd_tv_destroy(tv);

  hyd_foe_options fo;
  hyd_foe_options_default(&fo);
  size_t p = hyd_foe_n_theta(&fo), mf = (size_t)foe_images;
  double *foe_theta = malloc(p * sizeof *foe_theta);
  hyd_foe *foe;
  if (!foe_theta || hyd_foe_theta_init(&fo, 0, foe_theta) != HYD_OK ||
      hyd_foe_create(&foe, mf, h, w, noisy, clean, &fo, NULL) != HYD_OK)
    die("FoE setup failed");
  kernel_run kf = {hyd_foe_problem(foe), foe_theta, mf, n, NULL, NULL, NULL};
  fill_run(&kf, noisy);
  double t_fg = time_pass(&kf, 0, reps), t_fh = time_pass(&kf, 1, reps);
  free_run(&kf);
  hyd_foe_destroy(foe);
  free(foe_theta);
  free(clean);
  free(noisy);

  double fs2 = (double)(fo.filter_size * fo.filter_size),
         K = (double)fo.n_filters;
  double foe_flops_g = 3.0 + K * (2.0 * 2.0 * fs2 + 6.0);
  double foe_flops_h = K * (3.0 * 2.0 * fs2 + 6.0);
  double px_tv = (double)(m * n), px_foe = (double)(mf * n);

  printf("## Kernels: TV and Field of Experts against memory bandwidth\n\n");
  printf("`bench_kernels` (bench/kernels), best of %d passes, timed in "
         "thread CPU time (the machine is shared). Triad "
         "a[i] = b[i] + s c[i] on 3 arrays of %d doubles (3 x %d MiB), "
         "best of %d: **%.2f GB/s** counted as 3 x 8 bytes per element "
         "(STREAM's convention; with the write-allocate read of a[] the "
         "traffic is 4 x 8 bytes, %.2f GB/s). Kernel bytes are counted the "
         "same way (no write-allocate), so the fractions compare like with "
         "like.\n\n", reps, TRIAD_N, TRIAD_N * 8 >> 20, reps > 5 ? reps : 5,
         bw * 1e-9, bw * 4.0 / 3.0 * 1e-9);
  printf("TV: %zu images of %zu x %zu (the 24 Kodak images %d times; x, y "
         "and the output take %.0f MB), theta = (log 0.1219, log 0.00712). "
         "FoE: 48 filters of 7 x 7 (seeded start), %zu images.\n\n", m, h, w,
         copies, 3.0 * 8.0 * px_tv * 1e-6, mf);
  printf("| kernel | Mpixel/s | bytes/pixel | GB/s | fraction of triad | "
         "flops/pixel | GFLOP/s |\n|---|---|---|---|---|---|---|\n");
  struct {
    const char *name;
    double t, px, bytes, flops;
  } rows[4] = {
      {"TV gradient (x, y -> grad)", t_tvg, px_tv, 24.0, 0.0},
      {"TV Hessian-vector (x, v -> Av)", t_tvh, px_tv, 24.0, 0.0},
      {"FoE gradient", t_fg, px_foe, 24.0, foe_flops_g},
      {"FoE Hessian-vector", t_fh, px_foe, 24.0, foe_flops_h}};
  /* TV flops per pixel (two edges): gradient per edge sub, fma, sqrt, div
   * (4) + combine 6 + x - y 1; HVP per edge 2 subs, fma, sqrt, 2 mul, div
   * (7) + combine 5 */
  rows[0].flops = 2.0 * 4.0 + 7.0;
  rows[1].flops = 2.0 * 7.0 + 5.0;
  for (int r = 0; r < 4; r++) {
    double pps = rows[r].px / rows[r].t;
    printf("| %s | %.1f | %.0f | %.2f | %.2f | %.0f | %.2f |\n", rows[r].name,
           pps * 1e-6, rows[r].bytes, pps * rows[r].bytes * 1e-9,
           pps * rows[r].bytes / bw, rows[r].flops, pps * rows[r].flops * 1e-9);
  }
  printf("\nTV bytes per pixel: reads of x and y (or v) and the write of the "
         "output, once each (the edge weights stay in three L1 scratch "
         "rows). FoE moves the same 24 compulsory bytes per pixel but does "
         "%.0f (gradient) and %.0f (HVP) flops per pixel: it is bound by "
         "arithmetic, not memory. TV flops count a square root and a "
         "division as one each.\n", foe_flops_g, foe_flops_h);
  return 0;
}
