#!/bin/bash
# The parameter count printed after parsing (darknet-patches/0090) and the cfg errors of
# [net] nesterov= (0091), against ./darknet (the binary users run; `darknet ops CFG` only
# parses). Counts, each cfg copied with batch=1 (the count does not depend on the batch, the
# memory does):
#   cfg/lgla-resnet32-cifar10.cfg  1,344,784: LGLA's ResNet32Model(num_experts=3,
#       use_norm=True); by hand: stem 432 + 16 + 16 = 464, stage 1 10 x (2304 + 32) = 23,360,
#       each expert 88,192 (stage 2) + 351,488 (stage 3) + 640 (cosine, no bias) = 440,320
#   cfg/ce-resnet32-cifar10.cfg    464,154: the same single ResNet-32 with a 64 x 10 + 10
#       linear classifier (464 + 23,360 + 88,192 + 351,488 + 650)
#   a small cfg                    the terms one by one: conv 3x3 1->2 with batch norm
#       (18 + 2 + 2), connected 8->3 without (24 + 3), batchnorm layer on its 3 outputs (6),
#       [cosine] 3 x 3 (9): 64
set -u
. "$(dirname "$0")/../lib/lib.sh"
cd "$ROOT" || exit 1
DN=$ROOT/darknet

TMP=$(mktemp -d /tmp/ricasso-test-params.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

if [ ! -x "$DN" ]; then
    fail "param count: ./darknet exists" "build it with 'make'"
    finish
    exit
fi


cfg_batch1 cfg/lgla-resnet32-cifar10.cfg "$TMP/lgla.cfg"
n=$(param_count "$TMP/lgla.cfg")
check "param count: cfg/lgla-resnet32-cifar10.cfg has 1344784 parameters, as LGLA's ResNet32Model(num_experts=3) (printed: '$n')" [ "$n" = 1344784 ]
cfg_batch1 cfg/ce-resnet32-cifar10.cfg "$TMP/ce.cfg"
n=$(param_count "$TMP/ce.cfg")
check "param count: cfg/ce-resnet32-cifar10.cfg has 464154 parameters (printed: '$n')" [ "$n" = 464154 ]

cat >"$TMP/small.cfg" <<'CFG'
[net]
batch=1
width=2
height=2
channels=1
nesterov=1

[convolutional]
batch_normalize=1
filters=2
size=3
stride=1
pad=1
activation=linear

[connected]
output=3
activation=linear

[batchnorm]

[cosine]
classes=3
CFG
n=$(param_count "$TMP/small.cfg")
check "param count: conv+BN 22, connected 27, batchnorm 6, cosine 9 make 64 (printed: '$n')" [ "$n" = 64 ]

# ---- nesterov= errors ----
sed 's/^nesterov=1/nesterov=2/' "$TMP/small.cfg" >"$TMP/n2.cfg"
expect_error "nesterov: nesterov=2 is an error" "[net]: nesterov must be 0 or 1" -- "$DN" ops "$TMP/n2.cfg"
sed 's/^nesterov=1/nesterov=1\nadam=1/' "$TMP/small.cfg" >"$TMP/adam.cfg"
expect_error "nesterov: nesterov=1 with adam=1 is an error" "does not combine with adam=1" -- "$DN" ops "$TMP/adam.cfg"
cat >"$TMP/local.cfg" <<'CFG'
[net]
batch=1
width=4
height=4
channels=1
nesterov=1

[local]
filters=2
size=3
stride=1
pad=1
activation=linear
CFG
expect_error "nesterov: nesterov=1 with a [local] layer (no Nesterov update) is an error naming the layer" \
    "layer 0 [local] has no Nesterov update" -- "$DN" ops "$TMP/local.cfg"
sed 's/^nesterov=1/nesterov=0/' "$TMP/local.cfg" >"$TMP/local0.cfg"
expect_ok "nesterov: the same [local] cfg with nesterov=0 parses" "$DN" ops "$TMP/local0.cfg"

finish
