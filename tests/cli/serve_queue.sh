#!/usr/bin/env bash
# hyperd submit queues, hyperd serve --exit-when-idle runs the queue oldest
# first: submitted studies end COMPLETE with the same trajectory as a direct
# run; a queued study whose data file was removed meanwhile ends FAILED with
# its reason, and the daemon goes on with the next one.
source "$(dirname "$0")/lib.sh" "$@"

write_study a.json first 120
write_data_study "$WORK/b.json" second data 30
write_study c.json third 60
expect_rc 0 "$HYPERD" submit a.json
grep -q "queued study 'first'" stdout || fail "submit: $(cat stdout)"
expect_rc 0 "$HYPERD" submit b.json
expect_rc 0 "$HYPERD" submit c.json
expect_rc 0 "$HYPERD" submit c.json --name fourth
# The same name twice is refused, the queue unchanged.
expect_rc 2 "$HYPERD" submit a.json
grep -q "exists already" stderr || fail "duplicate submit: $(cat stderr)"
[ "$(sql hyperd.db "SELECT group_concat(status) FROM studies")" = QUEUED,QUEUED,QUEUED,QUEUED ] ||
  fail "after submit: $(sql hyperd.db 'SELECT group_concat(status) FROM studies')"

rm data/A2.csv
expect_rc 0 "$HYPERD" serve --exit-when-idle -q
[ "$(sql hyperd.db "SELECT group_concat(name || '=' || status, ' ') FROM studies ORDER BY id")" = \
  "first=COMPLETE second=FAILED third=COMPLETE fourth=COMPLETE" ] ||
  fail "after serve: $(sql hyperd.db "SELECT group_concat(name || '=' || status, ' ') FROM studies")"
sql hyperd.db "SELECT error FROM studies WHERE name = 'second'" | grep -q 'data/A2\.csv: cannot open' ||
  fail "no reason recorded: $(sql hyperd.db "SELECT error FROM studies WHERE name = 'second'")"
grep -q "study 2 failed: .*A2.csv" stderr || fail "serve did not say why: $(cat stderr)"
# Oldest first (the daemon claims a study, which starts it, before it
# loads its data: second started too, and failed).
[ "$(sql hyperd.db "SELECT group_concat(name) FROM (SELECT name FROM studies WHERE started_at IS NOT NULL ORDER BY started_at, id)")" = first,second,third,fourth ] ||
  fail "order: $(sql hyperd.db "SELECT group_concat(name) FROM (SELECT name FROM studies WHERE started_at IS NOT NULL ORDER BY started_at, id)")"

# A queued run is the same run as a direct one.
expect_rc 0 "$HYPERD" run a.json -q --db direct.db
cmp -s <(trajectory hyperd.db first) <(trajectory direct.db first) || fail "served run differs from a direct run"

# The failed study, its data back, is retried by resume: it never had a
# checkpoint, so it starts from the beginning and ends as a direct run.
write_data_study "$WORK/b2.json" second data 30
expect_rc 0 "$HYPERD" resume second -q
[ "$(status_of hyperd.db second)" = COMPLETE ] || fail "resume of the failed study: $(status_of hyperd.db second)"
[ -z "$(sql hyperd.db "SELECT error FROM studies WHERE name = 'second'")" ] || fail "the old error stayed"
expect_rc 0 "$HYPERD" run b2.json -q --db direct.db
cmp -s <(trajectory hyperd.db second) <(trajectory direct.db second) || fail "retried study differs from a direct run"
note "ok"
