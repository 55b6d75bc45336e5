#!/usr/bin/env bash
# micro.convert_rejects: mhmicro_convert turns a known Google Benchmark JSON into
# the expected records (medians, spread, a failed benchmark as status failed),
# and rejects broken input with exit 2, one line on stderr, nothing written.
set -uo pipefail
CONVERT="$1"
SAMPLE="$2/sample-gbench.json"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "micro.convert_rejects: $*" >&2; fail=1; }

# ---- the positive control: every number below follows from the sample's three repetitions
"$CONVERT" --run-id r1 --out "$tmp/ok.jsonl" "$SAMPLE" || bad "sample rejected (exit $?)"
[ "$(wc -l <"$tmp/ok.jsonl")" -eq 2 ] || bad "expected 2 records, got $(wc -l <"$tmp/ok.jsonl")"
pair="$(grep '"name":"micro/pair/size:64"' "$tmp/ok.jsonl")"
for want in '"status":"ok"' '"run_id":"r1"' '"ns_per_op":10,' '"throughput_ops_s":100000000' \
            '"min_ns_per_op":5' '"max_ns_per_op":20' '"params":{"size":64,"time":"cpu","repetitions":3}' \
            '"served_by":"/usr/lib/x86_64-linux-gnu/libjemalloc.so.2","verified":true' \
            '"task_clock_ns":{"value":10000000,"per_op":10,"reason":null,"scaled":false,"user_only":true}' \
            '"cycles":{"value":null,"per_op":null,"reason":"perf_event_open: ENOENT'; do
    [[ "$pair" == *"$want"* ]] || bad "pair record lacks $want"
done
grep -q '"status":"failed","error":"needs two CPUs".*"name":"micro/remote_free/size:64/remote:1/real_time"' \
    "$tmp/ok.jsonl" || bad "the errored benchmark is not a failed record"
"$CONVERT" --table "$tmp/ok.jsonl" | grep -Eq '^pair/size:64 +10\.00 ±' || bad "--table lacks the pair row"
# two runs in one file: the table of one of them, never one median of both
"$CONVERT" --run-id r2 --out "$tmp/ok.jsonl" "$SAMPLE" || bad "a second run's records rejected"
"$CONVERT" --table "$tmp/ok.jsonl" >/dev/null 2>"$tmp/two.err"
[ $? -eq 2 ] && [ "$(wc -l <"$tmp/two.err")" -eq 1 ] && grep -q 'several runs (r1, r2, ...); give --run-id' "$tmp/two.err" ||
    bad "--table pooled two runs: $(cat "$tmp/two.err")"
"$CONVERT" --table "$tmp/ok.jsonl" --run-id r2 | grep -Eq '^pair/size:64 +10\.00 ±' || bad "--table --run-id r2 lacks the pair row"

# ---- broken input: exit 2, exactly one line, the --out file untouched
head -c 1500 "$SAMPLE" >"$tmp/truncated.json"
echo '{"benchmarks": []}' >"$tmp/not-gbench.json"
echo '{"schema": "multiheap-result/1"' >"$tmp/broken.jsonl"
check_rejects() {
    local what="$1"; shift
    "$CONVERT" "$@" 2>"$tmp/err" >/dev/null
    local rc=$?
    [ $rc -eq 2 ] || bad "$what: exit $rc, want 2"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] || bad "$what: stderr is not one line: $(cat "$tmp/err")"
    grep -q '^mhmicro_convert: ' "$tmp/err" || bad "$what: message does not name the tool"
    [ ! -e "$tmp/out.jsonl" ] || bad "$what: wrote $tmp/out.jsonl"
}
check_rejects "truncated JSON" --out "$tmp/out.jsonl" "$tmp/truncated.json"
grep -q 'line [0-9]* col [0-9]*' "$tmp/err" || bad "truncated JSON: no position in '$(cat "$tmp/err")'"
check_rejects "JSON that is not mhmicro's" --out "$tmp/out.jsonl" "$tmp/not-gbench.json"
check_rejects "missing file" --out "$tmp/out.jsonl" "$tmp/nonexistent.json"
check_rejects "unknown flag" --bogus "$SAMPLE"
check_rejects "no input" --out "$tmp/out.jsonl"
check_rejects "broken records file" --table "$tmp/broken.jsonl"
# nothing to table (an empty table and exit 0 before)
echo '{}' >"$tmp/no-micro.jsonl"
check_rejects "records of no microbenchmark" --table "$tmp/no-micro.jsonl"
check_rejects "a run id no record has" --table "$tmp/ok.jsonl" --run-id nosuch
check_rejects "two input files" --out "$tmp/out.jsonl" "$SAMPLE" "$SAMPLE"
check_rejects "--failed without its allocator" --failed boom --out "$tmp/out.jsonl" pair/size:64
check_rejects "--failed without benchmarks" --failed boom --allocator glibc --out "$tmp/out.jsonl"

# ---- a run that left no JSON: a failed record per benchmark, threads from the name
"$CONVERT" --failed 'killed by signal 11 (SIGSEGV)' --allocator 'v=multiheap+MULTIHEAP_CACHE=0' --run-id r3 \
    --cell micro/v --rep 2 --out "$tmp/failed.jsonl" 'pair/size:64' 'pair_mt/size:64/real_time/threads:4' ||
    bad "--failed refused (exit $?)"
[ "$(grep -c '"status":"failed","error":"killed by signal 11 (SIGSEGV)","run_id":"r3","cell":"micro/v","rep":2,' \
    "$tmp/failed.jsonl")" -eq 2 ] || bad "want 2 failed records: $(cat "$tmp/failed.jsonl")"
grep -q '"name":"micro/pair_mt/size:64/real_time/threads:4".*"allocator":{"name":"v","requested":"multiheap+MULTIHEAP_CACHE=0","env":{"MULTIHEAP_CACHE":"0"}},"threads":4,' \
    "$tmp/failed.jsonl" || bad "the failed pair_mt record lacks its threads or allocator (a variant's variables too): $(tail -n 1 "$tmp/failed.jsonl")"
"$CONVERT" --table "$tmp/failed.jsonl" | grep -Eq '^pair/size:64 +failed$' || bad "--table does not show the failed run"
exit $fail
