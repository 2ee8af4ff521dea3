# Helpers of scripts/bench-cpu and scripts/bench/part-twin.sh (sourced by both): reading the
# RESULT lines of the timing tools and summing up repeated timings.

result() {  # result FILE KEY: a value from the RESULT line
    sed -n 's/^RESULT .*\b'"$2"'=\([^ ]*\).*/\1/p' "$1" | tail -1
}
median() {  # median LIST: of space-separated numbers (the mean of the middle two of an even count)
    tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 }
        END { if (NR == 0) exit 1; print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
spread() {  # spread LIST: "min-max" of space-separated numbers
    tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.1f-%.1f", lo, hi }'
}
