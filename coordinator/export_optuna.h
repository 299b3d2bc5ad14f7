/* export_optuna.h: a hyperd study as an Optuna storage (SQLite, RDB schema).
 *
 *   hyperd export STUDY --format optuna --out FILE.db [--db FILE] [--force]
 *                 [--with-trials] [--study-name NAME]
 *
 * Writes a NEW SQLite database in the schema of Optuna's RDBStorage as
 * Optuna 3.1 creates it (alembic revision v3.0.0.d, schema_version 12), so
 * that `optuna studies | trials | best-trial --storage sqlite:///FILE.db`
 * and optuna-dashboard read hyperd's results. The DDL is compiled in;
 * Python is never called. docs/optuna.md has the mapping:
 *
 * - the study: one Optuna study (direction MINIMIZE), named as in hyperd
 *   unless --study-name; study user attributes hyperd_study_id, problem,
 *   method, status, stop_reason, seed, options (the effective options).
 * - every row of `iterations` (the state after outer iteration k): one trial,
 *   COMPLETE with value g (FAIL when g is not finite), params theta_0 ..
 *   theta_{p-1} (FloatDistribution, low/high the observed range of that
 *   component over the exported trials), user attributes kind="iteration",
 *   iteration, f_lo, f_hi, eps, delta, cost (lower + CG iterations so far),
 *   lower_iters, cg_iters, z_norm, omega, accepted, certified, wall_seconds.
 * - --with-trials: also every oracle evaluation and line-search trial (the
 *   `evaluations` table), each as a PRUNED trial (FAIL if it failed) with
 *   its g as intermediate value at step 0 and user attributes kind
 *   ("evaluate" or "trial"), iteration, seq, f_lo, f_hi, eps, delta, cost,
 *   accepted. PRUNED keeps them out of Optuna's best trial, which thus stays
 *   the least g over the iterations: the same as `hyperd best`. Trials are
 *   numbered in the order of the run (an iteration's evaluations before it).
 * - datetime_start/complete: the study's started_at plus the cumulative
 *   wall seconds of the solver (approximate: database time is not counted).
 *
 * The file is written under a temporary name next to FILE.db and renamed
 * at the end, so a failed export leaves nothing behind. An existing FILE.db
 * is refused (exit 2) unless --force; the hyperd database itself never.
 *
 * argv[0] is "export". Returns the exit code: 0 ok, 1 failure (I/O,
 * database), 2 usage or bad input. */
#ifndef HYPERD_EXPORT_OPTUNA_H
#define HYPERD_EXPORT_OPTUNA_H

#include <stddef.h>

#include "store/store.h"

/* 1 if argv asks for --format optuna (hyd_cli_export hands it over). */
int hyd_export_optuna_requested(int argc, char **argv);
/* The command (see above). */
int hyd_cli_export_optuna(int argc, char **argv);

/* The export itself: writes study `s` of `st` into `path`, which must not
 * exist or be empty (the command passes a fresh temporary file), in one
 * transaction. optuna_name: the Optuna study name (NULL: s->name), copied.
 * Returns HYD_STORE_OK, or a hyd_store_status with a message in err (the
 * file, possibly with Optuna's empty tables, is the caller's to remove). */
int hyd_export_optuna(hyd_store *st, const hyd_store_study *s, const char *path,
                      const char *optuna_name, int with_trials, char *err,
                      size_t err_size);

/* The alembic revision and schema version written (Optuna 3.1.0's). */
#define HYD_OPTUNA_ALEMBIC_REVISION "v3.0.0.d"
#define HYD_OPTUNA_SCHEMA_VERSION 12

#endif
