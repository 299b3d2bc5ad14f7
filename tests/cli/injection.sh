#!/usr/bin/env bash
# Study names are data, never SQL: a name with quotes, semicolons and SQL
# comments works with run, resume, studies, trials, best and export, and a
# name that would widen a spliced WHERE clause finds nothing.
source "$(dirname "$0")/lib.sh" "$@"

write_data_study "$WORK/s.json" plain data 8
NAME="q\"uote'; DROP TABLE studies; --"
EVIL="x' OR '1'='1"
expect_rc 0 "$HYPERD" run s.json -q
expect_rc 0 "$HYPERD" run s.json -q --name "$NAME"
expect_rc 0 "$HYPERD" run s.json -q --name "$EVIL\" OR \"1\"=\"1"

expect_rc 0 "$HYPERD" studies
grep -qF -- "$NAME" stdout || fail "studies does not list the name"
expect_rc 0 "$HYPERD" studies --json
[ "$(sqlite3 :memory: "SELECT json_extract(readfile('stdout'), '\$[1].name')")" = "$NAME" ] ||
  fail "studies --json: the name did not survive: $(cat stdout)"

expect_rc 0 "$HYPERD" best "$NAME"
grep -qF -- "$NAME" stdout || fail "best: $(cat stdout)"
expect_rc 0 "$HYPERD" trials "$NAME"
[ "$(grep -c evaluate stdout)" -eq "$(sql hyperd.db "SELECT count(*) FROM evaluations WHERE study_id = 2 AND kind = 'evaluate'")" ] ||
  fail "trials lists other rows than the study's"
expect_rc 0 "$HYPERD" export "$NAME" --format csv
[ "$(( $(wc -l < stdout) - 1 ))" -eq "$(sql hyperd.db 'SELECT count(*) FROM evaluations WHERE study_id = 2')" ] ||
  fail "export csv: wrong row count"
expect_rc 0 "$HYPERD" export "$NAME" --format json
[ "$(sqlite3 :memory: "SELECT json_extract(readfile('stdout'), '\$.study.name')")" = "$NAME" ] ||
  fail "export json: the name did not survive"

# What an injection would match: nothing (exit 2, no such study).
for cmd in best trials export resume; do
  expect_rc 2 "$HYPERD" "$cmd" "$EVIL"
  grep -qi 'no such study\|no study named' stderr || fail "$cmd '$EVIL': $(cat stderr)"
done
# Marked INTERRUPTED, the odd name resumes too (and finishes at once: it
# was complete).
sqlite3 hyperd.db "UPDATE studies SET status = 'INTERRUPTED' WHERE id = 2"
expect_rc 0 "$HYPERD" resume "$NAME" -q
[ "$(status_of hyperd.db "${NAME//\'/\'\'}")" = COMPLETE ] || fail "resume by the odd name"
[ "$(sql hyperd.db 'SELECT count(*) FROM studies')" -eq 3 ] || fail "studies table damaged"
[ "$(sqlite3 hyperd.db 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"
note "ok"
