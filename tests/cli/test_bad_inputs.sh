#!/bin/bash
# Bad input against the binary users run: the default `make` build, ./darknet (built here if
# missing; make test builds it first), not the -fno-fast-math test build. Issue #12, one group per finding:
#   shell     a list entry holding $(...), `...` or ; must not run a command
#   buffers   a 317-character backup folder, a 5000-character image path
#   ieee      learning_rate/momentum/decay=nan, -tpr nan, -odin_eps nan in the -Ofast build
#   loss      a diverging run stops at the iteration, naming layer and loss term, exit 1; good
#             weights are never replaced by NaN/Inf ones; NaN/Inf weights do not load
#   images    missing, zero-byte, text, folder, truncated JPEG/PNG, undecodable entries of a
#             training or validation list (file and line named), -skip_bad; CRLF lists, cfgs,
#             .data and labels files
#   sizes     filters=2000000000, width=height=100000, huge connected and upsample layers
#   classes   an output layer narrower or wider than the .data classes=
#   backup    a backup folder that cannot be written (before the first iteration), stale
#             NAME.tmp.PID files, no temporary file left after a refused save
#   messages  no [net], classes=abc, folders given as files, and the older checks
#   gpus      -gpus with more than one GPU and a plugin layer is refused
# Each case asserts the exit status (a crash, or a hang past BAD_INPUT_TIMEOUT seconds, is a
# failure) and a message substring. Every command runs under a 16 GiB address-space limit, so
# that a binary without the size checks fails a case instead of exhausting the machine.
# BAD_INPUT_DARKNET=PATH runs the cases against another binary (e.g. one built before the fixes).
set -u
. "$(dirname "$0")/../lib/lib.sh"
DN=${BAD_INPUT_DARKNET:-$ROOT/darknet}
LIMIT=${BAD_INPUT_TIMEOUT:-60}
if [ -z "${BAD_INPUT_DARKNET:-}" ] && [ ! -x "$DN" ]; then
    make --no-print-directory -C "$ROOT" darknet >/dev/null 2>&1
fi
if [ ! -x "$DN" ]; then
    fail "bad inputs: default build" "$DN is missing and could not be built"
    finish
    exit 1
fi
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE

test_tmp bad
trap 'cd / && chmod -R u+w "$TMP" 2>/dev/null; rm -rf "$TMP"' EXIT

# dn ARGS...: the binary under a time limit (SIGKILL: expect_error reports it as a signal)
# and a 16 GiB address-space limit (none for an AddressSanitizer build, whose shadow memory
# reserves far more address space; BAD_INPUT_VMEM_KB=0 turns it off).
VMEM_KB=${BAD_INPUT_VMEM_KB:-16777216}
grep -qa __asan_init "$DN" && VMEM_KB=0
dn() { ( [ "$VMEM_KB" -gt 0 ] && ulimit -v "$VMEM_KB"; exec timeout -s KILL "$LIMIT" "$DN" "$@" ); }
# env_dn VAR=VALUE ARGS...: dn with one more environment variable.
env_dn() { ( export "$1"; shift; dn "$@" ); }

# expect_clean NAME WANT FORBID -- CMD...: exit 0, the output holds WANT and not FORBID.
expect_clean() {
    local name=$1 want=$2 forbid=$3 out rc
    shift 4
    out=$("$@" 2>&1 </dev/null)
    rc=$?
    if [ "$rc" -ne 0 ]; then
        fail "$name" "exit $rc, expected 0: $(echo "$out" | grep -v '^ *[0-9]* ' | tail -n 3 | tr '\n' '|')"
    elif ! grep -qF -- "$want" <<<"$out"; then
        fail "$name" "output lacks '$want'"
    elif [ -n "$forbid" ] && grep -qF -- "$forbid" <<<"$out"; then
        fail "$name" "output holds '$forbid': $(grep -F -- "$forbid" <<<"$out" | head -n 1)"
    else
        pass "$name"
    fi
}

# ---- data: 8 PPM images of 2 classes, a JPEG and a PNG (made with OpenCV) ----
mkdir -p "$TMP/img"
for l in red blue; do
    for i in 1 2 3 4; do
        { printf 'P6\n8 8\n255\n'; head -c 192 /dev/urandom; } >"$TMP/img/${i}_$l.ppm"
        echo "$TMP/img/${i}_$l.ppm"
    done
done >"$TMP/train.list"
base64 -d >"$TMP/img/9_red.jpg" <<'B64'
/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAIBAQEBAQIBAQECAgICAgQDAgICAgUEBAMEBgUGBgYF
BgYGBwkIBgcJBwYGCAsICQoKCgoKBggLDAsKDAkKCgr/2wBDAQICAgICAgUDAwUKBwYHCgoKCgoK
CgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgr/wAARCAAIAAgDASIA
AhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQA
AAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3
ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWm
p6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEA
AwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSEx
BhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElK
U1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3
uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwBiXPgn
xra6bcWXiDRfC+h6hqbJf2eneA77Rl0y3Fvb39ssNlZ7rhb6NNKMkTlt0QvFt4YxJLIkpRRXyvF2
EnnOawpTrTpxp04SShLrUvKV3JSk7aRjd6RS63b9vhuhHNsTi6uKblK9J3va7nQpzd1Gy0cuVO1+
VRTbsj//2Q==
B64
base64 -d >"$TMP/img/9_blue.png" <<'B64'
iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAA00lEQVQIHQHIADf/AU8CW34yWOjU
OUMSAzXA4DjE6BF0rxXA3gHTz8by0+9jIgq+L0hKEyZN7IDCaAIxvKsB4KfdmymUalNlpWww7MJc
FlZZiwsfg9NRAWVMlonachkJTJzHId5PeKggTzHNghN2igFy3HlYh3+Fcc8L8rk3hih3Kg3R/IoA
LGUBLJPtiqPiCY9y54OuXaj982uraJPdig7LAQgRGUljjZWcFsFnWpxhtMlQh6e37o5BywFeh4kW
LJSlpbuJEtqDg3lHXxrwRfNU5Epvs1yBEbvZ3QAAAABJRU5ErkJggg==
B64
printf 'red\nblue\n' >"$TMP/labels.txt"
for i in $(seq 100); do cat "$TMP/train.list"; done >"$TMP/long.list"

# mkdata FILE [KEY=VALUE...]: the good .data file with keys replaced or added.
mkdata() { local f=$1; shift; data_file "$f" 2 "valid=$TMP/train.list" "$@"; }
mkdata "$TMP/t.data"
mkdata "$TMP/long.data" "train=$TMP/long.list"

# t.cfg: the tiny classifier, trainable (2 iterations), 2 classes.
cfg_set_keys "$FIXTURES/tiny-classifier.cfg" "$TMP/t-net.cfg" net subdivisions=1 learning_rate=0.1 momentum=0.9 \
    decay=0.0005 max_batches=2
cfg_set "$TMP/t-net.cfg" "$TMP/t.cfg" connected output 2
# mkcfg NAME SED-SCRIPT: a variant of t.cfg (its base name names the weights it saves).
mkcfg() { sed "$2" "$TMP/t.cfg" >"$TMP/$1.cfg"; }
# train_refuses NAME SED-SCRIPT CHECK MESSAGE...: classifier train stops with MESSAGE on the
# variant mkcfg NAME SED-SCRIPT of t.cfg (one expect_error named CHECK).
train_refuses() {
    local name=$1 script=$2 check=$3
    shift 3
    mkcfg "$name" "$script"
    expect_error "$check" "$@" -- dn classifier train "$TMP/t.data" "$TMP/$name.cfg"
}

# badlist NAME ENTRY: the training list with ENTRY as line 3.
badlist() { { head -n 2 "$TMP/train.list"; printf '%s\n' "$2"; tail -n +3 "$TMP/train.list"; } >"$TMP/$1.list"; }

# ---- the good run (a reference for the others) ----
expect_clean "good: classifier train" "Saving weights to $TMP/backup/t.weights" "rror" -- dn classifier train "$TMP/t.data" "$TMP/t.cfg"
check "good: the weights file has 20 + 122*4 bytes" [ "$(stat -c %s "$TMP/backup/t.weights" 2>/dev/null)" = 508 ]
mkdata "$TMP/img.data" "train=$TMP/img.list" "valid=$TMP/img.list"
{ echo "$TMP/img/9_red.jpg"; echo "$TMP/img/9_blue.png"; cat "$TMP/train.list"; } >"$TMP/img.list"
expect_clean "good: JPEG and PNG entries train" "Saving weights" "rror" -- dn classifier train "$TMP/img.data" "$TMP/t.cfg"
expect_clean "good: classifier valid" "top 1" "rror" -- dn classifier valid "$TMP/t.data" "$TMP/t.cfg" "$TMP/backup/t.weights"

# ---- shell: no path reaches a shell ----
for k in 1 2 3; do
    case $k in
        1) entry="$TMP/img/\$(touch $TMP/pwned$k).ppm" ;;
        2) entry="$TMP/img/x.ppm; touch $TMP/pwned$k" ;;
        3) entry="$TMP/img/\`touch $TMP/pwned$k\`.ppm" ;;
    esac
    badlist "inject$k" "$entry"
    mkdata "$TMP/inject$k.data" "train=$TMP/inject$k.list" "valid=$TMP/inject$k.list"
done
expect_error "shell: train list entry \$(touch FILE) is an error" "inject1.list line 3" "cannot be read" -- dn classifier train "$TMP/inject1.data" "$TMP/t.cfg"
check "shell: train did not run the \$(touch) in a list entry" [ ! -e "$TMP/pwned1" ]
expect_error "shell: train list entry '; touch FILE' is an error" "inject2.list line 3" -- dn classifier train "$TMP/inject2.data" "$TMP/t.cfg"
check "shell: train did not run the '; touch' in a list entry" [ ! -e "$TMP/pwned2" ]
expect_error "shell: valid list entry \`touch FILE\` is an error" "inject3.list line 3" -- dn classifier valid "$TMP/inject3.data" "$TMP/t.cfg"
check "shell: valid did not run the backquoted touch" [ ! -e "$TMP/pwned3" ]
expect_error "shell: valid list entry \$(touch FILE) is an error" "inject1.list line 3" -- dn classifier valid "$TMP/inject1.data" "$TMP/t.cfg"
check "shell: valid did not run the \$(touch) in a list entry" [ ! -e "$TMP/pwned1" ]

# ---- buffers ----
long=$TMP/backup-$(printf 'd%.0s' $(seq 60))/$(printf 'e%.0s' $(seq 60))/$(printf 'f%.0s' $(seq 60))/$(printf 'g%.0s' $(seq 60))/$(printf 'h%.0s' $(seq 40))
long=${long:0:317}
mkdata "$TMP/longbackup.data" "backup=$long"
expect_clean "buffers: a ${#long}-character backup folder" "Saving weights to $long/t.weights" "rror" -- dn classifier train "$TMP/longbackup.data" "$TMP/t.cfg"
check "buffers: the weights are in the ${#long}-character backup folder" [ -s "$long/t.weights" ]
badlist longpath "$TMP/img/$(printf 'p%.0s' $(seq 5000)).ppm"
mkdata "$TMP/longpath.data" "train=$TMP/longpath.list"
expect_error "buffers: a 5000-character image path is an error naming the line" "longpath.list line 3" "cannot be read" -- dn classifier train "$TMP/longpath.data" "$TMP/t.cfg"

# ---- ieee: NaN checks hold in the -Ofast default build ----
for key in learning_rate momentum decay; do
    mkcfg "nan_$key" "s/^$key=.*/$key=nan/"
    expect_error "ieee: $key=nan is an error" "key '$key' has bad value 'nan'" -- dn classifier train "$TMP/t.data" "$TMP/nan_$key.cfg"
done
expect_error "ieee: classifier ood -tpr nan" "-tpr 'nan'" -- dn classifier ood "$TMP/t.data" "$TMP/t.cfg" "$TMP/backup/t.weights" -tpr nan
expect_error "ieee: classifier ood -odin_eps nan" "-odin_eps 'nan'" -- dn classifier ood "$TMP/t.data" "$TMP/t.cfg" "$TMP/backup/t.weights" -odin_eps nan

# ---- loss: a diverging run ----
mkcfg inf_loss 's/^learning_rate=.*/learning_rate=1e6/; s/^max_batches=.*/max_batches=60/; s/^\[softmax\]/[cost]\ntype=sse/'
expect_error "loss: a non-finite loss stops training, naming iteration, layer and term" \
    "training stopped at iteration" "layer 3 [cost]: loss term 'cost'" "first non-finite output is at layer 2 [connected]" \
    -- dn classifier train "$TMP/long.data" "$TMP/inf_loss.cfg"
check "loss: nothing saved after the non-finite loss" [ ! -e "$TMP/backup/inf_loss.weights" ]
# The softmax loss is clipped and stays finite while the weights overflow to Inf: the save is refused.
mkdir -p "$TMP/div"
sed 's/^learning_rate=.*/learning_rate=1e30/' "$TMP/t.cfg" >"$TMP/div/t.cfg"
cp "$TMP/backup/t.weights" "$TMP/good.weights"
cp "$TMP/backup/t_1.weights" "$TMP/good_1.weights"
expect_error "loss: Inf weights are not saved" "not saving $TMP/backup/t_1.weights: layer 0 [convolutional] holds a non-finite value" -- dn classifier train "$TMP/t.data" "$TMP/div/t.cfg"
check "loss: the good epoch weights were not replaced" cmp -s "$TMP/backup/t_1.weights" "$TMP/good_1.weights"
check "loss: the good final weights were not replaced" cmp -s "$TMP/backup/t.weights" "$TMP/good.weights"
check "loss: no temporary weights file left after the refused save" [ -z "$(ls "$TMP/backup" | grep '\.tmp\.')" ]
cp "$TMP/good.weights" "$TMP/nan0.weights"
printf '\x00\x00\xc0\x7f' | dd of="$TMP/nan0.weights" bs=1 seek=$((20 + 4*10)) conv=notrunc status=none
cp "$TMP/good.weights" "$TMP/inf2.weights"
printf '\x00\x00\x80\x7f' | dd of="$TMP/inf2.weights" bs=1 seek=$((20 + 4*112 + 4)) conv=notrunc status=none
expect_error "loss: loading NaN weights names layer 0" "layer 0 [convolutional] holds a non-finite value" -- dn classifier valid "$TMP/t.data" "$TMP/t.cfg" "$TMP/nan0.weights"
expect_error "loss: loading Inf weights names layer 2" "layer 2 [connected] holds a non-finite value" -- dn classifier valid "$TMP/t.data" "$TMP/t.cfg" "$TMP/inf2.weights"
expect_error "loss: training from NaN weights is refused" "layer 0 [convolutional] holds a non-finite value" -- dn classifier train "$TMP/t.data" "$TMP/t.cfg" "$TMP/nan0.weights"

# ---- images: bad list entries are errors naming the file and the line ----
: >"$TMP/img/empty.ppm"
echo "not an image" >"$TMP/img/text.ppm"
head -c 400 "$TMP/img/9_red.jpg" >"$TMP/img/trunc.jpg"
head -c 150 "$TMP/img/9_blue.png" >"$TMP/img/trunc.png"
{ printf '\xff\xd8\xff\xe0'; head -c 300 /dev/zero | tr '\0' 'x'; printf '\xff\xd9'; } >"$TMP/img/corrupt_red.jpg"
mkdir -p "$TMP/img/folder.ppm"
i=0
for what in "missing:$TMP/img/missing.ppm:cannot be read" "empty:$TMP/img/empty.ppm:is empty (0 bytes)" \
            "text:$TMP/img/text.ppm:is not an image" "folder:$TMP/img/folder.ppm:is a folder" \
            "truncated JPEG:$TMP/img/trunc.jpg:is a truncated JPEG" "truncated PNG:$TMP/img/trunc.png:is a truncated PNG"; do
    IFS=: read -r name file why <<<"$what"
    i=$((i + 1))
    badlist "bad$i" "$file"
    mkdata "$TMP/bad$i.data" "train=$TMP/bad$i.list" "valid=$TMP/bad$i.list"
    expect_error "images: train list, $name entry" "bad$i.list line 3: $file" "$why" -- dn classifier train "$TMP/bad$i.data" "$TMP/t.cfg"
    expect_error "images: valid list, $name entry" "bad$i.list line 3: $file" "$why" -- dn classifier valid "$TMP/bad$i.data" "$TMP/t.cfg"
done
# Only undecodable entries: training draws its batches at random.
for i in $(seq 8); do echo "$TMP/img/corrupt_red.jpg"; done >"$TMP/corrupt.list"
mkdata "$TMP/corrupt.data" "train=$TMP/corrupt.list" "valid=$TMP/corrupt.list"
expect_error "images: train list, undecodable JPEG" "cannot load image \"$TMP/img/corrupt_red.jpg\"" -- dn classifier train "$TMP/corrupt.data" "$TMP/t.cfg"
expect_error "images: valid list, undecodable JPEG" "cannot load image \"$TMP/img/corrupt_red.jpg\"" -- dn classifier valid "$TMP/corrupt.data" "$TMP/t.cfg"
expect_clean "images: -skip_bad leaves a bad entry out and counts it" "skipped 1 of 9 entries" "rror" -- dn classifier train "$TMP/bad1.data" "$TMP/t.cfg" -skip_bad
printf '%s\n' "$TMP/img/missing.ppm" "$TMP/img/empty.ppm" >"$TMP/allbad.list"
mkdata "$TMP/allbad.data" "train=$TMP/allbad.list"
expect_error "images: -skip_bad with no good entry left" "training list $TMP/allbad.list is empty" -- dn classifier train "$TMP/allbad.data" "$TMP/t.cfg" -skip_bad

# ---- CRLF line ends ----
sed 's/$/\r/' "$TMP/train.list" >"$TMP/crlf.list"
mkdata "$TMP/crlflist.data" "train=$TMP/crlf.list" "valid=$TMP/crlf.list"
expect_clean "crlf: a CRLF training list loads every image" "Saving weights" "annot load" -- dn classifier train "$TMP/crlflist.data" "$TMP/t.cfg"
expect_clean "crlf: a CRLF validation list loads every image" "top 1" "annot load" -- dn classifier valid "$TMP/crlflist.data" "$TMP/t.cfg"
sed 's/$/\r/' "$TMP/t.cfg" >"$TMP/crlf.cfg"
expect_clean "crlf: a CRLF cfg" "Saving weights to $TMP/backup/crlf.weights" "rror" -- dn classifier train "$TMP/t.data" "$TMP/crlf.cfg"
sed 's/$/\r/' "$TMP/t.data" >"$TMP/crlf.data"
expect_clean "crlf: a CRLF .data file" "Saving weights to $TMP/backup/t.weights" "rror" -- dn classifier train "$TMP/crlf.data" "$TMP/t.cfg"
sed 's/$/\r/' "$TMP/labels.txt" >"$TMP/crlf-labels.txt"
mkdata "$TMP/crlflabels.data" "labels=$TMP/crlf-labels.txt"
expect_clean "crlf: a CRLF labels file" "Saving weights" "rror" -- dn classifier train "$TMP/crlflabels.data" "$TMP/t.cfg"

# ---- sizes: refused before allocating ----
train_refuses huge_filters 's/^filters=4/filters=2000000000/' "sizes: filters=2000000000" "layer 0 [convolutional]: its weights would take" "over the limit of 4294967296 bytes"
# 100000 x 100000 x 3 values per image pass 2^31: refused before the int product overflows
# (patch 0094), ahead of the byte limit; 20000 x 20000 fits an int and meets the byte limit.
train_refuses huge_input 's/^width=.*/width=100000/; s/^height=.*/height=100000/' "sizes: width=height=100000" "[net]: width=100000, height=100000, channels=3" "at most 2^31 values per image"
expect_error "sizes: width=height=100000 in valid" "[net]: width=100000, height=100000, channels=3" -- dn classifier valid "$TMP/t.data" "$TMP/huge_input.cfg"
train_refuses big_input 's/^width=.*/width=20000/; s/^height=.*/height=20000/' "sizes: width=height=20000" "section [net]: its input would take 19200000000 bytes" "max_buffer_bytes"
train_refuses huge_connected 's/^output=2/output=2000000000/' "sizes: [connected] output=2000000000" "layer 2 [connected]: its weights would take"
train_refuses huge_upsample 's/^\[avgpool\]/[upsample]\nstride=100000\n\n[avgpool]/' "sizes: [upsample] stride=100000" "layer 1 [upsample]: its output would take"
expect_error "sizes: DARKNET_MAX_BUFFER_BYTES must be a number" "DARKNET_MAX_BUFFER_BYTES='lots'" -- env_dn DARKNET_MAX_BUFFER_BYTES=lots classifier train "$TMP/t.data" "$TMP/t.cfg"
expect_error "sizes: the limit is raised by DARKNET_MAX_BUFFER_BYTES, not lowered" "over the limit of 4294967296 bytes" -- env_dn DARKNET_MAX_BUFFER_BYTES=1000 classifier train "$TMP/t.data" "$TMP/huge_filters.cfg"

# ---- classes: the output layer's width against .data classes= ----
mkcfg narrow 's/^output=2/output=1/'
mkcfg wide 's/^output=2/output=3/'
expect_error "classes: softmax narrower than classes (train)" "layer 3 [softmax] has 1 outputs per image" "classes=2" -- dn classifier train "$TMP/t.data" "$TMP/narrow.cfg"
expect_error "classes: softmax wider than classes (train)" "layer 3 [softmax] has 3 outputs per image" "classes=2" -- dn classifier train "$TMP/t.data" "$TMP/wide.cfg"
expect_error "classes: softmax narrower than classes (valid)" "layer 3 [softmax] has 1 outputs per image" -- dn classifier valid "$TMP/t.data" "$TMP/narrow.cfg"
expect_error "classes: softmax wider than classes (valid)" "layer 3 [softmax] has 3 outputs per image" -- dn classifier valid "$TMP/t.data" "$TMP/wide.cfg"

# ---- backup folder ----
mkdata "$TMP/ro.data" "backup=/proc"
expect_error "backup: a folder that cannot be written, before the first iteration" "backup folder /proc is not writable" -- dn classifier train "$TMP/ro.data" "$TMP/t.cfg"
mkdata "$TMP/underfile.data" "backup=$TMP/t.data/sub"
expect_error "backup: a folder under a file" "cannot create directory $TMP/t.data" -- dn classifier train "$TMP/underfile.data" "$TMP/t.cfg"
sleep 0 & dead=$!
wait "$dead"
touch "$TMP/backup/t.weights.tmp.$dead"
expect_clean "backup: a stale temporary weights file is removed" "left by an interrupted save" "rror" -- dn classifier train "$TMP/t.data" "$TMP/t.cfg"
check "backup: the stale NAME.tmp.PID is gone" [ ! -e "$TMP/backup/t.weights.tmp.$dead" ]
check "backup: no temporary weights file left by any run" [ -z "$(ls "$TMP/backup" | grep '\.tmp\.')" ]

# ---- messages ----
printf '[convolutional]\nfilters=2\nsize=1\n\n[softmax]\n' >"$TMP/nonet.cfg"
expect_error "messages: a cfg without [net]" "the first section is [convolutional]" "must start with [net]" -- dn classifier train "$TMP/t.data" "$TMP/nonet.cfg"
mkdata "$TMP/abc.data" "classes=abc"
expect_error "messages: classes=abc" "key 'classes' has bad value 'abc'" -- dn classifier train "$TMP/abc.data" "$TMP/t.cfg"
expect_error "messages: classes=abc (valid)" "key 'classes' has bad value 'abc'" -- dn classifier valid "$TMP/abc.data" "$TMP/t.cfg"
mkdata "$TMP/top.data" "top=x"
expect_error "messages: top=x" "key 'top' has bad value 'x'" -- dn classifier valid "$TMP/top.data" "$TMP/t.cfg"
mkdir -p "$TMP/folder"
expect_error "messages: the .data file is a folder" "$TMP/folder is a folder, not a .data file" -- dn classifier train "$TMP/folder" "$TMP/t.cfg"
mkdata "$TMP/labelsdir.data" "labels=$TMP/folder"
expect_error "messages: the labels file is a folder" "$TMP/folder is a folder" -- dn classifier train "$TMP/labelsdir.data" "$TMP/t.cfg"
mkdata "$TMP/listdir.data" "train=$TMP/folder"
expect_error "messages: the training list is a folder" "$TMP/folder is a folder" -- dn classifier train "$TMP/listdir.data" "$TMP/t.cfg"
expect_error "messages: the cfg is a folder" "$TMP/folder is a folder, not a cfg file" -- dn classifier train "$TMP/t.data" "$TMP/folder"
expect_error "messages: the weights are a folder" "$TMP/folder is a folder" -- dn classifier valid "$TMP/t.data" "$TMP/t.cfg" "$TMP/folder"
expect_error "messages: missing cfg" "Couldn't open file: $TMP/none.cfg" -- dn classifier train "$TMP/t.data" "$TMP/none.cfg"
expect_error "messages: missing .data" "Couldn't open file: $TMP/none.data" -- dn classifier train "$TMP/none.data" "$TMP/t.cfg"
mkdata "$TMP/nolist.data" "train=$TMP/none.list"
expect_error "messages: missing training list" "Couldn't open file: $TMP/none.list" -- dn classifier train "$TMP/nolist.data" "$TMP/t.cfg"
: >"$TMP/empty.list"
mkdata "$TMP/emptylist.data" "train=$TMP/empty.list"
expect_error "messages: empty training list" "is empty" -- dn classifier train "$TMP/emptylist.data" "$TMP/t.cfg"
: >"$TMP/empty.cfg"
expect_error "messages: empty cfg" "has no sections" -- dn classifier train "$TMP/t.data" "$TMP/empty.cfg"
printf 'red\n' >"$TMP/one-label.txt"
mkdata "$TMP/onelabel.data" "labels=$TMP/one-label.txt"
expect_error "messages: fewer labels than classes" "has 1 names" "classes=2" -- dn classifier train "$TMP/onelabel.data" "$TMP/t.cfg"
printf 'green\nblue\n' >"$TMP/other-labels.txt"
mkdata "$TMP/otherlabels.data" "labels=$TMP/other-labels.txt"
expect_error "messages: an image no label matches" "no label of the labels file matches" -- dn classifier train "$TMP/otherlabels.data" "$TMP/t.cfg"
printf 'classes=2\nthis is not a key\n' >"$TMP/noeq.data"
expect_error "messages: a .data line that is not key=value" "cannot parse 'thisisnotakey'" -- dn classifier train "$TMP/noeq.data" "$TMP/t.cfg"
train_refuses unknown_type 's/^\[avgpool\]/[avgpoool]/' "messages: unknown layer type" "unknown layer type [avgpoool]"
train_refuses unknown_key 's/^filters=4/filters=4\nfliters=4/' "messages: unknown cfg key" "unknown (or unused with these settings) key 'fliters'"
train_refuses filters_abc 's/^filters=4/filters=abc/' "messages: filters=abc" "key 'filters' has bad value 'abc'"
train_refuses size0 's/^size=3/size=0/' "messages: size=0" "key 'size' must be at least 1"
train_refuses act 's/^activation=leaky/activation=leakky/' "messages: unknown activation" "no such activation"
train_refuses gray 's/^channels=3/channels=1/' "messages: channels=1 for classifier train" "channels must be 3"
train_refuses negrate 's/^learning_rate=.*/learning_rate=-1/' "messages: a negative learning_rate" "must not be negative"
train_refuses batch0 's/^batch=4/batch=0/' "messages: batch=0" "batch=0, subdivisions=1" "each must be at least 1"
train_refuses route 's/^\[avgpool\]/[route]\nlayers=5\n\n[avgpool]/' "messages: a route to a later layer" "must name earlier layers"
head -c 300 "$TMP/good.weights" >"$TMP/short.weights"
expect_error "messages: truncated weights" "ends inside layer" -- dn classifier valid "$TMP/t.data" "$TMP/t.cfg" "$TMP/short.weights"
{ cat "$TMP/good.weights"; printf 'xxxxxxxx'; } >"$TMP/long.weights"
expect_error "messages: weights longer than the cfg" "8 bytes after the last layer" -- dn classifier valid "$TMP/t.data" "$TMP/t.cfg" "$TMP/long.weights"
echo "hello" >"$TMP/text.weights"
expect_error "messages: a text file as weights" "is not a" -- dn classifier valid "$TMP/t.data" "$TMP/t.cfg" "$TMP/text.weights"
expect_error "messages: unknown classifier command" "unknown classifier command 'trian'" -- dn classifier trian "$TMP/t.data" "$TMP/t.cfg"
expect_error "messages: -seed -1" "-seed must not be negative" -- dn classifier train "$TMP/t.data" "$TMP/t.cfg" -seed -1

# ---- gpus: several GPUs are refused for a network with plugin layers (patch 0093) ----
# Darknet averages only convolutional and connected weights between replicas; [cosine]'s
# weights would drift apart. The check runs before any device is touched, so the CPU
# build shows it too.
sed -e 's/^\[connected\]$/[cosine]/' -e 's/^output=2$/classes=2/' -e '/^activation=linear$/d' \
    -e '/^\[softmax\]$/,$d' "$TMP/t.cfg" >"$TMP/cos.cfg"
printf '[expert_softmax]\nexperts=2\n' >>"$TMP/cos.cfg"
expect_error "gpus: -gpus 0,1 with a plugin layer is refused, naming the layer" \
    "2 GPUs given, but layer 2 [cosine] is a plugin layer" "train it on one GPU" -- \
    dn classifier train "$TMP/t.data" "$TMP/cos.cfg" -gpus 0,1
check "gpus: ... and nothing was saved" [ ! -e "$TMP/backup/cos.weights" ]

finish
