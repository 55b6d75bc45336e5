# Throughput vs threads, one panel per workload case that has runs, one line per allocator.
# Data: scaling_C.dat for case C (1-based, listed in scases): threads, then per allocator
# median q1 q3 in Mops/s.
npanels = words(scases)
cols = npanels < 3 ? npanels : 3
rows = int(ceil(npanels * 1.0 / cols))
W = 460 * cols + 60
H = 340 * rows + 90
load gp.'/common.gp'
set output out.'/scaling.'.fmt
set multiplot layout rows, cols title "Throughput vs threads (median; bars: interquartile range)\n".subtitle
set logscale x 2
set xlabel 'threads'
set ylabel 'throughput (Mops/s)'
set yrange [0:*]
set key top left font ',8'
do for [k=1:npanels] {
    c = int(word(scases, k))
    set title word(cases, c) noenhanced
    plot for [i=1:words(allocs)] sprintf('%s/scaling_%d.dat', dat, c) \
         using 1:(column(3*i-1)):(column(3*i)):(column(3*i+1)) with yerrorlines title word(allocs, i)
}
unset multiplot
