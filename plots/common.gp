# Shared by every plot script. mhreport passes, with gnuplot -e:
#   fmt (png|svg), gp (this directory), dat (data files), out (where images go),
#   machine (the subtitle), allocs (allocator names, space-separated, in data
#   column order), cases (workload cases, same), base (1-based index of the
#   baseline allocator), basename (its name, escaped for enhanced text). Each script sets W and H before loading this file.
if (!exists("W")) W = 1000
if (!exists("H")) H = 600
# wide enough for the subtitle, the machine line (about 6 pixels a character)
if (W < strlen(machine) * 6 + 60) W = strlen(machine) * 6 + 60
if (fmt eq 'svg') {
    set terminal svg size W,H dynamic enhanced font 'Sans,11' background rgb 'white'
} else {
    set terminal pngcairo size W,H enhanced font 'Sans,10' background rgb 'white'
}
subtitle = "{/*0.8 ".machine."}"
set grid ytics lc rgb '#dddddd'
set key noenhanced
set datafile missing '?'
# One colour and point type per allocator position, the same in every plot.
set linetype 1 lc rgb '#1f77b4' lw 2 pt 5
set linetype 2 lc rgb '#ff7f0e' lw 2 pt 7
set linetype 3 lc rgb '#2ca02c' lw 2 pt 9
set linetype 4 lc rgb '#d62728' lw 2 pt 11
set linetype 5 lc rgb '#9467bd' lw 2 pt 13
set linetype 6 lc rgb '#8c564b' lw 2 pt 4
set linetype 7 lc rgb '#e377c2' lw 2 pt 6
set linetype 8 lc rgb '#7f7f7f' lw 2 pt 8
