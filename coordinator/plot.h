/* plot.h: hyperd plot, convergence plots of a study as SVG (and PNG).
 *
 *   hyperd plot STUDY [--db FILE] [--out DIR] [--format svg|png] [--logx|--linx]
 *
 * Reads STUDY's iterations (read-only, also while it runs) and writes, in
 * DIR (default: the current directory; created if missing), hand-written
 * SVG files named after the study (characters other than letters, digits,
 * '.', '_' and '-' become '_'):
 *
 *   NAME-loss-cost.svg  the certified sandwich f_lo <= f <= f_hi (band) and
 *                       the upper value g against the cost (lower-level +
 *                       CG iterations, cumulative)
 *   NAME-loss-time.svg  the same against the solver's wall time
 *   NAME-znorm.svg      ||z|| and omega per iteration (log y)
 *   NAME-accuracy.svg   eps, delta and the sandwich width f_hi - f_lo per
 *                       iteration (log y)
 *
 * The loss axis is logarithmic when the values are positive and span more
 * than a factor 20, the cost and time axes when they span more than a
 * factor 100 (--logx / --linx decide instead). --format png also converts
 * each SVG to PNG with rsvg-convert or, failing that, ImageMagick's convert
 * (the SVG stays); without either it says so and leaves the SVG only. The paths written go
 * to stdout, one per line.
 *
 * argv[0] is "plot". Returns the exit code: 0 ok, 1 failure (I/O, a
 * database error, a converter that failed), 2 usage or bad input (unknown
 * option, no such database or study). */
#ifndef HYPERD_PLOT_H
#define HYPERD_PLOT_H

int hyd_cli_plot(int argc, char **argv);

#endif
