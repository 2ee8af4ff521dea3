#!/bin/bash
# The RICASSO training step, Darknet against its PyTorch twin (scripts/bench/ricasso_torch.py);
# a part of scripts/bench-cpu, which builds TOOL and calls this (unless --no-twin).
#
#   scripts/bench/part-twin.sh TOOL [--steps N] [--warmup N] [--infer N] [--threads N]
#                              [--pairs P] [--tolerance E] [--label TEXT] [--out DIR]
#                              [--rounds R]
#
# TOOL is a dn_bench binary (bench-cpu builds build/bench/dn_bench-BUILD). On
# cfg/ricasso-resnet32-cifar10.cfg (512 rows a step: 128 instance rows, 128 second-sampler
# rows, their 128 Mixup and 128 CutMix rows; --pairs P rewrites the cfg's batch to 4P and
# pairs to P, a smaller step for a quick run), on one generated batch:
#   1. Darknet: one training step written out for the twin (`dn_bench --twin-dump`: its
#      initial parameters, the batch, the pairing [mixdata] drew, the costs and every
#      parameter's gradient), then --warmup untimed and --steps (default 5) timed training
#      steps, then --infer (default 5; 0: none) timed inference batches of the cfg's batch.
#   2. The twin: Darknet's parameters loaded, the same mixed batch, one forward and backward
#      pass: the total loss and every parameter tensor's gradient must agree with Darknet's
#      within --tolerance (default 1e-3; per tensor max|g_twin - g_darknet| / max|g_darknet|,
#      for the loss its relative difference); the worst tensors are printed. The twin's
#      backward takes Darknet's ReLU decisions, which may differ from its own only at inputs
#      within rounding of 0 (ties; see ricasso_torch.py). This is also the end-to-end test of
#      the cfg's wiring: the twin states the network by hand and checks it layer by layer
#      against Darknet's parsed cfg. A mismatch stops the part with exit status 1, before any
#      timing is reported.
#   3. The twin's own timing, from Darknet's initial parameters, as Darknet's.
#   4. With --rounds R (default 1), R - 1 more rounds of both timings, one of each per round
#      (the twin checks itself again each time; Darknet first in odd rounds, the twin in even
#      ones): the table gives the medians of the R rounds and their spread, since one timing
#      drifts by 10 % or more on a shared machine.
# Then a table: ms per step, rows per second and inference images per second of each, and
# Darknet's speed over PyTorch's (the step's target in issue 13: >= 1.5).
# Files go to DIR (default build/bench): twin/ (the check files), twin-*.out and twin-*.log.
set -euo pipefail

cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
CFG=cfg/ricasso-resnet32-cifar10.cfg
STEPS=5 WARMUP=2 INFER=5 THREADS=$(nproc) PAIRS= TOL=1e-3 OUT=build/bench LABEL= ROUNDS=1
die() { echo "part-twin: error: $*" >&2; exit 1; }
count() {  # count OPTION VALUE MIN
    if ! [[ $2 =~ ^[0-9]{1,6}$ ]] || (( 10#$2 < $3 )); then
        die "$1 needs a whole number >= $3, not '$2'"
    fi
}
[[ $# -ge 1 && $1 != -* ]] || die "usage: part-twin.sh TOOL [options] (see the header of $0)"
TOOL=$1
shift
while (( $# )); do
    case $1 in
        --steps)   count "$1" "${2-}" 1; STEPS=$2; shift 2 ;;
        --warmup)  count "$1" "${2-}" 0; WARMUP=$2; shift 2 ;;
        --infer)   count "$1" "${2-}" 0; INFER=$2; shift 2 ;;
        --threads) count "$1" "${2-}" 1; THREADS=$2; shift 2 ;;
        --pairs)   count "$1" "${2-}" 1; PAIRS=$2; shift 2 ;;
        --tolerance) [[ ${2-} =~ ^[0-9.]+([eE]-?[0-9]+)?$ ]] || die "--tolerance needs a number, not '${2-}'"
                   TOL=$2; shift 2 ;;
        --label)   [[ -n ${2-} ]] || die "--label needs a text"; LABEL=$2; shift 2 ;;
        --out)     [[ -n ${2-} ]] || die "--out needs a folder"; OUT=$2; shift 2 ;;
        --rounds)  count "$1" "${2-}" 1; ROUNDS=$2; shift 2 ;;
        *) die "unknown argument '$1'" ;;
    esac
done
[[ -x $TOOL ]] || die "no timing tool $TOOL (scripts/bench-cpu builds it)"
[[ -f $CFG ]] || die "no cfg $CFG"
[[ -x $PY ]] && $PY -c 'import torch' 2>/dev/null || die "PyTorch is missing for $PY: apt-get install -y python3-torch"
LABEL=${LABEL:-Darknet ($(basename "$TOOL"))}
# As bench-cpu and ./darknet set them, unless the caller chose others.
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
. scripts/bench/omp-wait.sh
[[ -x ./darknet ]] || die "no ./darknet (make builds it): its OpenMP spin count is what the timing tool gets"
shipped_omp_wait ./darknet || die "no OpenMP spin count from ./darknet"
mkdir -p "$OUT"

cfg_pairs=$(sed -n 's/^pairs=\([0-9]*\)$/\1/p' "$CFG")
[[ -n $cfg_pairs ]] || die "$CFG has no [mixdata] pairs="
cfg=$CFG
if [[ -n $PAIRS && $PAIRS != "$cfg_pairs" ]]; then
    # The same cfg with a smaller step: the [net] batch and the [mixdata] pairs, nothing else.
    cfg=$OUT/twin-ricasso-p$PAIRS.cfg
    awk -v b=$((4 * PAIRS)) -v p="$PAIRS" '
        /^batch=/ && !nb { print "batch=" b; nb = 1; next }
        /^pairs=/ { print "pairs=" p; next }
        { print }' "$CFG" > "$cfg"
fi
P=${PAIRS:-$cfg_pairs}

. scripts/bench/stats.sh   # result, median, spread

echo "== RICASSO training step ($CFG, $((4 * P)) rows: $P pairs), $LABEL against its PyTorch twin, $THREADS threads"
echo "   timed: $STEPS steps and $INFER inference batches of $((4 * P)) rows each side, after $WARMUP warm-up ones"
rm -rf "$OUT/twin"
infer=()
if (( INFER )); then infer=(--infer "$INFER"); fi
DN_MS= PT_MS= DN_INF= PT_INF=
# round R: Darknet's steps and the twin's (which checks itself against the dump each time).
# Round 1 and the odd rounds take Darknet first (round 1 writes the dump), the even ones the
# twin: a run right after another one can run faster on a shared machine, and the medians
# should not lean to one side for it.
round() {
    local r=$1 sfx= dump=() d p
    if (( r > 1 )); then
        sfx=-r$r
        if (( r % 2 )); then echo "== round $r of $ROUNDS: Darknet, then the twin"
        else echo "== round $r of $ROUNDS: the twin, then Darknet"; fi
    else
        dump=(--twin-dump "$OUT/twin")
    fi
    local dn=$OUT/twin-darknet$sfx pt=$OUT/twin-torch$sfx
    if (( r % 2 )); then darknet_steps; twin_steps; else twin_steps; darknet_steps; fi
    d=$(result "$dn.out" step_ms); p=$(result "$pt.out" step_ms)
    [[ -n $d && -n $p ]] || die "a step time is missing ($dn.out, $pt.out)"
    DN_MS+=" $d"; PT_MS+=" $p"
    DN_INF+=" $(result "$dn.out" infer_img_s)"; PT_INF+=" $(result "$pt.out" infer_img_s)"
}
darknet_steps() {  # (round's locals: dn, dump)
    if ! "$TOOL" "$cfg" --steps "$STEPS" --warmup "$WARMUP" "${infer[@]}" "${dump[@]}" > "$dn.out" 2> "$dn.log"; then
        cat "$dn.out"; tail -20 "$dn.log" >&2
        die "the Darknet run failed (log: $dn.log)"
    fi
    sed 's/^/   /' "$dn.out"
}
twin_steps() {  # (round's locals: pt, r)
    if ! $PY scripts/bench/ricasso_torch.py --from "$OUT/twin" --steps "$STEPS" --warmup "$WARMUP" \
            --infer "$INFER" --threads "$THREADS" --tolerance "$TOL" > "$pt.out" 2> "$pt.log"; then
        sed 's/^/   /' "$pt.out"; cat "$pt.log" >&2
        die "the PyTorch twin does not match Darknet's RICASSO step, or failed (log: $pt.log)"
    fi
    if (( r == 1 )); then sed 's/^/   /' "$pt.out"; else sed -n 's/^RESULT/   RESULT/p' "$pt.out"; fi
}
for r in $(seq 1 "$ROUNDS"); do round "$r"; done
dn_ms=$(median "$DN_MS"); pt_ms=$(median "$PT_MS")
dn_inf=0 pt_inf=0
if (( INFER )); then dn_inf=$(median "$DN_INF"); pt_inf=$(median "$PT_INF"); fi
torch_version=$($PY -c 'import torch; print(torch.__version__)')
(( ROUNDS == 1 )) || echo "   medians of $ROUNDS rounds (spread: min-max over the rounds)"
printf "%-34s %10s %10s %12s   %s\n" "RICASSO, $((4 * P)) rows a step" "ms/step" "rows/s" "infer img/s" "spread ms / infer"
# (awk: the conditionals in parentheses, or printf reads ">" as a redirection)
awk -v n="$LABEL" -v m="$dn_ms" -v i="${dn_inf:-0}" -v r=$((4 * P)) -v s="$(spread "$DN_MS") / $( ((INFER)) && spread "$DN_INF" || echo -)" \
    'BEGIN { printf "%-34s %10.1f %10.1f %12s   %s\n", n, m, 1e3 * r / m, (i > 0 ? sprintf("%.1f", i) : "-"), s }'
awk -v n="PyTorch $torch_version twin" -v m="$pt_ms" -v i="${pt_inf:-0}" -v r=$((4 * P)) -v s="$(spread "$PT_MS") / $( ((INFER)) && spread "$PT_INF" || echo -)" \
    'BEGIN { printf "%-34s %10.1f %10.1f %12s   %s\n", n, m, 1e3 * r / m, (i > 0 ? sprintf("%.1f", i) : "-"), s }'
awk -v a="$dn_ms" -v b="$pt_ms" -v i="${dn_inf:-0}" -v j="${pt_inf:-0}" \
    'BEGIN { printf "%-34s %10s %10.2f %12s\n", "Darknet / PyTorch (speed)", "", b / a, ((i > 0 && j > 0) ? sprintf("%.2f", i / j) : "-") }'
echo "   (the step's target: Darknet >= 1.5x its twin; load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
