#!/bin/bash
# scripts/make-cfgs and the committed cfgs it writes:
#   - the committed files are what the script writes now (edit the script, not the cfgs);
#   - the step layout of the authors' trainer: every cfg with [mixdata] has batch=512 and
#     pairs=128 (128 instance, 128 second-sampler, 128 Mixup, 128 CutMix rows), the others
#     batch=128; every cfg of a data set has the same schedule, counted in passes over the
#     training set: 400 epochs of n_train // 128 iterations (CIFAR-10-LT IR 100: 12,406
#     images, 96 iterations, max_batches 38400, burn_in 480, steps 30720,34560);
#   - the step size: learning_rate 0.4 and decay 0.00005 with [mixdata] (Darknet divides by
#     512 rows what the authors sum as four means of 128), 0.1 and 0.0002 without; [cbcl]
#     and [rcl] lambdas 0.025 and 0.25 with [mixdata], 0.1 without; nesterov=1 everywhere;
#   - option-A shortcuts: no 1x1 convolution anywhere.
set -u
. "$(dirname "$0")/../lib/lib.sh"
cd "$ROOT" || exit 1

TMP=$(mktemp -d /tmp/ricasso-test-make-cfgs.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

out=$(python3 scripts/make-cfgs "$TMP" 2>&1)
rc=$?
check "make-cfgs: runs (rc $rc: $out)" [ "$rc" -eq 0 ]
mapfile -t made < <(cd "$TMP" && find . -name '*.cfg' | sed 's|^\./||' | sort)
check "make-cfgs: writes 24 cfgs (wrote ${#made[@]})" [ "${#made[@]}" -eq 24 ]
stale=()
for f in "${made[@]}"; do cmp -s "$TMP/$f" "cfg/$f" || stale+=("$f"); done
check "make-cfgs: the committed cfgs are up to date (differ: ${stale[*]:-none}; run scripts/make-cfgs)" [ ${#stale[@]} -eq 0 ]

# net_key FILE KEY: the key's value in [net]
net_key() { awk -v k="$2" '/^\[/ { sec = $0 } sec == "[net]" && index($0, k "=") == 1 { print substr($0, length(k) + 2); exit }' "$1"; }
sec_key() { awk -v s="[$2]" -v k="$3" '/^\[/ { sec = $0 } sec == s && index($0, k "=") == 1 { print substr($0, length(k) + 2); exit }' "$1"; }

bad=()
for f in "${made[@]}"; do
    c=$TMP/$f
    # the demo pair (Fashion-MNIST, a small network): tests/scripts/test_demo.sh checks it
    case $f in *fmnist-demo*) continue ;; esac
    case $f in *cifar100*) ipe=$((10847 / 128)) ;; *) ipe=$((12406 / 128)) ;; esac
    mix=0; grep -q '^\[mixdata\]' "$c" && mix=1
    cb=""; grep -q '^\[cbcl\]' "$c" && cb=$( ((mix)) && echo 0.025 || echo 0.1)
    rc_l=""; grep -q '^\[rcl\]' "$c" && rc_l=$( ((mix)) && echo 0.25 || echo 1)
    if ((mix)); then want="512 128 0.4 0.00005"; else want="128  0.1 0.0002"; fi
    want="$want $cb $rc_l"
    got="$(net_key "$c" batch) $(sec_key "$c" mixdata pairs) $(net_key "$c" learning_rate) $(net_key "$c" decay) $(sec_key "$c" cbcl lambda) $(sec_key "$c" rcl lambda)"
    [ "$got" = "$want" ] || bad+=("$f: batch pairs lr decay cbcl rcl = '$got', expected '$want'")
    sched="$(net_key "$c" max_batches) $(net_key "$c" burn_in) $(net_key "$c" steps) $(net_key "$c" nesterov)"
    [ "$sched" = "$((400 * ipe)) $((5 * ipe)) $((320 * ipe)),$((360 * ipe)) 1" ] \
        || bad+=("$f: max_batches burn_in steps nesterov = '$sched', expected 400/5/320,360 epochs of $ipe and 1")
    awk '/^\[/ { sec = $0 } sec == "[convolutional]" && $0 == "size=1" { found = 1 } END { exit !found }' "$c" \
        && bad+=("$f: has a 1x1 convolution (a projection shortcut)")
done
check "make-cfgs: batch, pairs, step size, schedule in passes over the training set and option-A shortcuts in the 22 CIFAR cfgs (${bad[*]:-all as expected})" [ ${#bad[@]} -eq 0 ]
u=$TMP/ablation/ricasso-uniform-sampler.cfg
rev=$(sec_key "$u" mixdata reversed)
same=0
diff <(grep -v '^#' "$TMP/ricasso-resnet32-cifar10.cfg") <(grep -v '^#' "$u" | grep -v '^reversed=0$') >/dev/null && same=1
check "make-cfgs: the uniform-sampler RICASSO cfg is RICASSO with [mixdata] reversed=0 and nothing else changed (reversed='$rev')" \
    [ "$rev" = 0 -a "$same" = 1 ]
n=$(grep -c '^max_batches=38400$' "$TMP/ricasso-resnet32-cifar10.cfg" "$TMP/lgla-resnet32-cifar10.cfg" | awk -F: '{ s += $2 } END { print s }')
check "make-cfgs: RICASSO and LGLA on CIFAR-10-LT train the same 38400 steps of 128 instance rows" [ "$n" -eq 2 ]

finish
