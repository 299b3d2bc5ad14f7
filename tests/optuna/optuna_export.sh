#!/usr/bin/env bash
# optuna_export.sh HYPERD: runs a short study, exports it with
# `hyperd export --format optuna`, and checks with the real optuna CLI that
# `optuna studies | trials | best-trial` read it and that the best value is
# the one `hyperd best --json` gives. Exit 77 (CTest: skipped) when the
# optuna command is not installed. HYD_OPTUNA=/path/to/optuna picks one.
set -euo pipefail

HYPERD=${1:?usage: $0 /path/to/hyperd}
case $HYPERD in /*) ;; *) HYPERD=$PWD/$HYPERD ;; esac
[ -x "$HYPERD" ] || { echo "not an executable: $HYPERD" >&2; exit 1; }

OPTUNA=${HYD_OPTUNA:-$(command -v optuna || true)}
if [ -z "$OPTUNA" ] || ! "$OPTUNA" --version >/dev/null 2>&1; then
  echo "optuna_export: SKIPPED: the optuna command is not installed or does not run" \
       "(Debian: apt-get install python3-optuna)"
  exit 77
fi
# The Python that runs optuna reads its JSON output (it has json for sure).
PY=$(head -n 1 "$OPTUNA" | sed -n 's/^#! *\([^ ]*\).*/\1/p')
case $PY in */env) PY=python3 ;; "") PY=python3 ;; esac

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hyperd-optuna.XXXXXX")
trap 'rc=$?; if [ $rc -eq 0 ]; then rm -rf "$WORK"; else echo "optuna_export: FAILED (files kept in $WORK)" >&2; fi' EXIT
cd "$WORK"
fail() { echo "optuna_export: $*" >&2; exit 1; }
note() { echo "optuna_export: $*"; }
# Optuna warns that trials / best-trial are experimental: not our business.
optuna() { PYTHONWARNINGS=ignore "$OPTUNA" "$@"; }
json() { "$PY" -c "import json, sys; d = json.load(sys.stdin); print($1)"; }

note "$("$OPTUNA" --version)"
cat > study.json <<'JSON'
{"name": "quad-optuna",
 "problem": {"type": "quadratic", "generate": {"rows": 200, "n": 20, "p": 5, "seed": 3}},
 "options": {"max_iter": 30}}
JSON
"$HYPERD" run study.json --db h.db -q >run.log || fail "hyperd run failed: $(cat run.log)"
hyd_best=$("$HYPERD" best quad-optuna --db h.db --json | json 'repr(d["best"]["g"])')
n_iter=$("$HYPERD" export quad-optuna --db h.db --format csv --table iterations | tail -n +2 | wc -l)
note "hyperd best: g = $hyd_best over $n_iter iterations"

"$HYPERD" export quad-optuna --db h.db --format optuna --out o.db || fail "export failed"
storage=sqlite:///$WORK/o.db

# Every Optuna query command must read it.
studies=$(optuna studies --storage "$storage" -f json) || fail "optuna studies failed"
[ "$(json 'd[0]["name"]' <<<"$studies")" = quad-optuna ] || fail "optuna studies: $studies"
[ "$(json 'd[0]["n_trials"]' <<<"$studies")" = "$n_iter" ] ||
  fail "optuna studies: n_trials is not $n_iter: $studies"
[ "$(json 'd[0]["direction"]' <<<"$studies")" = "['MINIMIZE']" ] || fail "direction: $studies"
trials=$(optuna trials --study-name quad-optuna --storage "$storage" -f json) ||
  fail "optuna trials failed"
[ "$(json 'len(d)' <<<"$trials")" = "$n_iter" ] || fail "optuna trials: not $n_iter trials"
[ "$(json 'sorted(d[0]["params"])' <<<"$trials")" = \
  "['theta_0', 'theta_1', 'theta_2', 'theta_3', 'theta_4']" ] || fail "params: $trials"
[ "$(json 'sorted(k for k in ("f_lo", "f_hi", "eps", "delta", "cost") if k in d[0]["user_attrs"])' <<<"$trials")" = \
  "['cost', 'delta', 'eps', 'f_hi', 'f_lo']" ] || fail "user attributes missing: $trials"
best=$(optuna best-trial --study-name quad-optuna --storage "$storage" -f json) ||
  fail "optuna best-trial failed"
opt_best=$(json 'repr(d["value"])' <<<"$best")
note "optuna best-trial: value = $opt_best (trial $(json 'd["number"]' <<<"$best"))"
# Both print the shortest repr of the same double: within printing precision.
close() { "$PY" -c "import sys; a, b = map(float, sys.argv[1:]); sys.exit(abs(a - b) > 1e-12 * max(1.0, abs(b)))" "$1" "$2"; }
close "$opt_best" "$hyd_best" || fail "best values differ: optuna $opt_best, hyperd $hyd_best"

# An existing file is refused (exit 2) and kept; --force replaces it.
before=$(cksum < o.db)
set +e
"$HYPERD" export quad-optuna --db h.db --format optuna --out o.db 2>err.txt
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "overwriting without --force: exit $rc, not 2"
grep -q "exists already" err.txt || fail "no clear message: $(cat err.txt)"
[ "$(cksum < o.db)" = "$before" ] || fail "the refused export changed o.db"
"$HYPERD" export quad-optuna --db h.db --format optuna --out o.db --force ||
  fail "--force failed"
# Bad input: exit 2, nothing written, the hyperd database never replaced.
expect2() {
  set +e
  "$HYPERD" export "$@" 2>err.txt
  local rc=$?
  set -e
  [ "$rc" -eq 2 ] || fail "export $*: exit $rc, not 2"
}
db_sum=$(cksum < h.db)
expect2 quad-optuna --db h.db --format optuna --out h.db --force
[ "$(cksum < h.db)" = "$db_sum" ] || fail "--out h.db --force changed the hyperd database"
expect2 no-such-study --db h.db --format optuna --out n.db
grep -q "no-such-study" err.txt || fail "unknown study: $(cat err.txt)"
expect2 quad-optuna --db h.db --format optuna
[ ! -e n.db ] && [ -z "$(ls o.db.* n.db.* 2>/dev/null)" ] || fail "files left behind: $(ls)"

# With the evaluations and line-search trials (PRUNED): the best trial is
# still the best iteration, and the extra trials carry their kind.
"$HYPERD" export quad-optuna --db h.db --format optuna --out t.db --with-trials \
  --study-name with-trials || fail "export --with-trials failed"
storage=sqlite:///$WORK/t.db
best=$(optuna best-trial --study-name with-trials --storage "$storage" -f json) ||
  fail "optuna best-trial (with trials) failed"
close "$(json 'repr(d["value"])' <<<"$best")" "$hyd_best" || fail "with trials: best differs: $best"
n_eval=$("$HYPERD" export quad-optuna --db h.db --format csv | tail -n +2 | wc -l)
trials=$(optuna trials --study-name with-trials --storage "$storage" -f json)
[ "$(json 'len(d)' <<<"$trials")" = $((n_iter + n_eval)) ] ||
  fail "with trials: not $n_iter + $n_eval trials"
[ "$(json 'sorted({t["user_attrs"]["kind"] for t in d})' <<<"$trials")" = \
  "['evaluate', 'iteration', 'trial']" ] || fail "with trials: kinds wrong"
note "ok: optuna reads the export ($n_iter iterations, $n_eval evaluations and trials)"
