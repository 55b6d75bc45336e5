#!/bin/sh
# driver.thread_names: mhbench names each worker "wINDEX ROLE", so that perf's reports
# (./run.sh profile) tell an asymmetric workload's roles apart. Reads the names from
# /proc while an xmalloc run (an allocator and a freer) is under way, then stops it.
# usage: thread_names.sh MHBENCH
mhbench="$1"
"$mhbench" run xmalloc --threads 2 --batches=1000000 --allocator glibc --lat-every 0 >/dev/null 2>&1 &
pid=$!
seen=""
for _ in $(seq 100); do
    seen=$(cat /proc/"$pid"/task/*/comm 2>/dev/null | sort | tr '\n' ',')
    case "$seen" in *"w0 allocator"*"w1 freer"*) break ;; esac
    sleep 0.1
done
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
case "$seen" in
    *"w0 allocator"*"w1 freer"*) echo "workers named: $seen" ;;
    *) echo "FAIL: the workers' names are [$seen], want 'w0 allocator' and 'w1 freer'"; exit 1 ;;
esac
