# Resident set size over the measured phase, one panel per growth-storm /
# producer-consumer case, one line per allocator (the repetition whose
# throughput is nearest the median, at the case's largest thread count).
# Data: rss_C.dat, one block (index) per allocator: t_ms rss_mib; rssthreads: each
# listed case's thread count; threads: the title's (one count, or a phrase).
n = words(rsscases)
W = 560 * n + 60
H = 420
load gp.'/common.gp'
set output out.'/rss.'.fmt
set multiplot layout 1, n title "RSS over time, ".threads." (run nearest the median)\n".subtitle
set xlabel 'time since the start of the measured phase (ms)'
set ylabel 'resident set size (MiB)'
set yrange [0:*]
set key bottom right font ',8'
do for [k=1:n] {
    c = int(word(rsscases, k))
    set title word(cases, c).', '.word(rssthreads, k).' threads' noenhanced
    plot for [i=1:words(allocs)] sprintf('%s/rss_%d.dat', dat, c) index (i-1) \
         using 1:2 with lines title word(allocs, i)
}
unset multiplot
