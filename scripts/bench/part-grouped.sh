# Part of scripts/bench-cpu (sourced by it, never run on its own; --no-grouped leaves it out):
# the experts' stages 2 and 3 as three separate branches against one network of grouped
# convolutions (groups=3; cfg/X-grouped.cfg of scripts/make-cfgs, the layout of the RICASSO
# authors' code), for cfg/lgla-resnet32-cifar10.cfg and cfg/ricasso-resnet32-cifar10.cfg,
# with the fastest build of --builds (the last one).
#
# First, for each pair, `dn_grouped check` on copies with 8 rows ([mixdata] pairs=2): the
# separate network's parameters copied into the grouped one give the same loss, output and
# gradients in this build (else the part stops: timing two different functions would mean
# nothing). Then `dn_grouped time` on each cfg as committed: --warmup untimed and --steps
# timed training steps (forward, backward, update), then --warmup untimed and 2 x --steps
# timed inference batches of the cfg's batch. The table gives ms per step, inference
# images/s, and the grouped form's speed-up over the separate one (separate ms / grouped ms;
# grouped img/s / separate img/s; above 1: grouped is faster).
#
# Uses bench-cpu's LIST, OUT, DN, STEPS, WARMUP, build_info, result and die.

grouped_part() {
    local b=${LIST[-1]} variant lib tool extra c f form infer=$((2 * STEPS))
    declare -A G_STEP G_INFER
    read -r variant _ <<<"$(build_info "$b")"
    lib=build/$variant/libdarknet.a tool=$OUT/dn_grouped-$b
    extra=
    [[ $b == dnnl ]] && extra=-ldnnl
    if [[ ! -x $tool || scripts/bench/dn_grouped.c -nt $tool || $lib -nt $tool || scripts/bench/part-grouped.sh -nt $tool ]]; then
        # shellcheck disable=SC2046,SC2086  # word splitting of the pkg-config output is wanted
        gcc -Ofast -fno-finite-math-only -Wall -Wextra -Werror -fopenmp -I$DN/include -I$DN/src -Isrc/plugin -Isrc/layers -Isrc/data -Isrc/ood -Isrc/accel \
            scripts/bench/dn_grouped.c "$lib" -o "$tool" \
            -lm -pthread $(pkg-config --libs openblas 2>/dev/null || echo -lopenblas) \
            -lopencv_highgui -lopencv_videoio -lopencv_imgcodecs -lopencv_imgproc -lopencv_core \
            -lprotobuf-c -lstdc++ $extra -fopenmp || die "could not build $tool"
    fi
    echo
    echo "== experts' stages 2-3, Darknet $b build: three separate branches against grouped convolutions (groups=3)"
    for c in lgla ricasso; do
        f=cfg/$c-resnet32-cifar10
        [[ -f $f.cfg && -f $f-grouped.cfg ]] || die "no $f.cfg or $f-grouped.cfg (scripts/make-cfgs writes them)"
        for form in "" -grouped; do
            sed -e 's/^batch=.*/batch=8/' -e 's/^pairs=.*/pairs=2/' "$f$form.cfg" >"$OUT/grouped-check-$c$form.cfg"
        done
        if ! "$tool" check "$OUT/grouped-check-$c.cfg" "$OUT/grouped-check-$c-grouped.cfg" \
                >"$OUT/grouped-check-$c.out" 2>"$OUT/grouped-check-$c.log"; then
            cat "$OUT/grouped-check-$c.out"; tail -5 "$OUT/grouped-check-$c.log" >&2
            die "$f-grouped.cfg does not compute what $f.cfg computes in the $b build"
        fi
        sed -n 's/^dn_grouped: check: /   check '"$c"': /p' "$OUT/grouped-check-$c.out"
        for form in "" -grouped; do
            if ! "$tool" time "$f$form.cfg" --steps "$STEPS" --infer "$infer" --warmup "$WARMUP" \
                    >"$OUT/grouped-$c$form.out" 2>"$OUT/grouped-$c$form.log"; then
                cat "$OUT/grouped-$c$form.out"; tail -20 "$OUT/grouped-$c$form.log" >&2
                die "the timing of $f$form.cfg failed"
            fi
            sed 's/^/   /' "$OUT/grouped-$c$form.out"
            G_STEP[$c$form]=$(result "$OUT/grouped-$c$form.out" step_ms)
            G_INFER[$c$form]=$(result "$OUT/grouped-$c$form.out" infer_img_s)
            [[ -n ${G_STEP[$c$form]} && -n ${G_INFER[$c$form]} ]] || die "a timing of $f$form.cfg is missing"
        done
    done
    printf "%-34s %10s %12s %20s\n" "cfg (training batch)" "ms/step" "infer img/s" "grouped speed-up"
    for c in lgla ricasso; do
        awk -v n="$c-resnet32-cifar10" -v bt="$(result "$OUT/grouped-$c.out" batch)" \
            -v s="${G_STEP[$c]}" -v i="${G_INFER[$c]}" -v gs="${G_STEP[$c-grouped]}" -v gi="${G_INFER[$c-grouped]}" 'BEGIN {
            printf "%-34s %10.1f %12.1f %20s\n", n " (" bt ")", s, i, ""
            printf "%-34s %10.1f %12.1f   step %.2f, infer %.2f\n", n "-grouped", gs, gi, s / gs, gi / i }'
    done
    echo "   (speed-up above 1: the grouped form is faster; load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
}
grouped_part
