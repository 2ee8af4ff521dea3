#!/bin/bash
# Replays tests/fuzz/regressions/NAME/* through the fuzz harness NAME (tests/fuzz/fuzz_NAME.c,
# built without libFuzzer as build/tests/fuzz_NAME): each file is an input that once crashed
# the reader (see its README line in tests/fuzz/regressions/README) and must now be read to
# a clean end, an error exit included (the harness turns exit() into a return). A crash, a
# sanitizer report (make test SANITIZE=1) or a hang fails that case.
#
# Controls, so that a harness that stops early cannot pass: one valid input per harness is
# replayed too, and one invalid input whose error exit the harness must survive (the replay
# prints "replayed FILE" only after the reader has returned or exited).
set -u
. "$(dirname "$0")/../lib/lib.sh"
cd "$ROOT" || exit 1

TMP=$(mktemp -d /tmp/ricasso-test-fuzz.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# replay NAME HARNESS FILE: the harness must end with status 0 after "replayed FILE".
replay() {
    local name=$1 bin=$TOOLS/fuzz_$2 f=$3 out rc
    if [ ! -x "$bin" ]; then
        fail "$name" "$bin is not built"
        return
    fi
    out=$(TMPDIR=$TMP timeout 60 "$bin" "$f" 2>&1)
    rc=$?
    if [ "$rc" -eq 0 ] && grep -qF "replayed $f" <<<"$out"; then
        pass "$name"
    else
        fail "$name" "exit $rc: $(tail -n 4 <<<"$out" | tr '\n' '|')"
    fi
}

# ---- controls ----
cp cfg/ricasso-fmnist-demo.cfg "$TMP/good.cfg"
replay "control: cfg harness reads the demo cfg" cfg "$TMP/good.cfg"
printf '[net]\nbatch=1\nwidth=4\nheight=4\nchannels=1\n\n[bogus]\n' >"$TMP/bad.cfg"
replay "control: cfg harness survives the parser's exit on an unknown section" cfg "$TMP/bad.cfg"
printf 'classes=10\ntrain=t.list\n' >"$TMP/good.data"
replay "control: data harness reads a .data file" data "$TMP/good.data"
printf 'classes=10\nno equals sign here\n' >"$TMP/bad.data"
replay "control: data harness survives the reader's exit on a line without '='" data "$TMP/bad.data"
printf 'cat\ndog\n%%%%\nimgs/cat/1.png\nimgs/2_dog.png\n' >"$TMP/good.list"
replay "control: list harness reads labels and a list" list "$TMP/good.list"
printf 'cat\ndog\n%%%%\nimgs/bird/1.png\n' >"$TMP/bad.list"
replay "control: list harness survives the exit on an image without a label" list "$TMP/bad.list"
printf 'score=energy\nthreshold=1.5\n' >"$TMP/good.ood"
replay "control: ood harness reads a threshold file" ood "$TMP/good.ood"
printf 'WRONGxxxxxxxxxxxxxxxxxxxxx' >"$TMP/bad.weights"
replay "control: weights harness survives the exit on a file that is not a weights file" weights "$TMP/bad.weights"
# The harness really does see an exit: the same bad cfg stops the parser with an error.
expect_error "control: the bad cfg above is an error exit for the parser" "bogus" \
    -- "$TOOLS/tool_cfgcheck" "$TMP/bad.cfg"

# ---- regression cases ----
n=0
for dir in tests/fuzz/regressions/*/; do
    h=$(basename "$dir")
    for f in "$dir"*; do
        [ -f "$f" ] || continue
        n=$((n + 1))
        replay "regression $h/$(basename "$f")" "$h" "$f"
    done
done
echo "replayed $n regression inputs"

finish
