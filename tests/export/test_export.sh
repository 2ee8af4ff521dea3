#!/bin/bash
# `darknet classifier export` (src/export) checked by real consumers:
#   1. six networks with random weights (tool_export_ref init: random batch-norm statistics,
#      scales and biases too): tests/export/stock.cfg (every stock layer and activation the
#      export supports, odd sizes), cfg/ce-resnet32-cifar10.cfg (stock ResNet-32),
#      cfg/lgla-resnet32-cifar10.cfg (3 experts, [cosine], [expert_softmax]),
#      cfg/ricasso-resnet32-cifar10.cfg (the full RICASSO cfg: [mixdata], SimSiam heads, [rcl],
#      [cbcl]), its grouped form cfg/ricasso-resnet32-cifar10-grouped.cfg (grouped
#      convolutions and shortcuts, [route] channel blocks) and cfg/ricasso-fmnist-demo.cfg,
#      each with only batch= changed;
#   2. for each: Debian's python3-onnx checker (onnx.checker.check_model, full_check) accepts
#      the file; OpenCV's dnn module (tool_onnx_run: readNetFromONNX, the images in one batch,
#      blobFromImages with swapRB and 1/255) reproduces Darknet's probabilities, logits and
#      energy (tool_export_ref ref: Darknet's inference forward and the OOD commands' logits)
#      on 6 generated images: |d prob| <= 1e-5 max(1, s/4), |d logit| and |d energy| <= 1e-5 s, where s is
#      the image's logit scale max(1, max_c |logit_c|);
#      the largest differences are printed in the PASS lines;
#   3. the graph holds what it should: every [convolutional] of the RICASSO cfgs (their option-A
#      shortcuts add a 1x1 selection Conv each, counted apart), none of the
#      SimSiam heads ([connected]), [rcl] or [cbcl]; the stock cfg's op types;
#   4. metadata: classes and labels; the threshold of WEIGHTS.ood written by a real
#      `classifier ood` run (score, threshold text, ID acceptance rate) when the file is there,
#      no ood_* keys without it or with -noood, -ood FILE;
#   5. errors, through ./darknet: an unsupported layer and an unsupported activation (index and
#      type named), a [shortcut] that upsamples, a network without a softmax, a threshold
#      file for other weights or malformed, a missing -ood file, an existing output (and
#      -force), classes that differ from the data file, usage on -h, too few arguments and an
#      unknown flag; an unsupported layer the output does not need does not stop the export.
set -u
. "$(dirname "$0")/../lib/lib.sh"
cd "$ROOT" || exit 1

TMP=$(mktemp -d /tmp/ricasso-test-export.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
DN=$ROOT/darknet           # the binary users run
PY=/usr/bin/python3        # Debian's python3, where python3-onnx lives
HAVE_ONNX=1
$PY -c 'import onnx' 2>/dev/null || HAVE_ONNX=0

# ---- data files ----
printf '%s\n' c0 c1 c2 c3 c4 c5 c6 c7 c8 c9 >"$TMP/labels10.txt"
printf 'classes=10\nlabels=%s\n' "$TMP/labels10.txt" >"$TMP/ten.data"
printf '%s\n' crimson emerald azure amber violet >"$TMP/labels5.txt"

# compare REF CV NAME: the tolerance check of point 2, with the measured maxima in the name.
compare() {
    local msg
    if msg=$($PY - "$1" "$2" <<'EOF'
import sys
def read(path):
    rows = {}
    for line in open(path):
        key, rest = line.rstrip("\n").split(": ", 1)
        p, z, e = rest.split("|")
        rows[key] = ([float(t) for t in p.split()], [float(t) for t in z.split()], float(e))
    return rows
ref, got = read(sys.argv[1]), read(sys.argv[2])
if not ref or sorted(ref) != sorted(got):
    print("images differ: %d from Darknet, %d from OpenCV" % (len(ref), len(got))); sys.exit(1)
dp = dz = de = rz = re_ = 0.0
ok = True
for k in ref:
    (pa, za, ea), (pb, zb, eb) = ref[k], got[k]
    if len(pa) != len(pb) or len(za) != len(zb): print("class counts differ for " + k); sys.exit(1)
    # logits and energy: relative to the row's scale, max(1, max_c |z_c|)
    scale = max([1.0] + [abs(a) for a in za])
    for a, b in zip(pa, pb):
        # a logit error e moves a probability by at most e/4 (softmax's largest slope)
        dp = max(dp, abs(a - b)); ok &= abs(a - b) <= 1e-5 * max(1.0, scale / 4)
    for a, b in zip(za, zb):
        d = abs(a - b); dz = max(dz, d); rz = max(rz, d / scale); ok &= d <= 1e-5 * scale
    d = abs(ea - eb); de = max(de, d); re_ = max(re_, d / scale); ok &= d <= 1e-5 * scale
print("%d images, max |d prob| %.2g, |d logit| %.2g (relative %.2g), |d energy| %.2g (relative %.2g)" % (len(ref), dp, dz, rz, de, re_))
sys.exit(0 if ok else 1)
EOF
); then pass "$3: OpenCV reproduces Darknet: $msg"; else fail "$3: OpenCV against Darknet" "$msg"; fi
}

# checker ONNX NAME: python3-onnx's full check.
checker() {
    local out
    if [ "$HAVE_ONNX" -eq 0 ]; then fail "$2: onnx checker" "python3-onnx is not installed (scripts/install-deps)"; return; fi
    if out=$($PY -c 'import onnx, sys; m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True)' "$1" 2>&1); then
        pass "$2: python3-onnx's checker accepts the model"
    else
        fail "$2: onnx checker" "$(echo "$out" | tail -n 2 | tr '\n' '|')"
    fi
}

# model NAME CFG SIZE DATA: weights, export, checker, OpenCV against Darknet.
model() {
    local name=$1 cfg=$2 size=$3 data=$4 out
    mkdir -p "$TMP/img$size"
    [ -s "$TMP/img$size/list.txt" ] || "$TOOLS/tool_export_ref" images "$TMP/img$size" 6 "$size" "$size" 11 >"$TMP/img$size/list.txt"
    "$TOOLS/tool_export_ref" init "$cfg" "$TMP/$name.weights" 5 >/dev/null 2>&1 \
        || { fail "$name: random weights" "tool_export_ref init failed"; return; }
    if out=$("$DN" classifier export "$data" "$cfg" "$TMP/$name.weights" "$TMP/$name.onnx" 2>&1) && [ -s "$TMP/$name.onnx" ]; then
        pass "$name: classifier export writes the model"
    else
        fail "$name: classifier export" "$(echo "$out" | tail -n 2 | tr '\n' '|')"
        return
    fi
    checker "$TMP/$name.onnx" "$name"
    "$TOOLS/tool_export_ref" ref "$cfg" "$TMP/$name.weights" "$TMP/img$size/list.txt" >"$TMP/$name.ref" 2>"$TMP/$name.ref.err" \
        || { fail "$name: Darknet's outputs" "$(tail -n 1 "$TMP/$name.ref.err")"; return; }
    "$TOOLS/tool_onnx_run" "$TMP/$name.onnx" "$TMP/img$size/list.txt" >"$TMP/$name.cv" 2>"$TMP/$name.cv.err" \
        || { fail "$name: OpenCV runs the model" "$(grep -v '^\[' "$TMP/$name.cv.err" | tail -n 2 | tr '\n' '|')"; return; }
    compare "$TMP/$name.ref" "$TMP/$name.cv" "$name"
}

# The stock cfg has 5 classes.
printf 'classes=5\nlabels=%s\n' "$TMP/labels5.txt" >"$TMP/five.data"
model stock tests/export/stock.cfg 15 "$TMP/five.data"
for c in ce lgla ricasso; do
    sed 's/^batch=128$/batch=4/' "cfg/$c-resnet32-cifar10.cfg" >"$TMP/$c.cfg"
    model "$c-resnet32" "$TMP/$c.cfg" 32 "$TMP/ten.data"
done
# the grouped layout (darknet-patches/0060, 0061): a Slice per expert's features, option-A
# selections per channel block, grouped Conv nodes
sed 's/^batch=128$/batch=4/' cfg/ricasso-resnet32-cifar10-grouped.cfg >"$TMP/ricasso-grouped.cfg"
model ricasso-resnet32-grouped "$TMP/ricasso-grouped.cfg" 32 "$TMP/ten.data"
sed 's/^batch=64$/batch=4/' cfg/ricasso-fmnist-demo.cfg >"$TMP/demo.cfg"
model ricasso-demo "$TMP/demo.cfg" 28 "$TMP/ten.data"

# ---- 3. what the graphs hold ----
# graph_check ONNX CFG NAME: Conv nodes = [convolutional] sections; no node of a layer of the
# SimSiam heads, [rcl] or [cbcl] (node names start with l<index>_<type>).
graph_check() {
    local msg
    if [ "$HAVE_ONNX" -eq 0 ]; then fail "$3: graph contents" "python3-onnx is not installed"; return; fi
    if msg=$($PY - "$1" "$2" <<'EOF'
import onnx, sys
m = onnx.load(sys.argv[1])
convs = sum(1 for line in open(sys.argv[2]) if line.strip() == "[convolutional]")
# an option-A [shortcut] (unequal shapes) adds a 1x1 selection Conv of its own: not counted
nconv = sum(1 for n in m.graph.node if n.op_type == "Conv" and "_shortcut_" not in n.name)
nsub = sum(1 for n in m.graph.node if n.op_type == "Conv" and "_shortcut_" in n.name)
dropped = [n.name for n in m.graph.node if any(("_%s_" % t) in n.name for t in ("connected", "rcl", "cbcl", "mixdata"))]
outs = [o.name for o in m.graph.output]
print("%d Conv nodes for %d [convolutional] (+%d option-A shortcut selections); nodes of dropped layers: %s; outputs %s" % (nconv, convs, nsub, dropped[:3] or "none", outs))
sys.exit(0 if nconv == convs and not dropped and outs == ["prob", "logits", "energy"] else 1)
EOF
); then pass "$3: graph: $msg"; else fail "$3: graph contents" "$msg"; fi
}
[ -s "$TMP/ricasso-resnet32.onnx" ] && graph_check "$TMP/ricasso-resnet32.onnx" "$TMP/ricasso.cfg" ricasso-resnet32
[ -s "$TMP/ricasso-resnet32-grouped.onnx" ] && graph_check "$TMP/ricasso-resnet32-grouped.onnx" "$TMP/ricasso-grouped.cfg" ricasso-resnet32-grouped
[ -s "$TMP/ricasso-demo.onnx" ] && graph_check "$TMP/ricasso-demo.onnx" "$TMP/demo.cfg" ricasso-demo
if [ -s "$TMP/stock.onnx" ] && [ "$HAVE_ONNX" -eq 1 ]; then
    ops=$($PY -c 'import onnx, sys; print(" ".join(sorted(set(n.op_type for n in onnx.load(sys.argv[1]).graph.node))))' "$TMP/stock.onnx")
    want="Add BatchNormalization Concat Conv Div Elu Flatten Gemm GlobalAveragePool Identity LeakyRelu Log MaxPool Mul Relu Reshape Selu Sigmoid Softmax Sub Tanh"
    check "stock: the graph's op types are those of its layers ($ops)" [ "$ops" = "$want" ]
fi

# ---- 4. metadata ----
# meta ONNX: key=value lines of metadata_props (newlines in values as \n).
meta() {
    $PY -c 'import onnx, sys
for p in onnx.load(sys.argv[1]).metadata_props: print(p.key + "=" + p.value.replace("\n", "\\n"))' "$1"
}
if [ "$HAVE_ONNX" -eq 1 ] && [ -s "$TMP/stock.onnx" ]; then
    meta "$TMP/stock.onnx" >"$TMP/stock.meta"
    grep -qx 'classes=5' "$TMP/stock.meta" && grep -qx 'labels=crimson\\nemerald\\nazure\\namber\\nviolet' "$TMP/stock.meta" \
        && pass "metadata: classes=5 and the five labels" || fail "metadata: classes and labels" "$(head -n 3 "$TMP/stock.meta" | tr '\n' '|')"
    ! grep -q '^ood_' "$TMP/stock.meta" && pass "metadata: no ood_* keys without WEIGHTS.ood" \
        || fail "metadata without a threshold file" "$(grep '^ood_' "$TMP/stock.meta" | head -n 2 | tr '\n' '|')"

    # A real threshold file: classifier ood on the stock network (5 classes of tool_mkimages
    # images resized to 15x15, the 15x15 images above as the OOD set).
    mkdir -p "$TMP/ds"
    "$TOOLS/tool_mkimages" "$TMP/ds" train 4 21 crimson emerald azure amber violet >"$TMP/train.list" 2>/dev/null
    "$TOOLS/tool_mkimages" "$TMP/ds" valid 4 22 crimson emerald azure amber violet >"$TMP/valid.list" 2>/dev/null
    cat >"$TMP/ood.data" <<EOF
classes=5
labels=$TMP/labels5.txt
train=$TMP/train.list
valid=$TMP/valid.list
EOF
    W=$TMP/stock.weights
    if "$DN" classifier ood "$TMP/ood.data" tests/export/stock.cfg "$W" -ood "gen=$TMP/img15/list.txt" -noodin -score energy \
            -batch 4 -deploy -out "$TMP/oodres" >"$TMP/ood.out" 2>&1 && [ -s "$W.ood" ]; then
        pass "metadata: classifier ood wrote $(basename "$W").ood"
        rm -f "$TMP/with.onnx"
        "$DN" classifier export "$TMP/five.data" tests/export/stock.cfg "$W" "$TMP/with.onnx" >"$TMP/with.out" 2>&1
        meta "$TMP/with.onnx" >"$TMP/with.meta" 2>/dev/null
        thr=$(sed -n 's/^threshold=//p' "$W.ood")
        acc=$(sed -n 's/^id_accepted=//p' "$W.ood")
        tpr=$(sed -n 's/^tpr_target=//p' "$W.ood")
        grep -qx 'ood_score=energy' "$TMP/with.meta" && grep -qx "ood_threshold=$thr" "$TMP/with.meta" \
            && pass "metadata: ood_score=energy and ood_threshold=$thr, the file's text" \
            || fail "metadata: threshold" "file: $thr; model: $(grep '^ood_' "$TMP/with.meta" | tr '\n' '|')"
        $PY -c 'import sys; sys.exit(0 if abs(float(sys.argv[1]) - float(sys.argv[2])) < 1e-9 and abs(float(sys.argv[3]) - float(sys.argv[4])) < 1e-9 else 1)' \
            "$(sed -n 's/^ood_id_accepted=//p' "$TMP/with.meta")" "$acc" "$(sed -n 's/^ood_tpr_target=//p' "$TMP/with.meta")" "$tpr" 2>/dev/null \
            && pass "metadata: ood_id_accepted=$acc and ood_tpr_target=$tpr, as the file says" \
            || fail "metadata: acceptance rate" "file: $acc $tpr; model: $(grep '^ood_id\|^ood_tpr' "$TMP/with.meta" | tr '\n' '|')"
        # -noood leaves it out; -ood FILE takes another file.
        "$DN" classifier export "$TMP/five.data" tests/export/stock.cfg "$W" "$TMP/noood.onnx" -noood >/dev/null 2>&1
        ! meta "$TMP/noood.onnx" 2>/dev/null | grep -q '^ood_' && [ -s "$TMP/noood.onnx" ] \
            && pass "metadata: -noood embeds no threshold" || fail "metadata: -noood" "ood_* keys present or no file"
        sed 's/^score=energy$/score=maxlogit/' "$W.ood" >"$TMP/other.ood"
        "$DN" classifier export "$TMP/five.data" tests/export/stock.cfg "$W" "$TMP/other.onnx" -ood "$TMP/other.ood" >/dev/null 2>&1
        meta "$TMP/other.onnx" 2>/dev/null | grep -qx 'ood_score=maxlogit' \
            && pass "metadata: -ood FILE embeds that file's threshold" || fail "metadata: -ood FILE" "no ood_score=maxlogit"

        # ---- 5. threshold file errors ----
        cp "$W" "$TMP/w2.weights"
        "$TOOLS/tool_export_ref" init tests/export/stock.cfg "$TMP/w2.weights" 99 >/dev/null 2>&1
        cp "$W.ood" "$TMP/w2.weights.ood"
        expect_error "error: a threshold file for other weights" "belongs to other weights" "-noood" -- \
            "$DN" classifier export "$TMP/five.data" tests/export/stock.cfg "$TMP/w2.weights" "$TMP/e1.onnx"
        printf 'score=energy\nthreshold=abc\n' >"$TMP/w2.weights.ood"
        expect_error "error: a malformed threshold file" "w2.weights.ood" "threshold" -- \
            "$DN" classifier export "$TMP/five.data" tests/export/stock.cfg "$TMP/w2.weights" "$TMP/e2.onnx"
        check "error: nothing written on errors" [ ! -e "$TMP/e1.onnx" -a ! -e "$TMP/e2.onnx" ]
    else
        fail "metadata: classifier ood" "$(tail -n 2 "$TMP/ood.out" | tr '\n' '|')"
    fi
fi

# ---- 5. errors ----
S=tests/export/stock.cfg
W=$TMP/stock.weights
expect_error "error: -ood FILE that does not exist" "no threshold file $TMP/none.ood" -- \
    "$DN" classifier export "$TMP/five.data" $S "$W" "$TMP/e3.onnx" -ood "$TMP/none.ood"
expect_error "error: an existing output without -force" "$TMP/stock.onnx exists" "-force" -- \
    "$DN" classifier export "$TMP/five.data" $S "$W" "$TMP/stock.onnx"
before=$(cksum <"$TMP/stock.onnx")
expect_ok "-force replaces an existing output" "$DN" classifier export "$TMP/five.data" $S "$W" "$TMP/stock.onnx" -force -noood
check "-force wrote the same model again, byte for byte" [ "$(cksum <"$TMP/stock.onnx")" = "$before" ]
expect_error "error: classes differ from the data file" "the network has 5 classes" "classes=10" -- \
    "$DN" classifier export "$TMP/ten.data" $S "$W" "$TMP/e4.onnx"
expect_error "error: too few arguments print the usage" "usage: darknet classifier export DATA CFG WEIGHTS OUT.onnx" "too few arguments" -- \
    "$DN" classifier export "$TMP/five.data" $S "$W"
expect_error "error: no argument at all prints the export usage (not Darknet's stock line)" "usage: darknet classifier export DATA CFG WEIGHTS OUT.onnx" "too few arguments" -- \
    "$DN" classifier export
expect_error "error: an unknown flag" "unknown argument '-opset'" "usage:" -- \
    "$DN" classifier export "$TMP/five.data" $S "$W" "$TMP/e5.onnx" -opset 9
help=$("$DN" classifier export -h 2>/dev/null)
rc=$?
check "-h prints the usage with every flag and its default, exit 0" \
    [ "$rc" -eq 0 -a -n "$(echo "$help" | grep -- '-ood FILE' | grep default)" -a -n "$(echo "$help" | grep -- '-noood' | grep default)" \
    -a -n "$(echo "$help" | grep -- '-force' | grep default)" ]
[ "$("$DN" classifier export --help 2>/dev/null)" = "$help" ] && pass "--help prints the same usage" || fail "--help" "differs from -h"

# bad_cfg NAME: a small network whose layer 2 is given on stdin.
bad_cfg() {
    { printf '[net]\nbatch=2\nwidth=8\nheight=8\nchannels=3\n\n[convolutional]\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=%s\n\n' "${2:-leaky}"
      cat
      printf '\n[avgpool]\n\n[connected]\noutput=5\nactivation=linear\n\n[softmax]\n'; } >"$TMP/$1.cfg"
    "$TOOLS/tool_weights" init "$TMP/$1.cfg" "$TMP/$1.weights" >/dev/null 2>&1
}
# A locally connected layer, which the export does not support.
LOCAL=$'[local]\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky'
bad_cfg local <<<"$LOCAL"
expect_error "error: an unsupported layer is named with its index and type" "layer 1 [local]" "not supported by the ONNX export" -- \
    "$DN" classifier export "$TMP/five.data" "$TMP/local.cfg" "$TMP/local.weights" "$TMP/e6.onnx"
bad_cfg ramp ramp </dev/null
expect_error "error: an unsupported activation names the layer" "layer 0 [convolutional]: activation ramp" -- \
    "$DN" classifier export "$TMP/five.data" "$TMP/ramp.cfg" "$TMP/ramp.weights" "$TMP/e7.onnx"
# Downsampling shortcuts (LGLA's option A) are exported; upsampling ones are not.
bad_cfg shortcut <<'EOF'
[maxpool]
size=2
stride=2

[route]
layers=0

[shortcut]
from=1
EOF
expect_error "error: a [shortcut] that upsamples" "layer 3 [shortcut]: layer 1 (from) is 4x4x4 and the input 8x8x4" -- \
    "$DN" classifier export "$TMP/five.data" "$TMP/shortcut.cfg" "$TMP/shortcut.weights" "$TMP/e8.onnx"
# An unsupported layer that the output does not read is left out.
printf '%s\n\n[route]\nlayers=0\n' "$LOCAL" | bad_cfg unused
expect_ok "an unsupported layer the output does not need is left out" \
    "$DN" classifier export "$TMP/five.data" "$TMP/unused.cfg" "$TMP/unused.weights" "$TMP/unused.onnx"
[ "$HAVE_ONNX" -eq 1 ] && [ -s "$TMP/unused.onnx" ] && checker "$TMP/unused.onnx" "unused layer"
printf '[net]\nbatch=2\nwidth=8\nheight=8\nchannels=3\n\n[convolutional]\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n\n[avgpool]\n\n[connected]\noutput=5\nactivation=linear\n' >"$TMP/nosoftmax.cfg"
"$TOOLS/tool_weights" init "$TMP/nosoftmax.cfg" "$TMP/nosoftmax.weights" >/dev/null 2>&1
expect_error "error: a network without a softmax" "[softmax] or [expert_softmax]" -- \
    "$DN" classifier export "$TMP/five.data" "$TMP/nosoftmax.cfg" "$TMP/nosoftmax.weights" "$TMP/e9.onnx"
ls "$TMP"/e*.onnx >/dev/null 2>&1 && fail "errors leave no output" "$(ls "$TMP"/e*.onnx | tr '\n' ' ')" || pass "errors leave no output file"

finish
