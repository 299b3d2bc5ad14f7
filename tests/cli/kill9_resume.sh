#!/usr/bin/env bash
# kill -9 of the whole job at random iterations, then `hyperd resume`:
# every iteration committed before a kill is still there right after it,
# PRAGMA integrity_check is ok, and the final theta and the whole recorded
# trajectory (theta bits, scalars, costs) equal those of an uninterrupted
# run of the same study in another database.
source "$(dirname "$0")/lib.sh" "$@"
note "seed $TEST_SEED (HYD_TEST_SEED replays the kill points)"

MAX_ITER=450
write_study study.json quad $MAX_ITER
expect_rc 0 "$HYPERD" run study.json -q --db reference.db
trajectory reference.db quad > reference.txt
[ "$(wc -l < reference.txt)" -eq $MAX_ITER ] || fail "the reference run recorded $(wc -l < reference.txt) iterations"
grep '^theta' stdout > reference.theta

# Three kill points, increasing, spread over the run.
K1=$(( 5 + RANDOM % 120 ))
K2=$(( K1 + 20 + RANDOM % 120 ))
K3=$(( K2 + 20 + RANDOM % 120 ))
note "kill points: after iteration $K1, $K2, $K3 of $MAX_ITER"

# check_after_kill K: what was committed is there, intact, and equal to the
# reference run's first iterations.
check_after_kill() {
  local n
  [ "$(sqlite3 killed.db 'PRAGMA integrity_check')" = ok ] || fail "integrity_check after the kill at $1"
  n=$(last_iteration killed.db quad)
  [ "$n" -ge "$1" ] || fail "killed after iteration $1 was seen, but only $n iterations are left"
  [ "$n" -lt $MAX_ITER ] || fail "the kill at $1 came too late (run finished)"
  trajectory killed.db quad > "kept.$1.txt"
  [ "$(wc -l < "kept.$1.txt")" -eq "$n" ] || fail "iterations missing before $n"
  head -n "$n" reference.txt | cmp -s - "kept.$1.txt" || fail "the first $n iterations differ from the reference run"
  [ "$(status_of killed.db quad)" = RUNNING ] || fail "status after kill -9: $(status_of killed.db quad)"
  KEPT_N[$1]=$n
}
declare -A KEPT_N

start=(run study.json -q --db killed.db)
for k in $K1 $K2 $K3; do
  # setsid: a session of its own, so that the kill takes the whole job
  # (kill9_mpi.sh does the same to an mpirun job and its ranks).
  setsid "$HYPERD" "${start[@]}" > /dev/null 2>&1 &
  pid=$!
  BG_PIDS+=("$pid")
  wait_iteration killed.db quad "$k" "$pid" || fail "the run ended before iteration $k"
  kill -9 $(pgrep -s "$pid")
  wait "$pid" 2>/dev/null || true
  check_after_kill "$k"
  note "killed at iteration ${KEPT_N[$k]} (asked $k): committed rows intact"
  start=(resume quad -q --db killed.db)
done
expect_rc 0 "$HYPERD" resume quad -q --db killed.db
grep -q "after $MAX_ITER iterations" stdout || fail "resume did not finish: $(cat stdout)"
grep '^theta' stdout | cmp -s - reference.theta || fail "final theta differs: $(grep '^theta' stdout) vs $(cat reference.theta)"
[ "$(sqlite3 killed.db 'PRAGMA integrity_check')" = ok ] || fail "integrity_check at the end"
[ "$(status_of killed.db quad)" = COMPLETE ] || fail "status at the end: $(status_of killed.db quad)"
trajectory killed.db quad > resumed.txt
cmp -s reference.txt resumed.txt || {
  diff reference.txt resumed.txt | head -5 >&2
  fail "the resumed trajectory differs from the uninterrupted one"
}
for k in $K1 $K2 $K3; do
  head -n "${KEPT_N[$k]}" resumed.txt | cmp -s - "kept.$k.txt" || fail "rows seen after the kill at $k changed"
done
# Every oracle evaluation and line-search trial too: the ones of an
# iteration cut short by a kill were replaced, not duplicated.
evaluations() {
  sql "$1" "SELECT iteration, seq, kind, hex(theta), printf('%!.17g %!.17g %!.17g',
      eps, delta, g), accepted, failed FROM evaluations ORDER BY iteration, seq"
}
[ "$(evaluations killed.db | sha256sum)" = "$(evaluations reference.db | sha256sum)" ] ||
  fail "the recorded evaluations differ from the uninterrupted run's"
# The final checkpoint and the study's result agree with the reference.
for q in "SELECT hex(theta), iteration FROM checkpoints" \
         "SELECT printf('%!.17g', best_value), best_iteration, stop_reason FROM studies"; do
  [ "$(sql killed.db "$q")" = "$(sql reference.db "$q")" ] || fail "differs: $q"
done
note "ok: 3 kills, resumed to the same $MAX_ITER iterations bit for bit"
