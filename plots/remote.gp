# cross-core-free: throughput vs the fraction of blocks freed by another
# thread (the config sweeps --remote), one panel per thread count, a line per allocator.
# Data: remote_T.dat for T threads: remote %, then per allocator median q1 q3 in Mops/s.
n = words(tlist)
W = 560 * n + 60
H = 420
load gp.'/common.gp'
set output out.'/remote.'.fmt
set multiplot layout 1, n title "cross-core-free: throughput vs remote-free fraction (median; bars: IQR)\n".subtitle
set xlabel 'blocks freed by another thread (%)'
set ylabel 'throughput (Mops/s)'
set yrange [0:*]
set xrange [-5:105]
set key top right font ',8'
do for [j=1:n] {
    t = word(tlist, j)
    set title t.' threads'
    plot for [i=1:words(allocs)] sprintf('%s/remote_%s.dat', dat, t) \
         using 1:(column(3*i-1)):(column(3*i)):(column(3*i+1)) with yerrorlines title word(allocs, i)
}
unset multiplot
