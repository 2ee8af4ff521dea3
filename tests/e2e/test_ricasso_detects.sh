#!/bin/bash
# RICASSO detects: cfg/ricasso-fmnist-demo.cfg (every module: [mixdata], three [cosine]
# experts, [rcl], [cbcl], [expert_softmax] with AALA and re-weighting) with batch=32,
# max_batches=1000, burn_in=100, trained with `darknet classifier train -seed 1` on
# long-tailed Fashion-MNIST, then evaluated with `darknet classifier ood`.
#
# Data: Debian's dataset-fashion-mnist (a declared dependency, scripts/install-deps; the test
# fails when it is absent). scripts/make-fashion-mnist-lt --ir 10 --max-per-class 200
# --test-per-class 30: 200 154 119 92 71 55 43 33 25 20 training images (812), 30 test
# images per class (300). Four obviously foreign OOD sets: 200 uniform noise images
# (scripts/ood-noise, seed 1), 100 flat images of one random grey level each, 100 inverted
# Fashion-MNIST test images (dark garments on white; the last 100 of t10k, not the ID test
# images), and 200 "channels" images: three t10k garments of three different classes in the
# R, G and B planes of one colour image, where every training image is grey; the last three
# from tests/tools/tool_fmnist_foreign.py (seeds 5, 0, 4).
#
# Bounds, for the full cfg and for the ablation switches that must not break detection
# (aala=0, reweight=0, [mixdata] reversed=0), each an AUROC against the ID test set:
#   - Mahalanobis (classifier ood -posthoc: the test features' distance to the class means of
#     the training features) on EACH of noise, flat and invert: >= MIN_AUROC = 0.95;
#   - energy (log sum_c exp z_c of the mean of the experts' logits) on channels:
#     >= MIN_ENERGY = 0.70;
#   - MSP on channels: >= MIN_MSP = 0.85.
# Calibrated with this test's binary (build/test/darknet, OMP_NUM_THREADS=1, several trainings
# at a time) over 28 runs:
#   cfg        training seeds   channels energy   channels MSP   Mahalanobis (lowest of 3 sets)
#   full       1-4,6-7,10       0.759-0.996       0.925-0.957    0.9997
#   aala0      1-4,6-7,10       0.768-0.997       0.931-0.955    0.9988
#   reweight0  1-4,6,9-10       0.763-0.985       0.930-0.953    0.9998
#   reversed0  1-4,6,9-10       0.867-0.952       0.933-0.972    0.9997
# Control, run here too: untrained weights (tool_weights init, seeds 7-12) gave Mahalanobis
# 0.698-0.789 on flat (1.000 on noise and invert), channels MSP 0.344-0.741 and channels
# energy 0.583-0.858 (7: 0.858, 8: 0.583, 9: 0.644, 10: 0.608, 11: 0.672, 12: 0.667). The
# test checks that each untrained network misses the Mahalanobis bound on some set and the
# MSP bound, and that fewer than half of them reach the energy bound (one of six does).
#
# The energy bound is weak, and that is what this test measures: the energy score separates
# these foreign inputs only as well as the level of the [cosine] logits allows.
#   1. On noise, flat and invert the energy held no bound at all; over the runs above:
#      noise 0.023-0.989, flat 0.434-0.991, invert 0.505-0.983
#      (full cfg, seed 3: noise 0.45, flat 0.61, invert 0.56), and 0.01-1.00 on noise and
#      flat for untrained weights. Neither 4084 training images, batch 64 nor 3000 iterations
#      fixed the full cfg's seed 3 (earlier runs), while top-1 was 0.77-0.85 in every run.
#      Measured on the full cfg's seeds 1 and 3 from the experts' features and logits (the
#      [avgpool] and [cosine] outputs) of each image, each of these sets collapses to nearly
#      one feature direction: the mean cosine between two noise images' features (first
#      expert) is 0.99 (flat 0.86-0.89, invert 0.89-0.91, the ID test images 0.77-0.80), and
#      199 of the 200 noise images take one class (seed 3: class 6, energy 4.23 +- 0.15 against
#      the ID images' 4.19 +- 1.66). A set's AUROC is then one draw: where that one
#      direction falls among the ID energies.
#   2. Where that direction falls is not trained. The loss constrains only the differences
#      of the logits; the [cosine] logits use a small part of their range (the ID images'
#      mean largest logit 3.9 and 7.5 of s = 30 on seeds 3 and 1, per expert 1.7-9.7, i.e.
#      cosines of 0.06-0.32), and their common level, which the energy adds to the
#      differences, comes from the class weights' untrained part ([cosine] starts them
#      uniform in [-1, 1]; a 64-d direction the training never constrained gets cosines of
#      spread about 1/8 with them, 3.75 logits at s = 30, comparable to the learned gaps). On
#      seed 3 the noise images' largest logits were 4.2 and 6.0 in two experts, the ID
#      images' 1.7 and 3.6.
#   The channels images are diverse, and foreign in a way the training constrains: every
#   training image is grey, so the first convolution's three input channels get the same
#   gradient, and the network sees such an image mostly as the mean of three garments (three
#   garments averaged to grey gave nearly the same energy AUROCs: 0.920 and 0.923 against
#   0.911 and 0.906 on the full cfg's seeds 1 and 3), a superposition of classes like
#   the Mixup and CutMix rows of [mixdata], which the loss trains toward flat logits. So their
#   MSP, which sees only the logits' differences, is low in every run (MSP AUROC
#   0.925-0.972), while the energy still carries the untrained level: on the full cfg's
#   seed 6 the channels images' mean largest probability was 0.33 against the ID images'
#   0.77, but their energy 6.11 +- 0.31 against 7.30 +- 1.17, AUROC 0.856. Three different
#   classes rather than any three garments raised the energy AUROCs (full cfg, seeds 1-3:
#   0.911, 0.946, 0.906 to 0.943, 0.974, 0.924); one garment in one colour (which the network
#   sees as a dim garment) gave 0.68-0.84.
#   The Mahalanobis distance sees the features' norm and their distance to the class means,
#   not the logits' level, which is why it holds on noise, flat and invert.
#
# The four trainings run two at a time (OMP_NUM_THREADS=1 each), about 30 s of CPU each; the
# whole test (data, 4 trainings, 10 evaluations) took 2 min 23 s of CPU and 1 min 47 s on 2
# cores that were nearly idle.
set -u
. "$(dirname "$0")/../lib/lib.sh"
# Under the sanitizers (make test SANITIZE=1) this test's 10 trainings and evaluations took
# 189 s, which put .ci/run past its 15 minutes; the same layers train under the sanitizers in
# test_ricasso_learns, test_ricasso_train and test_demo. The calibrated bounds run in the plain
# suite (make test); here they are reported as skipped, not passed.
case $DARKNET in
    */test-asan/*)
        skip "detects: the calibrated detection bounds (Mahalanobis, energy, MSP; 4 cfgs and the untrained control)" \
            "not run under the sanitizers (CI time); they run in the plain suite"
        finish
        exit ;;
esac
test_tmp detects
export OMP_NUM_THREADS=1
SRC=/usr/share/datasets/fashion-mnist
SETS=(noise flat invert)
MIN_AUROC=0.95
MIN_ENERGY=0.70
MIN_MSP=0.85
CONTROL_SEEDS=(7 8 9 10 11 12)

# ---- data ----
have=1
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    [ -f "$SRC/$f.gz" ] || [ -f "$SRC/$f" ] || have=0
done
if [ "$have" -eq 0 ]; then
    fail "detects: Fashion-MNIST in $SRC" "Debian's dataset-fashion-mnist is not installed (a declared dependency: scripts/install-deps)"
    finish
    exit
fi
ok=0
"$ROOT/scripts/ood-noise" "$TMP/noise" --count 200 --seed 1 >/dev/null \
    && python3 "$ROOT/tests/tools/tool_fmnist_foreign.py" "$SRC" "$TMP/flat" flat 100 5 \
    && python3 "$ROOT/tests/tools/tool_fmnist_foreign.py" "$SRC" "$TMP/invert" invert 100 0 \
    && python3 "$ROOT/tests/tools/tool_fmnist_foreign.py" "$SRC" "$TMP/channels" channels 200 4 \
    && "$ROOT/scripts/make-fashion-mnist-lt" "$TMP/fm" --ir 10 --max-per-class 200 --test-per-class 30 \
        --backup "$TMP/backup" --ood "noise=$TMP/noise/list.txt" --ood "flat=$TMP/flat/list.txt" \
        --ood "invert=$TMP/invert/list.txt" --ood "channels=$TMP/channels/list.txt" >/dev/null \
    && [ "$(wc -l <"$TMP/fm/train-ir10.list")" -eq 812 ] && [ "$(wc -l <"$TMP/fm/test.list")" -eq 300 ] && ok=1
check "detects: long-tailed Fashion-MNIST (812 training, 300 test images) and 4 OOD sets built" [ "$ok" -eq 1 ]
DATA=$TMP/fm/fmnist-lt-ir10.data
mkdir -p "$TMP/backup"

above() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a == a + 0 && a >= b) }'; }

# train NAME: trains $TMP/NAME.cfg in its own folder (its own bad.list); the status in NAME.rc.
train() {
    mkdir -p "$TMP/run-$1"
    (cd "$TMP/run-$1" && "$DARKNET" classifier train "$DATA" "$TMP/$1.cfg" -seed 1 >"$TMP/$1.log" 2>&1 </dev/null
     echo $? >"$TMP/$1.rc"
     rm -f "$TMP/backup/$1"_*.weights)   # the per-epoch snapshots: not evaluated
}

# evaluate NAME WEIGHTS: classifier ood; sets AUC[set] (Mahalanobis AUROC), EN[set] (energy
# AUROC) and MS[set] (MSP AUROC), "nan" when missing.
declare -A AUC EN MS
evaluate() {
    local rc s
    "$DARKNET" classifier ood "$DATA" "$TMP/$1.cfg" "$2" -posthoc -noodin -out "$TMP/res-$1" >"$TMP/$1.ood" 2>&1 </dev/null
    rc=$?
    check "detects $1: classifier ood exits 0 (rc $rc)" [ "$rc" -eq 0 ]
    for s in "${SETS[@]}" channels; do
        AUC[$s]=$(awk -F, -v s="$s" '$1 == s && $3 == "mahalanobis" { print $4 }' "$TMP/res-$1/metrics.csv" 2>/dev/null)
        AUC[$s]=${AUC[$s]:-nan}
        EN[$s]=$(awk -F, -v s="$s" '$1 == s && $3 == "energy" { print $4 }' "$TMP/res-$1/metrics.csv" 2>/dev/null)
        EN[$s]=${EN[$s]:-nan}
        MS[$s]=$(awk -F, -v s="$s" '$1 == s && $3 == "msp" { print $4 }' "$TMP/res-$1/metrics.csv" 2>/dev/null)
        MS[$s]=${MS[$s]:-nan}
    done
    echo "   $1: Mahalanobis AUROC noise ${AUC[noise]} flat ${AUC[flat]} invert ${AUC[invert]};" \
        "channels energy AUROC ${EN[channels]}, MSP AUROC ${MS[channels]} (energy, not asserted: noise ${EN[noise]} flat ${EN[flat]} invert ${EN[invert]});" \
        "balanced top-1 $(awk -F, '$1 == "all" { print $5 }' "$TMP/res-$1/accuracy.csv" 2>/dev/null)"
}

F=$ROOT/cfg/ricasso-fmnist-demo.cfg
cfg_set "$F" "$TMP/a.cfg" net batch 32
cfg_set "$TMP/a.cfg" "$TMP/b.cfg" net max_batches 1000
cfg_set "$TMP/b.cfg" "$TMP/c.cfg" net burn_in 100
# The step size and loss weights the bounds were calibrated with (the demo cfg's until the demo
# moved to the authors' per-row-block step size: learning_rate 0.4, decay 0.000125, lambdas
# 0.25 and 0.025); pinned so that a retuned demo cannot move this test off its calibration.
cfg_set "$TMP/c.cfg" "$TMP/d.cfg" net learning_rate 0.1
cfg_set "$TMP/d.cfg" "$TMP/e.cfg" net decay 0.0005
cfg_set "$TMP/e.cfg" "$TMP/f.cfg" rcl lambda 1
cfg_set "$TMP/f.cfg" "$TMP/full.cfg" cbcl lambda 0.1
cfg_set "$TMP/full.cfg" "$TMP/aala0.cfg" expert_softmax aala 0
cfg_set "$TMP/full.cfg" "$TMP/reweight0.cfg" expert_softmax reweight 0
cfg_set "$TMP/full.cfg" "$TMP/reversed0.cfg" mixdata reversed 0
VARIANTS=(full aala0 reweight0 reversed0)
for pair in "full aala0" "reweight0 reversed0"; do
    for v in $pair; do train "$v" & done
    wait
done
for v in "${VARIANTS[@]}"; do
    rc=$(cat "$TMP/$v.rc" 2>/dev/null)
    check "detects $v: classifier train exits 0 (rc ${rc:-none})" [ "${rc:-1}" = 0 ]
    evaluate "$v" "$TMP/backup/$v.weights"
    case_begin "detects $v: Mahalanobis AUROC >= $MIN_AUROC on each of noise, flat, invert"
    for s in "${SETS[@]}"; do
        check "$s AUROC ${AUC[$s]}" above "${AUC[$s]}" "$MIN_AUROC"
    done
    case_end
    check "detects $v: energy AUROC ${EN[channels]} >= $MIN_ENERGY on channels" above "${EN[channels]}" "$MIN_ENERGY"
    check "detects $v: MSP AUROC ${MS[channels]} >= $MIN_MSP on channels" above "${MS[channels]}" "$MIN_MSP"
done

# Control: the same bounds must reject networks that have learned nothing (random weights;
# tool_weights init draws them as Darknet's make_ functions do): for each, some set below the
# Mahalanobis bound and the MSP bound on channels; and fewer than half of them reach the
# energy bound on channels.
case_begin "detects control: the Mahalanobis and MSP bounds fail for untrained weights (seeds ${CONTROL_SEEDS[*]})"
reached=0 enlist=
for seed in "${CONTROL_SEEDS[@]}"; do
    "$TOOLS/tool_weights" init "$TMP/full.cfg" "$TMP/init$seed.weights" "$seed" >/dev/null 2>&1
    cp "$TMP/full.cfg" "$TMP/init$seed.cfg"
    evaluate "init$seed" "$TMP/init$seed.weights"
    ok=0
    for s in "${SETS[@]}"; do
        [ "${AUC[$s]}" = nan ] && ok=2 && break
        above "${AUC[$s]}" "$MIN_AUROC" || ok=1
    done
    check "init$seed: some set below $MIN_AUROC (noise ${AUC[noise]} flat ${AUC[flat]} invert ${AUC[invert]})" [ "$ok" -eq 1 ]
    check "init$seed: channels MSP AUROC ${MS[channels]} below $MIN_MSP" awk -v a="${MS[channels]}" -v b="$MIN_MSP" 'BEGIN { exit !(a == a + 0 && a < b) }'
    [ "${EN[channels]}" = nan ] && reached=99
    above "${EN[channels]}" "$MIN_ENERGY" && reached=$((reached + 1))
    enlist="$enlist ${EN[channels]}"
done
case_end
check "detects control: $reached of ${#CONTROL_SEEDS[@]} untrained networks reach the energy bound $MIN_ENERGY on channels (AUROC$enlist), fewer than half" \
    [ "$reached" -lt $(((${#CONTROL_SEEDS[@]} + 1) / 2)) ]

finish
