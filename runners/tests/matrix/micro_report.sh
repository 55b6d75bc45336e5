#!/usr/bin/env bash
# matrix.micro_report: `./run.sh micro --out DIR` writes there, and a microbenchmark
# result set (micro.jsonl, cells named micro/ALLOCATOR) is reported like a matrix
# run: the report finds its records, and each benchmark is one case with the
# allocators side by side.
. "$(dirname "$0")/lib.sh"
CONVERT="${MH_MICRO_CONVERT:?set MH_MICRO_CONVERT}"
dir="$WORK/micro-report"
rm -rf "$dir" && mkdir -p "$dir"
# one Google Benchmark JSON converted as micro.sh does, served by "jemalloc" and by "glibc"
"$CONVERT" --run-id m1 --cell micro/jemalloc --out "$dir/micro.jsonl" "$ROOT/runners/tests/micro/sample-gbench.json"
"$CONVERT" --run-id m1 --cell micro/glibc --out "$dir/glibc.jsonl" "$ROOT/runners/tests/micro/sample-gbench.json"
sed 's/"allocator":{"name":"jemalloc"/"allocator":{"name":"glibc"/' "$dir/glibc.jsonl" >>"$dir/micro.jsonl"
rm "$dir/glibc.jsonl"
"$MH_MHREPORT" report --no-plots "$dir" >/dev/null 2>"$WORK/micro-report.err" ||
    fail "mhreport refused the micro result set: $(cat "$WORK/micro-report.err")"
csv="$dir/results.csv"
c_case=$(csv_column_index "$csv" case) c_wl=$(csv_column_index "$csv" workload)
[ "$(awk -F, -v c="$c_case" -v w="$c_wl" 'NR > 1 && $c != $w' "$csv" | wc -l)" -eq 0 ] ||
    fail "micro records are not grouped by benchmark: $(cut -d, -f"$c_case" "$csv" | sort -u | tr '\n' ' ')"
grep -q '^| micro/pair/size:64 | 1 | 1.00 | 1.00 |' "$dir/report.md" ||
    fail "report.md has no row with both allocators for micro/pair/size:64: $(grep '^| micro' "$dir/report.md")"

rm -rf "$WORK/micro-run"
"$ROOT/run.sh" micro --allocators glibc --filter '^empty$' --repetitions 1 --min-time 0.001 \
    --out "$WORK/micro-run" >/dev/null 2>"$WORK/micro-run.err" ||
    fail "./run.sh micro --out DIR failed: $(tail -n 2 "$WORK/micro-run.err")"
grep -q '"workload":{"name":"micro/empty"' "$WORK/micro-run/micro.jsonl" ||
    fail "./run.sh micro --out DIR wrote no record there"
# its report reruns this very set, and a second run into the directory is refused
"$MH_MHREPORT" report --no-plots "$WORK/micro-run" >/dev/null 2>&1 || fail "the micro run's report failed"
want='./run.sh micro --allocators glibc --repetitions 1 --min-time 0.001 --filter \^empty\$'
grep -qxF -- "$want" "$WORK/micro-run/report.md" || fail "the micro report's command is not the run's: $(grep -A3 'How to reproduce' "$WORK/micro-run/report.md")"
expect_refusal "already holds a run's micro.jsonl" "$ROOT/run.sh" micro --allocators glibc --filter '^empty$' --out "$WORK/micro-run"
# while a run writes a directory (its one round converted only at its end), a second is refused
rm -rf "$WORK/micro-busy"
"$ROOT/runners/micro.sh" --allocators glibc --filter '^pair/size:8$' --repetitions 1 --min-time 0.5 \
    --out "$WORK/micro-busy" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do [ -e "$WORK/micro-busy/command.txt" ] && break; sleep 0.05; done
expect_refusal "another micro.sh is writing" "$ROOT/run.sh" micro --allocators glibc --filter '^empty$' \
    --repetitions 1 --min-time 0.001 --out "$WORK/micro-busy"
wait "$pid" || fail "the first micro run into $WORK/micro-busy failed"
# a known allocator whose library is missing is reported and skipped, and so is a variant
# of it; the others run
rm -rf "$WORK/micro-missing"
rc=0
MH_MULTIHEAP_LIB=/nonexistent/libmultiheap.so "$ROOT/run.sh" micro --allocators glibc,multiheap,v=multiheap+MULTIHEAP_CACHE=0 \
    --filter '^empty$' --repetitions 1 --min-time 0.001 --out "$WORK/micro-missing" >/dev/null 2>"$WORK/micro-missing.err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "micro.sh: multiheap failed" "$WORK/micro-missing.err" &&
    grep -q "micro.sh: v failed" "$WORK/micro-missing.err" &&
    grep -q '"allocator":{"name":"glibc"' "$WORK/micro-missing/micro.jsonl" ||
    fail "a missing multiheap library stopped the other allocators (exit $rc): $(tail -n2 "$WORK/micro-missing.err")"
# An allocator whose run dies leaves a failed record for each benchmark of the run, which
# the report lists by benchmark (the set used to hold glibc alone, and "Failed runs: None")
rm -rf "$WORK/micro-crash"
rc=0
"$ROOT/run.sh" micro --allocators "glibc,crash=$MH_CRASH_LIB" --filter '^pair/size:(16|32)$' --repetitions 1 \
    --min-time 0.001 --out "$WORK/micro-crash" >/dev/null 2>"$WORK/micro-crash.err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "micro.sh: crash failed: killed by signal 11 (SIGSEGV)" "$WORK/micro-crash.err" ||
    fail "a crashing allocator: exit $rc, said: $(tail -n 2 "$WORK/micro-crash.err")"
[ "$(grep -c '"status":"failed","error":"killed by signal 11 (SIGSEGV)","run_id":"[^"]*","cell":"micro/crash"' \
    "$WORK/micro-crash/micro.jsonl")" -eq 2 ] || fail "want 2 failed records of crash: $(grep -v '"glibc"' "$WORK/micro-crash/micro.jsonl")"
"$MH_MHBENCH" validate "$WORK/micro-crash/micro.jsonl" >/dev/null 2>&1 || fail "micro.sh's failed records are not valid records"
"$MH_MHREPORT" report --no-plots "$WORK/micro-crash" >/dev/null 2>&1 || fail "the report of a set with a crashed allocator failed"
for size in 16 32; do
    grep -qF "| micro/pair/size:$size\|1\|crash | 0 | no | killed by signal 11 (SIGSEGV) |" "$WORK/micro-crash/report.md" ||
        fail "the report does not list crash's failed pair/size:$size: $(sed -n '/## Failed runs/,/^## C/p' "$WORK/micro-crash/report.md")"
done
# every allocator failed: the report says that, not that a file is missing; a directory of
# no result set is named as such
rm -rf "$WORK/micro-allcrash"
"$ROOT/run.sh" micro --allocators "crash=$MH_CRASH_LIB" --filter '^pair/size:16$' --repetitions 1 --min-time 0.001 \
    --out "$WORK/micro-allcrash" >/dev/null 2>&1 && fail "micro.sh exited 0 with its one allocator crashed"
expect_refusal "its 1 measured records are failed runs" "$ROOT/run.sh" report --no-plots "$WORK/micro-allcrash"
mkdir -p "$WORK/not-a-set"
expect_refusal "not a result directory; give one that ./run.sh matrix or ./run.sh micro wrote" \
    "$ROOT/run.sh" report --no-plots "$WORK/not-a-set"
echo "matrix.micro_report: ok"
