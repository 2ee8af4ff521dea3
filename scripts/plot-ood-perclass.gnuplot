# Per-class ID test accuracy against the class's training count (long-tail view), from
# `darknet classifier ood`'s per_class.csv (class,name,train_count,group,images,correct,accuracy).
# Run by scripts/plot-ood, or: gnuplot -e "file='results/ood/per_class.csv';
#   out='per_class.png'; has_counts=1" scripts/plot-ood-perclass.gnuplot
# has_counts=0 (no training counts known): accuracy against the class index.
set datafile separator ','
set terminal pngcairo size 720,480 font ',11'
set output out
set ylabel 'ID test accuracy'
set yrange [0:1.05]
set grid
set key top left
if (has_counts) {
    set title 'Per-class accuracy against training images'
    set xlabel 'training images of the class (log scale)'
    set logscale x
    # One colour per shot group.
    plot for [g in 'many medium few'] file using ($3 > 0 ? $3 : NaN):(strcol(4) eq g ? $7 : NaN) skip 1 \
             with points pointtype 7 pointsize 1.5 title g.'-shot', \
         file using ($3 > 0 ? $3 : NaN):7:2 skip 1 with labels offset 0,1 font ',9' noenhanced notitle
} else {
    set title 'Per-class accuracy (no training counts known)'
    set xlabel 'class'
    plot file using 1:7:2 skip 1 with labels offset 0,1 font ',9' noenhanced notitle, \
         file using 1:7 skip 1 with points pointtype 7 pointsize 1.5 notitle
}
