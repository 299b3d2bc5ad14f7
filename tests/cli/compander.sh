#!/usr/bin/env bash
# The "compander" problem type on the digits table: the start (a0, kappa0)
# per group, a short run that lowers the validation loss with 2 C
# hyperparameters (per class), the final report, and bad inputs refused
# with exit 2 and a message naming the key.
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=$(cd "$HERE/../../../shared/data" && pwd)
source "$HERE/lib.sh" "$@"

# compander_study FILE MAX_ITER GROUPING [EXTRA_PROBLEM_JSON] [EXTRA_TOP_JSON]
compander_study() {
  cat > "$1" <<JSON
{"problem": {"type": "compander", "table": "$SHARED/tables/digits.csv",
             "feature_scale": 16,
             "split": {"train": "$SHARED/splits/digits_train_idx.txt",
                       "val": "$SHARED/splits/digits_val_idx.txt",
                       "test": "$SHARED/splits/digits_test_idx.txt",
                       "scaler": "$SHARED/splits/digits_scaler_mean_std.csv"},
             "grouping": "$3"${4:+, $4}},
 "options": {"max_iter": $2, "alpha0": 1, "lower.method": "newton_cg"}${5:+, $5}}
JSON
}

val_loss() { sed -n 's/^validation: loss \([0-9.]*\),.*/\1/p' "$1"; }

# No iteration: the report is at the start, a = a0 and kappa = kappa0.
compander_study start.json 0 scalar '"a0": 0.8, "kappa0": 0.02'
expect_rc 0 "$HYPERD" run start.json -q --db a.db
grep -q '^theta = -0.223144 -3.91202$' stdout || fail "start: $(grep theta stdout)"
grep -q '^group 0: a = 0.8, kappa = 0.02 (L2 weight near 0: 2 kappa/a^2 = 0.0625)$' stdout \
  || fail "start: no group line: $(cat stdout)"
grep -q '^weights inside' stdout || fail "start: no barrier-domain line"
start_loss=$(val_loss stdout)
[ -n "$start_loss" ] || fail "start: no validation line: $(cat stdout)"

# theta0 in the study replaces the problem's start.
compander_study given.json 0 scalar '"a0": 0.8' '"theta0": [0, -1]'
expect_rc 0 "$HYPERD" run given.json -q --db a.db
grep -q '^theta = 0 -1$' stdout || fail "theta0: $(grep theta stdout)"

# Per class: 2 x 10 hyperparameters; three iterations lower the loss.
compander_study run.json 3 per_class '"a0": 0.8, "kappa0": 0.02'
expect_rc 0 "$HYPERD" run run.json -q --db a.db
grep -q '^theta = .*(20 values)$' stdout || fail "per_class: $(grep theta stdout)"
grep -q 'test: loss [0-9.]*, accuracy 0\.9' stdout || fail "per_class: $(cat stdout)"
loss=$(val_loss stdout)
awk -v a="$loss" -v b="$start_loss" 'BEGIN { exit !(a < b - 0.01) }' \
  || fail "per_class: validation loss $loss not below the start's $start_loss"
note "validation loss $start_loss at the start, $loss after 3 iterations (per class)"

# Bad inputs: exit 2, the key named, no database written.
bad() {
  expect_rc 2 "$HYPERD" run "$1" -q --db bad.db
  grep -Eq -- "$2" stderr || fail "$1: message '$(cat stderr)' does not match '$2'"
  [ -e bad.db ] && fail "$1: created a database"
  note "$1: $(head -1 stderr)"
}
compander_study neg_a0.json 3 scalar '"a0": -0.5'
bad neg_a0.json "problem: a0, kappa0 and lipschitz_radius must be > 0"
compander_study cutoff.json 3 scalar '"cutoff_tan2": 0'
bad cutoff.json "cutoff_tan2 in \(0, 1e12\]"
compander_study parallel.json 3 scalar '"parallel": "rows"'
bad parallel.json "unknown key 'parallel'"
compander_study kappa_type.json 3 scalar '"kappa0": "small"'
bad kappa_type.json "'kappa0' must be a finite number"
compander_study theta_len.json 3 per_class '' '"theta0": [0, 0]'
bad theta_len.json "theta0 has 2 values but the problem has 20"
