# Sourced by scripts/bench-cpu and scripts/bench/part-twin.sh.

# darknet_spin_count DARKNET: prints the GOMP_SPINCOUNT that DARKNET gives itself when the
# user sets neither it nor OMP_WAIT_POLICY (darknet-patches/0074, 0077: about 15 microseconds of
# spinning, timed on this CPU; 0, passive, off x86), read from libgomp's own report of the
# re-executed image (OMP_DISPLAY_ENV=verbose; DARKNET prints its usage and exits).
darknet_spin_count() {
    local n
    n=$(env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT OMP_DISPLAY_ENV=verbose "$1" 2>&1 \
        | sed -n "s/^ *GOMP_SPINCOUNT = '\([0-9]*\)'\$/\1/p" | tail -1)
    [[ -n $n ]] || { echo "bench: could not read the OpenMP spin count of $1" >&2; return 1; }
    echo "$n"
}

# shipped_omp_wait DARKNET: sets SHIPPED_SPINCOUNT to DARKNET's own spin count and, unless
# the caller set OMP_WAIT_POLICY or GOMP_SPINCOUNT, exports it as GOMP_SPINCOUNT, so that the
# timing tools, which are not ./darknet, wait for work as it does.
shipped_omp_wait() {
    SHIPPED_SPINCOUNT=$(darknet_spin_count "$1") || return 1
    [[ -n ${OMP_WAIT_POLICY-} || -n ${GOMP_SPINCOUNT-} ]] || export GOMP_SPINCOUNT=$SHIPPED_SPINCOUNT
}
