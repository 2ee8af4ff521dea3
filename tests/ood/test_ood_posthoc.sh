#!/bin/bash
# classifier ood -posthoc and -openood_fpr end to end (the formulas are checked against
# reference implementations in test_ood_posthoc.c):
#   - the four post-hoc scores in scores.csv, metrics.csv and the table, finite, next to the
#     paper's four; AUROC and OpenOOD's FPR95 (OOD positive) recomputed from scores.csv;
#   - the training features: computed once into WEIGHTS.oodstats, reused while cfg, weights,
#     train list and -limit match, computed again when one changes; a corrupt file is an error;
#   - with -noodin the features (so knn) are the same as with ODIN's extra passes;
#   - -score knn: the threshold in DIR/threshold.ood; -deploy and predict refuse it;
#   - a network ending in [expert_softmax] goes through too;
#   - no train list: a clear error.
set -u
. "$(dirname "$0")/../lib/lib.sh"
test_tmp ood-posthoc
LABELS=(crimson emerald azure)
"$TOOLS/tool_mkimages" "$TMP" train 20 11 "${LABELS[@]}" >"$TMP/train.list"
"$TOOLS/tool_mkimages" "$TMP" valid 8 12 "${LABELS[@]}" >"$TMP/valid.list"
"$TOOLS/tool_mkimages" "$TMP" other 5 13 ochre slate >"$TMP/ood.list"
printf '%s\n' "${LABELS[@]}" >"$TMP/labels.txt"
data_file "$TMP/t.data" 3 "valid=$TMP/valid.list" "ood_other=$TMP/ood.list"
cat >"$TMP/t.cfg" <<EOF
[net]
batch=16
subdivisions=1
width=16
height=16
channels=3
learning_rate=0.1
momentum=0.9
decay=0.0005
policy=constant
max_batches=30

[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[avgpool]

[connected]
output=3
activation=linear

[softmax]
EOF
"$DARKNET" classifier train "$TMP/t.data" "$TMP/t.cfg" -seed 3 >"$TMP/train.log" 2>&1 </dev/null
W=$TMP/backup/t.weights
check "setup: the test network trains" [ -s "$W" ]
D=$TMP/t.data

"$DARKNET" classifier ood "$D" "$TMP/t.cfg" "$W" -posthoc -openood_fpr -out "$TMP/r1" >"$TMP/r1.out" 2>"$TMP/r1.err" </dev/null
rc=$?
check "posthoc: runs (rc $rc; $(tail -n 1 "$TMP/r1.err"))" [ "$rc" -eq 0 ]
check "posthoc: the training features are computed from the 60 training images and saved next to the weights" \
    bash -c "grep -q 'training features of 60 images (8 values each) saved to $W.oodstats' '$TMP/r1.err' && [ -s '$W.oodstats' ]"
check "posthoc: the stats file records the cfg, weights and train list checksums" \
    bash -c "for k in cfg_fnv1a weights_fnv1a train_fnv1a; do grep -aq \"^\$k=[0-9a-f]\\{16\\}\$\" '$W.oodstats' || exit 1; done"
check "posthoc: scores.csv has the 8 score columns, the post-hoc ones finite" \
    bash -c "head -n 1 '$TMP/r1/scores.csv' | grep -qx 'set,index,path,label,pred,prob,msp,energy,maxlogit,odin,gen,react,knn,mahalanobis' \
             && awk -F, 'NR > 1 { n++; if (NF != 14) exit 1; for (i = 11; i <= 14; ++i) if (\$i !~ /^-?[0-9.]+(e[-+]?[0-9]+)?\$/) exit 1 } END { exit n != 34 }' '$TMP/r1/scores.csv'"
check "posthoc: metrics.csv: 8 scores, with the fpr95_oodpos column" \
    bash -c "head -n 1 '$TMP/r1/metrics.csv' | grep -q ',fpr95_oodpos\$' && [ \$(awk -F, 'NR > 1' '$TMP/r1/metrics.csv' | wc -l) -eq 8 ]"
check "posthoc: the table names OpenOOD's column and explains it, and states the post-hoc settings" \
    bash -c "grep -qE 'FPR95 +FPR95-OOD\\+' '$TMP/r1.out' && grep -q \"FPR95-OOD+: OpenOOD's convention, OOD the positive class\" '$TMP/r1.out' \
             && grep -q 'gen gamma = 0.1, M = 100' '$TMP/r1.out' && grep -q 'percentile 90 of the training' '$TMP/r1.out' && grep -q 'knn k = 50' '$TMP/r1.out' \
             && grep -qE '^ +mahalanobis ' '$TMP/r1.out'"
for col in 11:gen 12:react 13:knn 14:mahalanobis; do
    c=${col%%:*}; sc=${col#*:}
    want=$(awk -F, -v c="$c" '$1 == "id" { id[++ni] = $c } $1 == "other" { o[++no] = $c }
        END { for (i = 1; i <= ni; ++i) for (j = 1; j <= no; ++j) w += (id[i] > o[j]) + 0.5 * (id[i] == o[j]); printf "%.6f", w / (ni * no) }' "$TMP/r1/scores.csv")
    got=$(awk -F, -v sc="$sc" '$3 == sc { print $4 }' "$TMP/r1/metrics.csv")
    check "posthoc: AUROC of $sc ($got) = pairs counted from scores.csv ($want)" [ "$got" = "$want" ]
    # OpenOOD: the lowest u with >= 95% of OOD at or below it; the ID fraction at or below u
    want=$(awk -F, -v c="$c" '$1 == "id" { id[++ni] = $c + 0 } $1 == "other" { o[++no] = $c + 0 }
        END { best = ""; for (j = 1; j <= no; ++j) { u = o[j]; k = 0; for (m = 1; m <= no; ++m) k += o[m] <= u;
                if (k / no >= 0.95 && (best == "" || u < best)) best = u }
              f = 0; for (i = 1; i <= ni; ++i) f += id[i] <= best; printf "%.6f", f / ni }' "$TMP/r1/scores.csv")
    got=$(awk -F, -v sc="$sc" '$3 == sc { print $10 }' "$TMP/r1/metrics.csv")
    check "posthoc: OpenOOD's FPR95 of $sc ($got) recomputed from scores.csv ($want)" [ "$got" = "$want" ]
done

# reuse
"$DARKNET" classifier ood "$D" "$TMP/t.cfg" "$W" -posthoc -out "$TMP/r2" >/dev/null 2>"$TMP/r2.err" </dev/null
check "posthoc: a second run reuses the saved features, with the same scores" \
    bash -c "grep -q 'training features from $W.oodstats (60 images' '$TMP/r2.err' && ! grep -q 'saved to' '$TMP/r2.err' \
             && cmp -s <(cut -d, -f11-14 '$TMP/r1/scores.csv') <(cut -d, -f11-14 '$TMP/r2/scores.csv')"
"$DARKNET" classifier ood "$D" "$TMP/t.cfg" "$W" -posthoc -noodin -out "$TMP/r3" >/dev/null 2>&1 </dev/null
check "posthoc: with -noodin: 7 scores, the same knn and mahalanobis (the features come from the clean pass)" \
    bash -c "[ \$(awk -F, 'NR > 1' '$TMP/r3/metrics.csv' | wc -l) -eq 7 ] && cmp -s <(cut -d, -f13-14 '$TMP/r1/scores.csv') <(cut -d, -f13-14 '$TMP/r3/scores.csv')"
head -n 45 "$TMP/train.list" >"$TMP/train45.list"
sed "s|^train=.*|train=$TMP/train45.list|" "$D" >"$TMP/t45.data"
"$DARKNET" classifier ood "$TMP/t45.data" "$TMP/t.cfg" "$W" -posthoc -noodin -out "$TMP/r4" >/dev/null 2>"$TMP/r4.err" </dev/null
check "posthoc: another train list: the features are computed again (45 images)" \
    bash -c "grep -q 'made for another train list: computing the training features again' '$TMP/r4.err' && grep -q 'features of 45 images' '$TMP/r4.err'"
"$DARKNET" classifier ood "$TMP/t45.data" "$TMP/t.cfg" "$W" -posthoc -noodin -limit 10 -out "$TMP/r5" >/dev/null 2>"$TMP/r5.err" </dev/null
check "posthoc: another -limit: computed again (10 images)" \
    bash -c "grep -q 'another -limit' '$TMP/r5.err' && grep -q 'features of 10 images' '$TMP/r5.err'"
head -c 200 "$W.oodstats" >"$TMP/cut" && cp "$TMP/cut" "$W.oodstats"
expect_error "posthoc: a damaged stats file is an error naming it" "$W.oodstats" "remove it" -- \
    "$DARKNET" classifier ood "$TMP/t45.data" "$TMP/t.cfg" "$W" -posthoc -noodin -limit 10 -out "$TMP/r6"
rm -f "$W.oodstats"

# thresholds of post-hoc scores
"$DARKNET" classifier ood "$D" "$TMP/t.cfg" "$W" -score knn -noodin -out "$TMP/r7" >/dev/null 2>&1 </dev/null
check "posthoc: -score knn alone turns -posthoc on and writes a knn threshold to -out (17 digits)" \
    bash -c "grep -qx 'score=knn' '$TMP/r7/threshold.ood' && grep -qE '^threshold=-?[0-9]\\.[0-9]{10,}' '$TMP/r7/threshold.ood' && [ ! -e '$W.ood' ]"
thr=$(sed -n 's/^threshold=//p' "$TMP/r7/threshold.ood")
acc=$(awk -F, -v t="$thr" '$1 == "id" { n++; if ($13 >= t + 0) a++ } END { printf "%.6f", a / n }' "$TMP/r7/scores.csv")
check "posthoc: the knn threshold accepts id_accepted ($acc) of the ID knn scores" grep -qx "id_accepted=$acc" "$TMP/r7/threshold.ood"
expect_error "posthoc: -deploy with a post-hoc -score is refused" "-deploy -score knn: predict and demo compute msp, energy, maxlogit and odin only" -- \
    "$DARKNET" classifier ood "$D" "$TMP/t.cfg" "$W" -score knn -deploy -out "$TMP/r8"
expect_error "posthoc: predict -score knn is refused" "the knn score: predict and demo compute msp, energy, maxlogit and odin" -- \
    "$DARKNET" classifier predict "$D" "$TMP/t.cfg" "$W" "$(head -n 1 "$TMP/valid.list")" -score knn
# a network ending in [expert_softmax]: the feature concatenates the experts' inputs (8 + 6)
{ printf '[net]\nbatch=8\nwidth=16\nheight=16\nchannels=3\n\n'
  cosine_expert 8 1 30
  printf '\n[route]\nlayers=0\n\n'
  cosine_expert 6 2 30
  printf '\n[expert_softmax]\nexperts=2,6\ntau=1\n'; } >"$TMP/x.cfg"
"$TOOLS/tool_weights" init "$TMP/x.cfg" "$TMP/x.weights" 4 >/dev/null 2>&1
"$DARKNET" classifier ood "$D" "$TMP/x.cfg" "$TMP/x.weights" -posthoc -noodin -out "$TMP/rx" >"$TMP/rx.out" 2>"$TMP/rx.err" </dev/null
rc=$?
check "posthoc experts: runs (rc $rc) with features of 8 + 6 values, all 7 scores finite" \
    bash -c "[ $rc -eq 0 ] && grep -q 'training features of 60 images (14 values each)' '$TMP/rx.err' && [ \$(awk -F, 'NR > 1' '$TMP/rx/metrics.csv' | wc -l) -eq 7 ] \
             && awk -F, 'NR > 1 { for (i = 11; i <= 14; ++i) if (\$i !~ /^-?[0-9.]+(e[-+]?[0-9]+)?\$/) exit 1 }' '$TMP/rx/scores.csv'"

grep -v '^train=' "$D" >"$TMP/notrain.data"
expect_error "posthoc: without a train list: the reason" "-posthoc: ReAct, KNN and Mahalanobis need the training features" "no readable train= list" -- \
    "$DARKNET" classifier ood "$TMP/notrain.data" "$TMP/t.cfg" "$W" -posthoc -out "$TMP/r9"

finish
