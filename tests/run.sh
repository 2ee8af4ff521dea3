#!/bin/bash
# Runs the test suite: the test programs given as arguments (built by tests/tests.mk), every
# tests/*/test_*.sh, and the GPU build check. Each test prints "PASS name" / "FAIL name: why"
# lines and ends with "@@ counts P F"; this script adds those up. "SKIP name: why" lines
# (checks this machine cannot run, e.g. bf16 on a CPU without it) count neither way; they
# are listed just before the last line.
#
# A test that exits non-zero, dies on a signal, times out, is missing, or ends without its
# counts line is one more failure under its own name, whatever it had counted before.
# Full logs: build/tests/logs/NAME.log. The last line printed is "N passed, N failed".
#
# No hidden state: every test starts in a fresh empty folder of its own (also its TMPDIR),
# under the C locale, with the repository root in RICASSO_ROOT; a test that leaves anything
# in that folder fails (the folder is removed either way).
set -u
cd "$(dirname "$0")/.."
export RICASSO_ROOT=$PWD LC_ALL=C
# OpenMP threads that spin while they wait made a test on a busy machine many times slower
# (test_ricasso_learns past its limit): idle threads sleep unless the caller says otherwise.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
unset LANG LANGUAGE

LOGS=${TEST_LOGS:-build/tests/logs}
mkdir -p "$LOGS"
PASSED=0
FAILED=0
FAILED_NAMES=()
SKIPPED=()     # "test: check" of each SKIP line (a check the machine cannot run; not counted)
# Per-test wall-clock limits (seconds): a hang is a failure, not a stuck `make test`.
C_LIMIT=${TEST_C_LIMIT:-300}
SH_LIMIT=${TEST_SH_LIMIT:-400}
GPU_LIMIT=${TEST_GPU_LIMIT:-900}
GPU_BUILD=

fail_one() {   # name, reason
    FAILED=$((FAILED + 1))
    FAILED_NAMES+=("$1")
    echo "FAIL $1: $2"
}

# run_test NAME LIMIT CMD...: runs CMD with its output in the log, shows the PASS/FAIL lines.
run_test() {
    local name=$1 limit=$2 log="$RICASSO_ROOT/$LOGS/$1.log" rc counts p f start work left
    shift 2
    echo "== $name"
    start=$SECONDS
    work=$(mktemp -d "${TMPDIR:-/tmp}/ricasso-run-$name.XXXXXX")
    (cd "$work" && TMPDIR=$work timeout --kill-after=10 "$limit" "$@") >"$log" 2>&1 </dev/null
    rc=$?
    left=$(cd "$work" && find . -mindepth 1 -maxdepth 1 | head -n 5 | tr '\n' ' ')
    rm -rf "$work"
    [ -n "$left" ] && fail_one "$name" "left files in its folder: $left"
    grep -E '^(PASS|FAIL|SKIP) ' "$log"
    while IFS= read -r s; do SKIPPED+=("$name: ${s#SKIP }"); done < <(grep -E '^SKIP ' "$log")
    counts=$(grep -E '^@@ counts [0-9]+ [0-9]+$' "$log" | tail -n 1)
    if [ -n "$counts" ]; then
        read -r _ _ p f <<<"$counts"
        PASSED=$((PASSED + p))
        FAILED=$((FAILED + f))
        [ "$f" -gt 0 ] && FAILED_NAMES+=("$name")
    fi
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        fail_one "$name" "timed out after ${limit}s (log: $log)"
    elif [ "$rc" -gt 128 ]; then
        fail_one "$name" "crashed: signal $((rc - 128)) (log: $log)"
    elif [ -z "$counts" ]; then
        fail_one "$name" "exit status $rc without a counts line: crashed or stopped early (log: $log)"
    elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        fail_one "$name" "exit status $rc although no check failed (log: $log)"
    fi
    if [ "$rc" -ne 0 ] || [ -z "$counts" ]; then
        echo "-- last lines of $log:"
        tail -n 15 "$log" | sed 's/^/   | /'
    fi
    echo "   ($((SECONDS - start))s)"
}

for bin in "$@"; do
    name=$(basename "$bin")
    if [ ! -x "$bin" ]; then
        fail_one "$name" "not built (see the compiler errors above)"
        continue
    fi
    case $bin in /*) ;; *) bin=$RICASSO_ROOT/$bin ;; esac
    run_test "$name" "$C_LIMIT" "$bin"
done

for sh in tests/*/test_*.sh; do
    [ -e "$sh" ] || continue
    run_test "$(basename "$sh" .sh)" "$SH_LIMIT" bash "$RICASSO_ROOT/$sh"
done

# The CUDA + cuDNN build has no device to run on here, but it must still compile and link.
# That is a build check, not a test: it is printed on its own line and not counted among
# the passed tests; a failed build counts as a failure.
CUDA=${CUDA:-/usr/local/cuda}
if [ -x "$CUDA/bin/nvcc" ]; then
    echo "== gpu-build"
    start=$SECONDS
    log="$LOGS/gpu-build.log"
    name="GPU build (CUDA+cuDNN) compiles and links"
    # MAKEFLAGS of the calling make would carry a jobserver this script cannot reach.
    if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL timeout "$GPU_LIMIT" \
            make --no-print-directory -j"$(nproc)" gpu-build >"$log" 2>&1 </dev/null \
            && [ -x build/gpu-cudnn/darknet ] && [ -f build/gpu-cudnn/libdarknet.a ]; then
        GPU_BUILD="build check: $name"
        echo "$GPU_BUILD"
    else
        fail_one "$name" "see $log"
        tail -n 15 "$log" | sed 's/^/   | /'
    fi
    echo "   ($((SECONDS - start))s)"
else
    GPU_BUILD="build check: nvcc not found, GPU build not checked"
    echo "$GPU_BUILD"
fi

if [ "$FAILED" -gt 0 ]; then
    echo "failed: $(printf '%s\n' "${FAILED_NAMES[@]}" | awk '!seen[$0]++' | paste -sd ' ')"
fi
[ -n "${GPU_BUILD:-}" ] && echo "$GPU_BUILD (not counted below)"
if [ ${#SKIPPED[@]} -gt 0 ]; then
    echo "skipped on this machine (not counted below): ${#SKIPPED[@]}"
    printf '  %s\n' "${SKIPPED[@]}"
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
