#!/bin/bash
# Cfg and weights-file errors (darknet-patches/0003 and 0004-0007, src/plugin/cfg_keys.c):
#   - every cfg under cfg/ parses;
#   - on a small valid cfg, each single defect (unknown type, unknown or duplicate key, bad
#     number, bad activation, [cosine] keys out of range, text before the first section)
#     stops the parser with a non-zero exit and a message that names it;
#   - a truncated weights file, trailing bytes, weights made for another cfg and a file that
#     is not a weights file are refused with the messages of darknet-patches/0003.
# Each case is one check. Tools: build/tests/tool_cfgcheck, build/tests/tool_weights.
set -u
. "$(dirname "$0")/../lib/lib.sh"
test_tmp cfg
CFGCHECK=$TOOLS/tool_cfgcheck
WEIGHTS=$TOOLS/tool_weights

# ---- every cfg of the project parses ----
shopt -s globstar nullglob
cfgs=("$ROOT"/cfg/**/*.cfg)
shopt -u globstar nullglob
if [ ${#cfgs[@]} -eq 0 ]; then
    echo "cfg/ holds no .cfg files: nothing to parse there"
fi
case_begin "every cfg under cfg/ parses"
for c in "${cfgs[@]}"; do
    expect_ok "cfg parses: ${c#"$ROOT"/}" "$CFGCHECK" "$c"
done
case_end

# ---- a small valid cfg, then one defect at a time ----
# write_cfg FILE [SED-EXPRESSION]: the base cfg, optionally edited.
base_cfg() {
    cfg_trunk "$FIXTURES/tiny-classifier.cfg" | sed 's/^batch=4/batch=2/'
    printf '[cosine]\nclasses=3\nscale=10\n'
}
write_cfg() {
    if [ $# -gt 1 ]; then base_cfg | sed -e "$2" >"$1"; else base_cfg >"$1"; fi
}

write_cfg "$TMP/base.cfg"
# Without this the error cases below would prove nothing.
expect_ok "base cfg parses (conv + cosine)" "$CFGCHECK" "$TMP/base.cfg"

write_cfg "$TMP/foo.cfg"
printf '\n[foo]\nsize=1\n' >>"$TMP/foo.cfg"
expect_error "unknown type [foo] is an error listing the known types" \
    "layer 2: unknown layer type [foo]" "known layer types:" " [convolutional]" " [cosine]" \
    -- "$CFGCHECK" "$TMP/foo.cfg"
expect_error "darknet binary: unknown type [foo] stops 'classifier predict' the same way" \
    "unknown layer type [foo]" "known layer types:" \
    -- "$DARKNET" classifier predict "$TMP/none.data" "$TMP/foo.cfg"

write_cfg "$TMP/filterz.cfg" 's/^filters=4/filterz=4/'
expect_error "unknown key filterz in [convolutional]" \
    "$TMP/filterz.cfg: layer 0 [convolutional]" "key 'filterz'" -- "$CFGCHECK" "$TMP/filterz.cfg"

write_cfg "$TMP/dup.cfg" 's/^filters=4/filters=4\nfilters=8/'
expect_error "duplicate key filters in [convolutional]" \
    "layer 0 [convolutional]" "duplicate key 'filters'" -- "$CFGCHECK" "$TMP/dup.cfg"

write_cfg "$TMP/abc.cfg" 's/^filters=4/filters=abc/'
expect_error "bad value filters=abc" \
    "layer 0 [convolutional]" "key 'filters' has bad value 'abc'" -- "$CFGCHECK" "$TMP/abc.cfg"

write_cfg "$TMP/trail.cfg" 's/^size=3/size=3x/'
expect_error "bad value size=3x (trailing garbage)" \
    "key 'size' has bad value '3x'" -- "$CFGCHECK" "$TMP/trail.cfg"

write_cfg "$TMP/act.cfg" 's/^activation=leaky/activation=leakyy/'
expect_error "bad activation leakyy" \
    "layer 0 [convolutional]" "key 'activation' has bad value 'leakyy'" -- "$CFGCHECK" "$TMP/act.cfg"

write_cfg "$TMP/netkey.cfg" 's/^channels=3/channels=3\nchanels=3/'
expect_error "unknown key in [net]" \
    "section [net]" "key 'chanels'" -- "$CFGCHECK" "$TMP/netkey.cfg"

write_cfg "$TMP/noclasses.cfg" '/^classes=3/d'
expect_error "[cosine] without classes" \
    "layer 1 [cosine]" "key 'classes'" "required" -- "$CFGCHECK" "$TMP/noclasses.cfg"

write_cfg "$TMP/classes0.cfg" 's/^classes=3/classes=0/'
expect_error "[cosine] classes=0 is out of range" \
    "layer 1 [cosine]" "key 'classes'" "out of range" -- "$CFGCHECK" "$TMP/classes0.cfg"

write_cfg "$TMP/classesabc.cfg" 's/^classes=3/classes=three/'
expect_error "[cosine] classes=three is not an integer" \
    "key 'classes'" "'three' is not an integer" -- "$CFGCHECK" "$TMP/classesabc.cfg"

write_cfg "$TMP/scaleneg.cfg" 's/^scale=10/scale=-1/'
expect_error "[cosine] scale=-1 is out of range" \
    "layer 1 [cosine]" "key 'scale'" "out of range" -- "$CFGCHECK" "$TMP/scaleneg.cfg"

write_cfg "$TMP/scale0.cfg" 's/^scale=10/scale=0/'
expect_error "[cosine] scale=0 is out of range (open bound)" \
    "key 'scale'" "out of range" -- "$CFGCHECK" "$TMP/scale0.cfg"

write_cfg "$TMP/scalebig.cfg" 's/^scale=10/scale=1001/'
expect_error "[cosine] scale=1001 is out of range" \
    "key 'scale'" "out of range" -- "$CFGCHECK" "$TMP/scalebig.cfg"

write_cfg "$TMP/scalenan.cfg" 's/^scale=10/scale=nan/'
expect_error "[cosine] scale=nan is not a number" \
    "key 'scale'" "'nan' is not a number" -- "$CFGCHECK" "$TMP/scalenan.cfg"

write_cfg "$TMP/scal.cfg" 's/^scale=10/scal=10/'
expect_error "[cosine] unknown key scal" \
    "layer 1 [cosine]" "key 'scal'" -- "$CFGCHECK" "$TMP/scal.cfg"

{ echo "batch=2"; base_cfg; } >"$TMP/before.cfg"
expect_error "key=value line before the first section" \
    "line 1" "'batch=2' comes before the first [section]" -- "$CFGCHECK" "$TMP/before.cfg"

write_cfg "$TMP/noeq.cfg" 's/^pad=1/pad/'
expect_error "line without '=' in a section" \
    "cannot parse 'pad'" -- "$CFGCHECK" "$TMP/noeq.cfg"

expect_error "missing cfg file" "Couldn't open file: $TMP/missing.cfg" -- "$CFGCHECK" "$TMP/missing.cfg"

# ---- weights files ----
W=$TMP/base.weights
weights_init "$TMP/base.cfg" "$W"
size=$(stat -c %s "$W" 2>/dev/null || echo 0)
# header 3 ints + size_t, conv biases 4 + weights 4*3*3*3, cosine 3 x (8*8*4)
expected=$((12 + 8 + 4 * (4 + 108) + 4 * 3 * 256))
check "weights: file size is header + conv + cosine parameters ($size bytes, expected $expected)" \
    [ "$size" -eq "$expected" ]
expect_ok "weights: a matching file loads" "$WEIGHTS" load "$TMP/base.cfg" "$W"

head -c $((size - 4)) "$W" >"$TMP/trunc1.weights"
expect_error "weights: truncated inside the last layer ([cosine])" \
    "ends inside layer 1" "truncated or does not match the cfg" \
    -- "$WEIGHTS" load "$TMP/base.cfg" "$TMP/trunc1.weights"

head -c 60 "$W" >"$TMP/trunc0.weights"
expect_error "weights: truncated inside layer 0" \
    "ends inside layer 0" -- "$WEIGHTS" load "$TMP/base.cfg" "$TMP/trunc0.weights"

{ cat "$W"; printf 'abcd'; } >"$TMP/trailing.weights"
expect_error "weights: 4 trailing bytes" \
    "has 4 bytes after the last layer" -- "$WEIGHTS" load "$TMP/base.cfg" "$TMP/trailing.weights"

write_cfg "$TMP/c2.cfg" 's/^classes=3/classes=2/'
write_cfg "$TMP/c4.cfg" 's/^classes=3/classes=4/'
"$WEIGHTS" init "$TMP/c2.cfg" "$TMP/c2.weights" >/dev/null 2>&1
"$WEIGHTS" init "$TMP/c4.cfg" "$TMP/c4.weights" >/dev/null 2>&1
expect_error "weights: made for a smaller cfg (classes=2 into classes=3)" \
    "ends inside layer 1" -- "$WEIGHTS" load "$TMP/base.cfg" "$TMP/c2.weights"
expect_error "weights: made for a larger cfg (classes=4 into classes=3)" \
    "has $((4 * 256)) bytes after the last layer" -- "$WEIGHTS" load "$TMP/base.cfg" "$TMP/c4.weights"

printf 'this is not a weights file, just some text\n' >"$TMP/text.weights"
expect_error "weights: a text file is not a weights file" \
    "is not a Darknet weights file" -- "$WEIGHTS" load "$TMP/base.cfg" "$TMP/text.weights"

printf 'short' >"$TMP/short.weights"
expect_error "weights: a file shorter than the header" \
    "is not a weights file (shorter than its header)" -- "$WEIGHTS" load "$TMP/base.cfg" "$TMP/short.weights"

: >"$TMP/empty.weights"
expect_error "weights: an empty file" \
    "shorter than its header" -- "$WEIGHTS" load "$TMP/base.cfg" "$TMP/empty.weights"

expect_error "weights: missing file" \
    "Couldn't open file: $TMP/missing.weights" -- "$WEIGHTS" load "$TMP/base.cfg" "$TMP/missing.weights"

finish
