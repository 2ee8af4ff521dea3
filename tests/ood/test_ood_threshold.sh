#!/bin/bash
# The threshold file (src/ood/ood_threshold.c) between classifier ood and predict/demo, on an
# untrained network (the file's handling, not the detection, is under test):
#   - classifier ood writes DIR/threshold.ood; WEIGHTS.ood only with -deploy, and an
#     evaluation without -deploy (other sets, another -score) leaves a deployed file as it was;
#   - the file holds the sizes and FNV-1a checksums of the cfg and the weights; predict and
#     demo use it for that model and refuse it, naming what differs, for another cfg, other
#     weights, another class count, or a file that records no fingerprint;
#   - predict -threshold FILE reads another file;
#   - threshold=-inf, inf, nan, a repeated key, an out-of-range value: errors naming the line,
#     on the default build (./darknet) and the test build.
set -u
. "$(dirname "$0")/../lib/lib.sh"
test_tmp ood-threshold
LABELS=(red green blue)
"$TOOLS/tool_mkimages" "$TMP" valid 4 3 "${LABELS[@]}" >"$TMP/valid.list"
"$TOOLS/tool_mkimages" "$TMP" ood 4 4 "${LABELS[@]}" | head -n 6 >"$TMP/ood.list"
printf '%s\n' "${LABELS[@]}" >"$TMP/labels.txt"
printf 'classes=3\nvalid=%s\nlabels=%s\nood_other=%s\n' "$TMP/valid.list" "$TMP/labels.txt" "$TMP/ood.list" >"$TMP/t.data"
cp "$FIXTURES/tiny-classifier.cfg" "$TMP/t.cfg"
"$TOOLS/tool_weights" init "$TMP/t.cfg" "$TMP/t.weights" 5 >/dev/null 2>&1
check "setup: an untrained 3-class network" [ -s "$TMP/t.weights" ]
W=$TMP/t.weights
T=$W.ood
D=$TMP/t.data

# ---- classifier ood: where the file goes ----
"$DARKNET" classifier ood "$D" "$TMP/t.cfg" "$W" -noodin -score energy -out "$TMP/r1" >"$TMP/r1.out" 2>&1 </dev/null
check "ood: without -deploy the threshold goes to DIR/threshold.ood, not next to the weights" \
    bash -c "grep -qx 'score=energy' '$TMP/r1/threshold.ood' && [ ! -e '$T' ] && grep -q 'saved to $TMP/r1/threshold.ood\$' '$TMP/r1.out'"
check "ood: the file records the cfg's and the weights' sizes and checksums" \
    bash -c "grep -qx \"cfg_size=\$(stat -c %s '$TMP/t.cfg')\" '$TMP/r1/threshold.ood' && grep -qx \"weights_size=\$(stat -c %s '$W')\" '$TMP/r1/threshold.ood' \
             && grep -q '^cfg_fnv1a=[0-9a-f]\{16\}$' '$TMP/r1/threshold.ood' && grep -q '^weights_fnv1a=[0-9a-f]\{16\}$' '$TMP/r1/threshold.ood'"
# FNV-1a 64 of the cfg, computed here
want=$(python3 -c 'import sys
h = 0xcbf29ce484222325
for b in open(sys.argv[1], "rb").read(): h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
print("%016x" % h)' "$TMP/t.cfg")
check "ood: cfg_fnv1a is the 64-bit FNV-1a of the cfg's bytes ($want)" grep -qx "cfg_fnv1a=$want" "$TMP/r1/threshold.ood"
"$DARKNET" classifier ood "$D" "$TMP/t.cfg" "$W" -noodin -score energy -out "$TMP/r2" -deploy >"$TMP/r2.out" 2>&1 </dev/null
check "ood: -deploy writes WEIGHTS.ood too, the same file as DIR/threshold.ood" \
    bash -c "cmp -s '$T' '$TMP/r2/threshold.ood' && grep -q 'saved to $TMP/r2/threshold.ood and $T\$' '$TMP/r2.out'"
cp "$T" "$TMP/deployed.copy"
"$DARKNET" classifier ood "$D" "$TMP/t.cfg" "$W" -out "$TMP/r3" >"$TMP/r3.out" 2>"$TMP/r3.err" </dev/null
check "ood: an evaluation with another -score (odin) and no -deploy leaves the deployed energy threshold as it was, and says so" \
    bash -c "cmp -s '$T' '$TMP/deployed.copy' && grep -qx 'score=odin' '$TMP/r3/threshold.ood' && grep -q 'deployed threshold $T is left as it is' '$TMP/r3.err'"

# ---- predict: the file belongs to one model ----
IMG=$(head -n 1 "$TMP/valid.list")
"$DARKNET" classifier predict "$D" "$TMP/t.cfg" "$W" "$IMG" >"$TMP/p.out" 2>"$TMP/p.err" </dev/null
check "predict: uses the deployed threshold of this model" \
    bash -c "grep -q 'threshold energy >= .* from $T' '$TMP/p.err' && grep -qE '^OOD energy [-0-9.e]+ (>=|<) [-0-9.e]+: (known|unknown)$' '$TMP/p.out'"
"$DARKNET" classifier predict "$D" "$TMP/t.cfg" "$W" "$IMG" -threshold "$TMP/r3/threshold.ood" >"$TMP/p3.out" 2>"$TMP/p3.err" </dev/null
check "predict: -threshold FILE reads another file of the same model (odin)" \
    bash -c "grep -q 'threshold odin >= .* from $TMP/r3/threshold.ood' '$TMP/p3.err' && grep -q '^OOD odin ' '$TMP/p3.out'"
expect_error "predict: -threshold with a missing file" "-threshold $TMP/none.ood: no such file" -- \
    "$DARKNET" classifier predict "$D" "$TMP/t.cfg" "$W" "$IMG" -threshold "$TMP/none.ood"
# another cfg: same layers, one more blank line (other bytes)
{ cat "$TMP/t.cfg"; echo; } >"$TMP/other.cfg"
cp "$T" "$TMP/for-t.ood"
expect_error "predict: a threshold file of another cfg is refused, naming the cfg" "for-t.ood belongs to another model: the cfg $TMP/other.cfg" -- \
    "$DARKNET" classifier predict "$D" "$TMP/other.cfg" "$W" "$IMG" -threshold "$TMP/for-t.ood"
cp "$W" "$TMP/other.weights"
printf '\001' | dd of="$TMP/other.weights" bs=1 seek=40 conv=notrunc status=none
cp "$T" "$TMP/other.weights.ood"
expect_error "predict: a threshold file of other weights (one byte changed) is refused" "other.weights.ood belongs to another model: the weights $TMP/other.weights" -- \
    "$DARKNET" classifier predict "$D" "$TMP/t.cfg" "$TMP/other.weights" "$IMG"
mkdir -p "$TMP/frames"
cp "$IMG" "$TMP/frames/f_000.png"
expect_error "demo: refuses it too" "belongs to another model" -- \
    "$DARKNET" classifier demo "$D" "$TMP/t.cfg" "$TMP/other.weights" "$TMP/frames/f_%03d.png" -headless
sed 's/^classes=3$/classes=4/' "$T" >"$TMP/c4.ood"
expect_error "predict: a threshold file for another class count is refused" "made for 4 classes, the .data file has 3" -- \
    "$DARKNET" classifier predict "$D" "$TMP/t.cfg" "$W" "$IMG" -threshold "$TMP/c4.ood"
grep -v '^cfg_' "$T" >"$TMP/old.ood"
expect_error "predict: a file without the cfg's fingerprint (older format) is refused" "records no cfg fingerprint" "-deploy" -- \
    "$DARKNET" classifier predict "$D" "$TMP/t.cfg" "$W" "$IMG" -threshold "$TMP/old.ood"
"$DARKNET" classifier predict "$D" "$TMP/t.cfg" "$W" "$IMG" -score msp >"$TMP/pm.out" 2>"$TMP/pm.err" </dev/null
check "predict: -score msp with an energy file: runs without a threshold and says why" \
    bash -c "grep -q 'not used: it holds a threshold for energy, not for -score msp' '$TMP/pm.err' && grep -q '(no threshold)' '$TMP/pm.out'"
expect_error "predict: -threshold without WEIGHTS" "needs the WEIGHTS it was made for" -- \
    "$DARKNET" classifier predict "$D" "$TMP/t.cfg" -threshold "$T"

# ---- malformed files, on both builds ----
for bin in "$ROOT/darknet" "$DARKNET"; do
    [ -x "$bin" ] || { fail "bad files: $bin" "not built"; continue; }
    tag=$(basename "$(dirname "$bin")")
    for bad in "threshold=-inf" "threshold=inf" "threshold=nan" "threshold=-nan" "threshold=1e39" "odin_temperature=nan" "id_accepted=inf" "weights_size=-5"; do
        key=${bad%%=*}
        grep -v "^$key=" "$T" >"$TMP/bad.ood"
        echo "$bad" >>"$TMP/bad.ood"
        line=$(wc -l <"$TMP/bad.ood")
        expect_error "bad files ($tag): $bad is an error naming its line" "bad.ood line $line: bad value '${bad#*=}' for $key" -- \
            "$bin" classifier predict "$D" "$TMP/t.cfg" "$W" "$IMG" -threshold "$TMP/bad.ood"
    done
    { cat "$T"; echo "threshold=0.5"; } >"$TMP/twice.ood"
    first=$(grep -n '^threshold=' "$T" | cut -d: -f1)
    expect_error "bad files ($tag): a repeated key is an error naming both lines" "twice.ood line $(wc -l <"$TMP/twice.ood"): threshold given twice (first on line $first)" -- \
        "$bin" classifier predict "$D" "$TMP/t.cfg" "$W" "$IMG" -threshold "$TMP/twice.ood"
    { cat "$T"; echo "cfg_fnv1a=0000000000000000"; } >"$TMP/twice2.ood"
    expect_error "bad files ($tag): a repeated fingerprint is an error too" "cfg_fnv1a given twice" -- \
        "$bin" classifier predict "$D" "$TMP/t.cfg" "$W" "$IMG" -threshold "$TMP/twice2.ood"
done

finish
