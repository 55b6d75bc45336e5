#!/usr/bin/env bash
# One workload, briefly, under each allocator with --check on; then a bad parameter, which
# run and check must refuse.
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

# Checks each ALLOCATOR=FILE record (one line each); prints one line per allocator:
# "ok ALLOCATOR" or "FAIL ALLOCATOR: what is wrong".
check_records() {
    python3 - "$workload" "$expect" "$@" <<'PY'
import json, sys
workload, expect = sys.argv[1:3]

def problems(path, allocator):
    lines = open(path).read().splitlines()
    if len(lines) != 1:
        return [f"{len(lines)} lines in the JSONL file, expected one record"]
    r = json.loads(lines[0])
    found = []
    if r.get("status") != "ok":
        found.append(f"status {r.get('status')!r}, error {r.get('error')!r}")
    if not isinstance(r.get("ops"), (int, float)) or r["ops"] <= 0:
        found.append(f"ops {r.get('ops')!r}, expected > 0")
    if r.get("workload", {}).get("name") != workload:
        found.append(f"workload.name {r.get('workload', {}).get('name')!r}")
    if r.get("allocator", {}).get("name") != allocator or r["allocator"].get("verified") is not True:
        found.append(f"allocator {r.get('allocator')!r} is not a verified {allocator}")
    try:
        if not eval(expect, {}, {"r": r}):
            found.append(f"expectation failed: {expect} (ops {r.get('ops')}, extra {json.dumps(r.get('extra'))[:300]})")
    except Exception as e:
        found.append(f"expectation {expect} raised {e!r}")
    return found

for arg in sys.argv[3:]:
    allocator, path = arg.split("=", 1)
    try:
        found = problems(path, allocator)
    except Exception as e:
        found = [f"unreadable record: {e!r}"]
    print(f"FAIL {allocator}: " + "; ".join(found) if found else f"ok {allocator}")
PY
}

exit_text() {
    if [ "$1" -gt 128 ]; then echo "$1 (killed by signal $(($1 - 128)))"; else echo "$1"; fi
}

records=()
for alloc in $allocators; do
    out=$tmp/$alloc.jsonl
    "$mhbench" run "$workload" --allocator="$alloc" --check --out="$out" "$@" >"$tmp/log" 2>&1
    rc=$?
    if [ $rc -ne 0 ]; then
        fail "$alloc: mhbench run exited $(exit_text $rc): $(tail -n 3 "$tmp/log" | tr '\n' ' ')"
    else
        records+=("$alloc=$out")
    fi
done

if [ ${#records[@]} -gt 0 ]; then
    while read -r verdict; do
        case $verdict in
            ok\ *) echo "$verdict: $workload record checked" ;;
            *) fail "${verdict#FAIL }" ;;
        esac
    done < <(check_records "${records[@]}" 2>&1)
    if ! "$mhbench" validate "${records[@]#*=}" >"$tmp/log" 2>&1; then
        fail "mhbench validate: $(tail -n 5 "$tmp/log" | tr '\n' ' ')"
    fi
fi

# The bad parameters replace the run arguments of the same names: given as well, they were
# refused as given twice, whatever their values (nine of the bad-parameter checks passed so,
# --iterations=7 as readily as --iterations=0).
bad_run=()
for arg in "$@"; do
    keep=1
    for b in $bad; do
        [ "${arg%%=*}" = "${b%%=*}" ] && keep=0
    done
    [ $keep -eq 1 ] && bad_run+=("$arg")
done
# shellcheck disable=SC2206  # BAD PARAMS is a word list
bad_run+=($bad)

"$mhbench" run "$workload" --allocator=glibc "${bad_run[@]}" >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?
if [ $rc -ne 2 ]; then
    fail "bad parameters '$bad' exited $(exit_text $rc), expected 2: $(tail -n 3 "$tmp/stderr" | tr '\n' ' ')"
elif [ "$(wc -l <"$tmp/stderr")" -ne 1 ]; then
    fail "bad parameters '$bad' printed $(wc -l <"$tmp/stderr") lines on stderr, expected one: $(cat "$tmp/stderr")"
else
    echo "ok $workload refuses '$bad': $(cat "$tmp/stderr")"
fi
# mhbench check, which the matrix runs on every case first, refuses what run refuses
# (the bad parameters of several workloads are refused by their setup) and passes the rest
"$mhbench" check "$workload" "${bad_run[@]}" >/dev/null 2>"$tmp/stderr"
rc=$?
[ $rc -eq 2 ] && [ "$(wc -l <"$tmp/stderr")" -eq 1 ] ||
    fail "mhbench check with '$bad' exited $(exit_text $rc), expected 2 and one line: $(cat "$tmp/stderr")"
"$mhbench" check "$workload" "$@" >/dev/null 2>"$tmp/stderr" ||
    fail "mhbench check refused the good parameters: $(cat "$tmp/stderr")"
exit $failed
