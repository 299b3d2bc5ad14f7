#!/usr/bin/env bash
# Webhook events: start, best, complete / interrupted / failed arrive as
# JSON in order; --webhook wins over the study's key; an endpoint that
# fails, hangs or is not there costs the study nothing but a bounded wait
# at its end, and never its exit code.
source "$(dirname "$0")/lib.sh" "$@"
SINK=${HYD_WEBHOOK_SINK:-$(dirname "$HYPERD")/../tests/cli/webhook_sink}
[ -x "$SINK" ] || fail "webhook_sink not found (set HYD_WEBHOOK_SINK)"

# start_sink MODE TAG: a receiver; sets PORT, its bodies go to TAG.bodies.
start_sink() {
  rm -f "$2.port"
  "$SINK" "$1" "$2.port" "$2.bodies" &
  BG_PIDS+=("$!")
  SINK_PID=$!
  for _ in $(seq 100); do [ -s "$2.port" ] && break; sleep 0.02; done
  PORT=$(cat "$2.port")
  touch "$2.bodies"
}
# events TAG: the event names received, space separated.
events() { sqlite3 :memory: "SELECT group_concat(json_extract(value, '\$.event'), ' ')
  FROM json_each(readfile('$1.json'))"; }
# as_array TAG: the bodies as one JSON array (fails on invalid JSON).
as_array() {
  printf '[%s]' "$(paste -sd, "$1.bodies")" > "$1.json"
  [ "$(sqlite3 :memory: "SELECT json_valid(readfile('$1.json'))")" = 1 ] || fail "$1: invalid JSON: $(head -c 300 "$1.bodies")"
}
jq1() { sqlite3 :memory: "SELECT $2 FROM json_each(readfile('$1.json'))${3:+ WHERE $3}"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# 1. Delivered: the study's own "webhook" key.
start_sink ok ok
write_study study.json quad 300 "\"webhook\": \"http://127.0.0.1:$PORT/hooks/hyperd\""
expect_rc 0 "$HYPERD" run study.json -q
sleep 0.2
as_array ok
ev=$(events ok)
case $ev in "start best"*" complete") ;; *) fail "events: $ev" ;; esac
[ "$(jq1 ok "group_concat(DISTINCT json_extract(value, '\$.study') || json_extract(value, '\$.study_id'))")" = "quad1" ] || fail "study name or id"
# Bests improve, in order, and come before the end; the end carries the
# stop reason and the final theta.
[ "$(jq1 ok "count(*)" "json_extract(value, '\$.event') = 'best'")" -lt 20 ] || fail "bests are not coalesced"
prev=inf
while read -r v; do
  awk -v a="$v" -v b="$prev" 'BEGIN { exit !(b == "inf" || a < b) }' || fail "best did not improve: $v after $prev"
  prev=$v
done < <(jq1 ok "json_extract(value, '\$.value')" "json_extract(value, '\$.event') = 'best'")
[ "$(jq1 ok "json_extract(value, '\$.stop_reason') || ' ' || json_extract(value, '\$.iteration') || ' ' || json_array_length(value, '\$.theta')" \
     "json_extract(value, '\$.event') = 'complete'")" = "max_iter 300 20" ] || fail "complete event: $(tail -1 ok.bodies)"
note "delivered: $(wc -l < ok.bodies) events ($ev)"

# 2. --webhook wins over the study's key (which points nowhere here), and
#    a resume announces where it starts.
start_sink ok cli
write_study study2.json quad2 300 '"webhook": "http://127.0.0.1:9/nowhere"'
"$HYPERD" run study2.json -q --webhook "http://127.0.0.1:$PORT/" > /dev/null 2> run2.err &
pid=$!
BG_PIDS+=("$pid")
wait_iteration hyperd.db quad2 50 "$pid" || fail "quad2 ended early"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 0 ] || fail "interrupted run with a webhook exited $rc"
k=$(last_iteration hyperd.db quad2)
expect_rc 0 "$HYPERD" resume quad2 -q --webhook "http://127.0.0.1:$PORT/"
sleep 0.2
as_array cli
case $(events cli) in "start "*"interrupted start "*" complete") ;; *) fail "interrupt + resume events: $(events cli)" ;; esac
[ "$(jq1 cli "json_extract(value, '\$.iteration')" "json_extract(value, '\$.event') = 'interrupted'")" = "$k" ] || fail "interrupted event iteration"
[ "$(jq1 cli "json_extract(value, '\$.iteration')" "json_extract(value, '\$.event') = 'start' AND key = (SELECT max(key) FROM json_each(readfile('cli.json')) WHERE json_extract(value, '\$.event') = 'start')")" = "$k" ] ||
  fail "resume start event iteration"
note "interrupt + resume: $(events cli | tr ' ' '\n' | uniq -c | tr -s ' \n' ' ')"

# 3. An endpoint answering 500: three tries per event, then the study goes
#    on; the loss is recorded as an event of the study.
start_sink fail bad
write_study study3.json quad3 40
expect_rc 0 "$HYPERD" run study3.json -q --webhook "http://127.0.0.1:$PORT/"
grep -q "events not delivered" stderr || fail "no word about lost events: $(cat stderr)"
[ "$(status_of hyperd.db quad3)" = COMPLETE ] || fail "quad3 not COMPLETE"
sql hyperd.db "SELECT message FROM events e JOIN studies s ON s.id = e.study_id WHERE s.name = 'quad3' AND e.kind = 'webhook'" |
  grep -q 'HTTP status 500' || fail "no webhook event recorded"
as_array bad
n_start=$(jq1 bad "count(*)" "json_extract(value, '\$.event') = 'start'")
[ "$n_start" = 3 ] || fail "start was tried $n_start times, not 3"
note "HTTP 500: $(wc -l < bad.bodies) requests, exit 0"

# 4. An endpoint that never answers, and one that is not there: the study
#    ends normally; the wait at its end is bounded (3 s drain).
start_sink hang hang
write_study study4.json quad4 40
t0=$(now_ms)
expect_rc 0 "$HYPERD" run study4.json -q --webhook "http://127.0.0.1:$PORT/"
ms=$(( $(now_ms) - t0 ))
[ "$ms" -lt 9000 ] || fail "a hanging endpoint held the run for $ms ms"
grep -q "events not delivered" stderr || fail "hang: no word about lost events"
start_sink ok closed
kill "$SINK_PID"
wait "$SINK_PID" 2>/dev/null || true
write_study study5.json quad5 40
t0=$(now_ms)
expect_rc 0 "$HYPERD" run study5.json -q --webhook "http://127.0.0.1:$PORT/"
ms2=$(( $(now_ms) - t0 ))
[ "$ms2" -lt 9000 ] || fail "a closed port held the run for $ms2 ms"
note "hanging endpoint: $ms ms, closed port: $ms2 ms, both exit 0"

# 5. serve: a queued study whose data vanished posts "failed" with why.
start_sink ok serve
write_data_study "$WORK/q.json" queued data 20
expect_rc 0 "$HYPERD" submit q.json --db serve.db
rm data/x0.csv
expect_rc 0 "$HYPERD" serve --exit-when-idle -q --db serve.db --webhook "http://127.0.0.1:$PORT/"
sleep 0.2
as_array serve
[ "$(events serve)" = failed ] || fail "serve events: $(events serve)"
jq1 serve "json_extract(value, '\$.message')" | grep -q 'x0\.csv' || fail "failed event without the reason"
note "ok"
