#!/bin/bash
# [net] bf16=1 (bf16 convolutions through oneDNN) through the binaries users run:
#   - bf16=2 is refused: 0 or 1;
#   - a build without oneDNN (the DNNL=0 test build, $DARKNET) refuses bf16=1, naming the
#     cfg, the key and the build option, and writes nothing;
#   - ./darknet (the default `make` build, with oneDNN) refuses bf16=1 on a CPU without
#     bfloat16 instructions, naming the key and the instructions it lacks, with a non-zero
#     exit and nothing written. On a CPU that has them, the same refusal is brought about
#     with oneDNN's own dispatcher limit ONEDNN_MAX_CPU_ISA=AVX512_CORE_VNNI (oneDNN then
#     uses the CPU as one without AVX512-BF16; the message names the limit);
#   - on a CPU with them, `classifier train` with bf16=1 runs a few iterations and saves its
#     weights, every convolution on a jit bf16 kernel of oneDNN (DARKNET_DNNL_VERBOSE=1 lists
#     each primitive's type and implementation; none is a reference kernel, none stayed in
#     float). Reported as skipped on a CPU without them.
# The CPU has them when /proc/cpuinfo lists avx512_bf16 or amx_bf16 (tests/accel/test_bf16.c
# checks that oneDNN agrees).
set -u
. "$(dirname "$0")/../lib/lib.sh"
test_tmp bf16
BIN=$ROOT/darknet
LABELS=(crimson emerald azure)

if "$TOOLS/tool_mkimages" "$TMP" train 8 21 "${LABELS[@]}" >"$TMP/train.list"; then
    pass "bf16: generated $(wc -l <"$TMP/train.list") training images"
else
    fail "bf16: generate images" "tool_mkimages failed"
fi
printf '%s\n' "${LABELS[@]}" >"$TMP/labels.txt"
data_file "$TMP/bf16.data" 3 "names=$TMP/labels.txt"
mkdir -p "$TMP/backup"
cfg_set_keys "$FIXTURES/stock-small.cfg" "$TMP/bf16.cfg" net bf16=1 max_batches=3
cfg_set "$FIXTURES/stock-small.cfg" "$TMP/bf16-two.cfg" net bf16 2

# no_weights NAME: nothing was written into the backup folder.
no_weights() {
    check "$1: nothing written to the backup folder" [ -z "$(ls -A "$TMP/backup")" ]
}

expect_error "bf16: bf16=2 is refused" "bf16-two.cfg: [net] bf16=2: must be 0 or 1" -- \
    "$DARKNET" classifier train "$TMP/bf16.data" "$TMP/bf16-two.cfg"
expect_error "bf16: a build without oneDNN refuses bf16=1" \
    "bf16.cfg: [net] bf16=1 needs a build with oneDNN" "DNNL=0" -- \
    "$DARKNET" classifier train "$TMP/bf16.data" "$TMP/bf16.cfg"
no_weights "bf16: without oneDNN"

if [ ! -x "$BIN" ] || ! ldd "$BIN" 2>/dev/null | grep -q libdnnl; then
    fail "bf16: ./darknet is the oneDNN build" "$BIN is missing or not linked with oneDNN (make builds it)"
    finish
    exit
fi

REFUSED="bf16.cfg: [net] bf16=1: this CPU has no bfloat16 instructions that oneDNN can use"
if grep -qw -e avx512_bf16 -e amx_bf16 /proc/cpuinfo; then
    expect_error "bf16: ./darknet refuses bf16=1 where oneDNN may not use bf16 (ONEDNN_MAX_CPU_ISA=AVX512_CORE_VNNI)" \
        "$REFUSED" "AVX512-BF16 or AMX-BF16" "limited by ONEDNN_MAX_CPU_ISA=AVX512_CORE_VNNI" -- \
        env ONEDNN_MAX_CPU_ISA=AVX512_CORE_VNNI "$BIN" classifier train "$TMP/bf16.data" "$TMP/bf16.cfg"
    no_weights "bf16: refused"

    DARKNET_DNNL_VERBOSE=1 "$BIN" classifier train "$TMP/bf16.data" "$TMP/bf16.cfg" -seed 3 \
        >"$TMP/train.log" 2>"$TMP/train.err" </dev/null
    rc=$?
    check "bf16: classifier train with bf16=1 exits 0 (rc $rc)" [ "$rc" -eq 0 ]
    check "bf16: the final weights are saved" [ -s "$TMP/backup/bf16.weights" ]
    grep -E '^conv_accel_dnnl: (forward|backward)' "$TMP/train.err" >"$TMP/prims.txt"
    # stock-small has two convolutions: a forward, a backward data and a backward weights
    # primitive each (at least; a test batch adds plans of its own).
    n=$(wc -l <"$TMP/prims.txt")
    check "bf16: oneDNN made at least 6 convolution primitives ($n)" [ "$n" -ge 6 ]
    check "bf16: every one takes bf16 (none stayed float)" \
        awk '$0 !~ /^conv_accel_dnnl: (forward|backward data|backward weights) +bf16 / { exit 1 }' "$TMP/prims.txt"
    impls=$(sed -E 's/.* bf16 +([^ ]+)  batch .*/\1/' "$TMP/prims.txt" | sort -u | paste -sd' ')
    check "bf16: every one is a jit kernel, none a reference one ($impls)" \
        awk '$0 ~ /ref/ || $0 !~ /jit|brg/ { exit 1 }' "$TMP/prims.txt"
    check "bf16: no layer fell back to float" bash -c "! grep -q 'runs in float' '$TMP/train.err'"
else
    expect_error "bf16: ./darknet refuses bf16=1 on this CPU (no avx512_bf16 or amx_bf16 in /proc/cpuinfo)" \
        "$REFUSED" "AVX512-BF16 or AMX-BF16" -- \
        "$BIN" classifier train "$TMP/bf16.data" "$TMP/bf16.cfg"
    no_weights "bf16: refused"
    skip "bf16: classifier train with bf16=1 on jit bf16 kernels" "this CPU has neither avx512_bf16 nor amx_bf16"
fi
finish
