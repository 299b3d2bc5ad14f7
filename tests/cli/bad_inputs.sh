#!/usr/bin/env bash
# Bad inputs: exit 2, a message on stderr naming the fault, and nothing
# written: no database created where there was none, an existing database
# byte for byte unchanged (its -wal too).
source "$(dirname "$0")/lib.sh" "$@"

# An existing database with one finished study, to check it is untouched.
write_data_study "$WORK/good.json" good data 20
expect_rc 0 "$HYPERD" run good.json -q --db existing.db
digest() {
  local f
  for f; do if [ -e "$f" ]; then sha256sum "$f"; else echo "absent $f"; fi; done
}
EXISTING=$(digest existing.db existing.db-wal)

# bad NAME FILE PATTERN [ARGS...]: `hyperd run FILE` must refuse with exit 2
# and PATTERN (grep -E) on stderr, both in a folder without a database
# (none gets created) and with --db existing.db (unchanged); then the same
# for `hyperd submit` (CMDS: the commands, default "run submit").
bad() {
  local name=$1 file=$2 pattern=$3
  shift 3
  local cmd
  for cmd in ${CMDS:-run submit}; do
    expect_rc 2 "$HYPERD" "$cmd" "$file" -q "$@"
    grep -Eq -- "$pattern" stderr || fail "$name ($cmd): message '$(cat stderr)' does not match '$pattern'"
    [ "$(wc -l < stderr)" -le 3 ] || fail "$name ($cmd): more than a short message: $(cat stderr)"
    ls hyperd.db* > /dev/null 2>&1 && fail "$name ($cmd): created a database"
    expect_rc 2 "$HYPERD" "$cmd" "$file" -q --db existing.db "$@"
    [ "$(digest existing.db existing.db-wal)" = "$EXISTING" ] || fail "$name ($cmd): existing.db changed"
  done
  note "$name: $(head -1 stderr)"
}

printf '{"name": "x", "problem": {"type": "quadratic",\n  "path": "data"' > malformed.json
bad "malformed JSON" malformed.json 'malformed\.json: malformed JSON at line 2'

sed 's/"theta0"/"thetta0"/' good.json > unknown_key.json
bad "unknown key" unknown_key.json "unknown key 'thetta0'"

sed 's/"theta0": 1.0/"theta0": "one"/' good.json > wrong_type.json
bad "wrong type" wrong_type.json "'theta0' must be a number or an array"

sed 's/"max_iter": 20/"max_iter": 20, "eps0": -1/' good.json > negative_tol.json
bad "negative tolerance" negative_tol.json "eps0.*-1.*out of range"

sed 's/"path": "data"/"path": "nowhere"/' good.json > missing_data.json
bad "missing data file" missing_data.json 'nowhere/A1\.csv: cannot open'

mkdir -p short && cp data/*.csv short/ && head -n 30 data/b2.csv > short/b2.csv
sed 's/"path": "data"/"path": "short"/' good.json > wrong_shape.json
bad "data of the wrong shape" wrong_shape.json 'short/b2\.csv: expected 40 x 1 values, found 30 x 1'

sed 's/"theta0": 1.0/"method": "newton", "theta0": 1.0/' good.json > unknown_method.json
bad "unknown method" unknown_method.json "method.*'newton'.*(rigorous|choices)"

sed 's/"theta0": 1.0/"theta0": [1, 2, 3]/' good.json > theta0_length.json
bad "theta0 of the wrong length" theta0_length.json 'theta0 has 3 values but the problem has 4'

sed 's/"type": "quadratic"/"type": "cubic"/' good.json > unknown_problem.json
bad "unknown problem type" unknown_problem.json "unknown type 'cubic'"

sed 's/"theta0": 1.0/"webhook": "ftp:\/\/example.org\/x", "theta0": 1.0/' good.json > bad_webhook.json
bad "webhook not http" bad_webhook.json 'webhook.*http:// or https://'
CMDS=run bad "--webhook not a URL" good.json 'webhook.*not a valid absolute URL' --name other --webhook 'no url'

bad "study file missing" no_such.json 'no_such\.json: cannot open the study file'

# Databases that are not ours: refused, not touched.
echo "this is a text file, not a database" > notes.txt
cp notes.txt notes.orig
expect_rc 2 "$HYPERD" run good.json -q --db notes.txt --name other
grep -q 'notes.txt.*not a SQLite database' stderr || fail "not a database: $(cat stderr)"
cmp -s notes.txt notes.orig || fail "not a database: the text file changed"
note "not a database: $(head -1 stderr)"

cp existing.db newer.db
sqlite3 newer.db 'PRAGMA user_version = 999'
NEWER=$(digest newer.db newer.db-wal)
for cmd in "run good.json --name other" "submit good.json --name other" "resume good" "serve --exit-when-idle"; do
  # shellcheck disable=SC2086
  expect_rc 2 "$HYPERD" $cmd -q --db newer.db
  grep -q 'schema version 999 is newer' stderr || fail "newer schema ($cmd): $(cat stderr)"
  [ "$(digest newer.db newer.db-wal)" = "$NEWER" ] || fail "newer schema ($cmd): the file changed"
done
note "newer schema: $(head -1 stderr)"

# resume of what cannot be resumed.
expect_rc 2 "$HYPERD" resume nosuch -q --db existing.db
grep -q 'no such study' stderr || fail "resume nosuch: $(cat stderr)"
expect_rc 2 "$HYPERD" resume good -q --db existing.db
grep -q 'is COMPLETE' stderr || fail "resume of a complete study: $(cat stderr)"
expect_rc 2 "$HYPERD" resume good -q --db absent.db
[ ! -e absent.db ] || fail "resume created a database"
[ "$(digest existing.db existing.db-wal)" = "$EXISTING" ] || fail "existing.db changed"
note "ok"
