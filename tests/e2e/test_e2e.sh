#!/bin/bash
# End to end, with stock layers only and Darknet's own command line:
#   1. generate a 3-class image set (tool_mkimages: 16x16 RGB PNGs, 30 per class for
#      training, 10 per class for validation, DIR/<split>/<label>/<n>_<label>.png);
#   2. `darknet classifier train` a small conv+BN+leaky / maxpool / avgpool / connected /
#      softmax net for 40 iterations; check every iteration's loss line, that the loss falls
#      (mean of the last 5 < 0.7 x mean of the first 5) and that the final weights are saved;
#   3. tool_predict twice on the same images gives identical outputs; loading the weights
#      into a fresh network and saving again gives a byte-identical file, which predicts the
#      same outputs;
#   4. `darknet classifier valid` reports top-1 accuracy clearly above chance;
#   5. seeded training (-seed, [net] seed=) repeats byte for byte, another seed differs;
#   6. exact labels: labels 'cat' and 'bobcat' (a substring of each other) train and validate
#      correctly; a path that matches no label, or two, stops training with a message.
# Labels (crimson, emerald, azure) share no substring with each other or with the paths,
# since Darknet matches labels by substring of the image path (data.c fill_truth).
set -u
. "$(dirname "$0")/../lib/lib.sh"
test_tmp e2e
LABELS=(crimson emerald azure)
ITERS=40

# ---- data ----
if "$TOOLS/tool_mkimages" "$TMP" train 30 11 "${LABELS[@]}" >"$TMP/train.list" \
   && "$TOOLS/tool_mkimages" "$TMP" valid 10 12 "${LABELS[@]}" >"$TMP/valid.list"; then
    pass "e2e: generated $(wc -l <"$TMP/train.list") training and $(wc -l <"$TMP/valid.list") validation images"
else
    fail "e2e: generate images" "tool_mkimages failed"
fi
check "e2e: 90 training images on disk" [ "$(find "$TMP/train" -name '*.png' | wc -l)" -eq 90 ]
printf '%s\n' "${LABELS[@]}" >"$TMP/labels.txt"
data_file "$TMP/e2e.data" 3 "valid=$TMP/valid.list" "names=$TMP/labels.txt" top=1

cfg_set "$FIXTURES/stock-small.cfg" "$TMP/e2e.cfg" net max_batches "$ITERS"

# check_valid NAME DATA WEIGHTS WHAT: `classifier valid` of e2e.cfg runs over all 30
# validation images and its top-1 is at least 0.8 (WHAT says so in the check's name).
check_valid() {
    local name=$1 data=$2 weights=$3 what=$4 log rc acc last_index top1 ok=0
    log=$TMP/valid-$(echo "$name" | tr -c 'a-z0-9' '_').log
    "$DARKNET" classifier valid "$data" "$TMP/e2e.cfg" "$weights" >"$log" 2>&1 </dev/null
    rc=$?
    acc=$(grep -E '^[0-9]+: top 1: ' "$log" | tail -n 1 | sed -E 's/^([0-9]+): top 1: ([0-9.]+),.*/\1 \2/')
    read -r last_index top1 <<<"${acc:-x x}"
    echo "   $name: classifier valid: top-1 $top1 over $((last_index + 1)) images"
    [ "$rc" -eq 0 ] && [ "$last_index" = 29 ] && ok=1
    check "$name: classifier valid runs over all 30 images (rc $rc)" [ "$ok" -eq 1 ]
    check "$name: validation top-1 $top1 $what" awk -v a="$top1" 'BEGIN { exit !(a == a + 0 && a >= 0.8) }'
}

# ---- train ----
start=$SECONDS
"$DARKNET" classifier train "$TMP/e2e.data" "$TMP/e2e.cfg" -seed 3 >"$TMP/train.log" 2>"$TMP/train.err" </dev/null
rc=$?
echo "   training took $((SECONDS - start))s"
check "e2e: classifier train exits 0 (rc $rc)" [ "$rc" -eq 0 ]
grep -q "Too many or too few labels" "$TMP/train.log" \
    && fail "e2e: every training image matches exactly one label" "$(grep -m1 'Too many or too few' "$TMP/train.log")" \
    || pass "e2e: every training image matches exactly one label"

# "N, epoch: loss, avg avg, rate rate, s seconds, n images"
grep -E '^[0-9]+, [0-9.]+: ' "$TMP/train.log" | sed -E 's/^([0-9]+), [0-9.]+: ([^,]+), .*/\1 \2/' >"$TMP/loss.txt"
n=$(wc -l <"$TMP/loss.txt")
check "e2e: $ITERS iteration lines, numbered 1..$ITERS (got $n)" \
    awk -v n="$ITERS" '{ if ($1 != NR) exit 1 } END { exit NR != n }' "$TMP/loss.txt"
check "e2e: every loss is a finite positive number" \
    awk '{ if ($2 !~ /^[0-9]+(\.[0-9]+)?$/ || $2 + 0 <= 0) exit 1 } END { exit NR == 0 }' "$TMP/loss.txt"
read -r first last < <(awk '{ l[NR] = $2 } END {
    if (NR < 10) { print "nan nan"; exit }
    for (i = 1; i <= 5; ++i) { a += l[i]; b += l[NR - 5 + i] }
    printf "%.6f %.6f\n", a / 5, b / 5 }' "$TMP/loss.txt")
echo "   loss: first 5 mean $first, last 5 mean $last"
check "e2e: loss falls (last-5 mean $last < 0.7 x first-5 mean $first)" \
    awk -v a="$first" -v b="$last" 'BEGIN { exit !(a == a + 0 && b == b + 0 && b < 0.7 * a) }'

W=$TMP/backup/e2e.weights
check "e2e: final weights saved as backup/e2e.weights" [ -s "$W" ]
ls "$TMP/backup"/e2e_*.weights >/dev/null 2>&1 \
    && pass "e2e: per-epoch weights saved in backup/" \
    || fail "e2e: per-epoch weights saved in backup/" "no backup/e2e_N.weights"
# no stray temporary file left by the atomic writer
check "e2e: no leftover .tmp weights in backup/" [ -z "$(ls "$TMP/backup" | grep '\.tmp\.')" ]

# ---- reload: identical outputs, byte-identical re-save ----
cat "$TMP/valid.list" >"$TMP/predict.list"
"$TOOLS/tool_predict" "$TMP/e2e.cfg" "$W" "$TMP/predict.list" >"$TMP/pred1.txt" 2>"$TMP/pred1.err"
rc1=$?
"$TOOLS/tool_predict" "$TMP/e2e.cfg" "$W" "$TMP/predict.list" >"$TMP/pred2.txt" 2>"$TMP/pred2.err"
rc2=$?
ok=0
[ "$rc1" -eq 0 ] && [ "$rc2" -eq 0 ] && [ "$(wc -l <"$TMP/pred1.txt")" -eq "$(wc -l <"$TMP/predict.list")" ] && ok=1
check "e2e: tool_predict runs (rc $rc1, $rc2) and prints one line per image" [ "$ok" -eq 1 ]
check "e2e: outputs are probabilities summing to 1" \
    awk '{ s = 0; for (i = 2; i <= NF; ++i) { if ($i < 0 || $i > 1) exit 1; s += $i }
           if (NF != 4 || s < 0.9999 || s > 1.0001) exit 1 } END { exit NR == 0 }' "$TMP/pred1.txt"
check "e2e: two loads of the saved weights predict identical outputs" cmp -s "$TMP/pred1.txt" "$TMP/pred2.txt"

"$TOOLS/tool_weights" resave "$TMP/e2e.cfg" "$W" "$TMP/resaved.weights" >/dev/null 2>&1
check "e2e: load + save gives a byte-identical weights file" cmp -s "$W" "$TMP/resaved.weights"
"$TOOLS/tool_predict" "$TMP/e2e.cfg" "$TMP/resaved.weights" "$TMP/predict.list" >"$TMP/pred3.txt" 2>/dev/null
check "e2e: the re-saved weights predict identical outputs" cmp -s "$TMP/pred1.txt" "$TMP/pred3.txt"
# Control: different weights (a fresh init) must NOT predict the same, or the comparisons
# above would prove nothing.
"$TOOLS/tool_weights" init "$TMP/e2e.cfg" "$TMP/fresh.weights" 3 >/dev/null 2>&1
"$TOOLS/tool_predict" "$TMP/e2e.cfg" "$TMP/fresh.weights" "$TMP/predict.list" >"$TMP/pred4.txt" 2>/dev/null
ok=0
[ -s "$TMP/pred4.txt" ] && ! cmp -s "$TMP/pred1.txt" "$TMP/pred4.txt" && ok=1
check "e2e: control: untrained weights predict different outputs" [ "$ok" -eq 1 ]

# ---- seeded training repeats exactly (darknet-patches/0008) ----
# Short runs (5 iterations) of the same cfg, each with its own backup folder.
sed -e 's/^max_batches=.*/max_batches=5/' "$TMP/e2e.cfg" >"$TMP/short.cfg"
# train_seeded NAME CFG [ARGS...]: trains, leaves the weights in $TMP/NAME.weights
train_seeded() {
    local name=$1 cfg=$2
    shift 2
    sed -e "s|^backup=.*|backup=$TMP/bk-$name|" "$TMP/e2e.data" >"$TMP/$name.data"
    mkdir -p "$TMP/bk-$name"
    "$DARKNET" classifier train "$TMP/$name.data" "$cfg" "$@" >"$TMP/$name.log" 2>&1 </dev/null \
        && cp "$TMP/bk-$name/$(basename "$cfg" .cfg).weights" "$TMP/$name.weights"
}
train_seeded s5a "$TMP/short.cfg" -seed 5
train_seeded s5b "$TMP/short.cfg" -seed 5
train_seeded s6 "$TMP/short.cfg" -seed 6
ok=0
[ -s "$TMP/s5a.weights" ] && [ -s "$TMP/s5b.weights" ] && [ -s "$TMP/s6.weights" ] && ok=1
check "e2e seed: three short seeded runs save their weights" [ "$ok" -eq 1 ]
check "e2e seed: training twice with -seed 5 gives byte-identical weights" cmp -s "$TMP/s5a.weights" "$TMP/s5b.weights"
check "e2e seed: the same 5 iterations print the same losses" \
    cmp -s <(grep -E '^[0-9]+, ' "$TMP/s5a.log" | cut -d, -f1-3) <(grep -E '^[0-9]+, ' "$TMP/s5b.log" | cut -d, -f1-3)
ok=0
[ -s "$TMP/s6.weights" ] && ! cmp -s "$TMP/s5a.weights" "$TMP/s6.weights" && ok=1
check "e2e seed: control: -seed 6 gives different weights" [ "$ok" -eq 1 ]
grep -q '^Seed: 5 ' "$TMP/s5a.log" && pass "e2e seed: the run reports its seed" \
    || fail "e2e seed: the run reports its seed" "no 'Seed: 5' line in the log"
# [net] seed=5 is the same run as -seed 5; -seed 6 wins over [net] seed=5
sed -e 's/^\[net\]/[net]\nseed=5/' "$TMP/short.cfg" >"$TMP/short-seeded.cfg"
train_seeded c5 "$TMP/short-seeded.cfg"
train_seeded c5cli6 "$TMP/short-seeded.cfg" -seed 6
check "e2e seed: [net] seed=5 gives the same weights as -seed 5" cmp -s "$TMP/s5a.weights" "$TMP/c5.weights"
check "e2e seed: -seed 6 overrides [net] seed=5" cmp -s "$TMP/s6.weights" "$TMP/c5cli6.weights"

# ---- exact labels (darknet-patches/0011) ----
# 'cat' is a substring of 'bobcat' and comes first in the labels file: stock Darknet's
# substring matching gave bobcat images two labels in training and the label 'cat' in
# validation. Matched exactly, each image has one label and validation can be accurate.
SUB=$TMP/sub
mkdir -p "$SUB"
SUBLABELS=(cat bobcat emerald)
"$TOOLS/tool_mkimages" "$SUB" train 30 21 "${SUBLABELS[@]}" >"$SUB/train.list" \
    && "$TOOLS/tool_mkimages" "$SUB" valid 10 22 "${SUBLABELS[@]}" >"$SUB/valid.list"
check "e2e labels: bobcat images are named like train/bobcat/1_bobcat.png" [ -s "$SUB/train/bobcat/1_bobcat.png" ]
printf '%s\n' "${SUBLABELS[@]}" >"$SUB/labels.txt"
sed -e "s|^train=.*|train=$SUB/train.list|" -e "s|^valid=.*|valid=$SUB/valid.list|" \
    -e "s|^labels=.*|labels=$SUB/labels.txt|" -e "s|^names=.*|names=$SUB/labels.txt|" \
    -e "s|^backup=.*|backup=$SUB/backup|" "$TMP/e2e.data" >"$SUB/sub.data"
mkdir -p "$SUB/backup"
"$DARKNET" classifier train "$SUB/sub.data" "$TMP/e2e.cfg" -seed 7 >"$SUB/train.log" 2>"$SUB/train.err" </dev/null
rc=$?
check "e2e labels: training with labels cat and bobcat exits 0 (rc $rc)" [ "$rc" -eq 0 ]
cat "$SUB/train.log" "$SUB/train.err" | grep -q "Too many or too few labels\|more than one label\|no label" \
    && fail "e2e labels: no image has zero or several labels" "$(grep -m1 'labels\|label of' "$SUB/train.log")" \
    || pass "e2e labels: no image has zero or several labels"
# substring matching would score the 10 bobcat images as 'cat': at most 2/3
check_valid "e2e labels" "$SUB/sub.data" "$SUB/backup/e2e.weights" "with labels cat and bobcat is >= 0.8"

# A path whose folder and file-name tokens match no label stops training with a message;
# so does one that matches two labels (folder cat, token bobcat).
"$TOOLS/tool_mkimages" "$SUB" odd 1 23 zebra >"$SUB/zebra.list"
{ head -n 3 "$SUB/train.list"; cat "$SUB/zebra.list"; } >"$SUB/bad.list"
sed -e "s|^train=.*|train=$SUB/bad.list|" "$SUB/sub.data" >"$SUB/bad.data"
expect_error "e2e labels: a path matching no label stops classifier train with 'no label'" \
    "$(cat "$SUB/zebra.list")" "no label" -- "$DARKNET" classifier train "$SUB/bad.data" "$TMP/short.cfg" -seed 5
mkdir -p "$SUB/odd/cat"
cp "$SUB/train/bobcat/1_bobcat.png" "$SUB/odd/cat/1_bobcat.png"
{ head -n 3 "$SUB/train.list"; echo "$SUB/odd/cat/1_bobcat.png"; } >"$SUB/two.list"
sed -e "s|^train=.*|train=$SUB/two.list|" "$SUB/sub.data" >"$SUB/two.data"
expect_error "e2e labels: a path matching two labels (cat/1_bobcat.png) stops classifier train" \
    "odd/cat/1_bobcat.png" "more than one label" -- "$DARKNET" classifier train "$SUB/two.data" "$TMP/short.cfg" -seed 5

# ---- validation accuracy ----
check_valid "e2e" "$TMP/e2e.data" "$W" "is well above chance (1/3): >= 0.8"

finish
