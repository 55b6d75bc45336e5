# multiheap's own statistics (allocator_stats in its records), from the run
# with the most remote frees: the CPU x heap remote-free matrix as a heatmap,
# and pages stolen / given / OS growths per heap.
# Data: mh_remote.dat (matrix: row = CPU that freed, column = owner heap),
#       mh_pages.dat (heap pages_stolen pages_given os_grow_calls).
n = has_matrix + has_heaps
W = 560 * n + 60
H = 460
load gp.'/common.gp'
set output out.'/mhstats.'.fmt
set multiplot layout 1, n title "multiheap statistics of ".which." (the run with the most remote frees)\n".subtitle
if (has_matrix) {
    set title 'remote frees (count): CPU x owner heap'
    set xlabel 'owner heap'
    set ylabel 'CPU that freed'
    set xtics 1
    set ytics 1
    set autoscale xfix
    set autoscale yfix
    set palette rgb 33,13,10
    plot dat.'/mh_remote.dat' matrix with image notitle
    set xtics autofreq
    set ytics autofreq
    set autoscale x
    set autoscale y
}
if (has_heaps) {
    set title 'pages moved per heap'
    set xlabel 'heap'
    set ylabel 'pages / growth calls (count)'
    set style data histogram
    set style histogram clustered gap 1
    set style fill solid 0.85 border -1
    set yrange [0:*]
    set key top right
    plot dat.'/mh_pages.dat' using 2:xtic(1) title 'pages stolen', '' using 3 title 'pages given', '' using 4 title 'OS growths'
}
unset multiplot
