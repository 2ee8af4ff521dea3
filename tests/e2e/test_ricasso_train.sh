#!/bin/bash
# The whole RICASSO cfg trains: cfg/ricasso-resnet32-cifar10.cfg (ResNet-32 x3 experts,
# [mixdata], [rcl], [cbcl], [expert_softmax]) and the ablation without NOD (so without
# mixed rows: [cbcl] runs with d- = 0), cfg/ablation/ricasso-nod0-aala0-cbcl1.cfg, each
# copied with batch=16 and max_batches=3 (and [mixdata] pairs=4 where the cfg mixes: 16 rows
# = 4 pairs; nothing else changed), trained with
# `darknet classifier train -seed 7` on a generated long-tailed set of 10 classes
# (20, 15, 11, 9, 7, 5, 4, 3, 2, 2 images; tool_mkimages' 16x16 PNGs, which the pad-crop
# loader resizes to the cfg's 32x32). Checked for each run:
#   - exit 0; the per-class counts line equals the generated list;
#   - one "N, epoch: loss, ..." line per iteration (1..3) with a finite loss, each followed
#     by its "   losses: ..." line naming exactly the cfg's loss layers, every value finite,
#     |RCL| <= 2 lambda_1, |CBCL| <= K lambda_0 (|L_k| <= 1 with e0 = e1 = 0), NOD > 0, and
#     total = their sum; in the ablation CBCL >= 0 (d- = 0 makes each L_k = tanh(g0 d+/2));
#   - the weights file is written, has the size of the cfg's parameters (centers included)
#     and loads into the cfg.
set -u
. "$(dirname "$0")/../lib/lib.sh"
test_tmp train
LABELS=(airplane automobile bird cat deer dog frog horse ship truck)
COUNTS=(20 15 11 9 7 5 4 3 2 2)
ITERS=3

# ---- data: one tool_mkimages call per class, for its own count ----
ok=1
images_per_class "$TMP/train.list" || ok=0
total=0
expected_counts="Training images per class:"
for i in "${!LABELS[@]}"; do
    total=$((total + COUNTS[i]))
    expected_counts="$expected_counts ${LABELS[$i]}=${COUNTS[$i]}"
done
[ "$(wc -l <"$TMP/train.list")" -eq "$total" ] && [ "$(find "$TMP/train" -name '*.png' | wc -l)" -eq "$total" ] || ok=0
check "train: generated a long-tailed set of $total images in 10 classes" [ "$ok" -eq 1 ]
printf '%s\n' "${LABELS[@]}" >"$TMP/labels.txt"
data_file "$TMP/lt.data" 10 "names=$TMP/labels.txt" top=1

# small_cfg SRC DST: SRC with batch=16 and max_batches=$ITERS in [net] and pairs=4 in
# [mixdata] (the committed cfgs' 512 rows = 128 pairs), nothing else changed.
small_cfg() {
    awk -v iters="$ITERS" '/^\[/ { sec = $0 }
        sec == "[net]" && /^batch=/ { print "batch=16"; next }
        sec == "[mixdata]" && /^pairs=/ { print "pairs=4"; next }
        sec == "[net]" && /^max_batches=/ { print "max_batches=" iters; next }
        { print }' "$1" >"$2"
}

# cfg_key FILE SECTION KEY DEFAULT: the key's value in the first such section.
cfg_key() {
    awk -v sec="[$2]" -v key="$3" -v def="$4" '/^\[/ { if (in_sec) exit; in_sec = ($0 == sec) }
        in_sec && index($0, key "=") == 1 { v = substr($0, length(key) + 2) }
        END { print (v == "" ? def : v) }' "$1"
}

# train_run NAME SRC-CFG LOSS-NAMES MIXED
#   LOSS-NAMES: the names on the losses line, in layer order ("RCL CBCL NOD")
train_run() {
    local name=$1 src=$2 names=$3 mixed=$4
    local cfg="$TMP/$name.cfg" log="$TMP/$name.log" start rc w size wsize K l0 l1 ok
    small_cfg "$src" "$cfg"
    # bounds of the printed losses from the cfg: K experts, lambda_0 of [cbcl], lambda_1 of [rcl]
    K=$(cfg_key "$cfg" cbcl features "" | tr ',' '\n' | grep -c .)
    l0=$(cfg_key "$cfg" cbcl lambda 0.1)
    l1=$(cfg_key "$cfg" rcl lambda 1)
    echo "   $name: K = $K experts, CBCL lambda $l0, RCL lambda $l1"
    ok=0
    [ "$(diff "$src" "$cfg" | grep -c '^[<>]')" -eq $((4 + 2 * mixed)) ] && grep -q '^batch=16$' "$cfg" \
        && grep -q "^max_batches=$ITERS\$" "$cfg" && { [ "$mixed" -eq 0 ] || grep -q '^pairs=4$' "$cfg"; } && ok=1
    check "$name: the copy of $src differs in batch and max_batches$( [ "$mixed" -eq 1 ] && echo ' and pairs') only" [ "$ok" -eq 1 ]
    start=$SECONDS
    "$DARKNET" classifier train "$TMP/lt.data" "$cfg" -seed 7 >"$log" 2>&1 </dev/null
    rc=$?
    echo "   $name: training took $((SECONDS - start))s"
    check "$name: classifier train exits 0 (rc $rc)" [ "$rc" -eq 0 ]
    if grep -qxF "$expected_counts" "$log"; then
        pass "$name: per-class counts line matches the generated list"
    else
        fail "$name: per-class counts line matches the generated list" \
            "expected '$expected_counts', got '$(grep -m1 'Training images per class' "$log")'"
    fi
    if [ "$mixed" -eq 1 ]; then
        check "$name: [mixdata] lays out 4 pairs per batch of 16, class-reversed over all $total images" \
            grep -q "^\[mixdata\] 4 pairs per batch of 16; class-reversed sampling over $total images, 10 classes" "$log"
    else
        check "$name: no [mixdata] in the ablation" bash -c "! grep -q '^\[mixdata\]' '$log'"
    fi

    # Iteration lines and, right after each, its losses line.
    awk -v names="$names" -v n="$ITERS" -v K="$K" -v l0="$l0" -v l1="$l1" -v mixed="$mixed" '
        function finite(s) { return s ~ /^-?[0-9]+(\.[0-9]+)?$/ }
        function bad(msg) { print "  " msg; err = 1 }
        BEGIN { nn = split(names, want, " ") }
        /^[0-9]+, [0-9.]+: / {
            if (pending) bad("iteration " it " has no losses line")
            split($0, a, /[:,] */); it = $1 + 0; ++iters; pending = 1
            if (it != iters) bad("iteration line " iters " is numbered " it)
            if (!finite(a[3]) || a[3] + 0 <= 0) bad("iteration " it ": loss " a[3] " is not a finite positive number")
            next
        }
        /^   losses:/ {
            if (!pending) { bad("a losses line without an iteration line before it: " $0); next }
            pending = 0; ++lines
            # "   losses: A a B b ...  total t"
            if (NF != 2 * nn + 3 || $(NF - 1) != "total") { bad("iteration " it ": unexpected losses line: " $0); next }
            sum = 0
            for (i = 1; i <= nn; ++i) {
                key = $(2 * i); v = $(2 * i + 1)
                if (key != want[i]) bad("iteration " it ": loss " i " is " key ", expected " want[i])
                if (!finite(v)) { bad("iteration " it ": " key " = " v " is not finite"); continue }
                sum += v
                if (key == "RCL" && (v < -2 * l1 - 1e-5 || v > 2 * l1 + 1e-5)) bad("iteration " it ": RCL " v " outside [-2 l1, 2 l1]")
                if (key == "CBCL" && (v < -K * l0 - 1e-5 || v > K * l0 + 1e-5)) bad("iteration " it ": CBCL " v " outside [-K l0, K l0]")
                if (key == "CBCL" && !mixed && v < 0) bad("iteration " it ": CBCL " v " < 0 without mixed rows (d- = 0)")
                if (key == "NOD" && v <= 0) bad("iteration " it ": NOD " v " is not positive")
            }
            t = $NF
            if (!finite(t)) bad("iteration " it ": total " t " is not finite")
            else if (t - sum > 2e-5 || sum - t > 2e-5) bad("iteration " it ": total " t " is not the sum " sum)
            next
        }
        END {
            if (pending) bad("iteration " it " has no losses line")
            if (iters != n) bad(iters " iteration lines, expected " n)
            if (lines != n) bad(lines " losses lines, expected " n)
            exit err
        }' "$log" >"$TMP/$name.check"
    if [ $? -eq 0 ]; then
        pass "$name: $ITERS iterations, each with a finite loss and a losses line '$names' of finite, bounded values summing to total"
    else
        fail "$name: $ITERS iterations with finite losses lines" "$(tr '\n' '|' <"$TMP/$name.check")"
    fi
    grep -E '^([0-9]+, [0-9.]+: |   losses:)' "$log" | sed 's/^/   | /'

    w="$TMP/backup/$name.weights"
    check "$name: final weights written to backup/$name.weights" [ -s "$w" ]
    "$TOOLS/tool_weights" init "$cfg" "$TMP/$name.init.weights" 3 >/dev/null 2>&1
    size=$(stat -c %s "$w" 2>/dev/null || echo 0)
    wsize=$(stat -c %s "$TMP/$name.init.weights" 2>/dev/null || echo -1)
    check "$name: the trained weights have the size of the cfg's parameters ($size vs $wsize bytes)" [ "$size" -eq "$wsize" ]
    expect_ok "$name: the trained weights load into the cfg" "$TOOLS/tool_weights" load "$cfg" "$w"
}

train_run ricasso "$ROOT"/cfg/ricasso-resnet32-cifar10.cfg "RCL CBCL NOD" 1
train_run nod0-aala0-cbcl1 "$ROOT"/cfg/ablation/ricasso-nod0-aala0-cbcl1.cfg "CBCL NOD" 0

finish
