#!/bin/bash
# [mixdata] cfg errors (src/layers/mixdata_layer.c parse_mixdata_layer, cfg_keys.c): on a
# small valid cfg, each single defect stops the parser with a non-zero exit and a message
# naming the layer and the key. Tool: build/tests/tool_cfgcheck.
set -u
. "$(dirname "$0")/../lib/lib.sh"
test_tmp mixdata-cfg
CFGCHECK=$TOOLS/tool_cfgcheck

# batch 8 = 2 pairs of (instance, reversed, Mixup, CutMix) rows
base_cfg() {
    cat <<'EOF'
[net]
batch=8
width=8
height=8
channels=3

[mixdata]
alpha=1
cutmix_alpha=1
mixup=1
cutmix=1
reversed=1

[convolutional]
filters=4
size=3
stride=1
pad=1
activation=leaky
EOF
}
write_cfg() {
    if [ $# -gt 1 ]; then base_cfg | sed -e "$2" >"$1"; else base_cfg >"$1"; fi
}

write_cfg "$TMP/base.cfg"
# Without this the error cases below would prove nothing.
expect_ok "mixdata cfg: the base cfg parses (every key set to a valid value)" "$CFGCHECK" "$TMP/base.cfg"
write_cfg "$TMP/mixup0.cfg" 's/^mixup=1/mixup=0/;s/^batch=8/batch=9/'
expect_ok "mixdata cfg: mixup=0 with batch 9 (3 blocks of 3) parses" "$CFGCHECK" "$TMP/mixup0.cfg"
write_cfg "$TMP/sub.cfg" 's/^batch=8/batch=16\nsubdivisions=2/'
expect_ok "mixdata cfg: batch=16 subdivisions=2 (network batch 8) parses" "$CFGCHECK" "$TMP/sub.cfg"

write_cfg "$TMP/pairs2.cfg" 's/^reversed=1/reversed=1\npairs=2/'
expect_ok "mixdata cfg: pairs=2 with batch 8 (4 blocks of 2) parses" "$CFGCHECK" "$TMP/pairs2.cfg"
write_cfg "$TMP/pairs2sub.cfg" 's/^batch=8/batch=16\nsubdivisions=2/;s/^reversed=1/reversed=1\npairs=2/'
expect_ok "mixdata cfg: pairs=2 with batch=16 subdivisions=2 (network batch 8) parses" "$CFGCHECK" "$TMP/pairs2sub.cfg"
write_cfg "$TMP/pairs3.cfg" 's/^reversed=1/reversed=1\npairs=3/'
expect_error "mixdata cfg: pairs=3 needs batch 12, the cfg has 8 (a multiple of 4 all the same)" \
    "layer 0 [mixdata]" "key 'pairs'" "= 12, but it is 8" -- "$CFGCHECK" "$TMP/pairs3.cfg"
write_cfg "$TMP/pairs3mix.cfg" 's/^batch=8/batch=12/;s/^cutmix=1/cutmix=0/;s/^reversed=1/reversed=1\npairs=3/'
expect_error "mixdata cfg: pairs=3 with cutmix=0 needs batch 9, the cfg has 12" \
    "layer 0 [mixdata]" "key 'pairs'" "= 9, but it is 12" -- "$CFGCHECK" "$TMP/pairs3mix.cfg"
write_cfg "$TMP/pairs0.cfg" 's/^reversed=1/reversed=1\npairs=0/'
expect_error "mixdata cfg: pairs=0 is out of range" \
    "layer 0 [mixdata]" "key 'pairs'" -- "$CFGCHECK" "$TMP/pairs0.cfg"

write_cfg "$TMP/none.cfg" 's/^mixup=1/mixup=0/;s/^cutmix=1/cutmix=0/'
expect_error "mixdata cfg: mixup=0 and cutmix=0 leave nothing to mix" \
    "layer 0 [mixdata]" "mixup=0 and cutmix=0" -- "$CFGCHECK" "$TMP/none.cfg"

write_cfg "$TMP/batch6.cfg" 's/^batch=8/batch=6/'
expect_error "mixdata cfg: batch 6 is not a multiple of 4 (instance, reversed, Mixup, CutMix)" \
    "layer 0 [mixdata]" "batch/subdivisions = 6" "must be a multiple of 4" -- "$CFGCHECK" "$TMP/batch6.cfg"

write_cfg "$TMP/sub3.cfg" 's/^batch=8/batch=24\nsubdivisions=4/'
expect_error "mixdata cfg: batch 24 / subdivisions 4 = 6 rows is not a multiple of 4" \
    "layer 0 [mixdata]" "batch/subdivisions = 6" -- "$CFGCHECK" "$TMP/sub3.cfg"

write_cfg "$TMP/batch8mix.cfg" 's/^cutmix=1/cutmix=0/'
expect_error "mixdata cfg: batch 8 with cutmix=0 is not a multiple of 3" \
    "layer 0 [mixdata]" "must be a multiple of 3" -- "$CFGCHECK" "$TMP/batch8mix.cfg"

write_cfg "$TMP/alpha0.cfg" 's/^alpha=1/alpha=0/'
expect_error "mixdata cfg: alpha=0 is out of range (0, 100]" \
    "layer 0 [mixdata]" "key 'alpha'" "out of range" -- "$CFGCHECK" "$TMP/alpha0.cfg"

write_cfg "$TMP/alphaabc.cfg" 's/^alpha=1/alpha=abc/'
expect_error "mixdata cfg: alpha=abc is not a number" \
    "layer 0 [mixdata]" "key 'alpha'" "'abc' is not a number" -- "$CFGCHECK" "$TMP/alphaabc.cfg"

write_cfg "$TMP/alphabig.cfg" 's/^alpha=1/alpha=101/'
expect_error "mixdata cfg: alpha=101 is out of range" \
    "key 'alpha'" "out of range" -- "$CFGCHECK" "$TMP/alphabig.cfg"

write_cfg "$TMP/calpha.cfg" 's/^cutmix_alpha=1/cutmix_alpha=-1/'
expect_error "mixdata cfg: cutmix_alpha=-1 is out of range" \
    "layer 0 [mixdata]" "key 'cutmix_alpha'" "out of range" -- "$CFGCHECK" "$TMP/calpha.cfg"

write_cfg "$TMP/rev2.cfg" 's/^reversed=1/reversed=2/'
expect_error "mixdata cfg: reversed=2 is out of range [0, 1]" \
    "layer 0 [mixdata]" "key 'reversed'" "out of range [0, 1]" -- "$CFGCHECK" "$TMP/rev2.cfg"

write_cfg "$TMP/mixup2.cfg" 's/^mixup=1/mixup=2/'
expect_error "mixdata cfg: mixup=2 is out of range [0, 1]" \
    "key 'mixup'" "out of range" -- "$CFGCHECK" "$TMP/mixup2.cfg"

write_cfg "$TMP/cutmixx.cfg" 's/^cutmix=1/cutmix=yes/'
expect_error "mixdata cfg: cutmix=yes is not an integer" \
    "key 'cutmix'" "'yes' is not an integer" -- "$CFGCHECK" "$TMP/cutmixx.cfg"

write_cfg "$TMP/unknown.cfg" 's/^reversed=1/reversed=1\nreverse=1/'
expect_error "mixdata cfg: unknown key 'reverse'" \
    "layer 0 [mixdata]" "key 'reverse'" -- "$CFGCHECK" "$TMP/unknown.cfg"

write_cfg "$TMP/dup.cfg" 's/^alpha=1/alpha=1\nalpha=2/'
expect_error "mixdata cfg: duplicate key alpha" \
    "layer 0 [mixdata]" "duplicate key 'alpha'" -- "$CFGCHECK" "$TMP/dup.cfg"

# CutMix pastes boxes of an image: after a layer without an image shape it is an error, and
# mixup alone is fine there.
cat >"$TMP/flat.cfg" <<'EOF'
[net]
batch=8
inputs=10

[mixdata]
EOF
expect_error "mixdata cfg: cutmix on an input that is not an image" \
    "layer 0 [mixdata]" "key 'cutmix'" "needs an image input" -- "$CFGCHECK" "$TMP/flat.cfg"
printf 'cutmix=0\n' >>"$TMP/flat.cfg"
sed -i 's/^batch=8/batch=6/' "$TMP/flat.cfg"
expect_ok "mixdata cfg: mixup only on a flat input of batch 6 parses" "$CFGCHECK" "$TMP/flat.cfg"

finish
