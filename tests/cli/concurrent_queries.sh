#!/usr/bin/env bash
# Queries open the database read-only and work while a run is writing it:
# studies, trials, best and export, several times during one run, all exit
# 0 and see a consistent, growing study; the run is not disturbed. (A study
# far too long to end by itself, stopped by SIGTERM after the queries: a
# fast machine runs 450 iterations in a tenth of a second.)
source "$(dirname "$0")/lib.sh" "$@"

write_study study.json quad 1000000
"$HYPERD" run study.json -q > run.out 2> run.err &
pid=$!
BG_PIDS+=("$pid")
wait_iteration hyperd.db quad 1 "$pid" || fail "the run ended early: $(cat run.err)"
rounds=0 seen_running=0 last=0
while kill -0 "$pid" 2>/dev/null && [ $rounds -lt 6 ]; do
  expect_rc 0 "$HYPERD" studies
  grep -q 'RUNNING' stdout && seen_running=$((seen_running + 1))
  expect_rc 0 "$HYPERD" studies --json
  expect_rc 0 "$HYPERD" best quad
  it=$(awk '$1 == "iteration" { print $2 }' stdout)
  [ -n "$it" ] && [ "$it" -ge "$last" ] || fail "best went back from iteration $last to '$it'"
  last=$it
  expect_rc 0 "$HYPERD" trials quad
  expect_rc 0 "$HYPERD" export quad --format csv --table iterations
  # A reader sees whole iterations only: 1..n without holes.
  n=$(( $(wc -l < stdout) - 1 ))
  [ "$(cut -d, -f1 stdout | tail -n +2 | sort -n | tail -1)" = "$n" ] || fail "export saw a partial iteration set"
  expect_rc 0 "$HYPERD" export quad --format json
  rounds=$((rounds + 1))
done
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 0 ] || fail "the run failed beside the readers: $(cat run.err)"
[ "$seen_running" -eq 6 ] || fail "only $seen_running of 6 query rounds saw the study RUNNING"
[ "$(status_of hyperd.db quad)" = INTERRUPTED ] || fail "status $(status_of hyperd.db quad)"
[ "$(sqlite3 hyperd.db 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"
note "ok: $rounds rounds of queries, $seen_running while RUNNING, up to iteration $last"
