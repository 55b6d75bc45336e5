#!/usr/bin/env bash
# matrix.compare: compare passes an identical pair and flags an injected
# regression (one cell 30% slower) with exit status 1. The tiny matrix has 2
# repetitions, too few for any test to be significant, so the pair is made of
# 5 repetitions per cell: the tiny matrix's measured runs, spread by 1% steps.
. "$(dirname "$0")/lib.sh"
dir="$WORK/compare"
rm -rf "$dir"
mkdir -p "$dir/old" "$dir/same" "$dir/slow"
# scale the throughput of lines matching $2 by $3 (1: unchanged); lines matching $4 (by
# default $2) ran a rebuilt library (another file hash): a library that did not change
# makes any change of its own cells the machine's
spread() {
    awk -v pat="$2" -v scale="$3" -v rebuilt="${4-$2}" '/"warmup":false/ && /"rep":0,/ {
        if (rebuilt != "none" && index($0, rebuilt)) sub(/"file_hash":"[^"]*"/, "\"file_hash\":\"fnv1a64:rebuilt\"")
        match($0, /"throughput_ops_s":[0-9.eE+-]+/)
        base = substr($0, RSTART + 19, RLENGTH - 19)
        f = index($0, pat) ? scale : 1
        for (k = 0; k < 5; k++) {
            line = substr($0, 1, RSTART + 18) base * f * (1 + k / 100) substr($0, RSTART + RLENGTH)
            sub(/"rep":0,/, "\"rep\":" k ",", line)   # five repetitions, not one record five times
            print line
        }
    }' "$1"
}
spread "$TINY/records.jsonl" none 1 >"$dir/old/records.jsonl"
cp "$dir/old/records.jsonl" "$dir/same/records.jsonl"
spread "$TINY/records.jsonl" '"cell":"cross-core-free:remote=0|1|glibc"' 0.7 >"$dir/slow/records.jsonl"
[ "$(wc -l <"$dir/old/records.jsonl")" -eq 50 ] || fail "want 50 records (10 cells x 5), got $(wc -l <"$dir/old/records.jsonl")"

"$ROOT/run.sh" compare "$dir/old" "$dir/same" >"$dir/same.out" || fail "an identical pair was flagged: $(cat "$dir/same.out")"
grep -q "10 cells compared, 0 regressions" "$dir/same.out" || fail "identical pair: $(tail -n2 "$dir/same.out")"

rc=0
"$ROOT/run.sh" compare "$dir/old" "$dir/slow" --threshold 10 >"$dir/slow.out" || rc=$?
[ "$rc" -eq 1 ] || fail "the injected regression exited $rc, want 1: $(cat "$dir/slow.out")"
grep -E '^cross-core-free:remote=0\|1\|glibc .*-30\.0% .*REGRESSION' "$dir/slow.out" >/dev/null ||
    fail "the slowed cell is not flagged: $(cat "$dir/slow.out")"
[ "$(grep -c REGRESSION "$dir/slow.out")" -eq 1 ] || fail "only the slowed cell may be flagged: $(cat "$dir/slow.out")"

# the machine got slower under both allocators of a case (jemalloc rebuilt): each cell says
# so and none is a regression, though each is 40% slower and significant
spread "$TINY/records.jsonl" '"cell":"cross-core-free:remote=100|2|' 0.6 '|2|jemalloc"' >"$dir/machine.jsonl"
mkdir -p "$dir/machine" && mv "$dir/machine.jsonl" "$dir/machine/records.jsonl"
grep -q '"cell":"cross-core-free:remote=100|2|jemalloc".*"file_hash":"fnv1a64:rebuilt"' "$dir/machine/records.jsonl" ||
    fail "the test's edit rebuilt no jemalloc"
rc=0
"$ROOT/run.sh" compare "$dir/old" "$dir/machine" --threshold 10 >"$dir/machine.out" || rc=$?
[ "$rc" -eq 0 ] || fail "a slower machine read as a regression (exit $rc): $(cat "$dir/machine.out")"
grep -E '^cross-core-free:remote=100\|2\|jemalloc .*-40\.0% .*slower, as the unchanged allocators here \(-40\.0%\)' \
    "$dir/machine.out" >/dev/null &&
    grep -E '^cross-core-free:remote=100\|2\|glibc .*slower, but its library is the same file' "$dir/machine.out" >/dev/null &&
    grep -q '^2 significant changes past the threshold came with the unchanged allocators' "$dir/machine.out" ||
    fail "the machine's slowdown is not named: $(cat "$dir/machine.out")"
# ... while a rebuilt allocator that lost more than they did is still a regression
spread "$TINY/records.jsonl" '"cell":"cross-core-free:remote=100|2|' 0.7 '|2|jemalloc"' |
    awk '/"cell":"cross-core-free:remote=100\|2\|jemalloc"/ {
        match($0, /"throughput_ops_s":[0-9.eE+-]+/)
        $0 = substr($0, 1, RSTART + 18) substr($0, RSTART + 19, RLENGTH - 19) * 4 / 7 substr($0, RSTART + RLENGTH)
    } 1' >"$dir/worse.jsonl"
mkdir -p "$dir/worse" && mv "$dir/worse.jsonl" "$dir/worse/records.jsonl"
rc=0
"$ROOT/run.sh" compare "$dir/old" "$dir/worse" --threshold 10 >"$dir/worse.out" || rc=$?
[ "$rc" -eq 1 ] && grep -E '^cross-core-free:remote=100\|2\|jemalloc .*-60\.0% .*REGRESSION \(the unchanged allocators here: -30\.0%\)' \
    "$dir/worse.out" >/dev/null || fail "a rebuilt allocator 60% slower where the others lost 30% (exit $rc): $(cat "$dir/worse.out")"

# the other way round it is an improvement: exit 0, counted and marked as one
rc=0
"$ROOT/run.sh" compare "$dir/slow" "$dir/old" --threshold 10 >"$dir/fast.out" || rc=$?
[ "$rc" -eq 0 ] && ! grep -q REGRESSION "$dir/fast.out" && grep -q "0 regressions, 1 improvements" "$dir/fast.out" &&
    grep -E '^cross-core-free:remote=0\|1\|glibc .*improvement' "$dir/fast.out" >/dev/null ||
    fail "a 43% speed-up (exit $rc) was not an improvement: $(cat "$dir/fast.out")"
# the same slowdown under a higher threshold is not a regression
"$ROOT/run.sh" compare "$dir/old" "$dir/slow" --threshold 40 >/dev/null || fail "a 30% change was flagged at --threshold 40"
# the tiny matrix against itself: 2 repetitions, passes and says why nothing can be significant
"$ROOT/run.sh" compare "$TINY" "$TINY" >"$dir/tiny.out" || fail "the tiny matrix against itself was flagged"
grep -q "no difference can reach p < 0.05" "$dir/tiny.out" || fail "compare does not warn that 2 repetitions cannot be significant"
# a cell whose workload ran with other parameters is not compared, however its speed moved
sed 's/"batches":200/"batches":400/' "$dir/slow/records.jsonl" >"$dir/otherparams.jsonl"
mkdir -p "$dir/otherparams" && mv "$dir/otherparams.jsonl" "$dir/otherparams/records.jsonl"
rc=0
"$ROOT/run.sh" compare "$dir/old" "$dir/otherparams" --threshold 10 >"$dir/otherparams.out" 2>&1 || rc=$?
grep -q 'not compared: the workload.s parameters differ (batches: 200 vs 400)' "$dir/otherparams.out" ||
    fail "cells with other parameters were compared: $(cat "$dir/otherparams.out")"
! grep -q REGRESSION "$dir/otherparams.out" || fail "a cell with other parameters was flagged as a regression"
# runs that fail in NEW where none failed in OLD are a regression, whatever the medians:
# one cell's five runs all failed, another's first failed
mkdir -p "$dir/fails"
python3 - "$dir/old/records.jsonl" "$dir/fails/records.jsonl" <<'PY'
import json, sys
out = open(sys.argv[2], "w")
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["cell"] == "cross-core-free:remote=0|1|glibc" or (r["cell"] == "cross-core-free:remote=100|2|glibc" and r["rep"] == 0):
        r = {k: r[k] for k in ("schema", "run_id", "cell", "rep", "warmup", "timestamp", "workload", "allocator", "threads")}
        r.update(status="failed", error="mhbench exited with status 5: synthetic")
    out.write(json.dumps(r) + "\n")
PY
rc=0
"$ROOT/run.sh" compare "$dir/old" "$dir/fails" >"$dir/fails.out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] && grep -q 'cross-core-free:remote=0|1|glibc .*REGRESSION: 5 of 5 runs fail now, none did' "$dir/fails.out" &&
    grep -q 'cross-core-free:remote=100|2|glibc .*REGRESSION: 1 of 5 runs fail now, none did' "$dir/fails.out" ||
    fail "runs that fail now were not flagged (exit $rc): $(cat "$dir/fails.out")"
# a cell with 3 repetitions a side cannot reach p < 0.05: its verdict says so, though
# the other cells, with 5, could
mkdir -p "$dir/few-old" "$dir/few-new"
python3 - "$dir/old/records.jsonl" "$dir/few-old/records.jsonl" "$dir/few-new/records.jsonl" <<'PY'
import json, sys
few = "cross-core-free:remote=0|1|glibc"
with open(sys.argv[2], "w") as old, open(sys.argv[3], "w") as new:
    for line in open(sys.argv[1]):
        r = json.loads(line)
        if r["cell"] == few and r["rep"] >= 3:
            continue
        old.write(json.dumps(r) + "\n")
        if r["cell"] == few:
            r["throughput_ops_s"] *= 0.7
        new.write(json.dumps(r) + "\n")
PY
"$ROOT/run.sh" compare "$dir/few-old" "$dir/few-new" >"$dir/few.out" 2>&1 ||
    fail "3 repetitions a side made a verdict: $(cat "$dir/few.out")"
grep -q 'cross-core-free:remote=0|1|glibc .*slower, too few repetitions to tell' "$dir/few.out" ||
    fail "a cell that cannot reach p < 0.05 does not say so: $(grep 'remote=0|1|glibc' "$dir/few.out")"
echo "matrix.compare: ok"
