#!/bin/bash
# RICASSO learns: tests/lib/fixtures/ricasso-small.cfg (every module: [mixdata], two [cosine]
# experts, [rcl], [cbcl], [expert_softmax] with AALA and g) trained for 200 iterations of 32
# rows with `darknet classifier train -seed 1` on generated long-tailed data, then evaluated
# with `darknet classifier ood` on a balanced test set.
#
# Data (tool_mkshapes, 16x16): six texture classes, hstripes vstripes dstripes box ring
# cross, 60 36 22 13 8 5 training images (imbalance ratio 12), 20 test images each. Every
# image has its own two random colours, stripe period and phase, shape position and size:
# the class is in the shape only.
#
# Bounds, for the full cfg and for the ablation switches that must not break learning
# (aala=0, reweight=0, [mixdata] reversed=0):
#   (i)  the NOD loss (the [expert_softmax] loss on the losses line) falls: the mean of the
#        last 10 iterations <= 0.40 x the mean of the first 10;
#   (ii) balanced test top-1 >= 0.40 (chance is 1/6 = 0.167).
# Calibrated over training seeds 1-4 of each of the four cfgs (16 runs): the loss ratio was
# 0.16-0.28 and top-1 0.49-0.78 (the lowest, 0.49-0.54, all from seed 3). Control, run here
# too: with learning_rate=0 the ratio was 0.98 and top-1 0.158 (chance), so both bounds fail
# for a network that does not learn; the test checks that they do.
#
# Not asserted: OOD detection. The energy AUROC of uniform noise (and of flat one-colour
# images) against the test set is printed for each run, but on this model it did not hold
# any useful bound: 0.07-0.99 over the same 16 runs (noise is taken for one texture class
# with full confidence in some seeds), and 0.77 for the untrained control. Measured again on
# the full cfg, seeds 1-4: 200 iterations gave noise 0.31-0.91 and flat 0.24-0.67; 600
# iterations (about a minute for the four) gave noise 0.47-0.85 and flat 0.14-0.54, so more
# training does not make a bound either. The cosine experts' logits do not see the scale of
# the features, only their direction, which may explain why foreign inputs are not
# reliably given a lower energy.
set -u
. "$(dirname "$0")/../lib/lib.sh"
test_tmp learns
LABELS=(hstripes vstripes dstripes box ring cross)
TRAIN=(60 36 22 13 8 5)
NOD_RATIO=0.40
MIN_TOP1=0.40

# ---- data ----
args=()
for i in "${!LABELS[@]}"; do args+=("${LABELS[$i]}=${TRAIN[$i]}"); done
ok=0
"$TOOLS/tool_mkshapes" "$TMP" train 1 "${args[@]}" >"$TMP/train.list" \
    && "$TOOLS/tool_mkshapes" "$TMP" test 2 "${LABELS[@]/%/=20}" >"$TMP/test.list" \
    && "$TOOLS/tool_mkshapes" "$TMP" ood 3 noise=60 >"$TMP/noise.list" \
    && "$TOOLS/tool_mkshapes" "$TMP" ood 4 flat=60 >"$TMP/flat.list" \
    && [ "$(wc -l <"$TMP/train.list")" -eq 144 ] && [ "$(wc -l <"$TMP/test.list")" -eq 120 ] && ok=1
check "learns: generated 144 long-tailed training images, 120 balanced test images, 2 OOD sets" [ "$ok" -eq 1 ]
printf '%s\n' "${LABELS[@]}" >"$TMP/labels.txt"
data_file "$TMP/s.data" 6 "valid=$TMP/test.list" "names=$TMP/labels.txt" "ood_noise=$TMP/noise.list" "ood_flat=$TMP/flat.list"
mkdir -p "$TMP/backup"

# learn_run NAME CFG: trains and evaluates; sets RATIO (NOD last-10 / first-10) and TOP1.
learn_run() {
    local name=$1 cfg=$2 log="$TMP/$1.log" rc
    RATIO=nan TOP1=nan
    "$DARKNET" classifier train "$TMP/s.data" "$cfg" -seed 1 >"$log" 2>&1 </dev/null
    rc=$?
    check "learns $name: classifier train exits 0 (rc $rc)" [ "$rc" -eq 0 ]
    RATIO=$(awk '/^   losses:/ { for (i = 2; i < NF; ++i) if ($i == "NOD") v[++n] = $(i + 1) }
        END { if (n < 20) { print "nan"; exit } for (i = 1; i <= 10; ++i) { a += v[i]; b += v[n - 10 + i] }
              printf "%.4f", (a > 0 ? b / a : 1e9) }' "$log")
    "$DARKNET" classifier ood "$TMP/s.data" "$cfg" "$TMP/backup/$(basename "$cfg" .cfg).weights" \
        -out "$TMP/res-$name" >"$TMP/$name.ood" 2>&1 </dev/null
    rc=$?
    check "learns $name: classifier ood exits 0 (rc $rc)" [ "$rc" -eq 0 ]
    TOP1=$(awk -F, '$1 == "all" && $3 == 120 { print $5 }' "$TMP/res-$name/accuracy.csv" 2>/dev/null)
    TOP1=${TOP1:-nan}
    echo "   $name: NOD loss last-10/first-10 = $RATIO, balanced top-1 = $TOP1, energy AUROC (not asserted):" \
        "$(awk -F, '$3 == "energy" && $1 != "average" { printf "%s %s  ", $1, $4 }' "$TMP/res-$name/metrics.csv" 2>/dev/null)"
}

below() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a == a + 0 && a <= b) }'; }
above() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a == a + 0 && a >= b) }'; }

F=$FIXTURES/ricasso-small.cfg
cp "$F" "$TMP/full.cfg"
cfg_set "$F" "$TMP/aala0.cfg" expert_softmax aala 0
cfg_set "$F" "$TMP/reweight0.cfg" expert_softmax reweight 0
cfg_set "$F" "$TMP/reversed0.cfg" mixdata reversed 0
for v in full aala0 reweight0 reversed0; do
    learn_run "$v" "$TMP/$v.cfg"
    check "learns $v: the NOD loss falls to <= $NOD_RATIO of its start (last-10 / first-10 = $RATIO)" below "$RATIO" "$NOD_RATIO"
    check "learns $v: balanced test top-1 $TOP1 >= $MIN_TOP1 (chance 0.167)" above "$TOP1" "$MIN_TOP1"
done

# Control: the same bounds must reject a network that does not learn.
cfg_set "$F" "$TMP/lr0.cfg" net learning_rate 0
learn_run lr0 "$TMP/lr0.cfg"
ok=0
! below "$RATIO" "$NOD_RATIO" && ! above "$TOP1" "$MIN_TOP1" && [ "$RATIO" != nan ] && [ "$TOP1" != nan ] && ok=1
check "learns control: with learning_rate=0 both bounds fail (ratio $RATIO, top-1 $TOP1)" [ "$ok" -eq 1 ]

finish
