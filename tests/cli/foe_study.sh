#!/usr/bin/env bash
# The "foe" problem type through the daemon's study builder
# (coordinator/daemon/problem_foe.c): a tiny Field-of-Experts study (3
# images of 10 x 12, 2 filters of 3 x 3, one outer iteration) runs, reports
# PSNR on its training and held-out images, records a theta of the
# documented length 1 + 2K + K fs^2, and repeats bit for bit; bad FoE
# specifications are refused with exit 2, a message naming the fault and no
# database.
source "$(dirname "$0")/lib.sh" "$@"

# Three 12 x 10 binary PGMs with different contents (bytes below 128, so
# that awk writes them as single bytes in any locale).
mkdir -p img
for k in 1 2 3; do
  { printf 'P5\n12 10\n255\n'
    LC_ALL=C awk -v k=$k 'BEGIN { for (i = 0; i < 120; i++)
      printf "%c", (i * 37 * k + 11 * int(i / 12)) % 100 + 20 }'; } > img/im$k.pgm
done
cat > foe.json <<'EOF'
{"name": "tiny",
 "problem": {"type": "foe", "images": "img", "train": 2, "sigma": 0.1, "noise_seed": 3,
             "n_filters": 2, "filter_size": 3, "init_seed": 5},
 "method": "rigorous", "options": {"alpha0": 1.0, "max_iter": 1}}
EOF

expect_rc 0 "$HYPERD" run foe.json --db a.db
cat stdout stderr > all
grep -q 'Field of Experts (2 filters of 3 x 3), 2 training + 1 held-out images of 10 x 12' all ||
  fail "no problem summary: $(cat all)"
grep -Eq 'mean PSNR on the 2 training images: noisy [0-9]+\.[0-9]+ dB, denoised [0-9]+\.[0-9]+ dB' all ||
  fail "no training PSNR: $(cat all)"
grep -Eq 'mean PSNR on the 1 held-out images: noisy [0-9]+\.[0-9]+ dB, denoised [0-9]+\.[0-9]+ dB' all ||
  fail "no held-out PSNR: $(cat all)"
grep -Eq 'expert weights e\^\(t0 \+ t_k\) in \[.*\], nu_k in \[.*\] \(2 filters\)' all ||
  fail "no expert weights: $(cat all)"
[ "$(last_iteration a.db tiny)" = 1 ] || fail "expected 1 iteration, found $(last_iteration a.db tiny)"
# 1 + 2 * 2 + 2 * 9 = 23 doubles
[ "$(sql a.db "SELECT length(theta) FROM iterations WHERE iteration = 1")" = 184 ] ||
  fail "theta is not 23 doubles"
note "ran: $(grep 'mean PSNR on the 1 held-out' all)"

# The same study again: the same trajectory to the bit (noise, seeded
# filters and the kernels are deterministic).
expect_rc 0 "$HYPERD" run foe.json -q --db b.db
[ "$(trajectory a.db tiny)" = "$(trajectory b.db tiny)" ] || fail "a second run differs"

# bad NAME SED PATTERN: foe.json changed by SED must be refused.
bad() {
  sed "$2" foe.json > bad.json
  cmp -s bad.json foe.json && fail "$1: the sed expression changed nothing"
  expect_rc 2 "$HYPERD" run bad.json -q --db bad.db
  grep -Eq -- "$3" stderr || fail "$1: message '$(cat stderr)' does not match '$3'"
  [ -e bad.db ] && fail "$1: created a database"
  note "$1: $(head -1 stderr)"
}
bad "pad not below filter_size" 's/"filter_size": 3/"filter_size": 3, "pad": 3/' \
  'pad must be an integer in \[0, filter_size\)'
bad "filter larger than the images" 's/"filter_size": 3/"filter_size": 23/' \
  'filter_size and pad must fit the 10 x 12 images'
bad "more training images than images" 's/"train": 2/"train": 4/' \
  'train must be between 1 and the 3 images'
bad "no filters" 's/"n_filters": 2/"n_filters": 0/' "'n_filters' must be a positive integer"
bad "sigma out of range" 's/"sigma": 0.1/"sigma": 0/' 'needs 0 < sigma < 10'
bad "unknown key" 's/"init_seed"/"init_sed"/' "unknown key 'init_sed'"
bad "theta0 of the wrong length" 's/"method"/"theta0": [1, 2, 3], "method"/' \
  'theta0 has 3 values but the problem has 23'
bad "image folder missing" 's/"images": "img"/"images": "nowhere"/' \
  'nowhere: cannot open the image folder'
