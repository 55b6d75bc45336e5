#!/usr/bin/env bash
# matrix.failing_cell: a crashing allocator, one that crashes at exit after its
# run wrote a record, a workload refusing to set up at one of its case's thread counts (too
# few threads; the matrix checks the case at its largest) and a hanging cell each
# become a failed record with the reason (valid records), and the matrix goes on
# to the cells after them; the report leaves out the cases that failed everywhere. An
# allocator-tuning variable from the shell is dropped.
. "$(dirname "$0")/lib.sh"
dir="$WORK/failing" conf="$WORK/failing.conf"
rm -rf "$dir"
cat >"$conf" <<CONF
allocators = glibc crash=${MH_CRASH_LIB:?} atexit=${MH_CRASH_AT_EXIT_LIB:?}
threads = 1
repetitions = 1
warmup = 0
timeout = 3
workload xmalloc --batches=10 threads=1,2
workload growth-storm --waves=1 --wave-mib=1 --hold-ms=20000 --settle-ms=0
lat_every = 0
workload cross-core-free --remote=0 --batches=100 placement=0
CONF
rc=0
MALLOC_CONF=junk "$MATRIX" --config "$conf" --out "$dir" >/dev/null 2>"$WORK/failing.err" || rc=$?
[ "$rc" -eq 1 ] && tail -n1 "$WORK/failing.err" | grep -q "^matrix: 10 run(s) failed: their records say why" ||
    fail "a matrix with failed runs must end with exit 1 and say so (exit $rc): $(tail -n3 "$WORK/failing.err")"
grep -q '^matrix: ignoring MALLOC_CONF from the environment' "$WORK/failing.err" ||
    fail "the matrix did not say it dropped MALLOC_CONF: $(head -n3 "$WORK/failing.err")"
rec="$dir/records.jsonl"
[ "$(wc -l <"$rec")" -eq 12 ] || fail "want 12 records (4 cells x 3 allocators), got $(wc -l <"$rec")"
line() { grep -F "\"cell\":\"$1\"" "$rec"; }
line 'cross-core-free|1|glibc' | grep -q '"status":"ok"' || fail "the good cell after the failures did not run ok"
line 'cross-core-free|1|crash' | grep -q '"status":"failed".*killed by signal 11 (SIGSEGV)' ||
    fail "the crashing allocator is not a failed record naming the signal: $(line 'cross-core-free|1|crash')"
line 'xmalloc|1|glibc' | grep -q '"status":"failed","error":"mhbench exited with status 2:.*needs at least 2 threads' ||
    fail "the workload's refusal at setup is not a failed record with the driver's stderr: $(line 'xmalloc|1|glibc')"
line 'growth-storm|1|glibc' | grep -q '"status":"failed","error":"timed out after 3s' ||
    fail "the hanging cell is not a failed record saying it timed out: $(line 'growth-storm|1|glibc')"
line 'cross-core-free|1|glibc' | grep -q '"placement":{"policy":"0"' ||
    fail "the line's placement=0 did not reach the run: $(line 'cross-core-free|1|glibc' | grep -o '"placement":{[^}]*')"
line 'cross-core-free|1|glibc' | grep -q '"malloc":{"count":0,' ||
    fail "lat_every = 0 still sampled latencies: $(line 'cross-core-free|1|glibc' | grep -o '"malloc":{[^}]*')"
line 'cross-core-free|1|glibc' | grep -q '"inherited_env":{}' ||
    fail "MALLOC_CONF reached the run: $(line 'cross-core-free|1|glibc')"
line 'cross-core-free|1|atexit' | grep -q '"status":"failed".*killed by signal 6 (SIGABRT) after writing its record' ||
    fail "a run that crashed after writing its record is not a failed record: $(line 'cross-core-free|1|atexit')"
grep -q '"status":"ok".*"served_by":"[^"]*crash_at_exit' "$dir"/logs/cross-core-free_1_atexit.0.measured.err ||
    fail "the record of the run that crashed at exit is not kept in its log"
! grep -q '"status":"ok".*"name":"atexit"' "$rec" || fail "records.jsonl still counts an atexit run as ok"
# a single run outside the matrix keeps the variable, says so and records it
MALLOC_CONF=junk "$MH_MHBENCH" run thread-local-churn --ops=1000 --threads 1 --lat-every 0 \
    >"$WORK/inherited.json" 2>"$WORK/inherited.err"
grep -q 'MALLOC_CONF from the environment tunes the allocator' "$WORK/inherited.err" ||
    fail "mhbench did not note the inherited MALLOC_CONF: $(cat "$WORK/inherited.err")"
tr -d ' \n' <"$WORK/inherited.json" | grep -q '"inherited_env":{"MALLOC_CONF":"junk"}' ||
    fail "the record does not list the inherited MALLOC_CONF"
"$MH_MHBENCH" validate "$rec" >/dev/null || fail "the matrix's failed records are not valid records: $("$MH_MHBENCH" validate "$rec")"
ls "$dir"/logs/*.err >/dev/null || fail "no stderr logs kept for the failed runs"
# two cases failed for every allocator: their plot panels are left out, not drawn empty
# (gnuplot stopped on them, and the report with it)
"$MH_MHREPORT" report "$dir" >/dev/null 2>"$WORK/failing.report.err" ||
    fail "the report of a set with cases that failed everywhere failed: $(cat "$WORK/failing.report.err")"
[ -s "$dir/plots/scaling.png" ] && [ -s "$dir/plots/normalised.png" ] || fail "the report drew no scaling or normalised plot"
grep -q 'killed by signal 11 (SIGSEGV)' "$dir/report.md" || fail "report.md does not list the failed runs"
# the geometric means take only cells every allocator ran: none here, glibc's runs included
grep -q '^| glibc | - | - | 0 |' "$dir/report.md" ||
    fail "the geometric means took cells that other allocators failed: $(grep '^| glibc | ' "$dir/report.md" | head -n1)"
# A records.jsonl that cannot grow stops the matrix at the first record it cannot write,
# in one line naming the directory and the fix; it used to run every cell, each failing,
# and end with "N run(s) failed: their records say why" though none could be written.
# A file size limit stands in for a full disk (a tmpfs mount needs privileges); the
# ignored SIGXFSZ turns the signal into a failed write (EFBIG), as ENOSPC would be.
full="$WORK/failing-full"
rm -rf "$full"
printf '%s\n' "allocators = glibc" "threads = 1" "repetitions = 8" "warmup = 0" \
    "workload thread-local-churn --ops=1000" >"$full.conf"
rc=0
( trap '' XFSZ; ulimit -f 12; exec "$MATRIX" --config "$full.conf" --out "$full" ) >/dev/null 2>"$full.err" || rc=$?
[ "$rc" -eq 2 ] && tail -n1 "$full.err" | grep -q "^matrix: cannot write $full/records.jsonl (.*); free space, then --resume $full continues$" ||
    fail "a records.jsonl that cannot grow: exit $rc, want 2 and one line saying so: $(tail -n2 "$full.err")"
! grep -q "FAILED\|write error" "$full.err" ||
    fail "the matrix went on after a record it could not write, or said so in more lines: $(grep "FAILED\|write error" "$full.err" | head -n2)"
"$MATRIX" --resume "$full" >/dev/null 2>&1 || fail "the matrix stopped by a full records.jsonl does not resume"
[ "$("$MH_MHREPORT" done "$full/records.jsonl" | wc -l)" -eq 8 ] ||
    fail "after the resume $("$MH_MHREPORT" done "$full/records.jsonl" | wc -l) of 8 runs are recorded"
echo "matrix.failing_cell: ok"
