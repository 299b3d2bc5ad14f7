#!/usr/bin/env bash
# A study runs in one process at a time: `resume` (and `run` under the same
# name) of a study that a live process is running is refused, naming the
# study and the owner's host and pid, and changes nothing; once the owner
# is gone (kill -9 on this host, or a heartbeat older than the timeout of
# another host) the resume takes it over. Two `serve` daemons on one
# database run every queued study exactly once.
source "$(dirname "$0")/lib.sh" "$@"
host=$(hostname)

MAX_ITER=300
write_study study.json quad $MAX_ITER
expect_rc 0 "$HYPERD" run study.json -q --db reference.db
trajectory reference.db quad > reference.txt

# The owner, frozen (SIGSTOP) after a few iterations: alive, but it moves
# on no further while the others try (it may even hold the write lock).
"$HYPERD" run study.json -q --db run.db > run.out 2> run.err &
owner=$!
BG_PIDS+=("$owner")
wait_iteration run.db quad 5 "$owner" || fail "the run ended early: $(cat run.err)"
kill -STOP "$owner"
[ "$(sql run.db "SELECT owner_host || ' ' || owner_pid FROM studies WHERE name = 'quad'")" = "$host $owner" ] ||
  fail "owner: $(sql run.db "SELECT owner_host, owner_pid FROM studies")"
before=$(sql run.db "SELECT count(*), max(iteration) FROM iterations")

expect_rc 3 "$HYPERD" resume quad -q --db run.db
grep -q "study 'quad' is RUNNING in process $owner on this host ($host)" stderr ||
  fail "refusal message: $(cat stderr)"
expect_rc 3 "$HYPERD" resume 1 -q --db run.db # by id: the same refusal
expect_rc 2 "$HYPERD" run study.json -q --db run.db
grep -q "RUNNING in process $owner on host $host" stderr || fail "run under its name: $(cat stderr)"
[ "$(sql run.db "SELECT count(*), max(iteration) FROM iterations")" = "$before" ] ||
  fail "a refused resume changed the records"
[ "$(sql run.db "SELECT status || ' ' || owner_pid FROM studies")" = "RUNNING $owner" ] ||
  fail "a refused resume changed the study"
note "refused while process $owner runs it"

# The owner dies: the next resume takes the study over and ends it exactly
# as an uninterrupted run.
kill -9 "$owner"
wait "$owner" 2>/dev/null || true
expect_rc 0 "$HYPERD" resume quad -q --db run.db
[ "$(status_of run.db quad)" = COMPLETE ] || fail "not COMPLETE after the take-over"
trajectory run.db quad | cmp -s - reference.txt || fail "the resumed trajectory differs from the uninterrupted run's"
[ "$(sql run.db "SELECT owner_pid != $owner AND heartbeat_at IS NOT NULL FROM studies")" = 1 ] ||
  fail "the new owner was not recorded"
note "taken over after kill -9"

# Another live process of this host recorded as the owner (a pid the study
# never had): refused while it exists; an owner on another host: refused
# while its heartbeat is recent, taken for gone past the timeout, and
# --take-over overrides it.
expect_rc 0 "$HYPERD" submit study.json --name other --db run.db
sleep 60 &
sleeper=$!
BG_PIDS+=("$sleeper")
owned_by() {
  sqlite3 -cmd '.timeout 5000' run.db "UPDATE studies SET status = 'RUNNING',
    owner_host = '$1', owner_pid = $2,
    heartbeat_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '$3') WHERE name = 'other'"
}
owned_by "$host" "$sleeper" '-1 hour'
expect_rc 3 "$HYPERD" resume other -q --db run.db
grep -q "RUNNING in process $sleeper on this host" stderr || fail "live pid: $(cat stderr)"
owned_by elsewhere.example 4242 '-30 seconds'
expect_rc 3 "$HYPERD" resume other -q --db run.db
grep -q "RUNNING in process 4242 on host elsewhere.example (last heartbeat 3[0-9] s ago; taken for gone after 600 s)" stderr ||
  fail "other host: $(cat stderr)"
owned_by elsewhere.example 4242 '-11 minutes'
expect_rc 0 "$HYPERD" resume other -q --db run.db
[ "$(status_of run.db other)" = COMPLETE ] || fail "stale owner of another host: not taken over"
owned_by elsewhere.example 4242 '-1 seconds'
sqlite3 run.db "UPDATE studies SET status = 'RUNNING' WHERE name = 'other'"
expect_rc 3 "$HYPERD" resume other -q --db run.db
expect_rc 0 "$HYPERD" resume other -q --take-over --db run.db
kill "$sleeper"
note "owner on this host / another host / --take-over"

# The heartbeat moves with the iterations of a running study. (A study far
# too long to end by itself: a fast machine runs 300 iterations in 0.1 s.)
write_study long.json beat 1000000
"$HYPERD" run long.json -q --db beat.db > /dev/null 2>&1 &
pid=$!
BG_PIDS+=("$pid")
wait_iteration beat.db beat 2 "$pid" || fail "beat ended early"
h1=$(sql beat.db "SELECT heartbeat_at FROM studies")
sleep 0.2
n=$(last_iteration beat.db beat)
wait_iteration beat.db beat $((n + 20)) "$pid" || fail "beat ended early"
h2=$(sql beat.db "SELECT heartbeat_at FROM studies")
[[ "$h2" > "$h1" ]] || fail "the heartbeat did not move: $h1 then $h2"
kill -TERM "$pid"
wait "$pid" || fail "beat: exit $? after SIGTERM"

# Two daemons on one database: every queued study is run once. (Short
# studies: each iteration holds the database's write lock, so two long
# runs in one database wait on each other.)
for k in 1 2 3 4 5 6; do
  write_study "s$k.json" "s$k" 5
  expect_rc 0 "$HYPERD" submit "s$k.json" --db serve.db
done
"$HYPERD" serve --db serve.db --poll 0.05 --exit-when-idle -q > d1.out 2> d1.err &
d1=$!
"$HYPERD" serve --db serve.db --poll 0.05 --exit-when-idle -q > d2.out 2> d2.err &
d2=$!
BG_PIDS+=("$d1" "$d2")
wait "$d1" || fail "daemon 1: $(cat d1.err)"
wait "$d2" || fail "daemon 2: $(cat d2.err)"
[ "$(sql serve.db "SELECT group_concat(status || ':' || n, ' ') FROM (SELECT s.status,
    (SELECT count(*) FROM events e WHERE e.study_id = s.id AND e.kind = 'complete') AS n
    FROM studies s ORDER BY s.id)")" = "$(echo COMPLETE:1{,,,,,})" ] ||
  fail "serve twice: $(sql serve.db "SELECT s.name, s.status, e.kind FROM studies s LEFT JOIN events e ON e.study_id = s.id")"
[ "$(sql serve.db "SELECT count(*) FROM studies WHERE owner_pid NOT IN ($d1, $d2)")" = 0 ] ||
  fail "serve: owners $(sql serve.db "SELECT name, owner_pid FROM studies")"
[ "$(sqlite3 serve.db 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"
note "two daemons: $(sql serve.db "SELECT count(DISTINCT owner_pid) FROM studies") of them ran the 6 studies, each once"
note "ok"
