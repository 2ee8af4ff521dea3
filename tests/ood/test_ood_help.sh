#!/bin/bash
# Help of the plugin commands (classifier ood, predict, demo), on the binary users run:
#   - -h and --help print the same help on stdout and exit 0, whatever else is on the line;
#   - too few arguments (none at all too): exit 1, the error, then the help on stderr;
#   - every flag the help lists is one the parser accepts (an unknown one is refused), and
#     each default the help states is a value the parser accepts for that flag;
#   - the README's command reference holds exactly what -h prints.
set -u
. "$(dirname "$0")/../lib/lib.sh"
cd "$ROOT" || exit 1
BIN=$ROOT/darknet
[ -x "$BIN" ] || BIN=$DARKNET

TMP=$(mktemp -d /tmp/ricasso-test-ood-help.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

declare -A ARGS=([ood]="DATA CFG WEIGHTS" [predict]="DATA CFG [WEIGHTS [IMAGE]]" [demo]="DATA CFG [WEIGHTS [VIDEO]]")
declare -A REQUIRED=([ood]="DATA, CFG and WEIGHTS are required" [predict]="DATA and CFG are required" [demo]="DATA and CFG are required")
for cmd in ood predict demo; do
    "$BIN" classifier "$cmd" -h >"$TMP/$cmd.h" 2>"$TMP/$cmd.herr" </dev/null
    rc=$?
    check "$cmd: -h exits 0 (rc $rc) with nothing on stderr" bash -c "[ $rc -eq 0 ] && [ ! -s '$TMP/$cmd.herr' ]"
    check "$cmd: -h starts with its usage line" grep -qxF "usage: darknet classifier $cmd ${ARGS[$cmd]} [flags]" "$TMP/$cmd.h"
    "$BIN" classifier "$cmd" --help >"$TMP/$cmd.help" 2>/dev/null </dev/null
    rc=$?
    check "$cmd: --help exits 0 and prints the same help" bash -c "[ $rc -eq 0 ] && cmp -s '$TMP/$cmd.h' '$TMP/$cmd.help'"
    "$BIN" classifier "$cmd" a.data b.cfg -out x -h >"$TMP/$cmd.h2" 2>/dev/null </dev/null
    rc=$?
    check "$cmd: -h after other arguments still prints the help and exits 0" bash -c "[ $rc -eq 0 ] && cmp -s '$TMP/$cmd.h' '$TMP/$cmd.h2'"

    # No argument at all: the command's own usage, not Darknet's stock classifier line
    # (patch 0092 runs the plugin commands before the stock argument count check).
    "$BIN" classifier "$cmd" >"$TMP/$cmd.none" 2>"$TMP/$cmd.noneerr" </dev/null
    rc=$?
    check "$cmd: no argument: exit 1 (rc $rc), '${REQUIRED[$cmd]}', then the help on stderr" \
        bash -c "[ $rc -eq 1 ] && head -n 1 '$TMP/$cmd.noneerr' | grep -qF '${REQUIRED[$cmd]}' && tail -n +2 '$TMP/$cmd.noneerr' | cmp -s - '$TMP/$cmd.h' && [ ! -s '$TMP/$cmd.none' ]"
    "$BIN" classifier "$cmd" only.data >"$TMP/$cmd.few" 2>"$TMP/$cmd.fewerr" </dev/null
    rc=$?
    check "$cmd: too few arguments: exit 1 (rc $rc), '${REQUIRED[$cmd]}', then the help on stderr" \
        bash -c "[ $rc -eq 1 ] && head -n 1 '$TMP/$cmd.fewerr' | grep -qF '${REQUIRED[$cmd]}' && tail -n +2 '$TMP/$cmd.fewerr' | cmp -s - '$TMP/$cmd.h' && [ ! -s '$TMP/$cmd.few' ]"

    # The flags of the help: "  -name META   help [default X]"
    grep -E '^  -[a-z_]+' "$TMP/$cmd.h" | grep -v '^  -h, --help' >"$TMP/$cmd.flags"
    nflags=$(wc -l <"$TMP/$cmd.flags")
    check "$cmd: the help lists flags ($nflags)" [ "$nflags" -ge 4 ]
    bad=""
    while read -r name meta _; do
        case $meta in [A-Z]*) value="@bad value@" ;; *) value="" ;; esac
        "$BIN" classifier "$cmd" "$TMP/none.data" "$TMP/none.cfg" "$TMP/none.weights" "$name" ${value:+"$value"} >/dev/null 2>"$TMP/err" </dev/null
        rc=$?
        if [ "$rc" -eq 0 ] || [ "$rc" -gt 128 ] || grep -q "unknown option" "$TMP/err"; then bad="$bad $name(rc $rc)"; fi
    done <"$TMP/$cmd.flags"
    check "$cmd: every flag of the help is known to the parser (refused here only for its value or the missing files)" [ -z "$bad" ]
    expect_error "$cmd: a flag the help does not list is refused, with the usage" "unknown option '-frobnicate'" "usage: darknet classifier $cmd" -- \
        "$BIN" classifier "$cmd" "$TMP/none.data" "$TMP/none.cfg" -frobnicate
    bad=""
    ndef=0
    while IFS= read -r line; do
        name=$(echo "$line" | awk '{ print $1 }')
        def=$(echo "$line" | sed -n 's/.*\[default \(.*\)\]$/\1/p')
        [ -n "$def" ] || continue
        ndef=$((ndef + 1))
        "$BIN" classifier "$cmd" "$TMP/none.data" "$TMP/none.cfg" "$TMP/none.weights" "$name" "$def" >/dev/null 2>"$TMP/err" </dev/null
        if grep -qF -- "$name '$def'" "$TMP/err"; then bad="$bad $name=$def"; fi
    done <"$TMP/$cmd.flags"
    check "$cmd: each stated default ($ndef) is a value its flag accepts" [ -z "$bad" ]

    # README: the block after <!-- help: CMD --> is the help, verbatim.
    awk -v c="<!-- help: $cmd -->" '$0 == c { on = 1; next } on && /^```/ { if (++fence == 2) exit; next } on && fence == 1' README.md >"$TMP/$cmd.readme"
    check "$cmd: the README's command reference is what -h prints" cmp -s "$TMP/$cmd.readme" "$TMP/$cmd.h"
    cmp -s "$TMP/$cmd.readme" "$TMP/$cmd.h" || diff "$TMP/$cmd.readme" "$TMP/$cmd.h" | head -n 10
done

check "ood: the help states the defaults of -out, -batch, -odin_t, -odin_eps and -tpr" \
    bash -c "grep -q '^  -out DIR .*\[default results/ood\]$' '$TMP/ood.h' && grep -q '^  -batch N .*\[default 64\]$' '$TMP/ood.h' \
             && grep -q '^  -odin_t T .*\[default 1000\]$' '$TMP/ood.h' && grep -q '^  -odin_eps E .*\[default 0.0014\]$' '$TMP/ood.h' \
             && grep -q '^  -tpr P .*\[default 0.95\]$' '$TMP/ood.h'"
check "predict: -list and -t are in its help, demo's has -headless, -frames and -c" \
    bash -c "grep -q '^  -list LIST' '$TMP/predict.h' && grep -q '^  -t TOP' '$TMP/predict.h' && grep -q '^  -headless' '$TMP/demo.h' \
             && grep -q '^  -frames N' '$TMP/demo.h' && grep -q '^  -c CAMERA .*\[default 0\]$' '$TMP/demo.h'"
expect_error "ood: a bad -score lists the scores" "-score 'nope': one of msp, energy, maxlogit, odin" -- \
    "$BIN" classifier ood "$TMP/none.data" "$TMP/none.cfg" "$TMP/none.weights" -score nope

finish
