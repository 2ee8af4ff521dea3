#!/bin/bash
# How the shipped binary's OpenMP threads wait (darknet-patches/0026), checked on ./darknet
# (the default `make` build, which is what users run):
#   - with neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT set, ./darknet re-executes itself once
#     with a GOMP_SPINCOUNT of its own (darknet-patches/0074, 0077: about 15 microseconds of
#     spinning, timed on this CPU, clamped to 100-100000): two program images, the second
#     with that count, which is neither libgomp's default nor passive;
#   - a policy the user gave (ACTIVE, PASSIVE, or a GOMP_SPINCOUNT) is what libgomp uses, and
#     nothing is re-executed;
#   - the re-executed run gets the same arguments (its error names the same command).
# libgomp prints the settings it runs with when OMP_DISPLAY_ENV=verbose, once per program
# image; GOMP_SPINCOUNT there is 0 for passive waiting, 300000 for libgomp's default and
# 30000000000 for ACTIVE. Lives in tests/accel with the other CPU speed checks.
set -u
. "$(dirname "$0")/../lib/lib.sh"
cd "$ROOT" || exit 1
BIN=$ROOT/darknet
if [ ! -x "$BIN" ]; then
    fail "omp wait: ./darknet exists" "no $BIN (make builds it)"
    finish
    exit
fi

# spins [VAR=VALUE...]: the GOMP_SPINCOUNT of each program image of `./darknet` (which
# prints its usage and exits 1), space-separated, with only the given variables set.
spins() {
    env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "$@" OMP_DISPLAY_ENV=verbose "$BIN" 2>&1 \
        | sed -n "s/^ *GOMP_SPINCOUNT = '\([0-9]*\)'\$/\1/p" | tr '\n' ' '
}

got=$(spins)
# (The first image's count is libgomp's default, whatever this libgomp makes it.)
check "omp wait: unset: re-executed once, then a bounded spin (spin counts: '$got')" grep -Eqx '[0-9]+ [0-9]+ ' <<<"$got"
second=${got#* }
second=${second% }
in_range() { [[ $1 =~ ^[0-9]+$ ]] && (( $1 >= $2 && $1 <= $3 )); }
check "omp wait: the bounded spin is 100 to 100000 rounds ('$second')" in_range "$second" 100 100000
got=$(spins OMP_WAIT_POLICY=ACTIVE)
check "omp wait: the user's ACTIVE is kept, no re-exec ('$got')" [ "$got" = "30000000000 " ]
got=$(spins OMP_WAIT_POLICY=PASSIVE)
check "omp wait: the user's PASSIVE, no re-exec ('$got')" [ "$got" = "0 " ]
got=$(spins GOMP_SPINCOUNT=1000)
check "omp wait: the user's GOMP_SPINCOUNT is kept, no re-exec ('$got')" [ "$got" = "1000 " ]

# The re-executed image sees the same arguments: the classifier's unknown-command error
# names the command given.
expect_error "omp wait: re-executed run keeps its arguments" "unknown classifier command 'no-such-command'" -- \
    env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "$BIN" classifier no-such-command a b c

finish
