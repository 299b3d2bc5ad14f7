#!/usr/bin/env bash
# SIGTERM while one lower-level solve runs long (an accuracy it cannot
# reach, a huge iteration cap): the issue asks that the signal abort the
# current solve and the study be INTERRUPTED within 5 s. Today the solver
# checks hyd_maid_interrupt only between oracle calls (maid.c must_stop),
# so this waits for the solve to end: the test is registered DISABLED
# until the library checks the flag inside its solves.
source "$(dirname "$0")/lib.sh" "$@"

cat > slow.json <<'JSON'
{"name": "slow",
 "problem": {"type": "quadratic",
             "generate": {"rows": 2000, "n": 40, "p": 20, "seed": 7}},
 "options": {"max_iter": 10, "eps0": 1e-300, "eps_min": 1e-300,
             "lower.max_iter": 1000000000}}
JSON
"$HYPERD" run slow.json -q > out.txt 2> err.txt &
pid=$!
BG_PIDS+=("$pid")
sleep 1
kill -0 "$pid" || fail "the run ended by itself: $(cat err.txt)"
kill -TERM "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "still running 5 s after SIGTERM (the solve in progress is not aborted)"
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 0 ] || fail "exit code $rc"
[ "$(status_of hyperd.db slow)" = INTERRUPTED ] || fail "status $(status_of hyperd.db slow)"
note "ok"
