#!/bin/bash
# scripts/ood-from-cifar-bin and scripts/ood-from-folder on small generated inputs (no shared
# data needed): outputs, --limit, gzip, and every refusal (bad sizes, broken gzip, existing
# outputs, bad arguments), which must leave nothing behind. The pixel values of the PNGs are
# checked by tests/ood/test_ood_io.c (decoded by OpenCV and by Darknet).
set -u
. "$(dirname "$0")/../lib/lib.sh"
test_tmp ood-convert
C=$ROOT/scripts/ood-from-cifar-bin
F=$ROOT/scripts/ood-from-folder

# 4 records, labels 3 1 4 1, pixels from a fixed generator
python3 - "$TMP/four.bin" <<'EOF'
import random, sys
r = random.Random(1)
with open(sys.argv[1], "wb") as f:
    for label in (3, 1, 4, 1):
        f.write(bytes([label]) + bytes(r.randrange(256) for _ in range(3072)))
EOF
gzip -c "$TMP/four.bin" >"$TMP/four.bin.gz"

# ---- ood-from-cifar-bin ----
expect_ok "cifar-bin: 4 plain records" "$C" "$TMP/four.bin" "$TMP/plain"
check "cifar-bin: 4 PNGs named 00000..00003" [ "$(ls "$TMP/plain" | grep -c '^0000[0-3]\.png$')" -eq 4 ]
check "cifar-bin: list.txt lists them with absolute paths, in order" \
    bash -c "[ \"\$(cat '$TMP/plain/list.txt')\" = \"\$(printf '%s\n' '$TMP'/plain/0000{0,1,2,3}.png)\" ]"
check "cifar-bin: labels.txt holds the label bytes 3 1 4 1" bash -c "[ \"\$(tr '\n' ' ' <'$TMP/plain/labels.txt')\" = '3 1 4 1 ' ]"
check "cifar-bin: PNG signature and 32x32 size in IHDR" \
    bash -c "[ \"\$(head -c 24 '$TMP/plain/00002.png' | od -An -tx1 | tr -d ' \n')\" = 89504e470d0a1a0a0000000d494844520000002000000020 ]"
expect_ok "cifar-bin: the same records gzip-compressed" "$C" "$TMP/four.bin.gz" "$TMP/gz"
check "cifar-bin: gzip input gives byte-identical PNGs" bash -c "for i in 0 1 2 3; do cmp -s '$TMP/plain/0000'\$i.png '$TMP/gz/0000'\$i.png || exit 1; done"
expect_ok "cifar-bin: --limit 2" "$C" "$TMP/four.bin.gz" "$TMP/lim" --limit 2
check "cifar-bin: --limit 2 keeps the first 2 records" \
    bash -c "[ \$(ls '$TMP/lim'/*.png | wc -l) -eq 2 ] && [ \$(wc -l <'$TMP/lim/list.txt') -eq 2 ] && cmp -s '$TMP/lim/00001.png' '$TMP/plain/00001.png'"
mkdir "$TMP/empty-out"
expect_ok "cifar-bin: an existing empty OUTDIR is filled" "$C" "$TMP/four.bin" "$TMP/empty-out"
check "cifar-bin: ... with the 4 images" [ "$(wc -l <"$TMP/empty-out/list.txt")" -eq 4 ]

# refusals
head -c 3074 "$TMP/four.bin" >"$TMP/odd.bin"
expect_error "cifar-bin: a size that is not whole records" "3074 bytes is not a whole number of 3073-byte CIFAR records" -- "$C" "$TMP/odd.bin" "$TMP/o1"
head -c 3074 "$TMP/four.bin" | gzip -c >"$TMP/odd.bin.gz"
expect_error "cifar-bin: ... also after decompression" "3074 bytes once decompressed" -- "$C" "$TMP/odd.bin.gz" "$TMP/o2"
: >"$TMP/empty.bin"
expect_error "cifar-bin: an empty file" "empty.bin is empty" -- "$C" "$TMP/empty.bin" "$TMP/o3"
{ head -c 20 "$TMP/four.bin.gz"; head -c 200 /dev/zero; } >"$TMP/broken.gz"
expect_error "cifar-bin: a broken gzip file" "not a readable gzip file" -- "$C" "$TMP/broken.gz" "$TMP/o4"
expect_error "cifar-bin: a missing file" "cannot read $TMP/nope.bin" -- "$C" "$TMP/nope.bin" "$TMP/o5"
before=$(ls -l --time-style=+%s.%N "$TMP/plain" | md5sum)
expect_error "cifar-bin: an OUTDIR with files is never overwritten" "refusing to overwrite" -- "$C" "$TMP/four.bin" "$TMP/plain"
check "cifar-bin: ... and is left untouched" [ "$before" = "$(ls -l --time-style=+%s.%N "$TMP/plain" | md5sum)" ]
expect_error "cifar-bin: an OUTDIR that is a file" "refusing to overwrite" -- "$C" "$TMP/four.bin" "$TMP/four.bin.gz"
expect_error "cifar-bin: --limit 0" "--limit '0': must be a positive integer" -- "$C" "$TMP/four.bin" "$TMP/o6" --limit 0
expect_error "cifar-bin: --limit without a number" "--limit needs a number" -- "$C" "$TMP/four.bin" "$TMP/o7" --limit
expect_error "cifar-bin: a missing OUTDIR argument" "usage: ood-from-cifar-bin FILE OUTDIR" -- "$C" "$TMP/four.bin"
check "cifar-bin: failed runs leave no OUTDIR and no temporary folder" \
    bash -c "! ls -d '$TMP'/o[1-7] '$TMP'/.ood-from-cifar-bin.* 2>/dev/null | grep -q ."

# ---- ood-from-folder ----
mkdir -p "$TMP/tree/b/deep" "$TMP/tree/a" "$TMP/noimg"
cp "$TMP/plain/00000.png" "$TMP/tree/z.png"
cp "$TMP/plain/00001.png" "$TMP/tree/b/deep/x.PNG"
cp "$TMP/plain/00002.png" "$TMP/tree/a/y.jpg"
echo text >"$TMP/tree/a/notes.txt"
echo text >"$TMP/noimg/readme.md"
expect_ok "folder: lists a tree" "$F" "$TMP/tree" "$TMP/tree.list"
check "folder: the 3 images (any case of extension), recursive, sorted, absolute; not the .txt" \
    bash -c "[ \"\$(cat '$TMP/tree.list')\" = \"\$(printf '%s\n' '$TMP/tree/z.png' '$TMP/tree/a/y.jpg' '$TMP/tree/b/deep/x.PNG')\" ]"
cp "$TMP/tree.list" "$TMP/tree.list.orig"
expect_error "folder: an existing OUTLIST is never overwritten" "tree.list exists: refusing to overwrite it" -- "$F" "$TMP/noimg" "$TMP/tree.list"
check "folder: ... and is left as it was" cmp -s "$TMP/tree.list" "$TMP/tree.list.orig"
expect_error "folder: a folder without images" "no image files" -- "$F" "$TMP/noimg" "$TMP/n.list"
expect_error "folder: a missing folder" "$TMP/nodir is not a folder" -- "$F" "$TMP/nodir" "$TMP/n.list"
cp "$TMP/plain/00000.png" "$TMP/noimg/two
lines.png"
expect_error "folder: a path that cannot be one list line" "cannot be one line of an image list" -- "$F" "$TMP/noimg" "$TMP/n.list"
check "folder: failed runs write no list and no temporary file" \
    bash -c "[ ! -e '$TMP/n.list' ] && ! ls '$TMP'/.ood-from-folder.* 2>/dev/null | grep -q ."
expect_error "folder: wrong arguments" "usage: ood-from-folder DIR OUTLIST" -- "$F" "$TMP/tree"

finish
