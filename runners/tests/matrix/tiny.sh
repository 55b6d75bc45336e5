#!/usr/bin/env bash
# matrix.tiny (fixture for report/compare): ./run.sh matrix + report on the
# test preset (2 allocators, 2 workloads, 2 repetitions); checks the run order.
. "$(dirname "$0")/lib.sh"
rm -rf "$TINY"
"$ROOT/run.sh" matrix --preset test --out "$TINY" >/dev/null
"$ROOT/run.sh" report "$TINY" >/dev/null
rec="$TINY/records.jsonl"
# 2 cells of producer-consumer (2 threads only) + 2 sweep cases x 2 threads x 2 allocators,
# each once as warm-up and twice measured
[ "$(wc -l <"$rec")" -eq 30 ] || fail "want 30 records, got $(wc -l <"$rec")"
[ "$(grep -c '"status":"ok"' "$rec")" -eq 30 ] || fail "some runs of the tiny matrix failed: $(grep -v '"status":"ok"' "$rec" | head -c 600)"
[ "$(head -n10 "$rec" | grep -c '"warmup":true')" -eq 10 ] || fail "the first pass over the 10 cells must be the warm-up"
[ "$(grep -c '"warmup":true' "$rec")" -eq 10 ] || fail "want exactly one warm-up run per cell"
# interleaved: consecutive runs never use the same allocator (A B A B ...)
allocs="$(grep -o '"allocator":{"name":"[a-z]*"' "$rec" | cut -d'"' -f6)"
[ -z "$(uniq -d <<<"$allocs")" ] || fail "runs are not interleaved across allocators: $(echo $allocs)"
for f in records.jsonl results.csv env.json config.conf command.txt report.md report.html; do
    [ -s "$TINY/$f" ] || fail "$f missing or empty in the run directory"
done
# command.txt runs the matrix again from a directory whose path has spaces
sp="$WORK/with space/run 1"
rm -rf "$WORK/with space" && mkdir -p "$WORK/with space"
printf '%s\n' "allocators = glibc" "repetitions = 1" "warmup = 0" "threads = 1" \
    "workload thread-local-churn --ops=1000" >"$WORK/with space/one.conf"
"$ROOT/run.sh" matrix --config "$WORK/with space/one.conf" --out "$sp" >/dev/null 2>&1 || fail "a matrix into '$sp' failed"
(cd "$ROOT" && eval "$(cat "$sp/command.txt") --dry-run" >/dev/null 2>"$WORK/space.err") ||
    fail "command.txt does not run again: $(cat "$sp/command.txt"): $(cat "$WORK/space.err")"
# a run directory, so a run id, that starts with "--", and an allocator named so: the
# driver's options go as --name=VALUE (a separate value that starts with "--" is refused)
odd="$WORK/with space/--odd"
printf '%s\n' "allocators = --g=glibc" "repetitions = 1" "warmup = 0" "threads = 1" \
    "workload thread-local-churn --ops=1000" >"$WORK/with space/odd.conf"
"$ROOT/run.sh" matrix --config "$WORK/with space/odd.conf" --out "$odd" >/dev/null 2>&1 &&
    grep -q '"status":"ok","error":null,"run_id":"--odd"' "$odd/records.jsonl" ||
    fail "a run named --odd failed: $(head -c 400 "$odd/records.jsonl" 2>/dev/null)"
# moved elsewhere (as the committed references are), its report's command names the
# config beside it, not the one in the directory it was made in
mv "$sp" "$WORK/with space/moved 1"
"$MH_MHREPORT" report --no-plots "$WORK/with space/moved 1" >/dev/null || fail "the moved set's report failed"
again="$(grep -A3 '^The whole matrix:' "$WORK/with space/moved 1/report.md" | grep '^\./run.sh')"
[[ "$again" == *"moved 1/config.conf"* ]] && (cd "$ROOT" && eval "$again --dry-run" >/dev/null 2>"$WORK/moved.err") ||
    fail "the moved set's report does not rerun its config: '$again': $(cat "$WORK/moved.err" 2>/dev/null)"
# a report written elsewhere (--out) still reads how the set was made beside its records
rm -rf "$WORK/moved-report"
"$MH_MHREPORT" report --no-plots --out "$WORK/moved-report" "$WORK/with space/moved 1" >/dev/null &&
    grep -q "moved 1/config.conf" "$WORK/moved-report/report.md" ||
    fail "a report written with --out lost the set's command: $(grep -A3 'How to reproduce' "$WORK/moved-report/report.md")"
echo "matrix.tiny: ok"
