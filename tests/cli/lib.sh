# Shared helpers of the CLI integration tests (sourced, not run).
# Every test script: `source lib.sh "$@"` with the hyperd binary as $1; it
# then works in a temporary folder of its own, removed at exit (kept, and
# its path printed, when the test fails, to look at the databases).
set -euo pipefail

HYPERD=${1:?usage: $0 /path/to/hyperd}
case $HYPERD in /*) ;; *) HYPERD=$PWD/$HYPERD ;; esac
[ -x "$HYPERD" ] || { echo "not an executable: $HYPERD" >&2; exit 1; }
TEST_NAME=$(basename "$0" .sh)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hyperd-$TEST_NAME.XXXXXX")
BG_PIDS=()

cleanup() {
  local rc=$?
  # Waited for too, so that bash does not report them as "Killed".
  # A pid that leads a session (setsid: an mpirun job) takes its session.
  for pid in "${BG_PIDS[@]}"; do
    { kill -9 $(pgrep -s "$pid") "$pid" && wait "$pid"; } 2>/dev/null || true
  done
  if [ "$rc" -eq 0 ]; then rm -rf "$WORK"; else echo "$TEST_NAME: FAILED (files kept in $WORK)" >&2; fi
}
trap cleanup EXIT
cd "$WORK"

fail() { echo "$TEST_NAME: $*" >&2; exit 1; }
note() { echo "$TEST_NAME: $*"; }

# A random seed per run, printed so that a failure can be replayed with
# HYD_TEST_SEED=... (kill points and the like).
TEST_SEED=${HYD_TEST_SEED:-$(( $(date +%s%N) % 32768 ))}
RANDOM=$TEST_SEED

# write_study FILE NAME MAX_ITER [EXTRA_TOP_LEVEL_JSON]: a generated
# quadratic (no data files) that takes about 5 ms per outer iteration here.
# Keep MAX_ITER <= 500: past about 600 iterations eps nears 1e-13 and an
# iteration can take a minute (lower-level solves at unattainable accuracy).
write_study() {
  local extra=${4:+, $4}
  cat > "$1" <<EOF
{"name": "$2",
 "problem": {"type": "quadratic",
             "generate": {"rows": 2000, "n": 40, "p": 20, "seed": 7}},
 "theta0": 1.0,
 "options": {"max_iter": $3}$extra}
EOF
}

# write_data_study FILE NAME FOLDER MAX_ITER: a small quadratic read from
# CSV files in FOLDER (relative to the study file: 40 rows, n = 6, p = 4),
# so that a test can remove or damage them.
write_data_study() {
  local dir
  dir=$(dirname "$1")/$3
  mkdir -p "$dir"
  local m cols
  for m in A1:6 A2:6 A3:4 b1:1 b2:1; do
    cols=${m#*:}
    awk -v r=40 -v c="$cols" -v s="${#m}$cols${m:1:1}" 'BEGIN { srand(s);
      for (i = 0; i < r; i++) { line = "";
        for (j = 0; j < c; j++) line = line (j ? "," : "") sprintf("%.6f", rand() - 0.5);
        print line } }' > "$dir/${m%%:*}.csv"
  done
  awk 'BEGIN { for (i = 0; i < 6; i++) print 0 }' > "$dir/x0.csv"
  cat > "$1" <<EOF
{"name": "$2",
 "problem": {"type": "quadratic", "path": "$3", "rows": 40, "n": 6, "p": 4},
 "theta0": 1.0, "options": {"max_iter": $4}}
EOF
}

# sql DB QUERY: read-only, so that polling never creates or changes a file.
sql() { sqlite3 -readonly -cmd '.timeout 5000' "$1" "$2"; }

study_id() { sql "$1" "SELECT id FROM studies WHERE name = '$2'"; }

# The recorded trajectory: every iteration's theta bits and scalars in full
# precision (wall time left out: it is the one thing that may differ).
trajectory() {
  sql "$1" "SELECT i.iteration, hex(i.theta),
      printf('%!.17g %!.17g %!.17g %!.17g %!.17g %!.17g %!.17g %!.17g',
             i.eps, i.delta, i.alpha, i.step, i.z_norm, i.f_lo, i.f_hi, i.g),
      i.accepted, i.n_accepted, i.lower_iters, i.cg_iters, i.n_evaluations
    FROM iterations i JOIN studies s ON s.id = i.study_id
    WHERE s.name = '$2' ${3:+AND i.iteration <= $3} ORDER BY i.iteration"
}

last_iteration() {
  [ -e "$1" ] || { echo 0; return; }
  sql "$1" "SELECT coalesce(max(i.iteration), 0) FROM iterations i
            JOIN studies s ON s.id = i.study_id WHERE s.name = '$2'" 2>/dev/null || echo 0
}

status_of() { sql "$1" "SELECT status FROM studies WHERE name = '$2'"; }

# wait_iteration DB NAME K PID: until the study has K iterations recorded
# (or the process has ended: the caller checks what it needs).
wait_iteration() {
  while kill -0 "$4" 2>/dev/null; do
    [ "$(last_iteration "$1" "$2")" -ge "$3" ] && return 0
    sleep 0.02
  done
  # It may have ended between two looks, its K iterations done.
  [ "$(last_iteration "$1" "$2")" -ge "$3" ]
}

# expect_rc CODE CMD...: runs CMD, stderr to ./stderr, stdout to ./stdout.
expect_rc() {
  local want=$1 rc=0
  shift
  "$@" > stdout 2> stderr || rc=$?
  [ "$rc" -eq "$want" ] || {
    cat stderr >&2
    fail "'$*' exited $rc, expected $want"
  }
}
