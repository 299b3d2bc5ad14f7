#!/usr/bin/env bash
# --help on every subcommand exits 0 and prints its usage on stdout; an
# unknown subcommand, no subcommand and an unknown option exit 2 with a
# message on stderr.
source "$(dirname "$0")/lib.sh" "$@"

# Every command that `hyperd --help` lists, plus the ones the issue names.
COMMANDS=$("$HYPERD" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }')
for cmd in run resume submit serve studies trials best export; do
  grep -qx "$cmd" <<< "$COMMANDS" || fail "hyperd --help does not list $cmd"
done
for cmd in $COMMANDS; do
  expect_rc 0 "$HYPERD" "$cmd" --help
  grep -q "^usage: hyperd $cmd" stdout || fail "$cmd --help: no usage line: $(head -1 stdout)"
  [ ! -e hyperd.db ] || fail "$cmd --help created a database"
done
note "--help: $(echo $COMMANDS)"
expect_rc 0 "$HYPERD" --help
grep -q '^usage: hyperd COMMAND' stdout || fail "hyperd --help: no usage"
expect_rc 0 "$HYPERD" --version
grep -q '^hyperd [0-9]' stdout || fail "--version: $(cat stdout)"

expect_rc 2 "$HYPERD" frobnicate
grep -q "unknown command 'frobnicate'" stderr || fail "unknown command: $(cat stderr)"
expect_rc 2 "$HYPERD"
grep -q '^usage:' stderr || fail "no command: no usage on stderr"
expect_rc 2 "$HYPERD" run
grep -q 'missing argument' stderr || fail "run without a file: $(cat stderr)"
expect_rc 2 "$HYPERD" run x.json --frob
grep -q "unknown option '--frob'" stderr || fail "run --frob: $(cat stderr)"
expect_rc 2 "$HYPERD" serve --frob
expect_rc 2 "$HYPERD" studies --frob
[ ! -e hyperd.db ] || fail "a usage error created a database"
note "ok"
