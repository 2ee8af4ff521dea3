#!/bin/bash
# The benchmark scripts without running a benchmark (no shared data needed):
#   - bench-cifar10lt and bench-full-recipe stop with exit 2 and a clear message when the
#     shared data folder is absent, and refuse bad arguments;
#   - bench-full-recipe --dry-run prints the exact plan (the committed cfgs: 38,400 steps of
#     128 instance rows, 512 rows a step for RICASSO and the NOD ablation rows, burn_in 480,
#     steps 30720,34560) and runs nothing;
#   - bench_cfg (scripts/bench-lib.sh) rewrites max_batches, burn_in and steps for E epochs
#     (the same 96 steps an epoch for every method: equal passes over the training set) and
#     scales the convolutions' filters, nothing else, and the result parses; a cfg without
#     the step layout (128 instance rows) is refused;
#   - bench_table builds the side-by-side table (four scores) from classifier ood's CSV files;
#   - scripts/train-progress: progress lines, the CSV, epochs as passes over the training set
#     for 512-row steps (ROWS=4), and the stop at a NaN loss.
set -u
. "$(dirname "$0")/../lib/lib.sh"
test_tmp bench

expect_error "bench-cifar10lt: without the shared data it says so" "the shared data folder $TMP/none is not there" "nothing was run" -- \
    env BENCH_SHARED=$TMP/none "$ROOT"/scripts/bench-cifar10lt --out "$TMP/b1"
BENCH_SHARED=$TMP/none "$ROOT"/scripts/bench-cifar10lt --out "$TMP/b1" >/dev/null 2>&1
check "bench-cifar10lt: ... with exit status 2" [ $? -eq 2 ]
expect_error "bench-full-recipe: without the shared data it says so" "is not there" -- \
    env BENCH_SHARED=$TMP/none DARKNET=$DARKNET "$ROOT"/scripts/bench-full-recipe --out "$TMP/b2" --methods ce
expect_error "bench-cifar10lt: refuses --width 0.3" "--width '0.3'" -- env BENCH_SHARED=$TMP/none "$ROOT"/scripts/bench-cifar10lt --width 0.3
expect_error "bench-cifar10lt: refuses an unknown argument" "unknown argument '--fast'" -- "$ROOT"/scripts/bench-cifar10lt --fast
expect_error "bench-full-recipe: refuses an unknown method" "unknown method 'svm'" -- "$ROOT"/scripts/bench-full-recipe --methods ce,svm
expect_error "bench-cifar10lt: refuses an unknown method" "unknown method 'svm'" -- "$ROOT"/scripts/bench-cifar10lt --methods lgla,svm
expect_error "bench-cifar10lt: refuses --eval-ood -1" "--eval-ood '-1'" -- "$ROOT"/scripts/bench-cifar10lt --eval-ood -1
expect_error "bench-full-recipe: refuses --measure 3 (steps 2..N time the step)" "--measure '3'" -- "$ROOT"/scripts/bench-full-recipe --measure 3

BENCH_SHARED=$TMP/none "$ROOT"/scripts/bench-full-recipe --dry-run --out "$TMP/b3" >"$TMP/dry.out" 2>&1
rc=$?
check "bench-full-recipe --dry-run: exits 0 without the shared data (rc $rc)" [ "$rc" -eq 0 ]
check "bench-full-recipe --dry-run: CE, LA, LGLA: 38400 steps of 128 rows, burn_in 480, steps 30720,34560" \
    [ "$(grep -E '^  (ce|la|lgla) ' "$TMP/dry.out" | grep -cF -- '-resnet32-cifar10.cfg -seed 1   (38400 steps of 128 rows, burn_in 480, steps 30720,34560)')" -eq 3 ]
check "bench-full-recipe --dry-run: RICASSO: the same 38400 steps, of 512 rows" \
    grep -qE '^  ricasso .*cfg/ricasso-resnet32-cifar10.cfg -seed 1   \(38400 steps of 512 rows, burn_in 480, steps 30720,34560\)$' "$TMP/dry.out"
check "bench-full-recipe --dry-run: one classifier ood per method, and nothing run" \
    bash -c "[ \$(grep -c 'classifier ood ' '$TMP/dry.out') -eq 4 ] && grep -q 'nothing run' '$TMP/dry.out' && [ -z \"\$(ls -A '$TMP/b3')\" ]"
BENCH_SHARED=$TMP/none "$ROOT"/scripts/bench-full-recipe --dry-run --ablation --out "$TMP/b4" >"$TMP/dry4.out" 2>&1
check "bench-full-recipe --dry-run --ablation: adds the rows +NOD+RCL and +AALA (the ablation cfgs, 512 rows a step)" \
    bash -c "grep -qE '^  nod +darknet classifier train .*cfg/ablation/ricasso-nod1-aala0-cbcl0.cfg -seed 1   \(38400 steps of 512 rows' '$TMP/dry4.out' \
             && grep -qE '^  nod-aala darknet classifier train .*cfg/ablation/ricasso-nod1-aala1-cbcl0.cfg -seed 1   \(38400 steps of 512 rows' '$TMP/dry4.out' \
             && [ \$(grep -c 'classifier ood ' '$TMP/dry4.out') -eq 6 ]"

# bench_cfg, from the library itself
bench_out=$(ROOT=$ROOT PROG=t bash -c '. "$ROOT"/scripts/bench-lib.sh; for m in ce la lgla ricasso nod nod-aala; do bench_cfg "$(method_cfg $m)" '"$TMP"'/$m.cfg 10 0.5 || exit 1; done' 2>&1)
check "bench_cfg: rewrites the six cfgs ($bench_out)" [ -s "$TMP/nod-aala.cfg" ]
for m in ce la lgla ricasso nod nod-aala; do
    src=$(ROOT=$ROOT PROG=t bash -c '. "$ROOT"/scripts/bench-lib.sh; method_cfg '"$m")
    check "bench_cfg $m: 10 epochs = 960 steps (96 an epoch for every method), burn_in 96 (a tenth), steps 768,864" \
        bash -c "grep -qx 'max_batches=960' '$TMP/$m.cfg' && grep -qx 'burn_in=96' '$TMP/$m.cfg' && grep -qx 'steps=768,864' '$TMP/$m.cfg'"
    check "bench_cfg $m: only max_batches, burn_in, steps and the filters change" \
        bash -c "diff '$src' '$TMP/$m.cfg' | grep '^[<>]' | grep -v -E '^[<>] (max_batches|burn_in|steps|filters)=' | grep -q . && exit 1 || exit 0"
    check "bench_cfg $m: filters halved (16/32/64 -> 8/16/32)" \
        bash -c "[ \"\$(grep '^filters=' '$src' | sed 's/filters=//' | awk '{ printf \"%d \", \$1 / 2 }')\" = \"\$(grep '^filters=' '$TMP/$m.cfg' | sed 's/filters=//' | tr '\n' ' ')\" ]"
    # the parse needs no 512-row buffers: batch and pairs cut to 4 rows
    sed 's/^batch=.*/batch=4/; s/^pairs=.*/pairs=1/' "$TMP/$m.cfg" >"$TMP/$m-b4.cfg"
    expect_ok "bench_cfg $m: the rewritten cfg parses" "$TOOLS/tool_cfgcheck" "$TMP/$m-b4.cfg"
done
check "bench_cfg: ricasso and nod keep 512 rows a step and pairs=128" \
    bash -c "grep -qx 'batch=512' '$TMP/ricasso.cfg' && grep -qx 'pairs=128' '$TMP/ricasso.cfg' && grep -qx 'batch=512' '$TMP/nod.cfg'"
sed 's/^batch=128/batch=64/' "$ROOT"/cfg/lgla-resnet32-cifar10.cfg >"$TMP/b64.cfg"
expect_error "bench_cfg: refuses a cfg with batch=64 (not 128 instance rows a step)" "batch=64, not the step layout of 128 instance rows" -- \
    env ROOT="$ROOT" PROG=t bash -c '. "$ROOT"/scripts/bench-lib.sh; bench_cfg "$1" "$2" 10 1' _ "$TMP/b64.cfg" "$TMP/b64.out.cfg"
sed 's/^pairs=128/pairs=32/' "$ROOT"/cfg/ricasso-resnet32-cifar10.cfg >"$TMP/p32.cfg"
expect_error "bench_cfg: refuses [mixdata] pairs=32 (the old 32 instance rows of 128)" "[mixdata] pairs=32 with batch=512" -- \
    env ROOT="$ROOT" PROG=t bash -c '. "$ROOT"/scripts/bench-lib.sh; bench_cfg "$1" "$2" 10 1' _ "$TMP/p32.cfg" "$TMP/p32.out.cfg"
ROOT=$ROOT PROG=t bash -c '. "$ROOT"/scripts/bench-lib.sh; bench_cfg "$ROOT"/cfg/ce-resnet32-cifar10.cfg '"$TMP"'/ce400.cfg 400 1'
check "bench_cfg: 400 epochs at width 1 is the committed cfg" cmp -s "$ROOT"/cfg/ce-resnet32-cifar10.cfg "$TMP/ce400.cfg"

# bench_table on made-up results
for m in a b; do
    mkdir -p "$TMP/w/results/$m"
    printf 'group,classes,images,correct,accuracy,rule\nall,10,100,80,0.800000,\nmany,3,30,27,0.900000,x\nmedium,4,40,32,0.800000,x\nfew,3,30,21,0.700000,x\n' >"$TMP/w/results/$m/accuracy.csv"
    {
        echo "set,images,score,auroc,aupr_in,aupr_out,fpr95,threshold,id_accepted"
        for s in tin mnist average; do for sc in msp energy maxlogit odin; do
            echo "$s,10,$sc,0.$([ $m = a ] && echo 6 || echo 9)1,0.5,0.5,0.$([ $m = a ] && echo 8 || echo 2)5,1,0.95"
        done; done
    } >"$TMP/w/results/$m/metrics.csv"
done
ROOT=$ROOT WORK=$TMP/w PROG=t bash -c '. "$ROOT"/scripts/bench-lib.sh; bench_table a b' >"$TMP/table.txt" 2>&1
check "bench_table: accuracy rows, one column per method" \
    bash -c "grep -qE '^ID top-1 accuracy % +80.00 +80.00$' '$TMP/table.txt' && grep -qE '^  few-shot % +70.00 +70.00$' '$TMP/table.txt'"
check "bench_table: AUROC and FPR95 of msp, energy, maxlogit and odin per set, average last" \
    bash -c "grep -qE '^  odin +AUROC % +61.00 +91.00$' '$TMP/table.txt' && grep -qE '^  energy +FPR95 % +85.00 +25.00$' '$TMP/table.txt' \
             && grep -qE '^  maxlogit AUROC % +61.00 +91.00$' '$TMP/table.txt' \
             && [ \"\$(grep '^OOD: ' '$TMP/table.txt' | tr '\n' ' ')\" = 'OOD: tin OOD: mnist OOD: average ' ] \
             && [ \$(grep -c 'AUROC' '$TMP/table.txt') -eq 12 ]"
check "bench_table: TABLE.txt and TABLE.csv written" bash -c "[ -s '$TMP/w/results/TABLE.txt' ] && grep -q '^ID top-1 accuracy %,80.0000,80.0000$' '$TMP/w/results/TABLE.csv'"

# train-progress
{
    for i in 1 2 3 4 5 6; do
        echo "Loaded: 0.0001 seconds"
        echo "$i, 0.$i: 2.5, 2.6 avg, 0.1 rate, 0.01 seconds, $((i * 64)) images"
        echo "   losses: RCL -0.5 CBCL 0.1 NOD 2.$i  total 1.$i"
    done
} | "$ROOT"/scripts/train-progress t 6 "$TMP/p.csv" >"$TMP/p.out"
check "train-progress: a line per iteration for 6 iterations, with epoch, ETA and the mean components" \
    bash -c "[ \$(wc -l <'$TMP/p.out') -eq 6 ] && grep -qE '^\[100%\] iter 6/6  epoch   0.60  0m00s elapsed  ETA 0m00s  \| NOD 2.6000  CBCL 0.1000  RCL -0.5000  total 1.6000$' '$TMP/p.out'"
check "train-progress: the CSV has every iteration" \
    bash -c "[ \$(awk -F, 'NR > 1' '$TMP/p.csv' | wc -l) -eq 6 ] && [ \"\$(sed -n 2p '$TMP/p.csv' | cut -d, -f1-5,7-)\" = '1,0.1,2.5,0.1,0.01,2.1,0.1,-0.5,1.1' ]"
{
    for i in 1 2; do
        echo "$i, 0.$((4 * i)): 2.5, 2.6 avg, 0.1 rate, 0.01 seconds, $((i * 64)) images"
        echo "   losses: RCL -0.5 CBCL 0.1 NOD 2.$i  total 1.$i"
    done
} | "$ROOT"/scripts/train-progress t 2 "$TMP/r.csv" 4 >"$TMP/r.out"
check "train-progress ROWS=4: the epoch counts passes over the training set (Darknet's / 4), on screen and in the CSV" \
    bash -c "grep -qE '^\[100%\] iter 2/2  epoch   0.20 ' '$TMP/r.out' && [ \"\$(sed -n 3p '$TMP/r.csv' | cut -d, -f1-2)\" = '2,0.200000' ]"
{
    echo "1, 0.1: 2.5, 2.6 avg, 0.1 rate, 0.01 seconds, 64 images"
    echo "   losses: RCL -0.5 CBCL -nan NOD 2.1  total -nan"
    echo "2, 0.2: 2.5, 2.6 avg, 0.1 rate, 0.01 seconds, 128 images"
} | "$ROOT"/scripts/train-progress t 2 "$TMP/n.csv" >"$TMP/n.out"
rc=$?
check "train-progress: stops with status 3 at a NaN component, naming it (rc $rc)" \
    bash -c "[ $rc -eq 3 ] && grep -qx 't: iteration 1: CBCL is -nan: stopping' '$TMP/n.out'"

finish
