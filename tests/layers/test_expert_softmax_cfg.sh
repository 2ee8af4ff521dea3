#!/bin/bash
# [expert_softmax] cfg errors (src/layers/expert_softmax_layer.c parse_expert_softmax_layer,
# read_counts_file, cfg_keys.c): on a small valid cfg (a trunk, three [cosine] experts of 10
# classes, a counts file), each single defect stops the parser with a non-zero exit and a
# message naming the layer and the key; so does an expert named twice or one that is not a
# logit layer (a [softmax]). Tool: build/tests/tool_cfgcheck.
set -u
. "$(dirname "$0")/../lib/lib.sh"
test_tmp expert-softmax-cfg
CFGCHECK=$TOOLS/tool_cfgcheck

# CIFAR-10-LT, imbalance ratio 100
printf '5000\n2997\n1796\n1077\n645\n387\n232\n139\n83\n50\n' >"$TMP/counts.txt"

# layers: 0 trunk, 1 expert, 2 route, 3 expert, 4 route, 5 expert, 6 [expert_softmax]
base_cfg() {
    cat <<EOF
[net]
batch=6
inputs=4

[connected]
output=5
activation=linear

[cosine]
classes=10
scale=30

[route]
layers=0

[cosine]
classes=10
scale=30

[route]
layers=0

[cosine]
classes=10
scale=30

[expert_softmax]
experts=1,3,5
tau=3
aala=1
reweight=1
energy_t=1
counts=$TMP/counts.txt
EOF
}
write_cfg() {
    if [ $# -gt 1 ]; then base_cfg | sed -e "$2" >"$1"; else base_cfg >"$1"; fi
}
ES="layer 6 [expert_softmax]"

write_cfg "$TMP/base.cfg"
# Without this the error cases below would prove nothing.
expect_ok "expert_softmax cfg: the base cfg parses (3 cosine experts, counts file)" "$CFGCHECK" "$TMP/base.cfg"
write_cfg "$TMP/rel.cfg" 's/^experts=1,3,5/experts=-5,3,-1/'
expect_ok "expert_softmax cfg: relative expert indices (-5,3,-1) parse" "$CFGCHECK" "$TMP/rel.cfg"

# experts of different class counts: the middle expert has 9 classes
base_cfg | awk '/^classes=10/ { n++; if (n == 2) { print "classes=9"; next } } { print }' >"$TMP/classes9.cfg"
expect_error "expert_softmax cfg: experts with different class counts (10 and 9)" \
    "$ES" "key 'experts'" "experts with different class counts" "layer 3 has 9" -- "$CFGCHECK" "$TMP/classes9.cfg"
write_cfg "$TMP/trunk.cfg" 's/^experts=1,3,5/experts=0,3,5/'
expect_error "expert_softmax cfg: the trunk (5 outputs) named as an expert" \
    "$ES" "experts with different class counts" -- "$CFGCHECK" "$TMP/trunk.cfg"

head -n 9 "$TMP/counts.txt" >"$TMP/counts9.txt"
write_cfg "$TMP/short.cfg" "s|^counts=.*|counts=$TMP/counts9.txt|"
expect_error "expert_softmax cfg: a counts file with 9 counts for 10 classes" \
    "$ES" "key 'counts'" "has 9 counts, the experts have 10 classes" -- "$CFGCHECK" "$TMP/short.cfg"
{ cat "$TMP/counts.txt"; echo 7; } >"$TMP/counts11.txt"
write_cfg "$TMP/long.cfg" "s|^counts=.*|counts=$TMP/counts11.txt|"
expect_error "expert_softmax cfg: a counts file with 11 counts for 10 classes" \
    "key 'counts'" "has 11 counts" -- "$CFGCHECK" "$TMP/long.cfg"
sed 's/^645$/6x45/' "$TMP/counts.txt" >"$TMP/countsx.txt"
write_cfg "$TMP/notnum.cfg" "s|^counts=.*|counts=$TMP/countsx.txt|"
expect_error "expert_softmax cfg: a counts file with '6x45'" \
    "key 'counts'" "'6x45'" "is not a count" -- "$CFGCHECK" "$TMP/notnum.cfg"
sed 's/^645$/-645/' "$TMP/counts.txt" >"$TMP/countsneg.txt"
write_cfg "$TMP/neg.cfg" "s|^counts=.*|counts=$TMP/countsneg.txt|"
expect_error "expert_softmax cfg: a negative count" \
    "key 'counts'" "'-645'" "is not a count" -- "$CFGCHECK" "$TMP/neg.cfg"
write_cfg "$TMP/nofile.cfg" "s|^counts=.*|counts=$TMP/missing.txt|"
expect_error "expert_softmax cfg: a counts file that does not exist" \
    "key 'counts'" "cannot open '$TMP/missing.txt'" -- "$CFGCHECK" "$TMP/nofile.cfg"
printf '0\n0\n0\n0\n0\n0\n0\n0\n0\n0\n' >"$TMP/zeros.txt"
write_cfg "$TMP/zeros.cfg" "s|^counts=.*|counts=$TMP/zeros.txt|"
expect_error "expert_softmax cfg: counts that add up to 0" \
    "the class counts add up to 0" -- "$CFGCHECK" "$TMP/zeros.cfg"
# 4 experts (3 local): one class dwarfs the others, LGLA's walk cuts once -> 2 groups
printf '10000\n10\n10\n10\n10\n10\n10\n10\n10\n10\n' >"$TMP/dwarf.txt"
base_cfg | sed -e "s|^counts=.*|counts=$TMP/dwarf.txt|" -e 's/^experts=1,3,5/experts=1,3,5,7/' \
    -e 's/^\[expert_softmax\]/[route]\nlayers=0\n\n[cosine]\nclasses=10\nscale=30\n\n[expert_softmax]/' >"$TMP/dwarf.cfg"
expect_error "expert_softmax cfg: counts that give LGLA's grouping 2 groups for 3 local experts" \
    "gives 2 groups for 3 local experts" "layer 8 [expert_softmax]" "key 'counts'" -- "$CFGCHECK" "$TMP/dwarf.cfg"

write_cfg "$TMP/e99.cfg" 's/^experts=1,3,5/experts=1,3,99/'
expect_error "expert_softmax cfg: experts=1,3,99 (out of range)" \
    "$ES" "key 'experts'" "layer 99 is not an earlier layer" -- "$CFGCHECK" "$TMP/e99.cfg"
write_cfg "$TMP/eself.cfg" 's/^experts=1,3,5/experts=1,3,6/'
expect_error "expert_softmax cfg: experts naming the layer itself (6)" \
    "key 'experts'" "layer 6 is not an earlier layer" -- "$CFGCHECK" "$TMP/eself.cfg"
write_cfg "$TMP/eneg.cfg" 's/^experts=1,3,5/experts=1,3,-8/'
expect_error "expert_softmax cfg: experts=-8 reaches before layer 0" \
    "key 'experts'" "is not an earlier layer" -- "$CFGCHECK" "$TMP/eneg.cfg"
write_cfg "$TMP/eabc.cfg" 's/^experts=1,3,5/experts=1,x3,5/'
expect_error "expert_softmax cfg: experts=1,x3,5" \
    "key 'experts'" "'x3' is not a layer index" -- "$CFGCHECK" "$TMP/eabc.cfg"
write_cfg "$TMP/enone.cfg" '/^experts=/d'
expect_error "expert_softmax cfg: experts missing" \
    "$ES" "key 'experts'" "is required" -- "$CFGCHECK" "$TMP/enone.cfg"

# Kind checks: an expert is named once, and holds logits (issue 12 point 7).
write_cfg "$TMP/e161616.cfg" 's/^experts=1,3,5/experts=1,1,1/'
expect_error "expert_softmax cfg: experts=1,1,1 (the same layer three times)" \
    "$ES" "key 'experts'" "names layer 1 [cosine] 3 times" -- "$CFGCHECK" "$TMP/e161616.cfg"
write_cfg "$TMP/e133.cfg" 's/^experts=1,3,5/experts=1,3,-3/'
expect_error "expert_softmax cfg: experts=1,3,-3 (layer 3 twice, once relative)" \
    "$ES" "key 'experts'" "names layer 3 [cosine] 2 times" -- "$CFGCHECK" "$TMP/e133.cfg"
# layer 4 a [softmax] of expert 3's logits: 10 outputs like an expert, but probabilities
base_cfg | awk '/^\[route\]/ { n++; if (n == 2) { print "[softmax]"; skip = 1; next } }
                skip { skip = 0; next } { print }' | sed 's/^experts=1,3,5/experts=1,4,5/' >"$TMP/esoftmax.cfg"
expect_error "expert_softmax cfg: an expert that is a [softmax] (probabilities, not logits)" \
    "$ES" "key 'experts'" "layer 4 [softmax] cannot be an expert's logits" "probabilities" \
    -- "$CFGCHECK" "$TMP/esoftmax.cfg"
check "sed for the [softmax] expert edits only the 2nd [route] and experts=" \
    [ "$(diff <(base_cfg) "$TMP/esoftmax.cfg" | grep -c '^[<>]')" -eq 5 ]

write_cfg "$TMP/tau.cfg" 's/^tau=3/tau=-1/'
expect_error "expert_softmax cfg: tau=-1 is out of range" \
    "$ES" "key 'tau'" "out of range" -- "$CFGCHECK" "$TMP/tau.cfg"
write_cfg "$TMP/aala.cfg" 's/^aala=1/aala=3/'
expect_error "expert_softmax cfg: aala=3 is out of range [0, 1]" \
    "$ES" "key 'aala'" "out of range [0, 1]" -- "$CFGCHECK" "$TMP/aala.cfg"
write_cfg "$TMP/rw.cfg" 's/^reweight=1/reweight=on/'
expect_error "expert_softmax cfg: reweight=on is not an integer" \
    "key 'reweight'" "'on' is not an integer" -- "$CFGCHECK" "$TMP/rw.cfg"
write_cfg "$TMP/et.cfg" 's/^energy_t=1/energy_t=0/'
expect_error "expert_softmax cfg: energy_t=0 is out of range (0, 1000]" \
    "key 'energy_t'" "out of range" -- "$CFGCHECK" "$TMP/et.cfg"
write_cfg "$TMP/unknown.cfg" 's/^aala=1/aala=1\nalaa=1/'
expect_error "expert_softmax cfg: unknown key 'alaa'" \
    "$ES" "key 'alaa'" -- "$CFGCHECK" "$TMP/unknown.cfg"

# g needs the cosine scale: [connected] experts without scale= are refused, with scale= fine
base_cfg | sed -e 's/^\[cosine\]/[connected]/' -e 's/^classes=10/output=10/' -e 's/^scale=30/activation=linear/' \
    >"$TMP/conn.cfg"
expect_error "expert_softmax cfg: reweight=1 on [connected] experts without scale=" \
    "$ES" "key 'scale'" "needs the cosine scale" -- "$CFGCHECK" "$TMP/conn.cfg"
sed -i 's/^reweight=1/reweight=1\nscale=30/' "$TMP/conn.cfg"
expect_ok "expert_softmax cfg: [connected] experts with scale=30 parse" "$CFGCHECK" "$TMP/conn.cfg"
base_cfg | awk '/^scale=30/ { n++; if (n == 3) { print "scale=16"; next } } { print }' >"$TMP/scales.cfg"
expect_error "expert_softmax cfg: [cosine] experts of different scales (30, 16)" \
    "$ES" "key 'experts'" "different scales" -- "$CFGCHECK" "$TMP/scales.cfg"

finish
