# Latency percentiles per allocator, malloc and free (local, remote) apart:
# for each percentile, the median over all measured runs of that allocator.
# Data: latency_K.dat (K: 1 malloc, 2 free local, 3 free remote): allocator p50 p90 p99 p99.9 max (ns).
n = words(kinds)
W = 480 * n + 60
H = 440
load gp.'/common.gp'
set output out.'/latency.'.fmt
set multiplot layout 1, n title "Sampled operation latency (median over runs of each percentile)\n".subtitle
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set logscale y
set yrange [1:*]
set format y '10^{%L}'
set ylabel 'latency (ns, log scale)'
set xlabel 'allocator'
set xtics noenhanced rotate by -20 scale 0
set key top left font ',8'
do for [j=1:n] {
    k = int(word(kinds, j))
    set title word("malloc free-local free-remote", k)
    plot for [s=2:6] sprintf('%s/latency_%d.dat', dat, k) using s:xtic(1) title word("p50 p90 p99 p99.9 max", s-1)
}
unset multiplot
