#!/bin/bash
# scripts/fuzz's command line (the fuzzing itself needs clang and minutes: see the README's
# Fuzzing section): an unknown harness and a non-numeric -runs are refused before anything
# is built; --help prints the usage.
set -u
. "$(dirname "$0")/../lib/lib.sh"
cd "$ROOT" || exit 1

expect_error "fuzz: an unknown harness is refused" "unknown harness or option 'bogus'" "cfg weights data list ood" \
    -- scripts/fuzz bogus
expect_error "fuzz: -runs takes a number" "-runs and -jobs take a number" -- scripts/fuzz -runs many cfg
out=$(scripts/fuzz --help 2>&1)
check "fuzz: --help prints the usage" grep -q "scripts/fuzz \[-runs N\] \[-jobs J\] \[HARNESS...\]" <<<"$out"

finish
