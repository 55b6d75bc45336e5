#!/usr/bin/env bash
# One workload, briefly, under each allocator with --check on; then a bad parameter.
#
# usage: run_workload.sh MHBENCH WORKLOAD 'BAD PARAMS' 'EXPECT' [RUN ARGS...]
#   BAD PARAMS  parameters the workload must refuse with exit 2 and one line on stderr
#   EXPECT      a Python expression over the record r that must hold, e.g. r["extra"]["writes"] > 0
#   RUN ARGS    tiny parameters and --threads for the runs
# Allocators: $MH_TEST_ALLOCATORS, default all five. One whose library is missing fails.
set -u
mhbench=$1 workload=$2 bad=$3 expect=$4
shift 4
allocators=${MH_TEST_ALLOCATORS:-glibc tcmalloc jemalloc mimalloc multiheap}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

fail() {
    echo "FAIL $workload: $*"
    failed=1
}

# Prints what is wrong with the one record in $1 (nothing when it is right).
check_record() {
    python3 - "$1" "$workload" "$2" "$expect" <<'PY'
import json, sys
path, workload, allocator, expect = sys.argv[1:]
lines = open(path).read().splitlines()
if len(lines) != 1:
    sys.exit(f"{len(lines)} lines in the JSONL file, expected one record")
r = json.loads(lines[0])
problems = []
if r.get("status") != "ok":
    problems.append(f"status {r.get('status')!r}, error {r.get('error')!r}")
if not isinstance(r.get("ops"), (int, float)) or r["ops"] <= 0:
    problems.append(f"ops {r.get('ops')!r}, expected > 0")
if r.get("workload", {}).get("name") != workload:
    problems.append(f"workload.name {r.get('workload', {}).get('name')!r}")
if r.get("allocator", {}).get("name") != allocator or r["allocator"].get("verified") is not True:
    problems.append(f"allocator {r.get('allocator')!r} is not a verified {allocator}")
try:
    if not eval(expect, {}, {"r": r}):
        problems.append(f"expectation failed: {expect}  (extra: {json.dumps(r.get('extra'))[:300]})")
except Exception as e:
    problems.append(f"expectation {expect} raised {e!r}")
print("; ".join(problems))
PY
}

for alloc in $allocators; do
    out=$tmp/$alloc.jsonl
    "$mhbench" run "$workload" --allocator="$alloc" --check --out="$out" "$@" >"$tmp/log" 2>&1
    rc=$?
    if [ $rc -ne 0 ]; then
        fail "$alloc: mhbench run exited $rc: $(tail -n 3 "$tmp/log" | tr '\n' ' ')"
        continue
    fi
    problems=$(check_record "$out" "$alloc" 2>&1)
    if [ -n "$problems" ]; then
        fail "$alloc: $problems"
        continue
    fi
    if ! "$mhbench" validate "$out" >"$tmp/log" 2>&1; then
        fail "$alloc: mhbench validate: $(tail -n 3 "$tmp/log" | tr '\n' ' ')"
        continue
    fi
    echo "ok $workload under $alloc"
done

# shellcheck disable=SC2086  # BAD PARAMS is a word list
"$mhbench" run "$workload" --allocator=glibc "$@" $bad >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?
if [ $rc -ne 2 ]; then
    fail "bad parameters '$bad' exited $rc, expected 2: $(tail -n 3 "$tmp/stderr" | tr '\n' ' ')"
elif [ "$(wc -l <"$tmp/stderr")" -ne 1 ]; then
    fail "bad parameters '$bad' printed $(wc -l <"$tmp/stderr") lines on stderr, expected one: $(cat "$tmp/stderr")"
else
    echo "ok $workload refuses '$bad': $(cat "$tmp/stderr")"
fi
exit $failed
