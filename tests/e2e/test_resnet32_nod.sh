#!/bin/bash
# The real cfg/resnet32-cifar-nod.cfg (single-expert ResNet-32 + [mixdata] + softmax), only
# its batch, max_batches and pairs changed (batch 16 = 4 pairs, 4 iterations), trained with
# `darknet classifier train -seed 3` on a generated long-tailed set: 10 classes of 16x16
# images (resized to 32x32 by the pad-and-crop augmentation) with 24, 18, ..., 2 images.
# Checks: the run exits 0; the per-class counts it prints match the generated list (the
# labels include substrings of each other: cat/bobcat/wildcat, dog/hotdog, frog/bullfrog,
# ship/airship, so this also needs exact label matching); the [mixdata] line reports the
# layout and the class-reversed probabilities (1/n_c)/sum(1/n); every iteration's loss is
# finite and positive; the weights are saved with the size of the cfg's parameters; and a
# training list with a path that matches no label is refused before training starts.
set -u
. "$(dirname "$0")/../lib/lib.sh"
test_tmp nod
CFG_SRC=$ROOT/cfg/resnet32-cifar-nod.cfg
ITERS=4
LABELS=(cat bobcat wildcat dog hotdog frog bullfrog ship airship deer)
COUNTS=(24 18 13 10 8 6 5 4 3 2)
N=0
for c in "${COUNTS[@]}"; do N=$((N + c)); done

# ---- data ----
ok=1
images_per_class "$TMP/train.list" || ok=0
printf '%s\n' "${LABELS[@]}" >"$TMP/labels.txt"
[ "$(wc -l <"$TMP/train.list")" -eq "$N" ] || ok=0
check "nod: generated a long-tailed list of $N images in 10 classes" [ "$ok" -eq 1 ]
mkdir -p "$TMP/backup"
data_file "$TMP/nod.data" 10 "names=$TMP/labels.txt" top=1

# ---- the real cfg, batch, max_batches and [mixdata] pairs (512 rows = 128 pairs) overridden ----
sed -e 's/^batch=.*/batch=16/' -e "s/^max_batches=.*/max_batches=$ITERS/" -e 's/^pairs=.*/pairs=4/' "$CFG_SRC" >"$TMP/nod.cfg"
check "nod: the temp cfg differs from $CFG_SRC only in batch, max_batches and pairs" \
    [ "$(diff "$CFG_SRC" "$TMP/nod.cfg" | grep -c '^[<>]')" -eq 6 ]

# ---- train ----
start=$SECONDS
"$DARKNET" classifier train "$TMP/nod.data" "$TMP/nod.cfg" -seed 3 >"$TMP/train.log" 2>&1 </dev/null
rc=$?
echo "   training took $((SECONDS - start))s"
check "nod: classifier train exits 0 (rc $rc)" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || tail -n 5 "$TMP/train.log" | sed 's/^/   | /'

want="Training images per class:"
for i in "${!LABELS[@]}"; do want="$want ${LABELS[$i]}=${COUNTS[$i]}"; done
got=$(grep -m1 '^Training images per class:' "$TMP/train.log")
if [ "$got" = "$want" ]; then
    pass "nod: printed per-class counts match the generated list"
else
    fail "nod: printed per-class counts match the generated list" "got '$got', want '$want'"
fi

# "[mixdata] 4 pairs per batch of 16; class-reversed sampling over N images, 10 classes; P(class) ..."
mix=$(grep -m1 '^\[mixdata\] ' "$TMP/train.log")
check "nod: [mixdata] reports 4 pairs per batch of 16, class-reversed sampling over $N images, 10 classes" \
    grep -qF "[mixdata] 4 pairs per batch of 16; class-reversed sampling over $N images, 10 classes" <<<"$mix"
want_p=$(printf '%s\n' "${COUNTS[@]}" | awk '{ n[NR] = $1; s += 1 / $1 }
    END { for (i = 1; i <= NR; ++i) printf "%s%.3f", (i > 1 ? " " : ""), 1 / n[i] / s }')
got_p=$(sed -n 's/.*P(class) for reversed rows: //p' <<<"$mix")
if [ -n "$got_p" ] && [ "$got_p" = "$want_p" ]; then
    pass "nod: reversed-row class probabilities are (1/n_c)/sum(1/n) ($want_p)"
else
    fail "nod: reversed-row class probabilities are (1/n_c)/sum(1/n)" "got '$got_p', want '$want_p'"
fi

grep -E '^[0-9]+, [0-9.]+: ' "$TMP/train.log" | sed -E 's/^([0-9]+), [0-9.]+: ([^,]+), .*/\1 \2/' >"$TMP/loss.txt"
echo "   losses: $(awk '{ printf "%s ", $2 }' "$TMP/loss.txt")"
check "nod: $ITERS iteration lines, numbered 1..$ITERS" \
    awk -v n="$ITERS" '{ if ($1 != NR) exit 1 } END { exit NR != n }' "$TMP/loss.txt"
# a fresh 10-class network starts near ln 10 = 2.3 on one-hot and two-hot rows
check "nod: every loss is finite, positive and below 20" \
    awk '{ if ($2 !~ /^[0-9]+(\.[0-9]+)?$/ || $2 + 0 <= 0 || $2 + 0 >= 20) exit 1 } END { exit NR == 0 }' "$TMP/loss.txt"

W=$TMP/backup/nod.weights
"$TOOLS/tool_weights" init "$TMP/nod.cfg" "$TMP/init.weights" 1 >/dev/null 2>&1
ok=0
[ -s "$W" ] && [ -s "$TMP/init.weights" ] && [ "$(stat -c %s "$W")" -eq "$(stat -c %s "$TMP/init.weights")" ] && ok=1
check "nod: final weights saved, the size of the cfg's parameters" [ "$ok" -eq 1 ]
expect_ok "nod: the saved weights load into the cfg" "$TOOLS/tool_weights" load "$TMP/nod.cfg" "$W"

# ---- a path that matches no label: refused while counting the classes, before training ----
"$TOOLS/tool_mkimages" "$TMP" odd 1 9 zebra >"$TMP/zebra.list"
{ cat "$TMP/train.list" "$TMP/zebra.list"; } >"$TMP/bad.list"
sed -e "s|^train=.*|train=$TMP/bad.list|" "$TMP/nod.data" >"$TMP/bad.data"
expect_error "nod: a path that matches no label is refused with its path and 'no label'" \
    "$(cat "$TMP/zebra.list")" "no label" -- "$DARKNET" classifier train "$TMP/bad.data" "$TMP/nod.cfg" -seed 3
"$DARKNET" classifier train "$TMP/bad.data" "$TMP/nod.cfg" -seed 3 >"$TMP/bad.log" 2>&1 </dev/null
ok=0
grep -q 'no label' "$TMP/bad.log" && ! grep -qE '^[0-9]+, [0-9.]+: ' "$TMP/bad.log" && ok=1
check "nod: ... before any training iteration (the class counts are taken first)" [ "$ok" -eq 1 ]
finish
