#!/usr/bin/env bash
# matrix.failing_cell: a crashing allocator, a workload refusing its
# parameter and a hanging cell each become a failed record with the reason,
# and the matrix goes on to the cells after them.
. "$(dirname "$0")/lib.sh"
dir="$WORK/failing" conf="$WORK/failing.conf"
rm -rf "$dir"
cat >"$conf" <<CONF
allocators = glibc crash=${MH_CRASH_LIB:?}
threads = 1
repetitions = 1
warmup = 0
timeout = 3
workload threadtest --size=0
workload growth-storm --waves=1 --wave-mib=1 --hold-ms=20000 --settle-ms=0
workload cross-core-free --remote=0 --batches=100
CONF
"$MATRIX" --config "$conf" --out "$dir" >/dev/null 2>"$WORK/failing.err" || fail "the matrix itself failed: $(tail -n3 "$WORK/failing.err")"
rec="$dir/records.jsonl"
[ "$(wc -l <"$rec")" -eq 6 ] || fail "want 6 records (3 cases x 2 allocators), got $(wc -l <"$rec")"
line() { grep -F "\"cell\":\"$1\"" "$rec"; }
line 'cross-core-free|1|glibc' | grep -q '"status":"ok"' || fail "the good cell after the failures did not run ok"
line 'cross-core-free|1|crash' | grep -q '"status":"failed".*killed by signal 11 (SIGSEGV)' ||
    fail "the crashing allocator is not a failed record naming the signal: $(line 'cross-core-free|1|crash')"
line 'threadtest|1|glibc' | grep -q '"status":"failed","error":"mhbench exited with status 2:.*size' ||
    fail "the refused parameter is not a failed record with the driver's stderr: $(line 'threadtest|1|glibc')"
line 'growth-storm|1|glibc' | grep -q '"status":"failed","error":"timed out after 3s' ||
    fail "the hanging cell is not a failed record saying it timed out: $(line 'growth-storm|1|glibc')"
ls "$dir"/logs/*.err >/dev/null || fail "no stderr logs kept for the failed runs"
"$MH_MHREPORT" report --no-plots "$dir" >/dev/null
grep -q 'killed by signal 11 (SIGSEGV)' "$dir/report.md" || fail "report.md does not list the failed runs"
echo "matrix.failing_cell: ok"
