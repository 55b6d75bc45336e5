#!/usr/bin/env bash
# matrix.shard: N shards run every run of the config exactly once, keep each
# case x threads group's allocators together, and merge into one result set.
. "$(dirname "$0")/lib.sh"
dir="$WORK/shard"
rm -rf "$dir" && mkdir -p "$dir"
whole="$("$MATRIX" --preset test --dry-run | sort)"
parts="$(for k in 1 2 3; do "$MATRIX" --preset test --shard "$k/3" --dry-run; done | sort)"
[ "$whole" = "$parts" ] || fail "shards 1/3..3/3 do not add up to the whole matrix"
for k in 1 2 3; do
    # within a pass, a group's cells differ only in the allocator: both must be there
    groups="$("$MATRIX" --preset test --shard "$k/3" --dry-run | cut -d'|' -f1,2 | sort | uniq -c | awk '{ print $1 }' | sort -u)"
    [ "$groups" = 2 ] || fail "shard $k/3 splits a group's allocators (counts per group: $(echo $groups))"
done

# two real shards, merged by ./run.sh report into one result set
"$MATRIX" --preset test --shard 1/2 --out "$dir/s1" >/dev/null 2>&1
"$MATRIX" --preset test --shard 2/2 --out "$dir/s2" >/dev/null 2>&1
out="$("$ROOT/run.sh" merge "$dir/merged" "$dir/s1" "$dir/s2")"
[ "$out" = "$dir/merged" ] || fail "merge printed '$out', want the merged directory"
[ "$(wc -l <"$dir/merged/records.jsonl")" -eq 30 ] || fail "the merged set should hold all 30 runs"
"$MH_MHREPORT" report --no-plots "$dir/merged" >/dev/null
[ "$(grep -c '^| .* | [12] | \(glibc\|jemalloc\) | 2 |' "$dir/merged/report.md")" -eq 10 ] ||
    fail "the merged report should have all 10 cells with 2 repetitions each"
expect_refusal "already holds records" "$ROOT/run.sh" merge "$dir/merged" "$dir/s1"
# a shard killed while writing ends in a torn line: the next shard's first record survives
mkdir -p "$dir/torn" && cp "$dir/s1/config.conf" "$dir/torn/" &&
    { cat "$dir/s1/records.jsonl"; printf '{"schema":1,"run_id":"torn'; } >"$dir/torn/records.jsonl"
"$ROOT/run.sh" merge "$dir/merged-torn" "$dir/torn" "$dir/s2" >/dev/null
[ "$("$MH_MHREPORT" done "$dir/merged-torn/records.jsonl" | wc -l)" -eq 30 ] ||
    fail "merging after a torn last line lost a record: $("$MH_MHREPORT" done "$dir/merged-torn/records.jsonl" | wc -l) of 30 runs"
# shards share a config, which the merged set keeps; sets of different configs have none
# to share, and the report says what was merged instead of one set's command
cmp -s "$dir/merged/config.conf" "$dir/s1/config.conf" || fail "the merged shards lost their config"
mkdir -p "$dir/other" && cp "$dir/s2/records.jsonl" "$dir/other/" &&
    { cat "$dir/s2/config.conf"; echo "# another config"; } >"$dir/other/config.conf"
"$ROOT/run.sh" merge "$dir/mixed" "$dir/s1" "$dir/other" >/dev/null || fail "the merge of two configs failed"
[ ! -e "$dir/mixed/config.conf" ] || fail "a merge of two configs kept the first one's config.conf"
"$MH_MHREPORT" report --no-plots "$dir/mixed" >/dev/null
grep -q 'merges the records of several runs' "$dir/mixed/report.md" && ! grep -q -- '--config' "$dir/mixed/report.md" ||
    fail "the report of a merge of two configs does not say so: $(grep -A3 'How to reproduce' "$dir/mixed/report.md")"
# a shard resumes as that shard: nothing of the other shards runs, its command stays
cp "$dir/s1/command.txt" "$dir/s1.command"
"$MATRIX" --resume "$dir/s1" >/dev/null 2>"$dir/resume.err"
grep -q "shard 1/2: .* 0 of $(wc -l <"$dir/s1/records.jsonl") runs to do" "$dir/resume.err" || fail "resuming shard 1/2 did not resume that shard: $(cat "$dir/resume.err")"
cmp -s "$dir/s1/command.txt" "$dir/s1.command" || fail "resuming a shard rewrote its command.txt: $(cat "$dir/s1/command.txt")"
expect_refusal "continues its own shard 1/2" "$MATRIX" --resume "$dir/s1" --shard 2/2
echo "matrix.shard: ok"
