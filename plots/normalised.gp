# Throughput per workload case normalised to the baseline allocator (glibc
# when present): a panel per thread count, a bar per allocator, error bars = IQR.
# Data: normalised.dat, one block (index) per thread count of tlist; a row per
# case: label, then per allocator median q1 q3 (divided by the baseline's median).
n = words(tlist)
H = 330 * n + 90
load gp.'/common.gp'
set output out.'/normalised.'.fmt
set multiplot layout n, 1 title "Throughput normalised to ".basename." (median; bars: interquartile range; higher is better)\n".subtitle
set ylabel "throughput / ".basename." (ratio)"
set xlabel "workload case"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.85 border -1
set xtics rotate by -25 scale 0 font ',8' noenhanced
set yrange [0:*]
set key outside right top
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb 'black' front
do for [j=1:n] {
    set title word(tlist, j).' threads'
    plot for [i=1:words(allocs)] dat.'/normalised.dat' index (j-1) \
         using (column(3*i-1)):(column(3*i)):(column(3*i+1)):xtic(1) title word(allocs, i)
}
unset multiplot
