# The bf16 part of scripts/bench-cpu (sourced by it, never run on its own; --no-bf16 leaves
# it out). It uses bench-cpu's settings and helpers: OUT, LIST, CFG, TRAIN, INFER, WARMUP,
# THREADS, PY, die and result.
#
# ResNet-32 ($CFG), batch 128, with Darknet's dnnl build: training and inference timed in
# float and with [net] bf16=1 (bf16 convolutions through oneDNN, darknet-patches/0070), one
# right after the other in this run, by the same dn_bench tool as part 1 on the same
# generated batch; then PyTorch's float and bf16 autocast (scripts/bench/resnet32_torch_bf16.py)
# the same way. Printed: images/s and the ratio bf16 / float of each. There is no target.
# Where the CPU has no bf16 instructions (Darknet refuses bf16=1 there) or the dnnl build is
# not among --builds, the part says so and is skipped; any other failure is an error.

bf16_part() {
    local tool=$OUT/dn_bench-dnnl cfg16 mode
    local -A dtrain dinfer dloss
    echo
    echo "== bf16: ResNet-32 training and inference, float against [net] bf16=1 (Darknet dnnl build), and PyTorch's bf16 autocast"
    if [[ " ${LIST[*]} " != *" dnnl "* || ! -x $tool ]]; then
        echo "   skipped: needs the dnnl build among --builds"
        return 0
    fi
    cfg16=$OUT/bf16-$(basename "$CFG")
    # The cfg with bf16=1 at the top of its [net] section (a bf16 key of its own removed).
    awk '!/^bf16=/ { print } /^\[(net|network)\]/ && !done { print "bf16=1"; done = 1 }' "$CFG" >"$cfg16"
    grep -qx 'bf16=1' "$cfg16" || die "no [net] section in $CFG"
    for mode in float bf16; do
        local c=$CFG
        [[ $mode == bf16 ]] && c=$cfg16
        if ! "$tool" "$c" --train "$TRAIN" --infer "$INFER" --warmup "$WARMUP" \
                >"$OUT/bf16-$mode.out" 2>"$OUT/bf16-$mode.log"; then
            if [[ $mode == bf16 ]] && grep -q 'bf16=1: this CPU has no bfloat16 instructions' "$OUT/bf16-$mode.log"; then
                echo "   skipped: $(grep -m1 'bf16=1:' "$OUT/bf16-$mode.log" | sed 's/^darknet: error: [^ ]*: //')"
                return 0
            fi
            cat "$OUT/bf16-$mode.out"; tail -20 "$OUT/bf16-$mode.log" >&2
            die "the $mode run of the bf16 part failed"
        fi
        sed "s/^/   $mode: /" "$OUT/bf16-$mode.out"
        dtrain[$mode]=$(result "$OUT/bf16-$mode.out" train_img_s)
        dinfer[$mode]=$(result "$OUT/bf16-$mode.out" infer_img_s)
        dloss[$mode]=$(result "$OUT/bf16-$mode.out" loss)
        [[ -n ${dtrain[$mode]} && -n ${dinfer[$mode]} ]] || die "a timing of the $mode run is missing"
    done
    if grep -q 'runs in float' "$OUT/bf16-bf16.log"; then
        echo "   note: some convolutions had no jit bf16 kernel and ran in float:"
        grep 'runs in float' "$OUT/bf16-bf16.log" | sort -u | sed 's/^/     /'
    fi

    local pt_ft= pt_fi= pt_bt= pt_bi=
    if $PY scripts/bench/resnet32_torch_bf16.py --train "$TRAIN" --infer "$INFER" --warmup "$WARMUP" \
            --threads "$THREADS" >"$OUT/bf16-torch.out" 2>"$OUT/bf16-torch.log"; then
        sed 's/^/   /' "$OUT/bf16-torch.out"
        pt_ft=$(result "$OUT/bf16-torch.out" f32_train_img_s); pt_fi=$(result "$OUT/bf16-torch.out" f32_infer_img_s)
        pt_bt=$(result "$OUT/bf16-torch.out" bf16_train_img_s); pt_bi=$(result "$OUT/bf16-torch.out" bf16_infer_img_s)
    else
        tail -5 "$OUT/bf16-torch.log" | sed 's/^/   /'
        die "the PyTorch run of the bf16 part failed (log: $OUT/bf16-torch.log)"
    fi

    echo
    printf "%-34s %12s %12s %12s\n" "ResNet-32, batch 128" "train img/s" "infer img/s" "final loss"
    awk -v ft="${dtrain[float]}" -v fi="${dinfer[float]}" -v bt="${dtrain[bf16]}" -v bi="${dinfer[bf16]}" \
        -v fl="${dloss[float]:-nan}" -v bl="${dloss[bf16]:-nan}" \
        -v pft="$pt_ft" -v pfi="$pt_fi" -v pbt="$pt_bt" -v pbi="$pt_bi" 'BEGIN {
        printf "%-34s %12.1f %12.1f %12s\n", "Darknet dnnl, float", ft, fi, fl
        printf "%-34s %12.1f %12.1f %12s\n", "Darknet dnnl, bf16=1", bt, bi, bl
        printf "%-34s %12.2f %12.2f\n", "  bf16 / float", bt / ft, bi / fi
        printf "%-34s %12.1f %12.1f\n", "PyTorch, float", pft, pfi
        if (pbt == "nan" || pbt == "") print "PyTorch, bf16 autocast             unavailable (see above)"
        else {
            printf "%-34s %12.1f %12.1f\n", "PyTorch, bf16 autocast", pbt, pbi
            printf "%-34s %12.2f %12.2f\n", "  bf16 / float", pbt / pft, pbi / pfi
            printf "%-34s %12.2f %12.2f\n", "Darknet bf16 / PyTorch bf16", bt / pbt, bi / pbi
        } }'
    echo "   ($THREADS threads, load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
}
