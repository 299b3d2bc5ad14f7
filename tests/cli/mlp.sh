#!/usr/bin/env bash
# The "mlp" problem type on the digits table: its non-convex lower level
# makes the study record that the bound is not certified (studies.bound,
# an event, every iteration), say so on stderr at the start, in the final
# report and in `hyperd best`; a convex study beside it stays
# 'certifiable'. The seeded start is deterministic; bad keys are refused.
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=$(cd "$HERE/../../../shared/data" && pwd)
source "$HERE/lib.sh" "$@"

# mlp_study FILE NAME MAX_ITER [EXTRA_PROBLEM_JSON]: 4 hidden units, cheap
mlp_study() {
  cat > "$1" <<JSON
{"name": "$2",
 "problem": {"type": "mlp", "table": "$SHARED/tables/digits.csv",
             "feature_scale": 16,
             "split": {"train": "$SHARED/splits/digits_train_idx.txt",
                       "val": "$SHARED/splits/digits_val_idx.txt",
                       "test": "$SHARED/splits/digits_test_idx.txt",
                       "scaler": "$SHARED/splits/digits_scaler_mean_std.csv"},
             "hidden": 4, "kappa0": 0.001${4:+, $4}},
 "options": {"max_iter": $3, "alpha0": 1, "lower.method": "newton_cg"}}
JSON
}

mlp_study run.json net 1
expect_rc 0 "$HYPERD" run run.json --db a.db
grep -q "study 'net': the lower level is non-convex: omega and the sandwich .* are NOT certified" stderr \
  || fail "no notice on stderr: $(cat stderr)"
grep -q '^upper value g = .*(heuristic, NOT certified: f in \[' stdout \
  || fail "final report: $(grep 'upper value' stdout)"
grep -q '^theta = -0.693147 -0.693147 -6.90776 -6.90776$' stdout \
  && fail "theta did not move: $(grep theta stdout)"
grep -q 'test: loss [0-9.]*, accuracy 0\.[0-9]* .*network retrained from the seeded start' stdout \
  || fail "no test line: $(cat stdout)"
[ "$(sqlite3 a.db "SELECT bound FROM studies WHERE name = 'net'")" = not_certified ] \
  || fail "studies.bound: $(sqlite3 a.db 'SELECT name, bound FROM studies')"
[ "$(sqlite3 a.db "SELECT count(*) FROM events e JOIN studies s ON s.id = e.study_id
                   WHERE s.name = 'net' AND e.kind = 'bound' AND e.level = 2
                     AND e.message LIKE '%NOT certified%'")" = 1 ] \
  || fail "no 'bound' event: $(sqlite3 a.db 'SELECT kind, message FROM events')"
[ "$(sqlite3 a.db "SELECT count(*), sum(certified) FROM iterations")" = "1|0" ] \
  || fail "iterations: $(sqlite3 a.db 'SELECT iteration, certified FROM iterations')"
expect_rc 0 "$HYPERD" best net --db a.db
grep -q '^bound       NOT certified: the lower level is non-convex' stdout \
  || fail "best: $(cat stdout)"
grep -q '^z_norm .*, heuristic)$' stdout || fail "best: $(grep z_norm stdout)"
expect_rc 0 "$HYPERD" best net --db a.db --json
grep -q '"bound":[[:space:]]*"not_certified"' stdout || fail "best --json: $(cat stdout)"
note "$(grep '^bound' <("$HYPERD" best net --db a.db))"

# A convex study in the same database: certifiable, no such line.
write_study quad.json quad 3
expect_rc 0 "$HYPERD" run quad.json -q --db a.db
[ "$(sqlite3 a.db "SELECT bound FROM studies WHERE name = 'quad'")" = certifiable ] \
  || fail "quadratic: $(sqlite3 a.db 'SELECT name, bound FROM studies')"
grep -q 'NOT certified' stderr && fail "quadratic: notice on stderr"
expect_rc 0 "$HYPERD" best quad --db a.db
grep -q '^bound' stdout && fail "quadratic best: $(cat stdout)"
grep -q '^z_norm .*, certified)$' stdout || fail "quadratic best: $(grep z_norm stdout)"

# A version-1 database migrates: its old study reads 'certifiable'.
sqlite3 old.db < "$HERE/../../schema/001_initial.sql"
sqlite3 old.db "PRAGMA user_version = 1; PRAGMA application_id = 1213812804;
  INSERT INTO studies (name, problem, method, study_json, n_theta)
  VALUES ('old', 'quadratic', 'rigorous', '{}', 1)"
expect_rc 0 "$HYPERD" run quad.json -q --db old.db
[ "$(sqlite3 old.db "PRAGMA user_version; SELECT group_concat(name || '=' || bound) FROM studies")" \
  = "$(printf '3\nold=certifiable,quad=certifiable')" ] \
  || fail "migration: $(sqlite3 old.db 'PRAGMA user_version; SELECT name, bound FROM studies')"

# The seeded start: no iteration, the report retrains from it; the same
# seed gives the same network, another seed another one.
mlp_study s1.json s1 0 '"seed": 3'
expect_rc 0 "$HYPERD" run s1.json -q --db b.db
first=$(grep '^validation' stdout)
mlp_study s1b.json s1b 0 '"seed": 3'
expect_rc 0 "$HYPERD" run s1b.json -q --db b.db
[ "$(grep '^validation' stdout)" = "$first" ] || fail "seed 3 twice: $first / $(grep '^validation' stdout)"
mlp_study s2.json s2 0 '"seed": 4'
expect_rc 0 "$HYPERD" run s2.json -q --db b.db
[ "$(grep '^validation' stdout)" != "$first" ] || fail "seeds 3 and 4 gave the same network"

# Bad inputs: exit 2, the key named, no database written.
bad() {
  expect_rc 2 "$HYPERD" run "$1" -q --db bad.db
  grep -Eq -- "$2" stderr || fail "$1: message '$(cat stderr)' does not match '$2'"
  [ -e bad.db ] && fail "$1: created a database"
  note "$1: $(head -1 stderr)"
}
mlp_study grouping.json g 1 '"grouping": "per_class"'
bad grouping.json "grouping must be scalar, per_layer or per_unit"
mlp_study seed.json g 1 '"seed": -1'
bad seed.json "seed an integer in \[0, 2\^32\)"
mlp_study a0.json g 1 '"a0": 0'
bad a0.json "a0, kappa0, init_scale > 0"
mlp_study key.json g 1 '"parallel": "rows"'
bad key.json "unknown key 'parallel'"
sed 's/"hidden": 4/"hidden": 0/' run.json > hidden.json
bad hidden.json "hidden"
