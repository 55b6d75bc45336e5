# Counters per operation at each case's largest thread count: one panel per counter
# that has values (hardware counters appear only where the PMU allows), one
# bar per allocator per workload case.
# Data: counter_K.dat: case, then per allocator the median per-op value.
n = words(counters)
# a bar per allocator per case: wide panels, one per row, when there are many cases
panelw = words(cases) * (words(allocs) + 1) * 10 + 160
panelw = panelw < 620 ? 620 : panelw
cols = (n < 2 || panelw > 900) ? 1 : 2
rows = int(ceil(n * 1.0 / cols))
W = panelw * cols + 60
H = 340 * rows + 90
load gp.'/common.gp'
set output out.'/counters.'.fmt
set multiplot layout rows, cols title "Counters per operation, ".threads." (median over repetitions)\n".subtitle
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set xtics rotate by -30 scale 0 font ',8' noenhanced
set xlabel 'workload case'
set key top right font ',8'
set yrange [0:*]
do for [j=1:n] {
    w = word(counters, j)
    k = int(substr(w, 1, strstrt(w, ':') - 1))
    name = substr(w, strstrt(w, ':') + 1, strlen(w))
    set title name noenhanced
    unit = strstrt(name, '_ns') > 0 ? 'ns' : 'count'
    set ylabel name.' per operation ('.unit.' per op)' noenhanced
    plot for [i=1:words(allocs)] sprintf('%s/counter_%d.dat', dat, k) using (column(i+1)):xtic(1) title word(allocs, i)
}
unset multiplot
