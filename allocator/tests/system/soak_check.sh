#!/usr/bin/env bash
# alloc.sys.soak: a one-round soak passes and tallies each program; a program that fails
# is named with its exit status and output, and the soak exits 1.
# usage: soak_check.sh SOAK_SH BIN_DIR WORK_DIR
set -euo pipefail
soak="$1" bin="$2" work="$3"
fail() { echo "FAIL: $*" >&2; exit 1; }

out="$(MH_SOAK_BIN="$bin" "$soak" --seconds 1 --threads 1 2>&1)" || fail "a clean soak failed: $out"
grep -q "^soak: 1 rounds at 1 and 2 threads: [1-9][0-9]* runs passed, 0 failed$" <<<"$out" &&
    grep -q "^soak:   fork.cpu: 1 runs, 0 failed$" <<<"$out" || fail "a clean soak reported: $out"

rm -rf "$work" && mkdir -p "$work"
for f in "$bin"/mhsys_*; do ln -s "$f" "$work/"; done
rm "$work/mhsys_steal"
printf '#!/bin/sh\necho steal went wrong\nexit 3\n' >"$work/mhsys_steal"
chmod +x "$work/mhsys_steal"
rc=0
out="$(MH_SOAK_BIN="$work" "$soak" --seconds 1 --threads 1 --logs "$work/logs" 2>&1)" || rc=$?
[ "$rc" -eq 1 ] || fail "a soak with a failing program exited $rc, want 1"
grep -q "^soak: FAILED steal (round 0, exit 3): MULTIHEAP_KEY=thread " <<<"$out" &&
    grep -q "^steal went wrong$" <<<"$out" && grep -q "^soak:   steal: 1 runs, 1 failed$" <<<"$out" ||
    fail "a failing program was not named with its status and output: $out"
# The summary names the failure again with the file that holds its whole output.
log="$(sed -n 's/^soak: failed: steal (round 0, exit 3): //p' <<<"$out")"
[ "$log" = "$work/logs/steal.round0.txt" ] && grep -q "^steal went wrong$" "$log" ||
    fail "the summary did not name the failing run's output file: $out"
echo "soak: ok"
