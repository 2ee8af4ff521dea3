# Score histograms, ID test set against every OOD set, from `darknet classifier ood`'s
# hist_SCORE.csv (bin_lo,bin_hi,id,SET...: the fraction of each set's images per bin).
# Run by scripts/plot-ood, or: gnuplot -e "file='results/ood/hist_msp.csv'; ncol=4;
#   score='msp'; out='hist_msp.png'" scripts/plot-ood-hist.gnuplot
set datafile separator ','
set terminal pngcairo size 720,480 font ',11'
set output out
set title sprintf('%s score (higher = more in-distribution)', score) noenhanced
set xlabel score noenhanced
set ylabel 'fraction of the set'
set grid
set key top left noenhanced
set style fill transparent solid 0.35 noborder
# Scores such as ODIN's at T = 1000 differ in the 5th digit: enough digits, tilted.
set format x '%.7g'
set xtics rotate by -30
# Each column is one set; bins drawn as filled steps at their centres.
plot for [c=3:ncol] file using (($1 + $2) / 2):c with fillsteps linecolor (c - 2) title columnheader(c), \
     for [c=3:ncol] file using (($1 + $2) / 2):c skip 1 with steps linewidth 2 linecolor (c - 2) notitle
