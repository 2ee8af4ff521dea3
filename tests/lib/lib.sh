# Shared helpers for the shell tests (sourced, never run on its own).
# Same protocol as the C harness: "PASS name" / "FAIL name: details" lines, then
# "@@ counts P F" from finish, which also sets the exit status.

T_PASS=0
T_FAIL=0
T_SKIP=0
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# make test SANITIZE=1 (tests/tests.mk) points these at the sanitizer build.
TOOLS=${TEST_TOOLS:-$ROOT/build/tests}
DARKNET=${TEST_DARKNET:-$ROOT/build/test/darknet}

# test_tmp NAME: TMP, a fresh folder for this test (under $TMPDIR, which tests/run.sh points
# at the test's own empty folder), removed on exit, and the current folder from here on:
# what a command writes where it runs (Darknet's bad.list, ...) stays in it. Paths into the
# repository are $ROOT-absolute; no test depends on the folder it was started in.
test_tmp() {
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/ricasso-test-$1.XXXXXX") || exit 1
    trap 'cd / && rm -rf "$TMP"' EXIT
    cd "$TMP" || exit 1
}

T_CASE=
T_CASE_PASS=0
T_CASE_FAIL=0
pass() {
    if [ -n "$T_CASE" ]; then T_CASE_PASS=$((T_CASE_PASS + 1)); return; fi
    T_PASS=$((T_PASS + 1))
    echo "PASS $1"
}
fail() {
    if [ -n "$T_CASE" ]; then
        T_CASE_FAIL=$((T_CASE_FAIL + 1))
        echo "  in $T_CASE: FAIL $1: $2"
        return
    fi
    T_FAIL=$((T_FAIL + 1))
    echo "FAIL $1: $2"
}

# case_begin NAME ... case_end: the checks between are one test case (a sweep of one
# behaviour over many files, sets or scores), as case_begin/case_end of tests/lib/harness.h:
# one "PASS NAME (N checks)" line, or one FAIL line after each failed check printed as
# "  in NAME: FAIL ...".
case_begin() {
    [ -n "$T_CASE" ] && case_end
    T_CASE=$1
    T_CASE_PASS=0
    T_CASE_FAIL=0
}
case_end() {
    local name=$T_CASE n=$((T_CASE_PASS + T_CASE_FAIL))
    [ -n "$name" ] || return 0
    T_CASE=
    if [ "$n" -eq 0 ]; then
        fail "$name (0 checks)" "no checks ran in this case"
    elif [ "$T_CASE_FAIL" -eq 0 ]; then
        pass "$name ($n checks)"
    else
        fail "$name ($n checks)" "$T_CASE_FAIL of $n checks failed (above)"
    fi
}

# skip NAME WHY: a check this machine cannot run ("SKIP NAME: WHY"; neither passed nor
# failed; tests/run.sh lists it apart).
skip() {
    T_SKIP=$((T_SKIP + 1))
    echo "SKIP $1: $2"
}

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

# weights_init CFG WEIGHTS: tool_weights init writes WEIGHTS for CFG (seed 7), one check.
weights_init() {
    if "$TOOLS/tool_weights" init "$1" "$2" 7 >/dev/null 2>&1 && [ -s "$2" ]; then
        pass "weights: init writes a weights file for the base cfg"
    else
        fail "weights: init writes a weights file for the base cfg" "tool_weights init failed"
    fi
}

finish() {
    case_end
    if [ $((T_PASS + T_FAIL + T_SKIP)) -eq 0 ]; then fail "no checks ran" "nothing was checked"; fi
    echo "@@ counts $T_PASS $T_FAIL"
    [ "$T_FAIL" -eq 0 ]
}

# param_count CFG: the number on the "parameters: N (...)" line $DN (the darknet binary the
# test runs) prints after parsing CFG with `darknet ops` (patch 0090); empty when none.
param_count() {
    "$DN" ops "$1" 2>&1 >/dev/null </dev/null | sed -n 's/^parameters: \([0-9]*\) (.*/\1/p'
}
# cfg_batch1 SRC DST: SRC with [net] batch=1 (a parameter count does not depend on the
# batch; the memory parsing takes does).
cfg_batch1() {
    awk '/^\[/ { sec = $0 } sec == "[net]" && /^batch=/ { print "batch=1"; next } { print }' "$1" >"$2"
}

# Shared cfg fixtures (tests/lib/fixtures/*.cfg) and a way to vary one key of them.
FIXTURES=$ROOT/tests/lib/fixtures

# cfg_set SRC DST SECTION KEY VALUE: SRC with KEY=VALUE in the first [SECTION] (replaced
# there, or added at the end of that section), nothing else changed.
cfg_set() {
    awk -v sec="[$3]" -v key="$4" -v val="$5" '
        /^\[/ { if (in_sec && !done) { print key "=" val; done = 1 } in_sec = (!done && $0 == sec); print; next }
        in_sec && index($0, key "=") == 1 { print key "=" val; done = 1; next }
        { print }
        END { if (in_sec && !done) print key "=" val }' "$1" >"$2"
}

# cfg_set_keys SRC DST SECTION KEY=VALUE...: cfg_set for several keys of one section.
cfg_set_keys() {
    local src=$1 dst=$2 sec=$3 kv
    shift 3
    cp "$src" "$dst.keys" || return 1
    for kv in "$@"; do
        cfg_set "$dst.keys" "$dst" "$sec" "${kv%%=*}" "${kv#*=}" && mv "$dst" "$dst.keys"
    done
    mv "$dst.keys" "$dst"
}

# cfg_trunk SRC: SRC up to its first [avgpool] (the layers before the classifier head),
# without its comments and the blank lines before [net].
cfg_trunk() { sed -e '/^#/d' -e '/^\[avgpool\]/,$d' "$1" | sed '/./,$!d'; }

# data_file FILE CLASSES [KEY=VALUE...]: a .data file for CLASSES classes with
# train=$TMP/train.list, labels=$TMP/labels.txt and backup=$TMP/backup, then each KEY=VALUE
# given (one for a key already there replaces it).
data_file() {
    local f=$1 kv
    printf 'classes=%s\ntrain=%s\nlabels=%s\nbackup=%s\n' "$2" "$TMP/train.list" "$TMP/labels.txt" "$TMP/backup" >"$f"
    shift 2
    for kv in "$@"; do
        grep -v "^${kv%%=*}=" "$f" >"$f.new"
        printf '%s\n' "$kv" >>"$f.new"
        mv "$f.new" "$f"
    done
}

# images_per_class LIST: COUNTS[i] training images of class LABELS[i] (seed 40 + i) from
# tool_mkimages, listed in LIST; fails when one call fails.
images_per_class() {
    local i ok=0
    : >"$1"
    for i in "${!LABELS[@]}"; do
        "$TOOLS/tool_mkimages" "$TMP" train "${COUNTS[$i]}" $((40 + i)) "${LABELS[$i]}" >>"$1" || ok=1
    done
    return $ok
}

# cosine_expert FILTERS STRIDE SCALE [KEY=VALUE...]: a cosine expert for 3 classes on stdout:
# [convolutional] (3x3, leaky, FILTERS, STRIDE, the keys given first), [avgpool], [cosine].
cosine_expert() {
    printf '[convolutional]\n'
    [ $# -gt 3 ] && printf '%s\n' "${@:4}"
    printf 'filters=%s\nsize=3\nstride=%s\npad=1\nactivation=leaky\n\n[avgpool]\n\n[cosine]\nclasses=3\nscale=%s\n' "$1" "$2" "$3"
}
