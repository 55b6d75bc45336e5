# Throughput per workload case and thread count, normalised to the baseline
# allocator (glibc when present): one bar per allocator, error bars = IQR.
# Data: normalised.dat, one row per case@threads: label, then per allocator
# median q1 q3 (already divided by the baseline's median).
load gp.'/common.gp'
set output out.'/normalised.'.fmt
set title "Throughput normalised to ".word(allocs, base)." (median; bars: interquartile range; higher is better)\n".subtitle
set ylabel "throughput / ".word(allocs, base)." throughput (ratio)"
set xlabel "workload case, at N threads (Nt)"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.85 border -1
set xtics rotate by -35 scale 0 font ',8' noenhanced
set yrange [0:*]
set key outside right top
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb 'black' front
plot for [i=1:words(allocs)] dat.'/normalised.dat' \
     using (column(3*i-1)):(column(3*i)):(column(3*i+1)):xtic(1) title word(allocs, i)
