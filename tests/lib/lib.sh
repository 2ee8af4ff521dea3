# Shared helpers for the shell tests (sourced, never run on its own).
# Same protocol as the C harness: "PASS name" / "FAIL name: details" lines, then
# "@@ counts P F" from finish, which also sets the exit status.

T_PASS=0
T_FAIL=0
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# make test SANITIZE=1 (tests/tests.mk) points these at the sanitizer build.
TOOLS=${TEST_TOOLS:-$ROOT/build/tests}
DARKNET=${TEST_DARKNET:-$ROOT/build/test/darknet}

pass() { T_PASS=$((T_PASS + 1)); echo "PASS $1"; }
fail() { T_FAIL=$((T_FAIL + 1)); echo "FAIL $1: $2"; }

# check NAME CONDITION-COMMAND...: passes when the command succeeds.
check() {
    local name=$1
    shift
    if "$@"; then pass "$name"; else fail "$name" "'$*' is false"; fi
}

# expect_error NAME EXPECTED-SUBSTRING... -- COMMAND...
# The command must end with a non-zero status that is not a signal (a crash is not a clean
# error), and its stderr must contain every expected substring.
expect_error() {
    local name=$1 missing=() want=() rc err
    shift
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do want+=("$1"); shift; done
    shift
    err=$(mktemp)
    "$@" >/dev/null 2>"$err" </dev/null
    rc=$?
    for w in "${want[@]}"; do grep -qF -- "$w" "$err" || missing+=("'$w'"); done
    if [ "$rc" -eq 0 ]; then
        fail "$name" "exit status 0, expected an error"
    elif [ "$rc" -gt 128 ]; then
        fail "$name" "killed by signal $((rc - 128)), expected a clean error exit"
    elif [ ${#missing[@]} -gt 0 ]; then
        fail "$name" "exit $rc, but stderr lacks ${missing[*]}; it ends: $(grep -v '^ *[0-9]* ' "$err" | tail -n 3 | tr '\n' '|')"
    else
        pass "$name"
    fi
    rm -f "$err"
}

# expect_ok NAME COMMAND...: the command must exit 0.
expect_ok() {
    local name=$1 out rc
    shift
    out=$("$@" 2>&1 </dev/null)
    rc=$?
    if [ "$rc" -eq 0 ]; then pass "$name"; else fail "$name" "exit $rc: $(echo "$out" | tail -n 3 | tr '\n' '|')"; fi
}

finish() {
    if [ $((T_PASS + T_FAIL)) -eq 0 ]; then fail "no checks ran" "nothing was checked"; fi
    echo "@@ counts $T_PASS $T_FAIL"
    [ "$T_FAIL" -eq 0 ]
}
