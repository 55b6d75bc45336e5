# size-sweep: nanoseconds per operation (a malloc or a free) against the block
# size, one panel per size-sweep case, one line per allocator (the median of its
# repetitions at the case's smallest thread count). Both axes are logarithmic:
# the sizes double, and the cost spans 3 ns to hundreds of microseconds (a 1 MiB
# block that is mapped and unmapped each time). A step shows where an allocator
# changes path (multiheap: 18704 -> 18705 bytes, small to large).
# Data: sizes_C.dat: size_bytes, then one ns/op column per allocator ('?' missing).
n = words(sizecases)
W = 640 * n + 60
H = 460
load gp.'/common.gp'
set output out.'/sizes.'.fmt
set multiplot layout 1, n title "Cost per operation by block size (median of the repetitions)\n".subtitle
set logscale xy
set autoscale xfix
set format xy '%g'
set xlabel 'block size (bytes)'
set ylabel 'ns per malloc or free'
set key top left font ',8'
do for [k=1:n] {
    c = int(word(sizecases, k))
    set title word(cases, c).', '.word(sizethreads, k).' thread(s)' noenhanced
    plot for [i=1:words(allocs)] sprintf('%s/sizes_%d.dat', dat, c) \
         using 1:(column(i + 1)) with linespoints title word(allocs, i)
}
unset multiplot
