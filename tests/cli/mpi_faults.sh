#!/usr/bin/env bash
# Faults of an `mpirun -np 2` job:
# 1. kill -9 of the whole job (mpirun and both ranks: every process of its
#    session) at a random iteration, then `mpirun -np 2 hyperd resume`:
#    what was committed is intact and the resumed study ends on the
#    trajectory of an uninterrupted `mpirun -np 2` run, bit for bit (costs
#    included: with one sample on two ranks the second rank solves
#    line-search trials speculatively, and that work is counted), whose
#    theta equals the single-process run's at every iteration;
# 2. SIGTERM to rank 0 (what SLURM sends to each task): INTERRUPTED within
#    5 s, the job exits 0, and the resume ends on the same trajectory.
# (SIGTERM to mpirun itself: the study is INTERRUPTED too, but Open MPI's
# mpirun then exits 1; not asserted here.)
source "$(dirname "$0")/lib.sh" "$@"
command -v mpirun > /dev/null || { note "no mpirun: skipped"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN=(mpirun -np 2 --oversubscribe)
note "seed $TEST_SEED"

MAX_ITER=450
write_study study.json quad $MAX_ITER
expect_rc 0 "$HYPERD" run study.json -q --db serial.db
expect_rc 0 "${MPIRUN[@]}" "$HYPERD" run study.json -q --db reference.db
trajectory reference.db quad > reference.txt
[ "$(sqlite3 serial.db 'SELECT hex(theta) FROM iterations ORDER BY iteration')" = \
  "$(sqlite3 reference.db 'SELECT hex(theta) FROM iterations ORDER BY iteration')" ] ||
  fail "theta under mpirun -np 2 differs from the single-process run"

K=$(( 10 + RANDOM % 300 ))
setsid "${MPIRUN[@]}" "$HYPERD" run study.json -q --db killed.db > /dev/null 2>&1 &
pid=$!
BG_PIDS+=("$pid")
wait_iteration killed.db quad "$K" "$pid" || fail "the job ended before iteration $K"
# Open MPI puts each rank in a process group of its own: the job is the
# session that setsid started (its id is $pid: no job control here).
kill -9 $(pgrep -s "$pid")
wait "$pid" 2>/dev/null || true
for _ in $(seq 50); do pgrep -s "$pid" > /dev/null || break; sleep 0.1; done
pgrep -s "$pid" > /dev/null && fail "processes of the killed job are still alive"
[ "$(sqlite3 killed.db 'PRAGMA integrity_check')" = ok ] || fail "integrity_check after the kill"
n=$(last_iteration killed.db quad)
[ "$n" -ge "$K" ] && [ "$n" -lt $MAX_ITER ] || fail "after the kill at $K: $n iterations"
trajectory killed.db quad > kept.txt
head -n "$n" reference.txt | cmp -s - kept.txt || fail "the $n committed iterations differ from the reference"
[ "$(sql killed.db 'SELECT ranks FROM studies')" = 2 ] || fail "ranks not recorded as 2"

expect_rc 0 "${MPIRUN[@]}" "$HYPERD" resume quad -q --db killed.db
[ "$(status_of killed.db quad)" = COMPLETE ] || fail "status $(status_of killed.db quad)"
trajectory killed.db quad | cmp -s - reference.txt || fail "the resumed 2-rank trajectory differs from the 1-process run"
note "killed the 2-rank job at iteration $n (asked $K), resumed to the same $MAX_ITER iterations"

K=$(( 10 + RANDOM % 300 ))
"${MPIRUN[@]}" "$HYPERD" run study.json -q --db term.db > /dev/null 2> term.err &
pid=$!
BG_PIDS+=("$pid")
wait_iteration term.db quad "$K" "$pid" || fail "the job ended before iteration $K"
rank0=
for c in $(pgrep -P "$pid"); do
  tr '\0' '\n' < "/proc/$c/environ" | grep -qx OMPI_COMM_WORLD_RANK=0 && rank0=$c
done
[ -n "$rank0" ] || fail "rank 0 not found among mpirun's children"
t0=$(( $(date +%s%N) / 1000000 ))
kill -TERM "$rank0"
rc=0
wait "$pid" || rc=$?
ms=$(( $(date +%s%N) / 1000000 - t0 ))
[ "$rc" -eq 0 ] || fail "SIGTERM to rank 0: mpirun exited $rc: $(cat term.err)"
[ "$ms" -le 5000 ] || fail "SIGTERM to rank 0: $ms ms"
[ "$(status_of term.db quad)" = INTERRUPTED ] || fail "SIGTERM to rank 0: status $(status_of term.db quad)"
n=$(last_iteration term.db quad)
# each rank kept its warm starts after iteration n: the checkpoint is n's
[ "$(sql term.db "SELECT c.iteration FROM checkpoints c JOIN studies s ON s.id = c.study_id WHERE s.name = 'quad'")" = "$n" ] ||
  fail "SIGTERM to rank 0: the checkpoint is not at the last recorded iteration $n"
expect_rc 0 "${MPIRUN[@]}" "$HYPERD" resume quad -q --db term.db
trajectory term.db quad | cmp -s - reference.txt || fail "after SIGTERM: the resumed trajectory differs"
note "SIGTERM to rank 0 after iteration $K: INTERRUPTED at $n in $ms ms, exit 0, resumed to the same end"
note "ok"
