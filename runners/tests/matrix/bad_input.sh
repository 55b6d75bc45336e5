#!/usr/bin/env bash
# matrix.bad_input: bad configs are refused before anything runs (one line,
# exit 2, no run directory); a missing gnuplot and an empty result set are
# refused by the report with the records kept.
. "$(dirname "$0")/lib.sh"
dir="$WORK/bad"
rm -rf "$dir"
mkdir -p "$dir"
write() { local name="$1"; shift; printf '%s\n' "$@" >"$dir/$name.conf"; }

write unknown_workload "allocators = glibc" "workload no-such-workload --x=1"
expect_refusal "unknown workload 'no-such-workload'" "$MATRIX" --config "$dir/unknown_workload.conf" --out "$dir/run1"
write unknown_allocator "allocators = glibc nosuchalloc" "workload thread-local-churn"
expect_refusal "unknown allocator 'nosuchalloc'" "$MATRIX" --config "$dir/unknown_allocator.conf" --out "$dir/run2"
write bad_line "allocators = glibc" "repetitions = many" "workload thread-local-churn"
expect_refusal "repetitions" "$MATRIX" --config "$dir/bad_line.conf" --out "$dir/run3"
write bad_key "colour = blue" "workload thread-local-churn"
expect_refusal "unknown key 'colour'" "$MATRIX" --config "$dir/bad_key.conf" --out "$dir/run4"
write no_workload "allocators = glibc"
expect_refusal "no 'workload" "$MATRIX" --config "$dir/no_workload.conf" --out "$dir/run5"
expect_refusal "shard" "$MATRIX" --preset test --shard 3/2 --out "$dir/run6"
expect_refusal "unknown preset" "$MATRIX" --preset huge --out "$dir/run7"
for i in 1 2 3 4 5 6 7; do
    [ ! -e "$dir/run$i" ] || fail "a refused config left a run directory behind (run$i)"
done

# empty result set
mkdir -p "$dir/empty" && : >"$dir/empty/records.jsonl"
expect_refusal "no successful runs" "$MH_MHREPORT" report "$dir/empty"
expect_refusal "threshold" "$MH_MHREPORT" compare "$TINY" "$TINY" --threshold lots
expect_refusal "not a directory" "$ROOT/run.sh" report "$dir/nonexistent"
expect_refusal "unknown subcommand 'frob'" "$ROOT/run.sh" frob

# missing gnuplot: exit 2, one line, the records untouched and the CSV still written
mkdir -p "$dir/nognuplot" && cp "$TINY/records.jsonl" "$dir/nognuplot/"
sum="$(md5sum <"$dir/nognuplot/records.jsonl")"
expect_refusal "gnuplot not found" env MH_GNUPLOT=/nonexistent/gnuplot "$MH_MHREPORT" report "$dir/nognuplot"
[ "$(md5sum <"$dir/nognuplot/records.jsonl")" = "$sum" ] || fail "the report changed the records"
[ -s "$dir/nognuplot/results.csv" ] || fail "without gnuplot the CSV should still be written"
echo "matrix.bad_input: ok"
