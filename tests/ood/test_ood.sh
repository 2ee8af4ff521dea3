#!/bin/bash
# `darknet classifier ood`, `predict` and `demo` end to end, headless:
#   1. a 3-class image set (tool_mkimages) and two OOD sets made by scripts/ood-from-cifar-bin
#      from generated CIFAR records (noise, and flat grey images); a small conv+BN / softmax
#      network trained for 40 iterations;
#   2. classifier ood: its table, every CSV (rows, columns, finite values), ID accuracy equal
#      to `classifier valid`'s, AUROC recomputed from scores.csv by counting pairs, the
#      threshold file (score, threshold, accepted fraction recomputed from scores.csv: >= 95%
#      and the highest such threshold), FPR95 recomputed at that threshold; -noodin;
#   3. many/medium/few-shot groups: the CIFAR-10 rule (3 most / 3 least frequent) on a 10-class
#      network with a counts file, ties ranked by class index, and the count thresholds of
#      other class counts;
#   4. classifier predict -list -out: one annotated PNG per image, scores equal to ood's for
#      the same files, "unknown" exactly below the threshold; a single image; -t; no threshold
#      file; a threshold file for other weights;
#   5. classifier demo -headless -out on an image sequence; demo without a display;
#   6. a network ending in [expert_softmax] (two [cosine] experts) through ood and predict;
#   7. errors: missing list, missing image, undecodable image, no valid=, no OOD set, unknown
#      option, bad set name, -score odin with -noodin, a network without softmax;
#   8. scripts/plot-ood produces the PNGs (when gnuplot is installed);
#   9. with ../shared/data present, a real OOD set (Textures, 40 images) goes through too.
set -u
. "$(dirname "$0")/../lib/lib.sh"
test_tmp ood
LABELS=(crimson emerald azure)

# ---- data ----
"$TOOLS/tool_mkimages" "$TMP" train 30 11 "${LABELS[@]}" >"$TMP/train.list" \
    && "$TOOLS/tool_mkimages" "$TMP" valid 10 12 "${LABELS[@]}" >"$TMP/valid.list" \
    && pass "ood: generated 90 training and 30 test images" || fail "ood: generate images" "tool_mkimages failed"
# CIFAR records: 20 of uniform noise, 15 flat grey; label bytes 0..
python3 - "$TMP" <<'EOF'
import random, sys
rnd = random.Random(5)
with open(sys.argv[1] + "/noise.bin", "wb") as f:
    for k in range(20):
        f.write(bytes([k % 10]) + bytes(rnd.randrange(256) for _ in range(3072)))
with open(sys.argv[1] + "/grey.bin", "wb") as f:
    for k in range(15):
        f.write(bytes([k]) + bytes([40 + 12 * k]) * 3072)
EOF
"$ROOT"/scripts/ood-from-cifar-bin "$TMP/noise.bin" "$TMP/noise" >/dev/null && "$ROOT"/scripts/ood-from-cifar-bin "$TMP/grey.bin" "$TMP/grey" >/dev/null \
    && pass "ood: OOD sets converted from CIFAR records (20 noise, 15 grey)" || fail "ood: convert OOD sets" "ood-from-cifar-bin failed"
printf '%s\n' "${LABELS[@]}" >"$TMP/labels.txt"
data_file "$TMP/t.data" 3 "valid=$TMP/valid.list" "ood_noise=$TMP/noise/list.txt"
cp "$FIXTURES/stock-small.cfg" "$TMP/t.cfg"
"$DARKNET" classifier train "$TMP/t.data" "$TMP/t.cfg" -seed 7 >"$TMP/train.log" 2>&1 </dev/null
W=$TMP/backup/t.weights
check "ood: the test network trains and saves its weights" [ -s "$W" ]

# ---- classifier ood ----
OUT=$TMP/res
"$DARKNET" classifier ood "$TMP/t.data" "$TMP/t.cfg" "$W" -ood "grey=$TMP/grey/list.txt" -out "$OUT" -batch 8 -deploy \
    >"$TMP/ood.out" 2>"$TMP/ood.err" </dev/null
rc=$?
check "ood: classifier ood exits 0 (rc $rc; $(tail -n 1 "$TMP/ood.err"))" [ "$rc" -eq 0 ]
case_begin "ood: summary.txt, scores.csv, metrics.csv, accuracy.csv, per_class.csv and every roc_SET_SCORE.csv written"
for f in summary.txt scores.csv metrics.csv accuracy.csv per_class.csv; do
    check "ood: $f written" [ -s "$OUT/$f" ]
done
for s in noise grey; do for sc in msp energy maxlogit odin; do
    check "ood: roc_${s}_$sc.csv written" [ -s "$OUT/roc_${s}_$sc.csv" ]
done; done
case_end
check "ood: the table has ID accuracy, shot groups with their rule, and all four metrics" \
    bash -c "grep -q '^ID top-1 accuracy' '$TMP/ood.out' && grep -q 'medium-shot' '$TMP/ood.out' && grep -q 'rule: ImageNet-LT convention' '$TMP/ood.out' \
             && grep -qE 'AUROC +AUPR-in +AUPR-out +FPR95' '$TMP/ood.out' && grep -q '^average ' '$TMP/ood.out' && grep -q 'average_precision_score' '$TMP/ood.out'"
check "ood: summary.txt is the printed table" bash -c "grep -q \"\$(head -n 3 '$OUT/summary.txt' | tail -n 1)\" '$TMP/ood.out'"
check "ood: batch limited by nothing (8 <= cfg batch 16) and logits found" grep -q "logits of layer 5 \[softmax" "$TMP/ood.err"

# scores.csv: set,index,path,label,pred,prob,msp,energy,maxlogit,odin
check "ood: scores.csv has 30 ID + 20 noise + 15 grey rows of 10 finite fields" \
    awk -F, 'NR == 1 { next } { n[$1]++; if (NF != 10) exit 1; for (i = 6; i <= 10; ++i) if ($i !~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/) exit 1 }
             END { exit !(n["id"] == 30 && n["noise"] == 20 && n["grey"] == 15) }' "$OUT/scores.csv"
check "ood: ID rows carry their class (0..2), OOD rows -1" \
    awk -F, 'NR > 1 { if (($1 == "id") != ($4 >= 0)) exit 1; if ($4 > 2) exit 1 }' "$OUT/scores.csv"

# ID accuracy = classifier valid's top-1
"$DARKNET" classifier valid "$TMP/t.data" "$TMP/t.cfg" "$W" >"$TMP/valid.log" 2>&1 </dev/null
vtop=$(grep -E '^[0-9]+: top 1: ' "$TMP/valid.log" | tail -n 1 | sed -E 's/^[0-9]+: top 1: ([0-9.]+),.*/\1/')
otop=$(awk -F, '$1 == "all" { print $5 }' "$OUT/accuracy.csv")
check "ood: ID accuracy $otop equals classifier valid's top-1 $vtop" awk -v a="$otop" -v b="$vtop" 'BEGIN { exit !(a != "" && b != "" && (a - b) ^ 2 < 1e-10) }'
check "ood: the trained network beats chance on the ID test set ($otop >= 0.8)" awk -v a="$otop" 'BEGIN { exit !(a >= 0.8) }'
check "ood: accuracy.csv per group adds up to the ID test set" \
    awk -F, 'NR > 2 { n += $3; c += $4 } $1 == "all" { N = $3; C = $4 } END { exit !(n == N && c == C && N == 30) }' "$OUT/accuracy.csv"

# metrics.csv: set,images,score,auroc,aupr_in,aupr_out,fpr95,threshold,id_accepted
check "ood: metrics.csv: 4 scores x (noise, grey, average), all metrics in [0, 1]" \
    awk -F, 'NR > 1 { n++; for (i = 4; i <= 7; ++i) if ($i < 0 || $i > 1 || $i == "") exit 1 } END { exit n != 12 }' "$OUT/metrics.csv"
# AUROC by counting pairs (ties 1/2), for every set and score
case_begin "ood: AUROC of msp, energy and odin on noise and grey = pairs counted from scores.csv"
for s in noise grey; do for col in 7:msp 8:energy 10:odin; do
    c=${col%%:*}; sc=${col#*:}
    want=$(awk -F, -v s="$s" -v c="$c" '$1 == "id" { id[++ni] = $c } $1 == s { o[++no] = $c }
        END { for (i = 1; i <= ni; ++i) for (j = 1; j <= no; ++j) w += (id[i] > o[j]) + 0.5 * (id[i] == o[j]); printf "%.6f", w / (ni * no) }' "$OUT/scores.csv")
    got=$(awk -F, -v s="$s" -v sc="$sc" '$1 == s && $3 == sc { print $4 }' "$OUT/metrics.csv")
    check "ood: AUROC of $sc on $s ($got) = pairs counted from scores.csv ($want)" [ "$got" = "$want" ]
done; done
case_end

# the threshold file
T=$W.ood
check "ood: WEIGHTS.ood written next to the weights" [ -s "$T" ]
check "ood: WEIGHTS.ood holds score=odin, the ODIN settings and the weights' fingerprint" \
    bash -c "grep -qx 'score=odin' '$T' && grep -qx 'odin_temperature=1000' '$T' && grep -qx 'odin_epsilon=0.0014' '$T' && grep -q '^weights_fnv1a=[0-9a-f]\{16\}$' '$T' && grep -qx \"weights_size=\$(stat -c %s '$W')\" '$T'"
check "ood: no temporary file left next to the weights" [ -z "$(ls "$TMP/backup" | grep '\.tmp\.')" ]
thr=$(sed -n 's/^threshold=//p' "$T")
read -r acc next_acc < <(awk -F, -v t="$thr" '$1 == "id" { n++; v[n] = $10; if ($10 >= t + 0) a++ }
    END { nx = 1e30; for (i = 1; i <= n; ++i) if (v[i] > t + 0 && v[i] < nx) nx = v[i]; b = 0; for (i = 1; i <= n; ++i) if (v[i] >= nx) b++; printf "%.6f %.6f\n", a / n, b / n }' "$OUT/scores.csv")
check "ood: the threshold accepts $acc >= 95% of the ID odin scores" awk -v a="$acc" 'BEGIN { exit !(a >= 0.95) }'
check "ood: the next higher ID score would accept $next_acc < 95% (the threshold is the highest)" awk -v a="$next_acc" 'BEGIN { exit !(a < 0.95) }'
check "ood: id_accepted in the file is that fraction" grep -qx "id_accepted=$acc" "$T"
case_begin "ood: FPR95 of odin on noise and grey = fraction at or above the threshold"
for s in noise grey; do
    want=$(awk -F, -v s="$s" -v t="$thr" '$1 == s { n++; if ($10 >= t + 0) a++ } END { printf "%.6f", a / n }' "$OUT/scores.csv")
    got=$(awk -F, -v s="$s" '$1 == s && $3 == "odin" { print $7 }' "$OUT/metrics.csv")
    check "ood: FPR95 of odin on $s ($got) = fraction of $s at or above the threshold ($want)" [ "$got" = "$want" ]
done
case_end

# -noodin: three scores, msp threshold
"$DARKNET" classifier ood "$TMP/t.data" "$TMP/t.cfg" "$W" -noodin -out "$TMP/res-noodin" >"$TMP/noodin.out" 2>&1 </dev/null
check "ood: -noodin runs, writes 3 scores per set and an odin column of nan" \
    bash -c "[ \$(awk -F, 'NR > 1' '$TMP/res-noodin/metrics.csv' | wc -l) -eq 3 ] && ! grep -q ',odin,' '$TMP/res-noodin/metrics.csv' && awk -F, 'NR > 1 && \$10 != \"nan\" { exit 1 }' '$TMP/res-noodin/scores.csv'"
check "ood: -noodin saves an msp threshold to -out, and without -deploy leaves WEIGHTS.ood as it was" \
    bash -c "grep -qx 'score=msp' '$TMP/res-noodin/threshold.ood' && grep -qx 'score=odin' '$T'"
check "ood: ID accuracy does not depend on ODIN" bash -c "[ \"\$(awk -F, '\$1 == \"all\"' '$TMP/res-noodin/accuracy.csv')\" = \"\$(awk -F, '\$1 == \"all\"' '$OUT/accuracy.csv')\" ]"
# back to the odin threshold for the predict tests
"$DARKNET" classifier ood "$TMP/t.data" "$TMP/t.cfg" "$W" -ood "grey=$TMP/grey/list.txt" -out "$OUT" -deploy >/dev/null 2>&1 </dev/null
check "ood: a second run gives the same threshold" grep -qx "threshold=$thr" "$T"

# ---- shot groups ----
# 10 classes, untrained network: the grouping, not the accuracy, is under test.
L10=(c0x c1x c2x c3x c4x c5x c6x c7x c8x c9x)
"$TOOLS/tool_mkimages" "$TMP" v10 2 21 "${L10[@]}" >"$TMP/v10.list"
printf '%s\n' "${L10[@]}" >"$TMP/l10.txt"
sed 's/^output=3$/output=10/' "$TMP/t.cfg" >"$TMP/t10.cfg"
"$TOOLS/tool_weights" init "$TMP/t10.cfg" "$TMP/t10.weights" 3 >/dev/null 2>&1
printf 'classes=10\nvalid=%s\nlabels=%s\nood_grey=%s\n' "$TMP/v10.list" "$TMP/l10.txt" "$TMP/grey/list.txt" >"$TMP/t10.data"
# CIFAR-10-LT IR 100 counts in a shuffled class order: many = 1,3,5; few = 0,2,4.
printf '83 5000 139 2997 50 1796 232 1077 387 645\n' >"$TMP/counts10.txt"
"$DARKNET" classifier ood "$TMP/t10.data" "$TMP/t10.cfg" "$TMP/t10.weights" -counts "$TMP/counts10.txt" -noodin -out "$TMP/r10" >"$TMP/r10.out" 2>&1 </dev/null
check "groups: CIFAR-10 rule: many = 1,3,5, few = 0,2,4, rule printed" \
    bash -c "grep -q 'many-shot (1,3,5)' '$TMP/r10.out' && grep -q 'medium-shot (6,7,8,9)' '$TMP/r10.out' && grep -q 'few-shot (0,2,4)' '$TMP/r10.out' && grep -q 'rule: CIFAR-10-LT convention (PASCL)' '$TMP/r10.out'"
check "groups: per_class.csv holds each class's count and group" \
    bash -c "[ \"\$(awk -F, 'NR > 1 { printf \"%s:%s \", \$3, \$4 }' '$TMP/r10/per_class.csv')\" = '83:few 5000:many 139:few 2997:many 50:few 1796:many 232:medium 1077:medium 387:medium 645:medium ' ]"
check "groups: each group's accuracy is its classes' correct / images" \
    awk -F, 'FNR == 1 { next } FILENAME ~ /per_class/ { n[$4] += $5; c[$4] += $6; next }
             $1 != "all" { if ($3 != n[$1] || $4 != c[$1]) exit 1 }' "$TMP/r10/per_class.csv" "$TMP/r10/accuracy.csv"
printf '7 7 7 7 7 7 7 7 7 7\n' >"$TMP/equal10.txt"
"$DARKNET" classifier ood "$TMP/t10.data" "$TMP/t10.cfg" "$TMP/t10.weights" -counts "$TMP/equal10.txt" -noodin -out "$TMP/r10e" >"$TMP/r10e.out" 2>&1 </dev/null
check "groups: equal counts rank by class index (many 0,1,2, few 7,8,9)" \
    bash -c "grep -q 'many-shot (0,1,2)' '$TMP/r10e.out' && grep -q 'few-shot (7,8,9)' '$TMP/r10e.out'"
printf '150 100 20\n' >"$TMP/counts3.txt"
"$DARKNET" classifier ood "$TMP/t.data" "$TMP/t.cfg" "$W" -counts "$TMP/counts3.txt" -noodin -out "$TMP/r3" >"$TMP/r3.out" 2>&1 </dev/null
check "groups: other class counts use > 100 many, < 20 few: 150 many, 100 and 20 medium" \
    bash -c "[ \"\$(awk -F, 'NR > 1 { printf \"%s \", \$4 }' '$TMP/r3/per_class.csv')\" = 'many medium medium ' ] && grep -q 'rule: ImageNet-LT convention (C = 3, not 10)' '$TMP/r3.out'"
"$DARKNET" classifier ood "$TMP/t.data" "$TMP/t.cfg" "$W" -counts "$TMP/counts3.txt" -out "$TMP/r3" >/dev/null 2>&1 </dev/null   # odin threshold again

# ---- predict, headless ----
P=$TMP/pred
"$DARKNET" classifier predict "$TMP/t.data" "$TMP/t.cfg" "$W" -list "$TMP/valid.list" -out "$P" >"$TMP/pred.out" 2>"$TMP/pred.err" </dev/null
rc=$?
check "predict: -list -out exits 0 (rc $rc)" [ "$rc" -eq 0 ]
check "predict: says which threshold it uses" grep -q "threshold odin >= $thr from $T" "$TMP/pred.err"
check "predict: one annotated PNG per image (30)" [ "$(ls "$P"/*.png 2>/dev/null | wc -l)" -eq 30 ]
check "predict: the PNGs are PNG files" bash -c "for f in '$P'/*.png; do [ \"\$(head -c 8 \"\$f\" | od -An -tx1 | tr -d ' \n')\" = 89504e470d0a1a0a ] || exit 1; done"
check "predict: predictions.csv has 30 rows naming the PNGs" \
    awk -F, 'NR > 1 { n++; if ($3 !~ /\.png$/ || $7 != "odin") exit 1 } END { exit n != 30 }' "$P/predictions.csv"
# predictions.csv: index,source,image,class,name,prob,score,value,threshold,decision
check "predict: each image's odin score equals classifier ood's (same preparation)" \
    awk -F, 'FNR == 1 { next } FILENAME ~ /scores/ { if ($1 == "id") s[$3] = $10; next }
             { if (!($2 in s)) exit 1; d = $8 - s[$2]; if (d < 0) d = -d; if (d > 1e-6 * (s[$2] < 0 ? -s[$2] : s[$2]) + 1e-12) exit 1 }' \
    "$OUT/scores.csv" "$P/predictions.csv"
check "predict: known exactly when score >= threshold" \
    awk -F, -v t="$thr" 'NR > 1 { if (($8 >= t + 0) != ($10 == "known")) exit 1; if ($10 != "known" && $10 != "unknown") exit 1 }' "$P/predictions.csv"
nk=$(awk -F, 'NR > 1 && $10 == "known"' "$P/predictions.csv" | wc -l)
check "predict: $nk of 30 ID images known, as ood's id_accepted ($acc) says" awk -v k="$nk" -v a="$acc" 'BEGIN { exit !((k / 30 - a) ^ 2 < 1e-10) }'
check "predict: stdout has the top class, the score line and a decision per image" \
    bash -c "[ \$(grep -c '^decision: ' '$TMP/pred.out') -eq 30 ] && [ \$(grep -c '^OOD odin ' '$TMP/pred.out') -eq 30 ]"
# one image below the threshold: "unknown"
low=$(awk -F, -v t="$thr" 'NR > 1 && $10 + 0 < t + 0 { print $3; exit }' "$OUT/scores.csv")
if [ -n "$low" ]; then
    "$DARKNET" classifier predict "$TMP/t.data" "$TMP/t.cfg" "$W" "$low" -t 2 >"$TMP/one.out" 2>/dev/null </dev/null
    check "predict: an image below the threshold is 'unknown'" grep -qx "decision: unknown" "$TMP/one.out"
    check "predict: its score line says '<' and unknown" grep -qE "^OOD odin [0-9.e-]+ < [0-9.e-]+: unknown$" "$TMP/one.out"
    check "predict: -t 2 prints two classes" [ "$(grep -cE '^ *[0-9.]+%: ' "$TMP/one.out")" -eq 2 ]
else
    fail "predict: an image below the threshold" "no image of scores.csv scores below $thr"
fi
high=$(awk -F, -v t="$thr" 'NR > 1 && $1 == "id" && $10 + 0 >= t + 0 { print $3 " " $5; exit }' "$OUT/scores.csv")
"$DARKNET" classifier predict "$TMP/t.data" "$TMP/t.cfg" "$W" "${high% *}" >"$TMP/one.out" 2>/dev/null </dev/null
check "predict: an image at or above the threshold gets its class (${LABELS[${high#* }]})" grep -qx "decision: ${LABELS[${high#* }]}" "$TMP/one.out"
echo "$low" >"$TMP/one.list"
# no threshold file
cp "$W" "$TMP/plain.weights"
"$DARKNET" classifier predict "$TMP/t.data" "$TMP/t.cfg" "$TMP/plain.weights" "$low" >"$TMP/plain.out" 2>"$TMP/plain.err" </dev/null
check "predict: without WEIGHTS.ood it says so and shows the msp score" \
    bash -c "grep -q 'plain.weights.ood: no OOD threshold' '$TMP/plain.err' && grep -qE '^OOD msp [0-9.e-]+ \(no threshold\)$' '$TMP/plain.out' && ! grep -q 'decision: unknown' '$TMP/plain.out'"
# no weights at all, as Darknet's predict allows: an untrained network, said so
"$DARKNET" classifier predict "$TMP/t.data" "$TMP/t.cfg" >"$TMP/now.out" 2>"$TMP/now.err" <"$TMP/one.list"
check "predict: without WEIGHTS it reads paths at the prompt, says the network is untrained and decides nothing" \
    bash -c "grep -q 'no weights: an untrained network' '$TMP/now.err' && grep -q '^Enter Image Path: ' '$TMP/now.out' && grep -q '(no threshold)' '$TMP/now.out'"
# a threshold file for other weights
cp "$T" "$TMP/plain.weights.ood"
printf '\001' | dd of="$TMP/plain.weights" bs=1 seek=100 conv=notrunc status=none
expect_error "predict: a threshold file of other weights is refused, saying why" "plain.weights.ood belongs to another model: the weights" -- \
    "$DARKNET" classifier predict "$TMP/t.data" "$TMP/t.cfg" "$TMP/plain.weights" "$low"

# ---- demo, headless, on an image sequence ----
mkdir -p "$TMP/frames"
i=0
for f in $(head -n 4 "$TMP/valid.list") $(head -n 2 "$TMP/noise/list.txt"); do cp "$f" "$TMP/frames/f_$(printf %03d $i).png"; i=$((i + 1)); done
"$DARKNET" classifier demo "$TMP/t.data" "$TMP/t.cfg" "$W" "$TMP/frames/f_%03d.png" -headless -out "$TMP/demo" >"$TMP/demo.out" 2>"$TMP/demo.err" </dev/null
rc=$?
check "demo: -headless -out on a 6-frame image sequence exits 0 (rc $rc)" [ "$rc" -eq 0 ]
check "demo: 6 annotated frames and 6 rows of predictions.csv" \
    bash -c "[ \$(ls '$TMP/demo'/frame_*.png | wc -l) -eq 6 ] && [ \$(awk 'NR > 1' '$TMP/demo/predictions.csv' | wc -l) -eq 6 ]"
check "demo: one line per frame with the decision" [ "$(grep -cE '^frame [0-9]+: .* (known|unknown) \| [0-9.]+ FPS$' "$TMP/demo.out")" -eq 6 ]
check "demo: frame scores equal predict's for the same images" \
    bash -c "[ \"\$(awk -F, 'NR > 1 && NR <= 5 { print \$8 }' '$TMP/demo/predictions.csv')\" = \"\$(awk -F, 'NR > 1 && NR <= 5 { print \$8 }' '$P/predictions.csv')\" ]"
"$DARKNET" classifier demo "$TMP/t.data" "$TMP/t.cfg" "$W" "$TMP/frames/f_%03d.png" -headless -frames 2 >"$TMP/demo2.out" 2>/dev/null </dev/null
check "demo: -frames 2 stops after 2 frames" [ "$(grep -c '^frame ' "$TMP/demo2.out")" -eq 2 ]
expect_error "demo: without a display or -headless: a clean error" "no display" "-headless" -- \
    env -u DISPLAY -u WAYLAND_DISPLAY "$DARKNET" classifier demo "$TMP/t.data" "$TMP/t.cfg" "$W" "$TMP/frames/f_%03d.png"
expect_error "demo: a missing video: a clean error naming it" "cannot open the video $TMP/nope.avi" -- \
    "$DARKNET" classifier demo "$TMP/t.data" "$TMP/t.cfg" "$W" "$TMP/nope.avi" -headless

# ---- a network ending in [expert_softmax] ----
# the stock trunk (up to its [avgpool]) with two [cosine] experts
cfg_set "$FIXTURES/stock-small.cfg" "$TMP/x-lr.cfg" net learning_rate 0.05
{ sed '/^\[connected\]/,$d' "$TMP/x-lr.cfg"
  printf '[cosine]\nclasses=3\nscale=10\n\n[route]\nlayers=-3\n\n'
  cosine_expert 16 1 10 batch_normalize=1
  printf '\n[expert_softmax]\nexperts=-5,-1\ntau=1\n'; } >"$TMP/x.cfg"
"$DARKNET" classifier train "$TMP/t.data" "$TMP/x.cfg" -seed 7 >"$TMP/xtrain.log" 2>&1 </dev/null
check "experts: the [expert_softmax] network trains" [ -s "$TMP/backup/x.weights" ]
"$DARKNET" classifier ood "$TMP/t.data" "$TMP/x.cfg" "$TMP/backup/x.weights" -out "$TMP/xres" -deploy >"$TMP/xood.out" 2>"$TMP/xood.err" </dev/null
rc=$?
check "experts: classifier ood runs on it (rc $rc) with the experts' mean logits" \
    bash -c "[ $rc -eq 0 ] && grep -q 'logits of layer 9 \[expert_softmax: mean of the experts\]' '$TMP/xood.err'"
"$DARKNET" classifier valid "$TMP/t.data" "$TMP/x.cfg" "$TMP/backup/x.weights" >"$TMP/xvalid.log" 2>&1 </dev/null
vtop=$(grep -E '^[0-9]+: top 1: ' "$TMP/xvalid.log" | tail -n 1 | sed -E 's/^[0-9]+: top 1: ([0-9.]+),.*/\1/')
otop=$(awk -F, '$1 == "all" { print $5 }' "$TMP/xres/accuracy.csv")
check "experts: ID accuracy $otop equals classifier valid's $vtop" awk -v a="$otop" -v b="$vtop" 'BEGIN { exit !(a != "" && b != "" && (a - b) ^ 2 < 1e-10) }'
"$DARKNET" classifier predict "$TMP/t.data" "$TMP/x.cfg" "$TMP/backup/x.weights" -list "$TMP/noise/list.txt" -out "$TMP/xpred" >/dev/null 2>&1 </dev/null
check "experts: predict's odin scores equal ood's" \
    awk -F, 'FNR == 1 { next } FILENAME ~ /scores/ { s[$3] = $10; next }
             { if (!($2 in s)) exit 1; d = $8 - s[$2]; if (d < 0) d = -d; m = s[$2] < 0 ? -s[$2] : s[$2]; if (d > 1e-6 * m + 1e-9) exit 1; n++ } END { exit n != 20 }' \
    "$TMP/xres/scores.csv" "$TMP/xpred/predictions.csv"

# ---- errors ----
D=$TMP/t.data
expect_error "errors: a missing OOD list is named" "cannot open the image list $TMP/none.list" -- \
    "$DARKNET" classifier ood "$D" "$TMP/t.cfg" "$W" -ood "x=$TMP/none.list" -out "$TMP/e"
{ head -n 3 "$TMP/noise/list.txt"; echo "$TMP/noise/99999.png"; } >"$TMP/missing.list"
expect_error "errors: a listed image that does not exist is named with its line" "$TMP/noise/99999.png (line 4 of $TMP/missing.list)" "No such file" -- \
    "$DARKNET" classifier ood "$D" "$TMP/t.cfg" "$W" -ood "x=$TMP/missing.list" -out "$TMP/e"
printf 'not an image\n' >"$TMP/noise/broken.png"
{ head -n 2 "$TMP/noise/list.txt"; echo "$TMP/noise/broken.png"; } >"$TMP/broken.list"
expect_error "errors: an undecodable image is named with its line, no crash" "$TMP/noise/broken.png (line 3 of $TMP/broken.list): cannot decode" -- \
    "$DARKNET" classifier ood "$D" "$TMP/t.cfg" "$W" -ood "x=$TMP/broken.list" -out "$TMP/e"
expect_error "errors: predict names a missing IMAGE" "classifier predict: $TMP/nope.png: No such file" -- \
    "$DARKNET" classifier predict "$D" "$TMP/t.cfg" "$W" "$TMP/nope.png"
expect_error "errors: predict -list names an undecodable image" "$TMP/noise/broken.png in $TMP/broken.list: cannot decode" -- \
    "$DARKNET" classifier predict "$D" "$TMP/t.cfg" "$W" -list "$TMP/broken.list"
grep -v '^valid=' "$D" >"$TMP/novalid.data"
expect_error "errors: a .data file without valid=" "has no valid= (the ID test list)" -- \
    "$DARKNET" classifier ood "$TMP/novalid.data" "$TMP/t.cfg" "$W"
grep -v '^ood_' "$D" >"$TMP/noood.data"
expect_error "errors: no OOD set" "no OOD sets" "ood_NAME=LIST" -- \
    "$DARKNET" classifier ood "$TMP/noood.data" "$TMP/t.cfg" "$W"
expect_error "errors: an unknown option, with the usage" "unknown option '-frobnicate'" "usage: darknet classifier ood" -- \
    "$DARKNET" classifier ood "$D" "$TMP/t.cfg" "$W" -frobnicate
expect_error "errors: a set name that cannot be a file name" "set name 'a/b'" -- \
    "$DARKNET" classifier ood "$D" "$TMP/t.cfg" "$W" -ood "a/b=$TMP/grey/list.txt"
expect_error "errors: -score odin with -noodin" "-score odin needs ODIN" -- \
    "$DARKNET" classifier ood "$D" "$TMP/t.cfg" "$W" -noodin -score odin
expect_error "errors: a malformed number" "-odin_t 'abc'" -- \
    "$DARKNET" classifier ood "$D" "$TMP/t.cfg" "$W" -odin_t abc
sed '/^\[softmax\]/,$d' "$TMP/t.cfg" >"$TMP/nosoftmax.cfg"
"$TOOLS/tool_weights" init "$TMP/nosoftmax.cfg" "$TMP/nosoftmax.weights" >/dev/null 2>&1
expect_error "errors: a network without softmax" "ends in [softmax] or [expert_softmax]" -- \
    "$DARKNET" classifier ood "$D" "$TMP/nosoftmax.cfg" "$TMP/nosoftmax.weights" -out "$TMP/e"
printf 'score=odin\nthreshold=high\n' >"$TMP/plain.weights.ood"
expect_error "errors: predict with a malformed threshold file names it" "plain.weights.ood line 2: bad value 'high'" -- \
    "$DARKNET" classifier predict "$D" "$TMP/t.cfg" "$TMP/plain.weights" "$low"

# ---- plots ----
if command -v gnuplot >/dev/null; then
    "$ROOT"/scripts/plot-ood "$OUT" >"$TMP/plot.log" 2>&1
    rc=$?
    check "plots: scripts/plot-ood exits 0 (rc $rc: $(tail -n 1 "$TMP/plot.log"))" [ "$rc" -eq 0 ]
    case_begin "plots: roc_noise, roc_grey, hist_SCORE and per_class are PNGs"
    for f in roc_noise roc_grey hist_msp hist_energy hist_maxlogit hist_odin per_class; do
        check "plots: $f.png is a PNG" bash -c "[ \"\$(head -c 8 '$OUT/$f.png' | od -An -tx1 | tr -d ' \n')\" = 89504e470d0a1a0a ]"
    done
    case_end
    expect_error "plots: a folder that is not a results folder is refused" "metrics.csv missing" -- "$ROOT"/scripts/plot-ood "$TMP/noise"
else
    echo "note: gnuplot is not installed: plots not checked (apt-get install gnuplot-nox)"
fi

# ---- real data, when the shared folder is there ----
SHARED=$ROOT/../shared/data/ood-textures/textures10_32.bin.gz
if [ -f "$SHARED" ]; then
    "$ROOT"/scripts/ood-from-cifar-bin "$SHARED" "$TMP/textures" --limit 40 >/dev/null
    "$DARKNET" classifier ood "$D" "$TMP/t.cfg" "$W" -ood "textures=$TMP/textures/list.txt" -out "$TMP/rtex" >"$TMP/tex.out" 2>&1 </dev/null
    check "shared data: 40 Textures images (32x32, center-cropped to 16x16) go through classifier ood" \
        bash -c "grep -qE '^textures +40 +msp' '$TMP/tex.out' && [ \$(grep -c '^textures,' '$TMP/rtex/scores.csv') -eq 40 ]"
else
    echo "note: $SHARED absent: the real-data check is skipped"
fi

finish
