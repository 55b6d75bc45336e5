#!/bin/sh
# Real, unmodified programs under LD_PRELOAD=libmultiheap.so: each runs once without
# and once with the library; the outputs must match byte for byte, and the statistics
# the library prints at exit (MULTIHEAP_STATS=1) must show it served the allocations.
# sort closes stderr before the library's report, so there libmhsys_statsdump.so
# (statsdump.c, preloaded too) prints the report instead.
# Temporary files go to the current directory (the ctest working directory).
#
# usage: realprog.sh python|sort|gcc PATH/libmultiheap.so PATH/libmhsys_statsdump.so SOURCE_DIR
set -eu

usage() {
    echo "realprog.sh: $*; usage: realprog.sh python|sort|gcc PATH/libmultiheap.so" \
         "PATH/libmhsys_statsdump.so SOURCE_DIR" >&2
    exit 2
}
die() { echo "realprog.sh: $*" >&2; exit 1; }

[ $# -eq 4 ] || usage "expected 4 arguments, got $#"
mode=$1 lib=$2 statsdump=$3 src=$4
[ -f "$lib" ] || usage "no library at '$lib': build the target multiheap first"
[ -f "$statsdump" ] || usage "no library at '$statsdump': build the target mhsys_statsdump first"
[ -d "$src" ] || usage "no source directory '$src'"
TMPDIR=$(pwd)      # the tools' own temporary files stay in the test's directory too
export TMPDIR

# Allocations multiheap must report before a run counts as served by it: each mode
# sets a floor well below what its program makes (python ~7M, gcc ~50k, sort ~220:
# sort keeps its lines in one large buffer).
min_served=0
# The environment of the runs under multiheap (paths without spaces: ctest's build tree).
mh_env="LD_PRELOAD=$lib MULTIHEAP_STATS=1"

# Sum of small and large allocations over every report in FILE; the report has the lines
# "multiheap: small allocs=N ..." and "multiheap: large allocs=N ..." (see mh_stats_print).
served_allocations() {
    awk '$1 == "multiheap:" && ($2 == "small" || $2 == "large") && $3 ~ /^allocs=/ {
             sub(/^allocs=/, "", $3); sum += $3 }
         END { print sum + 0 }' "$1"
}

# run_both NAME PRODUCT COMMAND...: run COMMAND without and with the library. PRODUCT
# is a file the command writes ("-" for none); it is kept as NAME.plain / NAME.mh.
run_both() {
    name=$1 product=$2
    shift 2
    for variant in plain mh; do
        rc=0
        if [ $variant = plain ]; then
            env -u LD_PRELOAD -u MULTIHEAP_STATS "$@" >"$name.$variant.out" 2>"$name.$variant.err" || rc=$?
        else
            env $mh_env "$@" >"$name.$variant.out" 2>"$name.$variant.err" || rc=$?
        fi
        [ $rc -eq 0 ] || die "$name ($variant) exited with status $rc: $(tail -n 5 "$name.$variant.err")"
        [ "$product" = - ] || mv "$product" "$name.$variant"
    done
    cmp "$name.plain.out" "$name.mh.out" ||
        die "$name: output under libmultiheap.so differs from the output without it"
    [ "$product" = - ] || cmp "$name.plain" "$name.mh" ||
        die "$name: $product built under libmultiheap.so differs from the one built without it"
    served=$(served_allocations "$name.mh.err")
    [ "$served" -ge "$min_served" ] ||
        die "$name: multiheap's statistics show $served allocations (< $min_served): it did not serve the program"
    echo "$name: same output with and without libmultiheap.so; multiheap served $served allocations"
}

run_python() {
    command -v python3 >/dev/null 2>&1 || die "python3 not found: install it with ./run.sh setup"
    # The interpreter itself, not a wrapper script (pyenv shims) in front of it.
    python=$(python3 -c 'import sys; print(sys.executable)') || die "python3 does not start"
    # PYTHONMALLOC=malloc: every object goes through malloc, not only pymalloc's arenas.
    min_served=1000000
    run_both python - env PYTHONMALLOC=malloc "$python" "$src/realprog_data.py" 40000
}

run_sort() {
    awk 'BEGIN { srand(7); for (i = 0; i < 1000000; i++)
                   printf "%d %s %d\n", int(rand() * 1e6), substr("qwertyuiopasdfgh", 1 + int(rand() * 16)), i }' \
        >lines.txt
    mh_env="LD_PRELOAD=$lib:$statsdump" min_served=100
    run_both sort - sort --parallel=2 lines.txt
    [ "$(wc -l <sort.mh.out)" -eq 1000000 ] || die "sort: the output does not have the million lines"
}

run_gcc() {
    # Same directory and flags both times, so the two executables must be identical.
    min_served=10000
    run_both gcc prog gcc -O2 -g -Wall -Wextra -o prog "$src/realprog_input.c"
    ./gcc.plain >prog.plain.out || die "the program gcc built without libmultiheap.so failed"
    ./gcc.mh >prog.mh.out || die "the program gcc built under libmultiheap.so failed"
    cmp prog.plain.out prog.mh.out || die "the two compiled programs print different outputs"
}

case $mode in
    python) run_python ;;
    sort) run_sort ;;
    gcc) run_gcc ;;
    *) usage "unknown mode '$mode'" ;;
esac
