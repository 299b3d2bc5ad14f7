/* plot.c: hyperd plot (plot.h).
 *
 * SVG written by hand: a chart is a frame, nice ticks (1-2-5 steps on a
 * linear axis, decades on a log one), an optional band (the certified
 * sandwich) and up to three polylines. No plotting library: the daemon
 * should not need one, and SVG is text. PNG is left to a converter program
 * when there is one. */
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"

extern char **environ;

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* ---- the data: one row per iteration ---- */

enum { C_ITER, C_COST, C_WALL, C_G, C_FLO, C_FHI, C_GAP, C_Z, C_OMEGA, C_EPS, C_DELTA, NCOL };

typedef struct row {
  double v[NCOL];
} row;

typedef struct trace {
  row *rows;
  size_t n, cap;
  int oom;
} trace;

static int keep_row(const hyd_store_iteration *it, void *user) {
  trace *t = user;
  if (t->n == t->cap) {
    size_t cap = t->cap ? 2 * t->cap : 256;
    row *rows = realloc(t->rows, cap * sizeof *rows);
    if (!rows) {
      t->oom = 1;
      return 1;
    }
    t->rows = rows;
    t->cap = cap;
  }
  row *r = &t->rows[t->n++];
  r->v[C_ITER] = (double)it->iteration;
  r->v[C_COST] = it->cost.lower_iters + it->cost.cg_iters;
  r->v[C_WALL] = it->wall_seconds;
  r->v[C_G] = it->g;
  r->v[C_FLO] = it->f_lo;
  r->v[C_FHI] = it->f_hi;
  r->v[C_GAP] = it->f_hi - it->f_lo;
  r->v[C_Z] = it->z_norm;
  r->v[C_OMEGA] = it->omega;
  r->v[C_EPS] = it->eps;
  r->v[C_DELTA] = it->delta;
  return 0;
}

/* ---- axes ---- */

typedef struct axis {
  double lo, hi; /* data range, then the axis range */
  int log;
  double px0, px1; /* pixels of lo and hi */
} axis;

static int usable(const axis *a, double v) { return isfinite(v) && (!a->log || v > 0); }

static double axis_px(const axis *a, double v) {
  double t = a->log ? (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo))
                    : (v - a->lo) / (a->hi - a->lo);
  return a->px0 + t * (a->px1 - a->px0);
}

/* 1, 2 or 5 times a power of ten, about span / target. */
static double nice_step(double span, int target) {
  double raw = span / target;
  double mag = pow(10, floor(log10(raw)));
  double r = raw / mag;
  return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
}

/* Widens the data range [lo, hi] to whole ticks; 0 if there is no data. */
static int axis_settle(axis *a) {
  if (!(a->lo <= a->hi))
    return 0;
  if (a->log) { /* out to the next 1, 2 or 5 times a power of ten */
    static const double m[] = {1, 2, 5, 10};
    double e = floor(log10(a->lo) + 1e-9), lo = pow(10, e);
    for (int k = 3; k >= 0; k--)
      if (m[k] * pow(10, e) <= a->lo * (1 + 1e-9)) {
        lo = m[k] * pow(10, e);
        break;
      }
    e = floor(log10(a->hi) - 1e-9);
    double hi = pow(10, e + 1);
    for (int k = 0; k < 4; k++)
      if (m[k] * pow(10, e) >= a->hi * (1 - 1e-9)) {
        hi = m[k] * pow(10, e);
        break;
      }
    a->lo = lo;
    a->hi = hi > lo ? hi : lo * 10;
    return 1;
  }
  if (a->hi == a->lo) {
    double d = a->lo != 0 ? fabs(a->lo) * 0.1 : 1;
    a->lo -= d;
    a->hi += d;
  }
  double step = nice_step(a->hi - a->lo, 5);
  a->lo = floor(a->lo / step + 1e-9) * step;
  a->hi = ceil(a->hi / step - 1e-9) * step;
  return 1;
}

/* A tick label: 0.5, 20, 15k, 2.5M. */
static void tick_text(char *buf, size_t size, double v) {
  double m = fabs(v);
  if (m >= 1e6)
    (void)snprintf(buf, size, "%gM", v / 1e6);
  else if (m >= 1e4)
    (void)snprintf(buf, size, "%gk", v / 1e3);
  else
    (void)snprintf(buf, size, "%g", v);
}

/* ---- SVG ---- */

enum { W = 900, H = 540, LEFT = 100, RIGHT = 30, TOP = 56, BOTTOM = 78 };

static void xml_text(FILE *f, const char *s) {
  for (; *s; s++)
    switch (*s) {
    case '&': fputs("&amp;", f); break;
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '"': fputs("&quot;", f); break;
    default: fputc(*s, f);
    }
}

/* A tick with its grid line and label; x: the x axis (else y). */
static void tick(FILE *f, const axis *a, double v, int x, int major, const char *label,
                 int exponent) {
  double p = axis_px(a, v);
  if (x) {
    fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#%s\"/>\n", p, TOP,
            p, H - BOTTOM, major ? "e2e2e2" : "f2f2f2");
    fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"black\"/>\n", p,
            H - BOTTOM, p, H - BOTTOM + (major ? 6 : 3));
  } else {
    fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#%s\"/>\n", LEFT, p,
            W - RIGHT, p, major ? "e2e2e2" : "f2f2f2");
    fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"black\"/>\n",
            LEFT - (major ? 6 : 3), p, LEFT, p);
  }
  if (!label)
    return;
  if (x)
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", p, H - BOTTOM + 22);
  else
    fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">", LEFT - 10, p + 5);
  if (exponent)
    fprintf(f, "10<tspan dy=\"-7\" font-size=\"11\">%s</tspan></text>\n", label);
  else
    fprintf(f, "%s</text>\n", label);
}

static int inside(const axis *a, double v) {
  return v >= a->lo * (1 - 1e-9) && v <= a->hi * (1 + 1e-9);
}

static void ticks(FILE *f, const axis *a, int x) {
  char label[32];
  if (!a->log) {
    double step = nice_step(a->hi - a->lo, 5);
    for (double k = 0;; k++) {
      double v = a->lo + k * step;
      if (v > a->hi + step * 1e-6)
        break;
      if (fabs(v) < step * 1e-6)
        v = 0;
      tick_text(label, sizeof label, v);
      tick(f, a, v, x, 1, label, 0);
    }
    return;
  }
  int e0 = (int)floor(log10(a->lo) + 1e-9), e1 = (int)ceil(log10(a->hi) - 1e-9);
  int decades = 0; /* powers of ten on the axis */
  for (int e = e0; e <= e1; e++)
    decades += inside(a, pow(10, e));
  int every = (decades + 7) / 8; /* at most about 8 labelled decades */
  for (int e = e0; e <= e1; e++) {
    (void)snprintf(label, sizeof label, "%d", e);
    if (inside(a, pow(10, e)))
      tick(f, a, pow(10, e), x, 1, (e - e0) % every == 0 ? label : NULL, 1);
    for (int m = 2; e < e1 && decades <= 6 && m <= 9; m++) {
      /* with two decades or fewer, 2 and 5 get labels too */
      double v = m * pow(10, e);
      int labelled = decades <= 2 && (m == 2 || m == 5);
      if (!inside(a, v))
        continue;
      if (labelled)
        tick_text(label, sizeof label, v);
      tick(f, a, v, x, 0, labelled ? label : NULL, 0);
    }
  }
}

typedef struct line {
  const char *label, *color;
  int col;
  int dashed;
} line;

typedef struct chart {
  const char *title, *xlabel, *ylabel;
  int xcol;
  int logx, logy; /* < 0: automatic (x: a factor 100, y: 20) */
  int band_lo, band_hi; /* columns of the band, -1: none */
  const char *band_label;
  line lines[3];
  size_t n_lines;
} chart;

/* The data range of one axis over the chart's columns. */
static void data_range(const trace *t, const int *cols, size_t ncols, axis *a) {
  a->lo = INFINITY;
  a->hi = -INFINITY;
  for (size_t i = 0; i < t->n; i++)
    for (size_t k = 0; k < ncols; k++) {
      double v = t->rows[i].v[cols[k]];
      if (usable(a, v)) {
        a->lo = fmin(a->lo, v);
        a->hi = fmax(a->hi, v);
      }
    }
}

static size_t y_columns(const chart *c, int *cols) {
  size_t n = 0;
  for (size_t k = 0; k < c->n_lines; k++)
    cols[n++] = c->lines[k].col;
  if (c->band_lo >= 0) {
    cols[n++] = c->band_lo;
    cols[n++] = c->band_hi;
  }
  return n;
}

/* Automatic scale: log when every value is positive and they span more
 * than `factor`. */
static int auto_log(const trace *t, const int *cols, size_t n, double factor) {
  axis a = {0};
  data_range(t, cols, n, &a);
  for (size_t i = 0; i < t->n; i++) /* a value <= 0 rules out a log axis */
    for (size_t k = 0; k < n; k++)
      if (isfinite(t->rows[i].v[cols[k]]) && t->rows[i].v[cols[k]] <= 0)
        return 0;
  return a.lo > 0 && a.hi / a.lo > factor;
}

static int y_log(const trace *t, const chart *c) {
  int cols[5];
  size_t n = y_columns(c, cols);
  return c->logy >= 0 ? c->logy : auto_log(t, cols, n, 20);
}

/* Writes a vertex unless it is within a tenth of a pixel of the last one
 * (thousands of iterations need no more vertices than pixels). */
static void vertex(FILE *f, double px, double py, double last[2]) {
  if (fabs(px - last[0]) < 0.1 && fabs(py - last[1]) < 0.1)
    return;
  fprintf(f, "%.1f,%.1f ", px, py);
  last[0] = px;
  last[1] = py;
}

static void polyline(FILE *f, const trace *t, const axis *x, const axis *y, int xcol,
                     const line *l) {
  int open = 0;
  size_t points = 0;
  double last[2] = {NAN, NAN};
  for (size_t i = 0; i <= t->n; i++) {
    int ok = i < t->n && usable(x, t->rows[i].v[xcol]) && usable(y, t->rows[i].v[l->col]);
    if (ok && !open) {
      fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"",
              l->color, l->dashed ? " stroke-dasharray=\"7 4\"" : "");
      open = 1;
      last[0] = last[1] = NAN;
    }
    if (ok) {
      vertex(f, axis_px(x, t->rows[i].v[xcol]), axis_px(y, t->rows[i].v[l->col]), last);
      points++;
    } else if (open) { /* a gap: NaN, or not on a log axis */
      fputs("\"/>\n", f);
      open = 0;
    }
  }
  if (points > 60)
    return;
  for (size_t i = 0; i < t->n; i++) /* few points: mark them */
    if (usable(x, t->rows[i].v[xcol]) && usable(y, t->rows[i].v[l->col]))
      fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n",
              axis_px(x, t->rows[i].v[xcol]), axis_px(y, t->rows[i].v[l->col]), l->color);
}

/* The band between two columns, as a polygon (points where both are). */
static void band(FILE *f, const trace *t, const axis *x, const axis *y, const chart *c) {
  fputs("<polygon fill=\"#9ecae1\" fill-opacity=\"0.55\" stroke=\"#6baed6\" "
        "stroke-width=\"1\" points=\"", f);
  double last[2] = {NAN, NAN};
  for (int pass = 0; pass < 2; pass++)
    for (size_t j = 0; j < t->n; j++) {
      const row *r = &t->rows[pass ? t->n - 1 - j : j];
      if (usable(x, r->v[c->xcol]) && usable(y, r->v[c->band_lo]) &&
          usable(y, r->v[c->band_hi]))
        vertex(f, axis_px(x, r->v[c->xcol]), axis_px(y, r->v[pass ? c->band_hi : c->band_lo]),
               last);
    }
  fputs("\"/>\n", f);
}

static void legend(FILE *f, const chart *c) {
  size_t n = c->n_lines + (c->band_lo >= 0);
  int x = W - RIGHT - 330, y = TOP + 12;
  fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"318\" height=\"%zu\" fill=\"white\" "
             "fill-opacity=\"0.9\" stroke=\"#bbbbbb\"/>\n", x, y, 10 + 22 * n);
  int k = 0;
  if (c->band_lo >= 0) {
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"30\" height=\"12\" fill=\"#9ecae1\" "
               "stroke=\"#6baed6\"/>\n", x + 10, y + 10);
    fprintf(f, "<text x=\"%d\" y=\"%d\">", x + 50, y + 21);
    xml_text(f, c->band_label);
    fputs("</text>\n", f);
    k++;
  }
  for (size_t i = 0; i < c->n_lines; i++, k++) {
    const line *l = &c->lines[i];
    int ly = y + 16 + 22 * k;
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
               "stroke-width=\"2\"%s/>\n", x + 10, ly, x + 40, ly, l->color,
            l->dashed ? " stroke-dasharray=\"7 4\"" : "");
    fprintf(f, "<text x=\"%d\" y=\"%d\">", x + 50, ly + 5);
    xml_text(f, l->label);
    fputs("</text>\n", f);
  }
}

static void axis_title(FILE *f, const char *text, int log, int x) {
  if (x)
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"14\">",
            (LEFT + W - RIGHT) / 2, H - 24);
  else
    fprintf(f, "<text transform=\"translate(24 %d) rotate(-90)\" text-anchor=\"middle\" "
               "font-size=\"14\">", (TOP + H - BOTTOM) / 2);
  xml_text(f, text);
  fputs(log ? " \xe2\x80\x94 log scale</text>\n" : "</text>\n", f);
}

static void chart_svg(FILE *f, const trace *t, const chart *c, const char *study) {
  int logx = c->logx >= 0 ? c->logx : auto_log(t, &c->xcol, 1, 100);
  axis x = {0, 0, logx, LEFT, W - RIGHT}, y = {0, 0, y_log(t, c), H - BOTTOM, TOP};
  int cols[5];
  size_t n = y_columns(c, cols);
  data_range(t, &c->xcol, 1, &x);
  data_range(t, cols, n, &y);
  fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
             "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
             "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" "
             "font-size=\"13\">\n<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n",
             W, H, W, H, W, H);
  fprintf(f, "<text x=\"%d\" y=\"32\" text-anchor=\"middle\" font-size=\"17\" "
             "font-weight=\"bold\">", W / 2);
  xml_text(f, study);
  fputs(": ", f);
  xml_text(f, c->title);
  fputs("</text>\n", f);
  if (!axis_settle(&x) || !axis_settle(&y)) {
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">no iterations with values "
               "to plot yet</text>\n</svg>\n", W / 2, H / 2);
    return;
  }
  ticks(f, &x, 1);
  ticks(f, &y, 0);
  fprintf(f, "<clipPath id=\"plot\"><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>"
             "</clipPath>\n<g clip-path=\"url(#plot)\">\n", LEFT, TOP, W - LEFT - RIGHT,
             H - TOP - BOTTOM);
  if (c->band_lo >= 0)
    band(f, t, &x, &y, c);
  for (size_t i = 0; i < c->n_lines; i++)
    polyline(f, t, &x, &y, c->xcol, &c->lines[i]);
  fprintf(f, "</g>\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
             "stroke=\"black\"/>\n", LEFT, TOP, W - LEFT - RIGHT, H - TOP - BOTTOM);
  axis_title(f, c->xlabel, x.log, 1);
  axis_title(f, c->ylabel, y.log, 0);
  legend(f, c);
  fputs("</svg>\n", f);
}

/* ---- the charts of a study ---- */

static const char *const BLUE = "#08519c", *const ORANGE = "#d94801",
                         *const GREEN = "#238b45";

static int make_charts(chart out[4], int logx) {
  const chart loss = {"upper-level loss against cost",
                      "cost: lower-level + CG iterations (cumulative)",
                      "upper-level loss",
                      C_COST, logx, -1, C_FLO, C_FHI,
                      "certified sandwich f_lo \xe2\x89\xa4 f \xe2\x89\xa4 f_hi",
                      {{"g, the upper-level value", BLUE, C_G, 0}},
                      1};
  out[0] = loss;
  out[1] = loss;
  out[1].title = "upper-level loss against wall time";
  out[1].xlabel = "wall time of the solver (s)";
  out[1].xcol = C_WALL;
  const chart z = {"hypergradient per iteration", "outer iteration", "norm", C_ITER, 0, 1,
                   -1, -1, NULL,
                   {{"\xe2\x80\x96z\xe2\x80\x96, the inexact hypergradient", BLUE, C_Z, 0},
                    {"\xcf\x89, certified bound on \xe2\x80\x96z \xe2\x88\x92 \xe2\x88\x87" "f\xe2\x80\x96",
                     ORANGE, C_OMEGA, 1}},
                   2};
  out[2] = z;
  const chart acc = {"accuracies per iteration", "outer iteration", "accuracy, sandwich width", C_ITER, 0, 1,
                     -1, -1, NULL,
                     {{"\xce\xb5, lower-level accuracy", GREEN, C_EPS, 0},
                      {"\xce\xb4, adjoint (CG) residual", ORANGE, C_DELTA, 1},
                      {"f_hi \xe2\x88\x92 f_lo, width of the sandwich", BLUE, C_GAP, 0}},
                     3};
  out[3] = acc;
  return 4;
}

static const char *const chart_files[4] = {"loss-cost", "loss-time", "znorm", "accuracy"};

/* ---- PNG ---- */

/* The full path of a program on PATH (owned), or NULL. */
static char *find_program(const char *name) {
  const char *path = getenv("PATH");
  if (!path || !*path)
    path = "/usr/bin:/bin";
  while (*path) {
    size_t n = strcspn(path, ":");
    char *full = malloc(n + strlen(name) + 2);
    if (!full)
      return NULL;
    (void)snprintf(full, n + strlen(name) + 2, "%.*s/%s", (int)n, path, name);
    if (n && access(full, X_OK) == 0)
      return full;
    free(full);
    path += n + (path[n] == ':');
  }
  return NULL;
}

/* Runs argv[0] (a full path) and waits: 0 if it exited 0. */
static int run_program(char *const argv[]) {
  pid_t pid;
  if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0)
    return -1;
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR)
      return -1;
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* rsvg-convert renders SVG best; ImageMagick's convert is the fallback. */
static char *find_converter(int *is_rsvg) {
  char *p = find_program("rsvg-convert");
  *is_rsvg = p != NULL;
  return p ? p : find_program("convert");
}

static int to_png(const char *conv, int is_rsvg, const char *svg, char *png) {
  char *rsvg_argv[] = {(char *)conv, "-o", png, (char *)svg, NULL};
  char *magick_argv[] = {(char *)conv, (char *)svg, png, NULL};
  return run_program(is_rsvg ? rsvg_argv : magick_argv);
}

/* ---- the command ---- */

typedef struct plot_opts {
  const char *db, *study, *out, *format;
  int logx; /* -1 automatic, 0 linear, 1 log */
  int help;
} plot_opts;

static const char plot_usage[] =
    "usage: hyperd plot STUDY [--db FILE] [--out DIR] [--format svg|png]\n"
    "                   [--logx|--linx]\n"
    "Convergence plots of STUDY (a name or a numeric id), one file each:\n"
    "  NAME-loss-cost.svg  certified sandwich f_lo..f_hi and g against the cost\n"
    "                      (lower-level + CG iterations)\n"
    "  NAME-loss-time.svg  the same against wall time\n"
    "  NAME-znorm.svg      ||z|| and omega per iteration (log scale)\n"
    "  NAME-accuracy.svg   eps, delta and f_hi - f_lo per iteration (log scale)\n"
    "  --db FILE       database (default hyperd.db in the current directory)\n"
    "  --out DIR       where to write them (default: the current directory)\n"
    "  --format F      svg (default) or png: also a PNG of each, made with\n"
    "                  rsvg-convert or ImageMagick's convert when present\n"
    "  --logx, --linx  log or linear cost and time axes (default: log when\n"
    "                  they span more than a factor 100)\n"
    "The paths written go to stdout, one per line.\n";

static int usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "hyperd plot: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, " (try --help)\n");
  return EXIT_USAGE;
}

static int parse(int argc, char **argv, plot_opts *o) {
  memset(o, 0, sizeof *o);
  o->db = "hyperd.db";
  o->out = ".";
  o->format = "svg";
  o->logx = -1;
  static const char *const names[] = {"--db", "--out", "--format"};
  const char **const fields[] = {&o->db, &o->out, &o->format};
  int only_positional = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (only_positional || a[0] != '-' || a[1] == '\0') {
      if (o->study)
        return usage_error("unexpected argument \"%s\"", a);
      o->study = a;
    } else if (strcmp(a, "--") == 0) {
      only_positional = 1;
    } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      o->help = 1;
    } else if (strcmp(a, "--logx") == 0 || strcmp(a, "--linx") == 0) {
      o->logx = a[3] == 'o';
    } else {
      size_t k = 0, n = 0;
      while (k < 3 && (strncmp(a, names[k], n = strlen(names[k])) != 0 ||
                       (a[n] != '=' && a[n] != '\0')))
        k++;
      if (k == 3)
        return usage_error("unknown option %s", a);
      if (a[n] == '\0' && i + 1 >= argc)
        return usage_error("option %s needs a value", a);
      *fields[k] = a[n] == '=' ? a + n + 1 : argv[++i];
    }
  }
  if (o->help) {
    fputs(plot_usage, stdout);
    return EXIT_OK;
  }
  if (!o->study)
    return usage_error("%s", "which study? (a name or a numeric id)");
  if (strcmp(o->format, "svg") != 0 && strcmp(o->format, "png") != 0)
    return usage_error("unknown format \"%s\" (svg or png)", o->format);
  if (!*o->db || !*o->out)
    return usage_error("%s", "--db and --out need a name");
  return -1;
}

/* Reads the study's iterations: -1 to go on, else the exit code. */
static int read_trace(const plot_opts *o, hyd_store_study *s, trace *t) {
  hyd_store *st = NULL;
  int status = hyd_store_open(&st, o->db, HYD_STORE_READONLY);
  int code = -1;
  if (status != HYD_STORE_OK) {
    fprintf(stderr, "hyperd plot: cannot read the database: %s\n", hyd_store_errmsg(st));
    code = status == HYD_STORE_ENOENT || status == HYD_STORE_ENOTDB ||
                   status == HYD_STORE_ETOONEW || status == HYD_STORE_ETOOOLD
               ? EXIT_USAGE
               : EXIT_FAIL;
  } else if ((status = hyd_store_lookup_study(st, o->study, s)) != HYD_STORE_OK) {
    fprintf(stderr, "hyperd plot: %s\n", hyd_store_errmsg(st));
    code = status == HYD_STORE_ENOTFOUND ? EXIT_USAGE : EXIT_FAIL;
  } else if ((status = hyd_store_foreach_iteration(st, s->id, keep_row, t)) != HYD_STORE_OK ||
             t->oom) {
    fprintf(stderr, "hyperd plot: %s\n", t->oom ? "out of memory" : hyd_store_errmsg(st));
    hyd_store_study_clear(s);
    code = EXIT_FAIL;
  }
  hyd_store_close(st);
  return code;
}

/* DIR/NAME-what.ext with the study name made safe for a file name. */
static char *output_path(const char *dir, const char *study, const char *what,
                         const char *ext) {
  size_t n = strlen(dir) + strlen(study) + strlen(what) + strlen(ext) + 4;
  char *p = malloc(n);
  if (!p)
    return NULL;
  (void)snprintf(p, n, "%s/%s-%s.%s", dir, study, what, ext);
  for (char *c = p + strlen(dir) + 1, *end = c + strlen(study); c < end; c++)
    if (!(*c >= 'a' && *c <= 'z') && !(*c >= 'A' && *c <= 'Z') &&
        !(*c >= '0' && *c <= '9') && *c != '.' && *c != '_' && *c != '-')
      *c = '_';
  return p;
}

static int write_svg(const char *path, const trace *t, const chart *c, const char *study) {
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "hyperd plot: cannot write %s: %s\n", path, strerror(errno));
    return EXIT_FAIL;
  }
  chart_svg(f, t, c, study);
  int bad = ferror(f) != 0;
  if (fclose(f) != 0 || bad) {
    fprintf(stderr, "hyperd plot: writing %s failed: %s\n", path, strerror(errno));
    return EXIT_FAIL;
  }
  printf("%s\n", path);
  return EXIT_OK;
}

static int write_plots(const plot_opts *o, const hyd_store_study *s, const trace *t) {
  if (mkdir(o->out, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "hyperd plot: cannot create %s: %s\n", o->out, strerror(errno));
    return EXIT_FAIL;
  }
  int png = strcmp(o->format, "png") == 0, is_rsvg = 0;
  char *conv = png ? find_converter(&is_rsvg) : NULL;
  if (png && !conv)
    fprintf(stderr, "hyperd plot: neither rsvg-convert nor ImageMagick's convert is "
                    "installed: SVG only (Debian: apt-get install librsvg2-bin)\n");
  chart charts[4];
  int n = make_charts(charts, o->logx), code = EXIT_OK, converted = EXIT_OK;
  for (int i = 0; i < n && code == EXIT_OK; i++) {
    char *svg = output_path(o->out, s->name, chart_files[i], "svg");
    char *out = conv ? output_path(o->out, s->name, chart_files[i], "png") : NULL;
    if (!svg || (conv && !out)) {
      fprintf(stderr, "hyperd plot: out of memory\n");
      code = EXIT_FAIL;
    } else if ((code = write_svg(svg, t, &charts[i], s->name)) == EXIT_OK && conv) {
      if (to_png(conv, is_rsvg, svg, out) == 0) {
        printf("%s\n", out);
      } else { /* the SVGs are still worth writing */
        fprintf(stderr, "hyperd plot: %s could not convert %s to PNG: SVG only\n", conv,
                svg);
        converted = EXIT_FAIL;
        free(conv);
        conv = NULL;
      }
    }
    free(svg);
    free(out);
  }
  if (code == EXIT_OK)
    code = converted;
  free(conv);
  return code;
}

int hyd_cli_plot(int argc, char **argv) {
  plot_opts o;
  int code = parse(argc, argv, &o);
  if (code >= 0)
    return code;
  hyd_store_study s;
  trace t = {0};
  if ((code = read_trace(&o, &s, &t)) < 0) {
    if (t.n == 0)
      fprintf(stderr, "hyperd plot: study '%s' has no iterations yet: empty plots\n", s.name);
    code = write_plots(&o, &s, &t);
    hyd_store_study_clear(&s);
  }
  free(t.rows);
  if (fflush(stdout) != 0 && code == EXIT_OK)
    code = EXIT_FAIL;
  return code;
}
