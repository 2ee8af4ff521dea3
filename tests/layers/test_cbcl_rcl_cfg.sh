#!/bin/bash
# Cfg keys of [cbcl] and [rcl] (src/layers/cbcl_layer.c, rcl_layer.c, cfg_keys.c), and the
# centers in the weights file:
#   - a small valid cfg with both layers parses; each single defect (unknown key, value out
#     of range or not a number, features/logits count mismatch, feature or logit layers of
#     different sizes, a layer that is not an earlier one, a missing key, [rcl] without
#     [mixdata] or with mixup=0 / cutmix=0, projection/prediction size mismatch) stops the
#     parser with a non-zero exit and a message naming the layer and the key; so does a
#     reference of the wrong kind (features and logits swapped, a layer named twice or in both
#     lists, prediction equal to or before projection, a [mixdata] or loss layer named);
#   - the weights file ends with the K x C x D centers: its size, a file 4 bytes short (ends
#     inside the [cbcl] layer) and one 4 bytes long are refused.
# Tools: build/tests/tool_cfgcheck, build/tests/tool_weights.
set -u
. "$(dirname "$0")/../lib/lib.sh"
test_tmp cbcl-rcl-cfg
CFGCHECK=$TOOLS/tool_cfgcheck
WEIGHTS=$TOOLS/tool_weights

# Layers: 0 [mixdata], 1 features A (5), 2 logits A (3), 3 features B (5), 4 logits B (3),
# 5 projection (4), 6 prediction (4), 7 [rcl], 8 [cbcl]. Batch 12: a multiple of 4 (two
# mix blocks) and of 3 (one), so mixup=0 or cutmix=0 is a layout [mixdata] accepts.
base_cfg() {
    cat <<'EOF'
[net]
batch=12
width=4
height=4
channels=1

[mixdata]

[connected]
output=5
activation=linear

[connected]
output=3
activation=linear

[connected]
output=5
activation=linear

[connected]
output=3
activation=linear

[connected]
output=4
activation=linear

[connected]
output=4
activation=linear

[rcl]
projection=5
prediction=6
lambda=1

[cbcl]
features=1,3
logits=2,4
g0=0.1
g1=0.1
e0=0
e1=0
lambda=0.1
EOF
}
# write_cfg FILE [SED-EXPRESSION]: the base cfg, optionally edited.
write_cfg() {
    if [ $# -gt 1 ]; then base_cfg | sed -e "$2" >"$1"; else base_cfg >"$1"; fi
}
# edit_in SECTION LINE-REGEX REPLACEMENT: a sed program that replaces a line only inside
# the given section (the cfg repeats keys such as lambda= and output= in several sections).
edit_in() {
    printf '/^\\[%s\\]/,/^$/ s/%s/%s/' "$1" "$2" "$3"
}

write_cfg "$TMP/base.cfg"
# Without this the error cases below would prove nothing.
expect_ok "base cfg with [mixdata], [rcl] and [cbcl] parses" "$CFGCHECK" "$TMP/base.cfg"
write_cfg "$TMP/defaults.cfg" '/^g[01]=/d; /^e[01]=/d'
expect_ok "[cbcl] without g0, g1, e0, e1 parses (defaults)" "$CFGCHECK" "$TMP/defaults.cfg"
write_cfg "$TMP/bounds.cfg" "$(edit_in cbcl '^g0=.*' 'g0=100'); $(edit_in cbcl '^e0=.*' 'e0=-1'); $(edit_in cbcl '^e1=.*' 'e1=100'); $(edit_in cbcl '^lambda=.*' 'lambda=0'); $(edit_in rcl '^lambda=.*' 'lambda=100')"
expect_ok "[cbcl] g0=100 e0=-1 e1=100 lambda=0, [rcl] lambda=100 parse (closed bounds)" "$CFGCHECK" "$TMP/bounds.cfg"

# layer_error TYPE INDEX NAME SED-EXPRESSION EXPECTED...: the edited cfg must fail naming
# layer INDEX [TYPE].
layer_error() {
    local type=$1 index=$2 name=$3 expr=$4 f
    shift 4
    f="$TMP/$type-$(echo "$name" | tr -c 'a-zA-Z0-9' '_').cfg"
    write_cfg "$f" "$expr"
    expect_error "[$type] $name" "$f: layer $index [$type]" "$@" -- "$CFGCHECK" "$f"
}

# ---- [cbcl] ----
cbcl_error() { layer_error cbcl 8 "$@"; }
cbcl_error "unknown key lamda" "$(edit_in cbcl '^lambda=0.1' 'lamda=0.1')" "key 'lamda'"
cbcl_error "g0=0 is out of range (open bound)" "$(edit_in cbcl '^g0=.*' 'g0=0')" "key 'g0'" "out of range"
cbcl_error "g0=101 is out of range" "$(edit_in cbcl '^g0=.*' 'g0=101')" "key 'g0'" "out of range"
cbcl_error "g1=0 is out of range (open bound)" "$(edit_in cbcl '^g1=.*' 'g1=0')" "key 'g1'" "out of range"
cbcl_error "g1=-0.5 is out of range" "$(edit_in cbcl '^g1=.*' 'g1=-0.5')" "key 'g1'" "out of range"
cbcl_error "g0=abc is not a number" "$(edit_in cbcl '^g0=.*' 'g0=abc')" "key 'g0'" "'abc' is not a number"
cbcl_error "lambda=-1 is out of range" "$(edit_in cbcl '^lambda=.*' 'lambda=-1')" "key 'lambda'" "out of range"
cbcl_error "lambda=101 is out of range" "$(edit_in cbcl '^lambda=.*' 'lambda=101')" "key 'lambda'" "out of range"
cbcl_error "e1=-1 is out of range" "$(edit_in cbcl '^e1=.*' 'e1=-1')" "key 'e1'" "out of range"
cbcl_error "e1=101 is out of range" "$(edit_in cbcl '^e1=.*' 'e1=101')" "key 'e1'" "out of range"
cbcl_error "e0=-1.5 is out of range" "$(edit_in cbcl '^e0=.*' 'e0=-1.5')" "key 'e0'" "out of range"
cbcl_error "e0=2 is out of range" "$(edit_in cbcl '^e0=.*' 'e0=2')" "key 'e0'" "out of range"
cbcl_error "e0=nan is not a number" "$(edit_in cbcl '^e0=.*' 'e0=nan')" "key 'e0'" "'nan' is not a number"
cbcl_error "logits names 1 layer, features 2" "$(edit_in cbcl '^logits=.*' 'logits=2')" \
    "key 'logits'" "names 1 layers, features names 2"
cbcl_error "features names 3 layers, logits 2" "$(edit_in cbcl '^features=.*' 'features=1,3,5')" \
    "key 'logits'" "names 2 layers, features names 3"
# layer 3 (features B) with 6 outputs instead of 5: the 3rd [connected] section
cbcl_error "feature layers of different sizes" '0,/^output=5/! {0,/^output=5/ s/^output=5/output=6/}' \
    "key 'features'" "layer 1 has 5 outputs, layer 3 has 6"
cbcl_error "logit layers of different sizes" '0,/^output=3/! {0,/^output=3/ s/^output=3/output=4/}' \
    "key 'logits'" "layer 2 has 3 outputs, layer 4 has 4"
cbcl_error "without features" "$(edit_in cbcl '^features=.*' '')" "key 'features'" "is required"
cbcl_error "without logits" "$(edit_in cbcl '^logits=.*' '')" "key 'logits'" "is required"
cbcl_error "features=1,9 is not an earlier layer" "$(edit_in cbcl '^features=.*' 'features=1,9')" \
    "key 'features'" "layer 9 is not an earlier layer (this is layer 8)"
cbcl_error "features=1,x is not a layer index" "$(edit_in cbcl '^features=.*' 'features=1,x')" \
    "key 'features'" "'x' is not a layer index"
# Kind checks (issue 12 point 7): references of the right size but the wrong kind.
cbcl_error "features and logits swapped" "$(edit_in cbcl '^features=.*' 'features=2,4'); $(edit_in cbcl '^logits=.*' 'logits=1,3')" \
    "key 'logits'" "layer 1 [connected] comes before expert 1's features layer 2 [connected]" "swapped"
cbcl_error "features=1,1 (the same layer twice)" "$(edit_in cbcl '^features=.*' 'features=1,1')" \
    "key 'features'" "names layer 1 [connected] 2 times"
cbcl_error "logits=2,2 (the same layer twice)" "$(edit_in cbcl '^logits=.*' 'logits=2,2')" \
    "key 'logits'" "names layer 2 [connected] 2 times"
cbcl_error "layer 3 both features and logits" "$(edit_in cbcl '^logits=.*' 'logits=3,4')" \
    "key 'features'" "layer 3 [connected] is named in logits too"
cbcl_error "features=0,3: the [mixdata] layer as features" "$(edit_in cbcl '^features=.*' 'features=0,3')" \
    "key 'features'" "layer 0 [mixdata] cannot be expert 1's features"
cbcl_error "logits=2,7: the [rcl] loss layer as logits" "$(edit_in cbcl '^logits=.*' 'logits=2,7')" \
    "key 'logits'" "layer 7 [rcl] cannot be expert 2's logits" "a loss layer has no logits"
# With [cosine] logit heads (as the shipped cfgs have them) a swap names the [cosine] layer.
COSINE_LOGITS='/^\[connected\]$/ {N; N; s/^\[connected\]\noutput=3\nactivation=linear$/[cosine]\nclasses=3/}'
write_cfg "$TMP/cosine-logits.cfg" "$COSINE_LOGITS"
check "sed for [cosine] logits turns layers 2 and 4 into [cosine]" \
    [ "$(grep -c '^\[cosine\]' "$TMP/cosine-logits.cfg")" -eq 2 ]
expect_ok "control: [cbcl] with [cosine] logit layers parses" "$CFGCHECK" "$TMP/cosine-logits.cfg"
cbcl_error "features and [cosine] logits swapped" "$COSINE_LOGITS; $(edit_in cbcl '^features=.*' 'features=2,4'); $(edit_in cbcl '^logits=.*' 'logits=1,3')" \
    "key 'features'" "layer 2 [cosine] cannot be expert 1's features" "its outputs are logits"
# Sanity of the two seds above: they edit the intended sections and nothing else.
check "sed for 'feature layers of different sizes' edits only the 3rd [connected]" \
    [ "$(diff <(base_cfg) "$TMP/cbcl-feature_layers_of_different_sizes_.cfg" | grep -c '^[<>]')" -eq 2 ]

# ---- [rcl] ----
rcl_error() { layer_error rcl 7 "$@"; }
rcl_error "unknown key lamdba" "$(edit_in rcl '^lambda=.*' 'lamdba=1')" "key 'lamdba'"
rcl_error "lambda=-1 is out of range" "$(edit_in rcl '^lambda=.*' 'lambda=-1')" "key 'lambda'" "out of range"
rcl_error "lambda=101 is out of range" "$(edit_in rcl '^lambda=.*' 'lambda=101')" "key 'lambda'" "out of range"
# prediction head (layer 6, the last [connected]) with 3 outputs instead of the projection's 4
rcl_error "projection/prediction size mismatch" '0,/^output=4/! {0,/^output=4/ s/^output=4/output=3/}' \
    "key 'prediction'" "layer 6 has 3 outputs, the projection layer 5 has 4"
# A 1x1 [maxpool] in its place keeps the layer indices and sizes ([dropout] cannot be layer 0).
rcl_error "without [mixdata] (a 1x1 [maxpool] in its place)" 's/^\[mixdata\]/[maxpool]\nsize=1\nstride=1/' \
    "[rcl] needs a [mixdata] layer before it"
rcl_error "with [mixdata] mixup=0" 's/^\[mixdata\]/[mixdata]\nmixup=0/' "needs mixup=1 and cutmix=1"
rcl_error "with [mixdata] cutmix=0" 's/^\[mixdata\]/[mixdata]\ncutmix=0/' "needs mixup=1 and cutmix=1"
rcl_error "without projection" "$(edit_in rcl '^projection=.*' '')" "key 'projection'" "is required"
rcl_error "without prediction" "$(edit_in rcl '^prediction=.*' '')" "key 'prediction'" "is required"
rcl_error "prediction=8 is not an earlier layer" "$(edit_in rcl '^prediction=.*' 'prediction=8')" \
    "key 'prediction'" "not an earlier layer"
# Kind checks (issue 12 point 7)
rcl_error "prediction equal to projection" "$(edit_in rcl '^prediction=.*' 'prediction=5')" \
    "key 'prediction'" "layer 5 [connected] is the projection layer too"
rcl_error "projection and prediction swapped" "$(edit_in rcl '^projection=.*' 'projection=6'); $(edit_in rcl '^prediction=.*' 'prediction=5')" \
    "key 'prediction'" "layer 5 [connected] comes before the projection layer 6 [connected]"
rcl_error "projection=0: the [mixdata] layer as the projection head" "$(edit_in rcl '^projection=.*' 'projection=0')" \
    "key 'projection'" "layer 0 [mixdata] cannot be the projection head"
# Controls: the mixup=0 / cutmix=0 layouts are valid for [mixdata] itself, so the errors
# above come from [rcl]; without [rcl] they parse.
write_cfg "$TMP/mixup0-norcl.cfg" 's/^\[mixdata\]/[mixdata]\nmixup=0/; /^\[rcl\]/,/^$/d'
expect_ok "control: mixup=0 without [rcl] parses (the error above is [rcl]'s)" "$CFGCHECK" "$TMP/mixup0-norcl.cfg"
write_cfg "$TMP/nomix-norcl.cfg" 's/^\[mixdata\]/[maxpool]\nsize=1\nstride=1/; /^\[rcl\]/,/^$/d'
expect_ok "control: [cbcl] without [mixdata] (and without [rcl]) parses" "$CFGCHECK" "$TMP/nomix-norcl.cfg"

# ---- centers in the weights file ----
W=$TMP/base.weights
weights_init "$TMP/base.cfg" "$W"
size=$(stat -c %s "$W" 2>/dev/null || echo 0)
# header 3 ints + size_t; connected layers: outputs x (inputs + 1); centers K=2 x C=3 x D=5
params=$(( (5 * 17) + (3 * 6) + (5 * 4) + (3 * 6) + (4 * 4) + (4 * 5) + 2 * 3 * 5 ))
expected=$((12 + 8 + 4 * params))
check "weights: file size is header + connected layers + 2x3x5 centers ($size bytes, expected $expected)" \
    [ "$size" -eq "$expected" ]
expect_ok "weights: a matching file loads" "$WEIGHTS" load "$TMP/base.cfg" "$W"
head -c $((size - 4)) "$W" >"$TMP/trunc.weights"
expect_error "weights: 4 bytes short ends inside the [cbcl] layer (8)" \
    "ends inside layer 8" "truncated or does not match the cfg" \
    -- "$WEIGHTS" load "$TMP/base.cfg" "$TMP/trunc.weights"
head -c $((size - 4 * 30)) "$W" >"$TMP/nocenters.weights"
expect_error "weights: a file without the centers ends inside the [cbcl] layer" \
    "ends inside layer 8" -- "$WEIGHTS" load "$TMP/base.cfg" "$TMP/nocenters.weights"
{ cat "$W"; printf 'abcd'; } >"$TMP/trailing.weights"
expect_error "weights: 4 trailing bytes after the centers" \
    "has 4 bytes after the last layer" -- "$WEIGHTS" load "$TMP/base.cfg" "$TMP/trailing.weights"

finish
