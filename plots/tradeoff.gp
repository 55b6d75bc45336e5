# Time vs memory: one point per allocator per workload case at the case's largest
# thread count, both relative to the baseline allocator; lower-left is better.
# Data: tradeoff.dat, one block (index) per allocator: rss_ratio time_ratio case.
W = 1100
H = 780
load gp.'/common.gp'
set output out.'/tradeoff.'.fmt
set title "Time vs memory, ".threads." (relative to ".basename."; lower-left is better)\n".subtitle
set logscale xy
set xlabel 'peak RSS / '.basename.' peak RSS (ratio, log scale)'
set ylabel 'time per operation / '.basename.' time (ratio, log scale)'
set key outside right top
set arrow 1 from first 1, graph 0 to first 1, graph 1 nohead dt 2 lc rgb 'gray'
set arrow 2 from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb 'gray'
# points away from (1,1) name their case: which workload sits where is the point of the plot
plot for [i=1:words(allocs)] dat.'/tradeoff.dat' index (i-1) using 1:2 with points ps 1.6 title word(allocs, i), \
     for [i=1:words(allocs)] dat.'/tradeoff.dat' index (i-1) using 1:2:3 with labels offset 0.6,0.6 left font ',7' tc lt i noenhanced notitle
