#!/bin/bash
# The dataset builders on small generated inputs (no shared data, no Debian dataset needed):
#   scripts/make-cifar-lt       CIFAR-10 (data_batch_1..5 + test_batch) and CIFAR-100
#                               (train.bin/test.bin, 2 label bytes) binary layouts;
#   scripts/make-fashion-mnist-lt   idx files (gzip'd, as Debian ships them);
#   scripts/make-folder-dataset     a class-folder tree;
# checked for: exact per-class counts of every IR (the lists, counts files and README agree
# with n_c = int(n_max * IR^(-c/(C-1)))), the FIRST n_c images of each class in file order
# (pixels decoded from the PNGs), label files, .data keys (ood_NAME included), Darknet's own
# label matching (classifier valid over the CIFAR-100 test list with names like maple_tree),
# the label files kept in data/, and the refusals (non-empty OUTDIR without --force, --force
# on a folder no builder wrote, bad IR, wrong record sizes, labels out of range, missing
# files, mismatched class folders, names files, impossible counts), after each of which
# OUTDIR must be as it was.
set -u
. "$(dirname "$0")/../lib/lib.sh"
test_tmp builders
CL=$ROOT/scripts/make-cifar-lt
FM=$ROOT/scripts/make-fashion-mnist-lt
FD=$ROOT/scripts/make-folder-dataset

# ---- the rule itself, on the official sizes ----
check "rule: CIFAR-10-LT counts at IR 100 are 5000 2997 1796 1077 645 387 232 139 83 50" \
    python3 -c "import sys; sys.path.insert(0, '$ROOT/scripts'); from ltlib import lt_counts
assert lt_counts(5000, 100, 10) == [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]"
check "rule: totals 12406/13996/20431 (CIFAR-10, IR 100/50/10) and 10847/12608/19573 (CIFAR-100)" \
    python3 -c "import sys; sys.path.insert(0, '$ROOT/scripts'); from ltlib import lt_counts
assert [sum(lt_counts(5000, r, 10)) for r in (100, 50, 10)] == [12406, 13996, 20431]
assert [sum(lt_counts(500, r, 100)) for r in (100, 50, 10)] == [10847, 12608, 19573]"

# ---- generated CIFAR inputs ----
# CIFAR-10: class c has 100 + c training images spread over the 5 batches (round-robin, so the
# first images of a class are in data_batch_1), 3 test images. Pixel 0 (R) = class, pixel 1
# (R) = rank of the image within its class, so the PNGs tell which record they came from.
python3 - "$TMP" <<'EOF'
import os, sys
t = sys.argv[1]
def rec(labels, c, k):
    px = bytearray(3072)
    px[0], px[1] = c, k
    for i in range(2, 3072):
        px[i] = (7 * i + 13 * k + 29 * c) % 256
    return bytes(labels) + bytes(px)
os.makedirs(t + "/c10/cifar-10-batches-bin")
recs = [rec([c], c, k) for k in range(109) for c in range(10) if k < 100 + c]
for b in range(5):
    with open(t + "/c10/cifar-10-batches-bin/data_batch_%d.bin" % (b + 1), "wb") as f:
        f.write(b"".join(recs[b * len(recs) // 5:(b + 1) * len(recs) // 5]))
with open(t + "/c10/cifar-10-batches-bin/test_batch.bin", "wb") as f:
    f.write(b"".join(rec([c], c, k) for k in range(3) for c in range(10)))
with open(t + "/c10/cifar-10-batches-bin/batches.meta.txt", "w") as f:
    f.write("\n".join("airplane automobile bird cat deer dog frog horse ship truck".split()) + "\n\n")
# CIFAR-100: 100 fine classes, 12 training and 2 test images each; coarse label = fine // 5.
os.makedirs(t + "/c100/cifar-100-binary")
with open(t + "/c100/cifar-100-binary/train.bin", "wb") as f:
    f.write(b"".join(rec([c // 5, c], c, k) for k in range(12) for c in range(100)))
with open(t + "/c100/cifar-100-binary/test.bin", "wb") as f:
    f.write(b"".join(rec([c // 5, c], c, k) for k in range(2) for c in range(100)))
EOF
B10=$TMP/c10/cifar-10-batches-bin

# per_class LIST: "n0 n1 ..." counts of a list by folder, in the order of NAMES (2nd arg)
per_class() { awk -F/ 'NR == FNR { o[++n] = $0; next } { c[$(NF - 1)]++ } END { for (i = 1; i <= n; ++i) printf "%d%s", c[o[i]], i < n ? " " : "" }' "$2" "$1"; }
expected() { python3 -c "import sys
n, ir, C = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
print(' '.join(str(int(n * ir ** (-c / (C - 1)))) for c in range(C)))" "$@"; }

# ---- make-cifar-lt: CIFAR-10 ----
O=$TMP/out10
expect_ok "cifar10: builds IR 10, 50 and 100 from data_batch_1..5 + test_batch" "$CL" "$TMP/c10" "$O"
check "cifar10: labels file is the 10 names of batches.meta.txt" \
    bash -c "[ \"\$(tr '\n' ' ' <'$O/cifar10.names')\" = 'airplane automobile bird cat deer dog frog horse ship truck ' ]"
case_begin "cifar10: the IR 10, 50 and 100 lists, counts files and .data files"
for ir in 10 50 100; do
    want=$(expected 100 "$ir" 10)   # n_max = smallest class's count = 100
    got=$(per_class "$O/train-ir$ir.list" "$O/cifar10.names")
    check "cifar10: IR $ir list has per-class counts $want (got $got)" [ "$got" = "$want" ]
    check "cifar10: counts-ir$ir.txt holds the same counts, one a line" [ "$(tr '\n' ' ' <"$O/counts-ir$ir.txt")" = "$want " ]
    check "cifar10: cifar10-lt-ir$ir.data has its train list, the test list, names and backup-ir$ir" \
        bash -c "grep -qx 'classes=10' '$O/cifar10-lt-ir$ir.data' && grep -qx 'train=$O/train-ir$ir.list' '$O/cifar10-lt-ir$ir.data' \
                 && grep -qx 'valid=$O/test.list' '$O/cifar10-lt-ir$ir.data' && grep -qx 'labels=$O/cifar10.names' '$O/cifar10-lt-ir$ir.data' \
                 && grep -qx 'backup=$O/backup-ir$ir' '$O/cifar10-lt-ir$ir.data'"
done
case_end
check "cifar10: test list is balanced, 3 per class" [ "$(per_class "$O/test.list" "$O/cifar10.names")" = "3 3 3 3 3 3 3 3 3 3" ]
check "cifar10: every listed image exists" bash -c "cat '$O'/*.list | xargs ls >/dev/null"
check "cifar10: images are named by rank in their class folder (train/cat/00000.png)" [ -s "$O/train/cat/00000.png" ]
check "cifar10: README.txt gives the rule and the counts" bash -c "grep -q 'IR^(-c/(C-1))' '$O/README.txt' && grep -q 'truck' '$O/README.txt'"
# The PNGs hold the right records: the k-th image of class c has R(0,0) = c, R(0,1) = k.
check "cifar10: the first n_c images of each class in file order, pixels intact (PNG decoded)" python3 - "$O" <<'EOF'
import os, struct, sys, zlib
o = sys.argv[1]
names = open(o + "/cifar10.names").read().split()
def decode(p):
    d = open(p, "rb").read()
    assert d[:8] == b"\x89PNG\r\n\x1a\n"
    w, h, bits, color = struct.unpack(">IIBB", d[16:26])
    assert (w, h, bits, color) == (32, 32, 8, 2), (w, h, bits, color)
    pos, idat = 8, b""
    while pos < len(d):
        n, = struct.unpack(">I", d[pos:pos + 4]); kind = d[pos + 4:pos + 8]
        if kind == b"IDAT": idat += d[pos + 8:pos + 8 + n]
        pos += 12 + n
    raw = zlib.decompress(idat)
    assert all(raw[y * 97] == 0 for y in range(32))
    return raw
for line in open(o + "/train-ir10.list"):
    p = line.strip(); c = names.index(p.split("/")[-2]); k = int(os.path.basename(p)[:5])
    raw = decode(p)
    # row 0: filter byte, then R G B of pixel 0, R G B of pixel 1, ...; planes: R[0]=c, R[1]=k
    assert raw[1] == c and raw[4] == k, (p, raw[1], raw[4])
    assert raw[2] == (7 * 1024 + 29 * c + 13 * k) % 256   # G of pixel 0 = plane byte 1024
sys.exit(0)
EOF
check "cifar10: IR 100's images are the first ones of IR 10's (shared files)" \
    bash -c "grep -qx '$O/train/truck/00000.png' '$O/train-ir100.list' && ! grep -q '$O/train/truck/00001.png' '$O/train-ir100.list' && grep -q '$O/train/truck/00001.png' '$O/train-ir10.list'"

# refusals: OUTDIR must stay as it was after each
snapshot() { (cd "$1" 2>/dev/null && find . -printf '%p %s\n' | sort | md5sum) || echo none; }
S0=$(snapshot "$O")
expect_error "refuse: an existing non-empty OUTDIR without --force" "exists and is not empty" "--force" -- "$CL" "$TMP/c10" "$O"
check "refuse: ... OUTDIR untouched" [ "$(snapshot "$O")" = "$S0" ]
mkdir -p "$TMP/foreign" && echo keep >"$TMP/foreign/notes.txt"
expect_error "refuse: --force on a non-empty folder that no builder wrote" "not a data set written by a builder" -- "$CL" "$TMP/c10" "$TMP/foreign" --force
check "refuse: ... the folder keeps its file" [ "$(cat "$TMP/foreign/notes.txt")" = keep ]
case_begin "refuse: bad IRs 0.5, abc, inf, 0, 10,10 and the empty string"
for bad in 0.5 abc inf 0 "10,10" ""; do
    expect_error "refuse: bad IR '$bad'" "--ir" -- "$CL" "$TMP/c10" "$TMP/bad-ir" --ir "$bad"
done
case_end
check "refuse: ... no OUTDIR was created" [ ! -e "$TMP/bad-ir" ]
expect_error "refuse: an IR above n_max leaves the tail class empty" "without images" -- "$CL" "$TMP/c10" "$TMP/x" --ir 101
expect_error "refuse: --max-per-class beyond a class's images" "which has" -- "$CL" "$TMP/c10" "$TMP/x" --max-per-class 101 --ir 1
expect_error "refuse: --test-per-class beyond the test set" "only 3 images" -- "$CL" "$TMP/c10" "$TMP/x" --test-per-class 4
cp -r "$TMP/c10" "$TMP/c10cut"
truncate -s -1 "$TMP/c10cut/cifar-10-batches-bin/data_batch_3.bin"
expect_error "refuse: a batch file that is not whole 3073-byte records" "data_batch_3.bin" "3073-byte records" -- "$CL" "$TMP/c10cut" "$TMP/x"
cp "$B10/data_batch_3.bin" "$TMP/c10cut/cifar-10-batches-bin/"
printf '\013' | dd of="$TMP/c10cut/cifar-10-batches-bin/data_batch_2.bin" bs=1 seek=$((3073 * 4)) conv=notrunc status=none
expect_error "refuse: a label byte out of range" "data_batch_2.bin: record 4 has label 11" -- "$CL" "$TMP/c10cut" "$TMP/x"
cp "$B10/data_batch_2.bin" "$TMP/c10cut/cifar-10-batches-bin/"
rm "$TMP/c10cut/cifar-10-batches-bin/data_batch_4.bin"
expect_error "refuse: a missing batch file is named" "data_batch_4.bin missing" -- "$CL" "$TMP/c10cut" "$TMP/x"
cp "$B10/data_batch_4.bin" "$TMP/c10cut/cifar-10-batches-bin/"
printf 'a\nb\n' >"$TMP/c10cut/cifar-10-batches-bin/batches.meta.txt"
expect_error "refuse: a names file without 10 names" "batches.meta.txt: 2 names, expected 10" -- "$CL" "$TMP/c10cut" "$TMP/x"
rm "$TMP/c10cut/cifar-10-batches-bin/batches.meta.txt"
python3 -c "import sys; d = open(sys.argv[1], 'rb').read(); open(sys.argv[1], 'wb').write(b''.join(d[i:i + 3073] for i in range(0, len(d), 3073) if d[i] != 9))" \
    "$TMP/c10cut/cifar-10-batches-bin/test_batch.bin"
expect_error "refuse: a class without test images" "hold no image of class(es) truck" -- "$CL" "$TMP/c10cut" "$TMP/x"
expect_error "refuse: a folder without CIFAR files" "holds no CIFAR binary files" -- "$CL" "$TMP/foreign" "$TMP/x"
check "refuse: ... none of these left an OUTDIR behind" [ ! -e "$TMP/x" ]

# --force replaces a builder's data set, keeps other files; --ood adds ood_NAME keys
mkdir -p "$O/backup-ir100" && echo w >"$O/backup-ir100/model.weights"
python3 -c "import sys; open(sys.argv[1], 'wb').write(bytes([3]) + bytes(range(256)) * 12 + bytes([5]) + bytes(3072))" "$TMP/ood.bin"
mkdir -p "$TMP/oodimgs" && cp "$O/train/cat/00000.png" "$TMP/oodimgs/a.png"
printf '%s\n' "$TMP/oodimgs/a.png" >"$TMP/given.list"
expect_ok "cifar10: --force --ir 100 --ood (records, a folder, a list) replaces the data set" \
    "$CL" "$B10" "$O" --force --ir 100 --ood "recs=$TMP/ood.bin" --ood "fold=$TMP/oodimgs" --ood "given=$TMP/given.list"
check "cifar10: --force left only IR 100's files and kept backup-ir100/model.weights" \
    bash -c "[ -f '$O/cifar10-lt-ir100.data' ] && [ ! -e '$O/train-ir10.list' ] && [ ! -e '$O/cifar10-lt-ir50.data' ] && [ -f '$O/backup-ir100/model.weights' ]"
check "cifar10: ood_recs (2 converted images), ood_fold and ood_given in the .data file" \
    bash -c "grep -qx 'ood_recs=$O/ood/recs/list.txt' '$O/cifar10-lt-ir100.data' && [ \$(wc -l <'$O/ood/recs/list.txt') -eq 2 ] \
             && grep -qx 'ood_fold=$O/ood/fold.list' '$O/cifar10-lt-ir100.data' && grep -qx 'ood_given=$TMP/given.list' '$O/cifar10-lt-ir100.data'"
expect_error "refuse: an --ood source that does not exist" "does not exist" -- "$CL" "$B10" "$TMP/x" --ood "a=$TMP/nope.bin"
expect_error "refuse: an --ood set name with odd characters" "set name" -- "$CL" "$B10" "$TMP/x" --ood "a/b=$TMP/ood.bin"
python3 -c "open('$TMP/odd.bin', 'wb').write(bytes(100))"
expect_error "refuse: an --ood record file of the wrong size, nothing left behind" "3073-byte" -- "$CL" "$B10" "$TMP/x" --ood "a=$TMP/odd.bin"
check "refuse: ... no OUTDIR left after the failed conversion" [ ! -e "$TMP/x" ]

# ---- make-cifar-lt: CIFAR-100 ----
O=$TMP/out100
expect_ok "cifar100: builds IR 10 from train.bin/test.bin (2 label bytes) with the built-in names" "$CL" "$TMP/c100" "$O" --ir 10
check "cifar100: 100 names, maple_tree and aquarium_fish among them, apple first, worm last" \
    bash -c "[ \$(wc -l <'$O/cifar100.names') -eq 100 ] && grep -qx maple_tree '$O/cifar100.names' && grep -qx aquarium_fish '$O/cifar100.names' \
             && [ \"\$(head -n 1 '$O/cifar100.names')\" = apple ] && [ \"\$(tail -n 1 '$O/cifar100.names')\" = worm ]"
want=$(expected 12 10 100)
check "cifar100: IR 10 per-class counts from 12 down to 1" [ "$(per_class "$O/train-ir10.list" "$O/cifar100.names")" = "$want" ]
check "cifar100: a '_' name is a folder, the files carry no label word (train/maple_tree/00000.png)" [ -s "$O/train/maple_tree/00000.png" ]
printf 'classes=100\nvalid=%s\nlabels=%s\n' "$O/test.list" "$O/cifar100.names" >"$TMP/c100.data"
cat >"$TMP/tiny100.cfg" <<EOF
[net]
batch=1
subdivisions=1
width=32
height=32
channels=3

[avgpool]

[connected]
output=100
activation=linear

[softmax]
EOF
"$TOOLS/tool_weights" init "$TMP/tiny100.cfg" "$TMP/tiny100.weights" 1 >/dev/null 2>&1
"$DARKNET" classifier valid "$TMP/c100.data" "$TMP/tiny100.cfg" "$TMP/tiny100.weights" >"$TMP/v100.log" 2>&1 </dev/null
rc=$?
check "cifar100: Darknet's exact label matching takes every one of the 200 test images (rc $rc)" \
    bash -c "[ $rc -eq 0 ] && [ \$(grep -cE '^[0-9]+: top 1: ' '$TMP/v100.log') -eq 200 ]"
printf '%s\n' $(seq 1 100 | sed 's/^/n/') >"$TMP/c100/cifar-100-binary/fine_label_names.txt"
expect_ok "cifar100: names from fine_label_names.txt when present" "$CL" "$TMP/c100" "$TMP/out100b" --ir 10
check "cifar100: ... used in order (n1 .. n100)" bash -c "[ \"\$(head -n 1 '$TMP/out100b/cifar100.names')\" = n1 ] && [ -d '$TMP/out100b/train/n100' ]"
rm "$TMP/c100/cifar-100-binary/fine_label_names.txt"
cp -r "$TMP/c100" "$TMP/c100bad"
printf '\024' | dd of="$TMP/c100bad/cifar-100-binary/test.bin" bs=1 seek=3074 conv=notrunc status=none
expect_error "refuse: CIFAR-100 coarse label out of range" "test.bin: record 1 has label 20, expected 0..19" -- "$CL" "$TMP/c100bad" "$TMP/x"
truncate -s 3073 "$TMP/c100bad/cifar-100-binary/test.bin"
expect_error "refuse: CIFAR-10-sized records in a CIFAR-100 file" "3074-byte records" -- "$CL" "$TMP/c100bad" "$TMP/x"
mkdir -p "$TMP/both" && cp -r "$TMP/c10/cifar-10-batches-bin" "$TMP/c100/cifar-100-binary" "$TMP/both/"
expect_error "refuse: both layouts in SRC without --dataset" "--dataset" -- "$CL" "$TMP/both" "$TMP/x"
expect_ok "cifar100: --dataset cifar100 picks one" "$CL" "$TMP/both" "$TMP/out-both" --dataset cifar100 --ir 10

# ---- make-fashion-mnist-lt ----
# idx files: 10 classes, 40 training and 4 test images each, interleaved; pixel 0 = class,
# pixel 1 = rank within the class.
python3 - "$TMP/fm" <<'EOF'
import gzip, os, struct, sys
d = sys.argv[1]; os.makedirs(d)
def write(stem, n_per, magic_img=2051):
    labs = [c for k in range(n_per) for c in range(10)]
    px = bytearray()
    for i, c in enumerate(labs):
        img = bytearray((i * 7 + j) % 256 for j in range(784)); img[0] = c; img[1] = i // 10
        px += img
    with gzip.open("%s/%s-images-idx3-ubyte.gz" % (d, stem), "wb") as f:
        f.write(struct.pack(">IIII", magic_img, len(labs), 28, 28) + px)
    with gzip.open("%s/%s-labels-idx1-ubyte.gz" % (d, stem), "wb") as f:
        f.write(struct.pack(">II", 2049, len(labs)) + bytes(labs))
write("train", 40)
write("t10k", 4)
EOF
O=$TMP/fmout
expect_ok "fmnist: builds IR 10 and 20 from gzip'd idx files" "$FM" "$O" --src "$TMP/fm" --ir 10,20 --max-per-class 40 --test-per-class 4
case_begin "fmnist: the IR 10 and 20 lists, counts files and .data files"
for ir in 10 20; do
    want=$(expected 40 "$ir" 10)
    check "fmnist: IR $ir per-class counts $want" [ "$(per_class "$O/train-ir$ir.list" "$O/fmnist.names")" = "$want" ]
    check "fmnist: counts-ir$ir.txt agrees" [ "$(tr '\n' ' ' <"$O/counts-ir$ir.txt")" = "$want " ]
    check "fmnist: fmnist-lt-ir$ir.data names its lists" grep -qx "train=$O/train-ir$ir.list" "$O/fmnist-lt-ir$ir.data"
done
case_end
check "fmnist: 10 single-word labels" [ "$(tr '\n' ' ' <"$O/fmnist.names")" = "tshirt trouser pullover dress coat sandal shirt sneaker bag boot " ]
check "fmnist: the first images of a class by idx index (train/boot/00009.png, 00019.png; 4 at IR 10)" \
    bash -c "[ \"\$(grep /boot/ '$O/train-ir10.list' | xargs -n1 basename | tr '\n' ' ')\" = '00009.png 00019.png 00029.png 00039.png ' ]"
check "fmnist: 28x28 8-bit grey PNG" \
    bash -c "[ \"\$(head -c 26 '$O/train/coat/00004.png' | tail -c 10 | od -An -tx1 | tr -d ' \n')\" = 0000001c0000001c0800 ]"
expect_ok "fmnist: --size 32" "$FM" "$TMP/fm32" --src "$TMP/fm" --ir 10 --max-per-class 40 --test-per-class 4 --size 32
check "fmnist: ... 32x32 PNGs" \
    bash -c "[ \"\$(head -c 24 '$TMP/fm32/test/bag/00008.png' | tail -c 8 | od -An -tx1 | tr -d ' \n')\" = 0000002000000020 ]"
expect_error "refuse: fmnist into a non-empty OUTDIR" "exists and is not empty" -- "$FM" "$O" --src "$TMP/fm" --ir 10 --max-per-class 40
expect_error "refuse: fmnist --max-per-class beyond the data" "class tshirt has only 40 training images" -- "$FM" "$TMP/x" --src "$TMP/fm" --max-per-class 41 --ir 10
expect_error "refuse: fmnist IR 0.5" "--ir" -- "$FM" "$TMP/x" --src "$TMP/fm" --ir 0.5 --max-per-class 40
cp -r "$TMP/fm" "$TMP/fmbad"
python3 -c "import gzip, sys; d = gzip.open(sys.argv[1]).read(); gzip.open(sys.argv[1], 'wb').write(d[:-1])" "$TMP/fmbad/train-images-idx3-ubyte.gz"
expect_error "refuse: an idx file shorter than its header says" "train-images-idx3-ubyte.gz: 313599 bytes of data, its header says 313600" -- \
    "$FM" "$TMP/x" --src "$TMP/fmbad" --max-per-class 40 --ir 10 --test-per-class 4
python3 -c "import gzip, struct, sys; d = gzip.open(sys.argv[1]).read(); gzip.open(sys.argv[1], 'wb').write(struct.pack('>I', 2049) + d[4:])" "$TMP/fmbad/t10k-images-idx3-ubyte.gz"
cp "$TMP/fm/train-images-idx3-ubyte.gz" "$TMP/fmbad/"
expect_error "refuse: an idx file with the wrong magic number" "magic 2049, expected 2051" -- "$FM" "$TMP/x" --src "$TMP/fmbad" --max-per-class 40 --ir 10 --test-per-class 4
expect_error "refuse: no idx files" "is Debian's dataset-fashion-mnist installed" -- "$FM" "$TMP/x" --src "$TMP/foreign"
check "refuse: ... no OUTDIR left behind" [ ! -e "$TMP/x" ]

# ---- make-folder-dataset ----
T=$TMP/tree
PNG=$TMP/out10/train/cat/00000.png
for c in ant bee cow; do mkdir -p "$T/train/$c" "$T/test/$c"; done
for i in $(seq 1 12); do cp "$PNG" "$T/train/ant/img$i.png"; done
for i in $(seq 1 7); do cp "$PNG" "$T/train/bee/b_$i.JPG"; done
for i in $(seq 1 4); do cp "$PNG" "$T/train/cow/$i.jpeg"; done
for c in ant bee cow; do cp "$PNG" "$T/test/$c/t1.png"; cp "$PNG" "$T/test/$c/t2.png"; done
echo notes >"$T/train/ant/README.txt"
O=$TMP/fold
expect_ok "folder: lists a train and a test tree" "$FD" "$T/train" "$O" --test "$T/test" --name mine
check "folder: mine.names = the class folders sorted" [ "$(tr '\n' ' ' <"$O/mine.names")" = "ant bee cow " ]
check "folder: counts.txt = images per class (12 7 4), non-images skipped" [ "$(tr '\n' ' ' <"$O/counts.txt")" = "12 7 4 " ]
check "folder: train.list names the files where they are, test.list 2 per class" \
    bash -c "grep -qx '$T/train/bee/b_3.JPG' '$O/train.list' && [ \$(wc -l <'$O/train.list') -eq 23 ] && [ \"\$(awk -F/ '{ c[\$(NF-1)]++ } END { print c[\"ant\"], c[\"bee\"], c[\"cow\"] }' '$O/test.list')\" = '2 2 2' ]"
check "folder: mine.data has classes=3, the lists and backup" \
    bash -c "grep -qx 'classes=3' '$O/mine.data' && grep -qx 'valid=$O/test.list' '$O/mine.data' && grep -qx 'backup=$O/backup' '$O/mine.data'"
expect_ok "folder: --test-per-class 2 --ir 2 with a names file" bash -c "printf 'cow\nant\nbee\n' >'$TMP/order.txt' && '$FD' '$T/train' '$TMP/fold2' --test-per-class 2 --ir 2 --names '$TMP/order.txt'"
check "folder: class order from the names file; n_max = smallest class (cow: 4 - 2 held out = 2)" \
    bash -c "[ \"\$(tr '\n' ' ' <'$TMP/fold2/fold2.names')\" = 'cow ant bee ' ] && [ \"\$(tr '\n' ' ' <'$TMP/fold2/counts-ir2.txt')\" = '2 1 1 ' ]"
check "folder: the held-out test images are the first by file name (ant/img1.png, img10.png)" \
    bash -c "[ \"\$(grep /ant/ '$TMP/fold2/test.list' | xargs -n1 basename | tr '\n' ' ')\" = 'img1.png img10.png ' ] && ! grep -q 'ant/img1.png' '$TMP/fold2/train-ir2.list'"
check "folder: fold2-ir2.data" grep -qx "train=$TMP/fold2/train-ir2.list" "$TMP/fold2/fold2-ir2.data"
mkdir -p "$T/test2/ant" "$T/test2/bee" "$T/test2/dog"
for c in ant bee dog; do cp "$PNG" "$T/test2/$c/x.png"; done
expect_error "refuse: test class folders that differ from the training ones" "only in the training tree: cow" "only in the test tree: dog" -- \
    "$FD" "$T/train" "$TMP/x" --test "$T/test2"
printf 'ant\nbee\n' >"$TMP/two.txt"
expect_error "refuse: a names file that misses a class folder" "folders not in the names file: cow" -- "$FD" "$T/train" "$TMP/x" --names "$TMP/two.txt"
cp -r "$T/train" "$T/tok" && cp "$PNG" "$T/tok/ant/bee_3.png"
expect_error "refuse: a file name token naming another class (ant/bee_3.png)" "ant/bee_3.png matches more than one label" -- "$FD" "$T/tok" "$TMP/x"
cp -r "$T/train" "$T/top" && cp "$PNG" "$T/top/stray.png"
expect_error "refuse: an image outside the class folders" "stray.png is not in a class folder" -- "$FD" "$T/top" "$TMP/x"
cp -r "$T/train" "$T/nest" && mkdir "$T/nest/ant/sub" && cp "$PNG" "$T/nest/ant/sub/a.png"
expect_error "refuse: an image in a folder below a class folder" "below the class folder ant" -- "$FD" "$T/nest" "$TMP/x"
cp -r "$T/train" "$T/empty" && mkdir "$T/empty/eel"
expect_error "refuse: a class folder without images" "eel holds no image" -- "$FD" "$T/empty" "$TMP/x"
expect_error "refuse: --test-per-class that leaves a class no training image" "class cow has only 4 images" -- "$FD" "$T/train" "$TMP/x" --test-per-class 4
expect_error "refuse: folder into a non-empty OUTDIR" "exists and is not empty" -- "$FD" "$T/train" "$O"
check "refuse: ... no OUTDIR left behind" [ ! -e "$TMP/x" ]

# ---- the label files kept in data/ are what the builders write ----
check "data/cifar10.names is make-cifar-lt's CIFAR-10 labels file" cmp -s "$ROOT"/data/cifar10.names "$TMP/out10/cifar10.names"
check "data/cifar100.names is make-cifar-lt's built-in CIFAR-100 labels file" cmp -s "$ROOT"/data/cifar100.names "$TMP/out100/cifar100.names"
check "data/fmnist.names is make-fashion-mnist-lt's labels file" cmp -s "$ROOT"/data/fmnist.names "$TMP/fmout/fmnist.names"

finish
