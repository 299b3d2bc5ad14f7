#!/usr/bin/env bash
# SIGTERM and SIGINT during a run (and SIGTERM to the daemon): the study
# is INTERRUPTED within 5 s with its checkpoint at its last iteration, the
# process exits 0, and `hyperd resume` continues it to the same end as an
# uninterrupted run, bit for bit.
source "$(dirname "$0")/lib.sh" "$@"
note "seed $TEST_SEED"

MAX_ITER=450
write_study study.json quad $MAX_ITER
expect_rc 0 "$HYPERD" run study.json -q --db reference.db
trajectory reference.db quad > reference.txt

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# interrupt SIGNAL K NAME DB CMD...: starts CMD, sends SIGNAL once study
# NAME has K iterations, and checks exit code, delay and what is stored.
interrupt() {
  local sig=$1 k=$2 name=$3 db=$4 pid rc=0 t0 ms n
  shift 4
  "$@" > out.txt 2> err.txt &
  pid=$!
  BG_PIDS+=("$pid")
  wait_iteration "$db" "$name" "$k" "$pid" || fail "ended before iteration $k: $(cat err.txt)"
  t0=$(now_ms)
  kill "-$sig" "$pid"
  wait "$pid" || rc=$?
  ms=$(( $(now_ms) - t0 ))
  [ "$rc" -eq 0 ] || fail "$sig: exit code $rc: $(cat err.txt)"
  [ "$ms" -le 5000 ] || fail "$sig: took $ms ms to stop"
  [ "$(status_of "$db" "$name")" = INTERRUPTED ] || fail "$sig: status $(status_of "$db" "$name")"
  n=$(last_iteration "$db" "$name")
  [ "$n" -lt $MAX_ITER ] || fail "$sig came too late: the run had finished"
  [ "$(sql "$db" "SELECT c.iteration FROM checkpoints c JOIN studies s ON s.id = c.study_id WHERE s.name = '$name'")" = "$n" ] ||
    fail "$sig: the checkpoint is not at the last recorded iteration $n"
  [ "$(sql "$db" "SELECT stop_reason FROM studies WHERE name = '$name'")" = interrupted ] || fail "$sig: stop reason"
  grep -q "interrupted at iteration $n" err.txt || fail "$sig: no message: $(cat err.txt)"
  [ "$(sqlite3 "$db" 'PRAGMA integrity_check')" = ok ] || fail "$sig: integrity_check"
  note "$sig after iteration $k: INTERRUPTED at $n in $ms ms, exit 0"
}

K1=$(( 10 + RANDOM % 150 ))
interrupt TERM "$K1" quad run.db "$HYPERD" run study.json -q --db run.db
# K2 past where the TERM stopped the run (a fast machine runs tens of
# iterations before the signal lands): a K2 already reached would send INT
# while the resumed process starts, before it handles signals (a background
# job of a script starts with SIGINT ignored).
n=$(last_iteration run.db quad)
K2=$(( n + 10 + RANDOM % 100 ))
[ "$K2" -le $(( MAX_ITER - 100 )) ] || K2=$(( n + 10 ))
interrupt INT "$K2" quad run.db "$HYPERD" resume quad -q --db run.db
expect_rc 0 "$HYPERD" resume quad -q --db run.db
[ "$(status_of run.db quad)" = COMPLETE ] || fail "not COMPLETE after resume"
trajectory run.db quad | cmp -s - reference.txt || fail "the resumed trajectory differs from the uninterrupted run's"

# The daemon: SIGTERM interrupts the running study and ends serve with 0.
expect_rc 0 "$HYPERD" submit study.json --db serve.db
interrupt TERM $(( 10 + RANDOM % 300 )) quad serve.db "$HYPERD" serve -q --db serve.db --poll 0.1
expect_rc 0 "$HYPERD" resume quad -q --db serve.db
trajectory serve.db quad | cmp -s - reference.txt || fail "serve: the resumed trajectory differs"
note "ok"
