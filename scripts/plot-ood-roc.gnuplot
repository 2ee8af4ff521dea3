# ROC curves of one OOD set, one curve per score, from `darknet classifier ood`'s
# roc_SET_SCORE.csv files (threshold,fpr,tpr; ID positive).
# Run by scripts/plot-ood, or: gnuplot -e "dir='results/ood'; set_name='textures';
#   scores='msp energy maxlogit odin'; out='roc_textures.png'" scripts/plot-ood-roc.gnuplot
set datafile separator ','
set terminal pngcairo size 640,560 font ',11'
set output out
set title sprintf('ROC, ID test set vs %s', set_name) noenhanced
set xlabel 'false positive rate (OOD accepted)'
set ylabel 'true positive rate (ID accepted)'
set xrange [0:1]
set yrange [0:1]
set size ratio -1
set grid
set key bottom right
# The TPR of FPR95's threshold, for reference.
set arrow from 0,0.95 to 1,0.95 nohead dashtype 2 linecolor rgb '#999999'
plot for [s in scores] sprintf('%s/roc_%s_%s.csv', dir, set_name, s) using 2:3 skip 1 with steps linewidth 2 title s, \
     x with lines dashtype 3 linecolor rgb '#bbbbbb' title 'chance'
