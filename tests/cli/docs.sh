#!/usr/bin/env bash
# The transcripts of the docs, run as shown: every ```console block of
# docs/cli.md and docs/schema.md ("$ COMMAND" lines, each followed by the
# output it prints, "[exit N]" when it does not exit 0) and every ```sqlite
# block of docs/schema.md ("sqlite> STATEMENT", continued on "...>" lines,
# run with `sqlite3 -readonly -header -column demo.db`). The study files the
# transcripts use are the docs' own ```json blocks: gen.json (study-files.md)
# and demo.json (schema.md). Each file's blocks run in order in a folder of
# their own that looks like the repository root (examples/, ../shared).
#
# An output line must appear, in order, in what the command printed (stderr
# and stdout together), after masking numbers (to #), runs of white space and
# of dashes: a renamed flag, column, label or message fails, changed numbers
# and timings do not. A "..." line skips any number of lines; "..." inside a
# line stands for any text. Plain ``` blocks are not run (their commands are
# covered by the tests they name, or take minutes).
#
# The one timing in a transcript, `sleep S` before a `kill -TERM`, becomes a
# wait for the study's 50th iteration, so that the signal lands mid-run.
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
source "$HERE/lib.sh" "$@"
[ -d "$REPO/../shared/reference/quadratic" ] || fail "no ../shared beside $REPO"

mkdir bin
ln -s "$HYPERD" bin/hyperd
export PATH=$WORK/bin:$PATH

# json_block DOC NAME: the ```json block of DOC holding "name": "NAME".
json_block() {
  awk -v want="\"name\": \"$2\"" '
    /^```json/ { on = 1; text = ""; next }
    on && /^```/ { on = 0; if (index(text, want)) { printf "%s", text; found = 1; exit } next }
    on { text = text $0 "\n" }
    END { exit !found }' "$REPO/docs/$1" || fail "docs/$1: no json block named $2"
}

# blocks DOC: the runnable lines of DOC, one per line:
# "C<TAB>command", "O<TAB>expected output line", "S<TAB>sql statement".
blocks() {
  awk '
    /^```(console|sqlite)[[:space:]]*$/ { kind = substr($0, 4); on = 1; sql = ""; next }
    on && /^```/ { if (sql != "") print "S\t" sql; on = 0; sql = ""; next }
    !on { next }
    kind == "console" && /^\$ / { print "C\t" substr($0, 3); next }
    kind == "console" { print "O\t" $0; next }
    /^sqlite> / { if (sql != "") print "S\t" sql; sql = substr($0, 9); next }
    /^ *\.\.\.> / { sub(/^ *\.\.\.> */, ""); sql = sql " " $0; next }
    /^$/ { if (sql != "") print "S\t" sql; sql = ""; next }
    { if (sql != "") print "S\t" sql; sql = ""; print "O\t" $0 }
    END { if (on) exit 1 }' "$REPO/docs/$1" || fail "docs/$1: a block is not closed"
}

normalize() {
  sed -E -e 's/[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?/#/g' \
    -e 's/-{2,}/--/g' -e 's/[[:space:]]+/ /g' -e 's/^ //' -e 's/ $//'
}

# Before a transcript's kill: wait until the running study has 50 iterations.
wait_iterations() {
  local n=0
  for _ in $(seq 1 1500); do
    n=$(sql hyperd.db "SELECT count(*) FROM iterations i JOIN studies s
                       ON s.id = i.study_id WHERE s.status = 'RUNNING'" 2>/dev/null || echo 0)
    [ "${n:-0}" -ge 50 ] && return 0
    sleep 0.02
  done
  return 1
}
export -f wait_iterations sql

CHECKED=0
# check DOC WHAT: compares ./expected (doc lines) with ./actual.
check() {
  local want_rc=0 line got rest piece ok
  if grep -q '^\[exit [0-9]*\]$' expected; then
    want_rc=$(sed -n 's/^\[exit \([0-9]*\)\]$/\1/p' expected)
    sed -i '/^\[exit [0-9]*\]$/d' expected
  fi
  [ "$RC" -eq "$want_rc" ] || { cat actual >&2; fail "docs/$1: '$2' exited $RC, the doc says $want_rc"; }
  normalize < actual > actual.n
  normalize < expected > expected.n
  exec 3< actual.n
  while IFS= read -r line; do
    [ -z "$line" ] || [ "$line" = "..." ] && continue
    ok=0
    while IFS= read -r got <&3; do
      if [[ $line == *...* ]]; then
        rest=$got ok=1
        while [ -n "$line" ]; do
          piece=${line%%...*}
          [ "$piece" = "$line" ] && line=
          line=${line#*...}
          [ -z "$piece" ] && continue
          [[ $rest == *"$piece"* ]] || { ok=0; break; }
          rest=${rest#*"$piece"}
        done
      else
        [ "$got" = "$line" ] && ok=1
      fi
      [ $ok = 1 ] && break
    done
    [ $ok = 1 ] || { cat actual >&2; fail "docs/$1: '$2' printed no line like: $line"; }
  done < expected.n
  exec 3<&-
  CHECKED=$((CHECKED + 1))
}

# run_doc DOC: runs the blocks of DOC in a folder of its own.
run_doc() {
  local doc=$1 dir=$WORK/${1%.md} kind text cmd=
  mkdir -p "$dir/repo"
  ln -s "$REPO/examples" "$dir/repo/examples"
  ln -s "$REPO/../shared" "$dir/shared"
  json_block study-files.md gen > "$dir/repo/gen.json"
  json_block schema.md quad-demo > "$dir/repo/demo.json"
  blocks "$doc" > "$dir/blocks"
  cd "$dir/repo"
  : > expected
  flush() {
    [ -n "$cmd" ] || return 0
    check "$doc" "$cmd"
    cmd=
  }
  while IFS=$'\t' read -r kind text; do
    case $kind in
      O) echo "$text" >> expected; continue ;;
    esac
    flush
    : > expected
    RC=0
    if [ "$kind" = C ]; then
      cmd=$text
      case $text in
        *'kill -TERM'*) text=$(sed -E 's/sleep [0-9.]+/wait_iterations/' <<< "$text") ;;
      esac
      bash -c "$text" > actual 2>&1 < /dev/null || RC=$?
    else
      cmd="sqlite> $text"
      sqlite3 -readonly -header -column demo.db "$text" > actual 2>&1 || RC=$?
    fi
  done < "$dir/blocks"
  flush
  cd "$WORK"
}

run_doc cli.md
run_doc schema.md

# The commands the docs list are the ones hyperd has, and each takes --help.
LISTED=$("$HYPERD" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }')
DOCUMENTED=$(awk '/^\| command \|/ { on = 1; next } on && !/^\|/ { exit }
  on && /^\| `/ { sub(/^\| `/, ""); sub(/[ `].*/, ""); print }' "$REPO/docs/cli.md")
[ "$(sort <<< "$LISTED")" = "$(sort <<< "$DOCUMENTED")" ] \
  || fail "hyperd --help lists $(echo $LISTED); docs/cli.md's table: $(echo $DOCUMENTED)"
note "$CHECKED commands of docs/cli.md and docs/schema.md as shown; commands: $(echo $LISTED)"
