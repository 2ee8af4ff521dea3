# Shared parts of scripts/bench-cifar10lt and scripts/bench-full-recipe (sourced, never run).
# The caller sets ROOT, DARKNET, WORK and PROG before calling these.
#
#   bench_shared                 finds ../shared/data (or $BENCH_SHARED) and checks its files
#   bench_data                   CIFAR-10-LT IR 100 + the three OOD sets under $WORK/data
#   method_cfg NAME              the committed cfg of a method (or ablation row)
#   bench_cfg SRC DST EPOCHS WIDTH   a cfg with the schedule for EPOCHS and the width
#   bench_train NAME CFG ITERS   trains into $WORK/backup, progress on stdout, checks the run
#   bench_eval NAME CFG WEIGHTS [ARGS]   classifier ood into $WORK/results/NAME
#   bench_table NAME...          the side-by-side table of the results folders

METHODS=(ce la lgla ricasso)
# The rows of the paper's ablation (Table 4), each adding to the one before: LGLA, +NOD and
# RCL (RCL needs the mixed rows), +AALA, +CBCL (= RICASSO).
ABLATION=(lgla nod nod-aala ricasso)
declare -A METHOD_TITLE=([ce]="plain CE" [la]="logit-adjusted CE" [lgla]="LGLA" [ricasso]="RICASSO"
                         [nod]="LGLA +NOD+RCL" [nod-aala]="LGLA +NOD+RCL +AALA"
                         [uniform]="RICASSO, uniform 2nd sampler")
N_TRAIN=12406   # CIFAR-10-LT IR 100
# Instance rows per step for every method (the authors' B = 128): a cfg without [mixdata]
# has batch=128; one with it has batch=512 and [mixdata] pairs=128 (instance, second
# sampler, Mixup, CutMix). An epoch is N_TRAIN // PAIRS steps for all of them.
PAIRS=128

die() { echo "$PROG: error: $*" >&2; exit 1; }
step() { printf '\n== [%5ds] %s\n' $((SECONDS - START)) "$*"; }
show_tail() { echo "---- last lines of $1:" >&2; tail -n 15 "$1" >&2 || true; echo "----" >&2; }
fmt_time() { printf '%dh%02dm%02ds' $(($1 / 3600)) $(($1 % 3600 / 60)) $(($1 % 60)); }

bench_shared() {
    SHARED=${BENCH_SHARED:-$ROOT/../shared/data}
    if [[ ! -d $SHARED ]]; then
        echo "$PROG: error: the shared data folder $SHARED is not there." >&2
        echo "$PROG: this benchmark needs CIFAR-10 and the OOD sets of ../shared/data (cifar10/," \
             "ood-tinyimagenet/, ood-textures/, ood-mnist/); set BENCH_SHARED=DIR if they are elsewhere." >&2
        echo "$PROG: nothing was run (the build and the test suite do not need that folder)." >&2
        exit 2
    fi
    SHARED=$(cd "$SHARED" && pwd)
    local f missing=()
    for f in cifar10/to-cifar-bin cifar10/train.jpgstream.gz cifar10/test.jpgstream.gz \
             ood-tinyimagenet/tinyimagenet_val_32.bin.gz ood-textures/textures10_32.bin.gz ood-mnist/mnist_32.bin.gz; do
        [[ -f $SHARED/$f ]] || missing+=("$f")
    done
    if (( ${#missing[@]} )); then
        echo "$PROG: error: $SHARED lacks ${missing[*]}" >&2
        exit 2
    fi
}

# CIFAR-10 in the official binary layout (decoded once by the shared folder's own script),
# then CIFAR-10-LT IR 100 with ood_tinyimagenet, ood_textures and ood_mnist.
bench_data() {
    DATADIR=$WORK/data
    DATA=$DATADIR/cifar10-lt-ir100.data
    if [[ -f $DATA && -f $WORK/.data-done ]]; then
        echo "reusing $DATADIR"
        return 0
    fi
    # to-cifar-bin runs under its own #! interpreter (Debian's python3) and needs Pillow there.
    local py
    py=$(head -n 1 "$SHARED/cifar10/to-cifar-bin" | sed -n 's/^#! *\([^ ]*\).*/\1/p')
    [[ $py == */env ]] && py=python3
    "${py:-python3}" -c 'import PIL' 2>/dev/null \
        || die "${py:-python3} lacks Pillow, which $SHARED/cifar10/to-cifar-bin needs to decode the JPEGs (apt-get install python3-pil)"
    rm -rf "$WORK/cifar-bin" "$WORK/.data-done"
    "$SHARED/cifar10/to-cifar-bin" "$WORK/cifar-bin" || die "decoding the shared CIFAR-10 failed"
    "$ROOT/scripts/make-cifar-lt" "$WORK/cifar-bin" "$DATADIR" --force --ir 100 --backup "$WORK/backup" \
        --ood "tinyimagenet=$SHARED/ood-tinyimagenet/tinyimagenet_val_32.bin.gz" \
        --ood "textures=$SHARED/ood-textures/textures10_32.bin.gz" \
        --ood "mnist=$SHARED/ood-mnist/mnist_32.bin.gz" || die "making CIFAR-10-LT failed"
    rm -rf "$WORK/cifar-bin"
    [[ $(paste -sd' ' "$DATADIR/counts-ir100.txt") == "5000 2997 1796 1077 645 387 232 139 83 50" ]] \
        || die "$DATADIR/counts-ir100.txt is not CIFAR-10-LT IR 100's 5000 ... 50"
    touch "$WORK/.data-done"
}

method_cfg() {
    case $1 in
        nod) echo "$ROOT/cfg/ablation/ricasso-nod1-aala0-cbcl0.cfg" ;;
        nod-aala) echo "$ROOT/cfg/ablation/ricasso-nod1-aala1-cbcl0.cfg" ;;
        uniform) echo "$ROOT/cfg/ablation/ricasso-uniform-sampler.cfg" ;;
        *) echo "$ROOT/cfg/$1-resnet32-cifar10.cfg" ;;
    esac
}

# rows_of CFG: rows per step (the [net] batch)
rows_of() { awk '/^\[/ { sec = $0 } sec == "[net]" && /^batch=/ { print substr($0, 7); exit }' "$1"; }

# bench_cfg SRC DST EPOCHS WIDTH: LGLA's schedule scaled to EPOCHS passes over the training
# set (N_TRAIN // PAIRS steps each; warm-up 5 epochs, or a tenth of the run when shorter; lr
# x0.1 at 80% and 90%, as 320 and 360 of 400), and every [convolutional] layer's filters
# times WIDTH (1, 0.5, 0.25). Nothing else changes. The cfg must have the step layout above.
bench_cfg() {
    local src=$1 dst=$2 epochs=$3 width=$4
    awk -v ep="$epochs" -v w="$width" -v n="$N_TRAIN" -v b="$PAIRS" '
        BEGIN { ipe = int(n / b); it = int(ep * ipe + 0.5); if (it < 1) it = 1
                burn = 5 * ipe; if (burn > int(it / 10)) burn = int(it / 10)
                s1 = int(it * 0.8); s2 = int(it * 0.9); if (s1 < 1) s1 = 1; if (s2 <= s1) s2 = s1 + 1 }
        /^\[/ { sec = $0 }
        sec == "[net]" && /^max_batches=/ { print "max_batches=" it; next }
        sec == "[net]" && /^burn_in=/ { print "burn_in=" burn; next }
        sec == "[net]" && /^steps=/ { print "steps=" s1 "," s2; next }
        sec == "[net]" && /^batch=/ { rows = substr($0, 7) + 0 }
        sec == "[mixdata]" && /^pairs=/ { pairs = substr($0, 7) + 0 }
        /^\[mixdata\]/ { mix = 1 }
        sec == "[convolutional]" && /^filters=/ { f = substr($0, 9) * w; if (f < 1 || f != int(f)) { print "bench: width " w " gives " f " filters" > "/dev/stderr"; exit 1 } print "filters=" f; next }
        { print }
        END { if (mix ? (pairs != b || rows != 4 * b) : rows != b) {
                  printf "bench: %s: %s, not the step layout of %d instance rows\n", FILENAME,
                         mix ? "[mixdata] pairs=" pairs " with batch=" rows : "batch=" rows, b > "/dev/stderr"; exit 1 } }' "$src" >"$dst" || die "cannot rewrite $src (see above)"
}

iters_of() { sed -n 's/^max_batches=\([0-9]*\)$/\1/p' "$1" | head -n 1; }

# bench_train NAME CFG ITERS [LOGNAME]
bench_train() {
    local name=$1 cfg=$2 iters=$3 log=$WORK/logs/${4:-$1}.log ok=1 w
    w=$WORK/backup/$(basename "$cfg" .cfg).weights
    mkdir -p "$WORK/logs" "$WORK/backup"
    rm -f "$w"
    stdbuf -oL "$DARKNET" classifier train "$DATA" "$cfg" -seed "${BENCH_SEED:-1}" 2>&1 \
        | tee "$log" | "$ROOT/scripts/train-progress" "$name" "$iters" "${log%.log}-losses.csv" $(( $(rows_of "$cfg") / PAIRS )) || ok=0
    grep -Eq '^[0-9]+, [0-9.]+: -?(nan|inf)' "$log" && die "$name: the loss became NaN or infinite; see $log"
    (( ok )) || { show_tail "$log"; die "$name: training failed"; }
    [[ -s $w ]] || { show_tail "$log"; die "$name: training ended without writing $w"; }
    grep -Eq "^$iters, [0-9.]+: " "$log" || { show_tail "$log"; die "$name: training did not reach iteration $iters"; }
}

# per-iteration wall time of a training log's CSV (iterations 2.. last; the first one pays
# for the start-up)
per_iter() {
    awk -F, 'NR > 2 { if (a == "") a = $6; b = $6; n++ } END { if (n > 1) printf "%.3f", (b - a) / (n - 1); else print "nan" }' "$1"
}

# bench_eval NAME CFG WEIGHTS [extra classifier ood args]
bench_eval() {
    local name=$1 cfg=$2 weights=$3
    shift 3
    local out=$WORK/results/$name log=$WORK/logs/ood-$name.log
    rm -rf "$out"
    mkdir -p "$WORK/results" "$WORK/logs"
    if ! "$DARKNET" classifier ood "$DATA" "$cfg" "$weights" -out "$out" "$@" >"$log" 2>"$log.err"; then
        show_tail "$log.err"
        die "$name: classifier ood failed"
    fi
    [[ -s $out/metrics.csv && -s $out/accuracy.csv ]] || die "$name: classifier ood wrote no metrics to $out"
}

# bench_table NAME...: ACC and many/medium/few-shot accuracy, then AUROC and FPR95 of MSP,
# energy, max-logit and ODIN per OOD set and their average, one column per method; also
# TABLE.csv.
bench_table() {
    python3 - "$WORK/results" "$@" <<'EOF'
import csv, os, sys
res, names = sys.argv[1], sys.argv[2:]
acc, met, sets = {}, {}, []
for n in names:
    with open(os.path.join(res, n, "accuracy.csv")) as f:
        acc[n] = {r["group"]: float(r["accuracy"]) for r in csv.DictReader(f)}
    with open(os.path.join(res, n, "metrics.csv")) as f:
        for r in csv.DictReader(f):
            met[(n, r["set"], r["score"])] = (float(r["auroc"]), float(r["fpr95"]))
            if r["set"] not in sets:
                sets.append(r["set"])
sets = [s for s in sets if s != "average"] + (["average"] if "average" in sets else [])
w = max(12, max(len(n) for n in names) + 2)
lines = ["%-28s" % "" + "".join("%*s" % (w, n) for n in names)]
csvrows = [["row"] + names]
def add(label, vals, fmt="%.2f"):
    lines.append("%-28s" % label + "".join("%*s" % (w, (fmt % v) if v is not None else "-") for v in vals))
    csvrows.append([label] + ["" if v is None else "%.4f" % v for v in vals])
for g, label in (("all", "ID top-1 accuracy %"), ("many", "  many-shot %"), ("medium", "  medium-shot %"), ("few", "  few-shot %")):
    add(label, [100 * acc[n][g] if g in acc[n] else None for n in names])
for s in sets:
    lines.append("")
    lines.append("OOD: %s" % s)
    for sc in ("msp", "energy", "maxlogit", "odin"):
        add("  %-8s AUROC %%" % sc, [100 * met[(n, s, sc)][0] if (n, s, sc) in met else None for n in names])
        add("  %-8s FPR95 %%" % sc, [100 * met[(n, s, sc)][1] if (n, s, sc) in met else None for n in names])
text = "\n".join(lines)
print(text)
with open(os.path.join(res, "TABLE.txt"), "w") as f:
    f.write(text + "\n")
with open(os.path.join(res, "TABLE.csv"), "w") as f:
    csv.writer(f, lineterminator="\n").writerows(csvrows)
EOF
}
