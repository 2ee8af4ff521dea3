#!/bin/bash
# The grouped expert layout against ./darknet (the binary users run; `darknet ops CFG` only
# parses): the cfg keys [shortcut] groups= (darknet-patches/0060) and [route] groups=
# group_id= (0061), and `classifier regroup` (src/accel/grouped_command.c).
#   - the grouped cfgs have the parameter count of the separate ones (the same network);
#   - a small valid cfg with both keys parses, and the sliced route feeds 4 values on;
#   - each bad value is a clean error exit whose message names the file, the layer index, its
#     type and the key: groups=0 and a groups= that does not divide the channels (both
#     keys), group_id= outside [0, groups), a malformed number;
#   - regroup, for LGLA and RICASSO (4-row copies of the committed cfgs, random weights and
#     batch-norm statistics from tool_export_ref init): separate -> grouped weights give the
#     same probabilities and logits on generated images (tool_export_ref ref, inference at
#     batch 1; |difference| <= 1e-4 max(1, |value|)), and grouped -> separate gives the
#     original file back byte for byte; its errors: an existing output without -force, two
#     cfgs of one form, weights of another network, too few arguments.
# Whether the grouped cfgs compute what the separate ones do is
# tests/darknet/test_grouped_experts.c.
set -u
. "$(dirname "$0")/../lib/lib.sh"
test_tmp grouped-cfg
DN=$ROOT/darknet

if [ ! -x "$DN" ]; then
    fail "grouped cfg: ./darknet exists" "build it with 'make'"
    finish
    exit
fi


for c in lgla ricasso; do
    cfg_batch1 "$ROOT/cfg/$c-resnet32-cifar10.cfg" "$TMP/$c.cfg"
    cfg_batch1 "$ROOT/cfg/$c-resnet32-cifar10-grouped.cfg" "$TMP/$c-grouped.cfg"
    a=$(param_count "$TMP/$c.cfg")
    b=$(param_count "$TMP/$c-grouped.cfg")
    check "grouped cfg: cfg/$c-resnet32-cifar10-grouped.cfg has the parameters of the separate cfg ($b and $a)" \
        [ -n "$a" -a "$a" = "$b" ]
done
a=$(param_count "$TMP/lgla-grouped.cfg")
check "grouped cfg: LGLA grouped has 1344784 parameters, as LGLA's ResNet32Model(num_experts=3) (printed: '$a')" \
    [ "$a" = 1344784 ]

# Layers: 0 conv 4x4x4, 1 route 0,0 (8 channels), 2 grouped conv /2 (2x2x8), 3 option-A
# shortcut per group from 1, 4 avgpool (8), 5 route: block 1 of 2 of layer 4 (4 values),
# 6 connected.
cat >"$TMP/base.cfg" <<'CFG'
[net]
batch=1
width=4
height=4
channels=2

[convolutional]
filters=4
size=3
stride=1
pad=1
activation=linear

[route]
layers=0,0

[convolutional]
filters=8
size=3
stride=2
pad=1
groups=2
activation=linear

[shortcut]
from=1
groups=2
activation=linear

[avgpool]

[route]
layers=4
groups=2
group_id=1

[connected]
output=3
activation=linear
CFG
out=$("$DN" ops "$TMP/base.cfg" 2>&1 </dev/null)
rc=$?
check "grouped cfg: the small cfg with [shortcut] groups= and [route] groups= group_id= parses (rc $rc: $(echo "$out" | tail -n 2 | tr '\n' '|'))" \
    [ "$rc" -eq 0 ]
n=$(echo "$out" | sed -n 's/^parameters: \([0-9]*\) (.*/\1/p')
# conv 0: 4 x 2 x 9 + 4 = 76; conv 2: 8 x 4 x 9 + 8 = 296; connected 4 x 3 + 3 = 15
check "grouped cfg: the sliced route gives the connected layer 4 inputs (76 + 296 + 15 = 387 parameters, printed '$n')" \
    [ "$n" = 387 ]

# bad SECTION-INDEX KEY VALUE: base.cfg with KEY=VALUE in the layer of that index
bad() {
    awk -v want="$1" -v k="$2" -v v="$3" '
        /^\[/ { n++ }
        n - 2 == want && index($0, k "=") == 1 { print k "=" v; next }
        { print }' "$TMP/base.cfg" >"$TMP/bad.cfg"
}
bad 3 groups 0
expect_error "grouped cfg: [shortcut] groups=0 is an error naming layer 3, its type and the key" \
    "$TMP/bad.cfg: layer 3 [shortcut]: key 'groups' is 0" -- "$DN" ops "$TMP/bad.cfg"
bad 3 groups 3
expect_error "grouped cfg: [shortcut] groups=3 on 8 channels is an error naming the channels" \
    "layer 3 [shortcut]: key 'groups' is 3" "divide the channels of the input (8) and of layer 1 (8)" \
    -- "$DN" ops "$TMP/bad.cfg"
bad 3 groups x2
expect_error "grouped cfg: [shortcut] groups=x2 is a malformed number" "layer 3 [shortcut]: key 'groups' has bad value 'x2'" \
    -- "$DN" ops "$TMP/bad.cfg"
bad 5 groups 0
expect_error "grouped cfg: [route] groups=0 is an error naming layer 5, its type and the key" \
    "$TMP/bad.cfg: layer 5 [route]: key 'groups' must be at least 1" -- "$DN" ops "$TMP/bad.cfg"
bad 5 groups 3
expect_error "grouped cfg: [route] groups=3 on 8 channels is an error naming the layer it reads" \
    "layer 5 [route]: key 'groups' is 3, which does not divide the 8 channels of layer 4" -- "$DN" ops "$TMP/bad.cfg"
bad 5 group_id 2
expect_error "grouped cfg: [route] group_id=2 with groups=2 is an error" \
    "layer 5 [route]: key 'group_id' must be at least 0 and less than groups" -- "$DN" ops "$TMP/bad.cfg"
bad 5 group_id -1
expect_error "grouped cfg: [route] group_id=-1 is an error" \
    "layer 5 [route]: key 'group_id' must be at least 0 and less than groups" -- "$DN" ops "$TMP/bad.cfg"

# ---- classifier regroup ----
EXP=$TOOLS/tool_export_ref
mkdir -p "$TMP/img"
"$EXP" images "$TMP/img" 4 32 32 11 >"$TMP/images.txt" 2>/dev/null
# max_rel_diff A B: the largest |a - b| / max(1, |a|) over the numbers of two ref files
max_rel_diff() {
    paste -d'\n' "$1" "$2" | awk '
        NR % 2 == 1 { sub(/^[^:]*: /, ""); gsub(/\|/, " "); n = split($0, a, " "); next }
        { sub(/^[^:]*: /, ""); gsub(/\|/, " "); m = split($0, b, " ")
          if (m != n) { bad = 1 }
          for (i = 1; i <= n; ++i) { d = a[i] - b[i]; if (d < 0) d = -d; s = a[i] < 0 ? -a[i] : a[i]; if (s < 1) s = 1
                                     if (d / s > worst) worst = d / s } ; rows++ }
        END { if (bad || rows == 0) print "mismatch"; else printf "%.3g\n", worst }'
}
for c in lgla ricasso; do
    sed -e 's/^batch=.*/batch=4/' -e 's/^pairs=.*/pairs=1/' "$ROOT/cfg/$c-resnet32-cifar10.cfg" >"$TMP/$c-s.cfg"
    sed -e 's/^batch=.*/batch=4/' -e 's/^pairs=.*/pairs=1/' "$ROOT/cfg/$c-resnet32-cifar10-grouped.cfg" >"$TMP/$c-g.cfg"
    "$EXP" init "$TMP/$c-s.cfg" "$TMP/$c-s.weights" 5 >/dev/null 2>&1
    expect_ok "regroup: $c separate -> grouped weights" \
        "$DN" classifier regroup "$TMP/$c-s.cfg" "$TMP/$c-s.weights" "$TMP/$c-g.cfg" "$TMP/$c-g.weights"
    "$EXP" ref "$TMP/$c-s.cfg" "$TMP/$c-s.weights" "$TMP/images.txt" >"$TMP/$c-s.ref" 2>/dev/null
    "$EXP" ref "$TMP/$c-g.cfg" "$TMP/$c-g.weights" "$TMP/images.txt" >"$TMP/$c-g.ref" 2>/dev/null
    d=$(max_rel_diff "$TMP/$c-s.ref" "$TMP/$c-g.ref")
    check "regroup: $c grouped with the converted weights gives the separate network's probabilities and logits on 4 images (worst relative difference $d)" \
        awk -v d="$d" 'BEGIN { exit !(d != "mismatch" && d != "" && d + 0 <= 1e-4) }'
    expect_ok "regroup: $c grouped -> separate weights" \
        "$DN" classifier regroup "$TMP/$c-g.cfg" "$TMP/$c-g.weights" "$TMP/$c-s.cfg" "$TMP/$c-back.weights"
    check "regroup: $c separate -> grouped -> separate gives the weights file back byte for byte" \
        cmp -s "$TMP/$c-s.weights" "$TMP/$c-back.weights"
done
expect_error "regroup: an existing output without -force is an error" "lgla-g.weights exists: give -force" -- \
    "$DN" classifier regroup "$TMP/lgla-s.cfg" "$TMP/lgla-s.weights" "$TMP/lgla-g.cfg" "$TMP/lgla-g.weights"
expect_ok "regroup: -force replaces it" \
    "$DN" classifier regroup "$TMP/lgla-s.cfg" "$TMP/lgla-s.weights" "$TMP/lgla-g.cfg" "$TMP/lgla-g.weights" -force
expect_error "regroup: two cfgs of the separate form are an error" "are both without grouped convolutions" -- \
    "$DN" classifier regroup "$TMP/lgla-s.cfg" "$TMP/lgla-s.weights" "$TMP/lgla-s.cfg" "$TMP/x.weights"
sed 's/^batch=.*/batch=4/' "$ROOT/cfg/ce-resnet32-cifar10.cfg" >"$TMP/ce.cfg"
"$EXP" init "$TMP/ce.cfg" "$TMP/ce.weights" 5 >/dev/null 2>&1
expect_error "regroup: the weights of another network (one expert) are an error naming the mismatch" \
    "classifier regroup" "too few for 11 shared and 3 experts x 20" -- \
    "$DN" classifier regroup "$TMP/ce.cfg" "$TMP/ce.weights" "$TMP/lgla-g.cfg" "$TMP/x.weights"
check "regroup: nothing written on errors" [ ! -e "$TMP/x.weights" ]
expect_error "regroup: too few arguments print the usage" "too few arguments" "classifier regroup FROM.cfg" -- \
    "$DN" classifier regroup "$TMP/lgla-s.cfg"

finish
