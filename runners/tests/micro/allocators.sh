#!/usr/bin/env bash
# micro.allocators: runners/micro.sh runs mhmicro briefly under each allocator
# named on the command line, in two interleaved rounds; every record must say
# that allocator served it, verified, with a measured ns/op, and be repetition 0
# or 1 of its benchmark, the rounds one after the other. A preload that does not take effect and an
# unknown allocator must be refused (exit 3 / exit 2, one line).
#   allocators.sh MICRO_SH MHMICRO MHMICRO_CONVERT NAME...
set -uo pipefail
MICRO_SH="$1" MICRO="$2" CONVERT="$3"
shift 3
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "micro.allocators: $*" >&2; fail=1; }

filter='pair/size:64|churn/max:512/slots:64|pair_mt/size:64/real_time/threads:2'
nbench=3
if [ "$(nproc)" -ge 2 ]; then filter="$filter|remote_free/size:64/remote:1/real_time"; nbench=4; fi
list="$(IFS=,; echo "$*")"
MH_MICRO_BIN="$MICRO" MH_MICRO_CONVERT="$CONVERT" "$MICRO_SH" --allocators "$list" \
    --repetitions 2 --min-time 0.002 --filter "^($filter)\$" --out "$tmp/out" >"$tmp/table" ||
    bad "micro.sh exited $?: $(cat "$tmp"/out/stderr-*.txt 2>/dev/null | tail -n 3)"

records="$tmp/out/micro.jsonl"
for name in "$@"; do
    case "$name" in
        glibc) lib='libc\.so\.6' ;;
        *)     lib="lib$name[^\"]*\\.so" ;;
    esac
    mine="$(grep -F "\"allocator\":{\"name\":\"$name\"" "$records" 2>/dev/null)"
    n="$(printf '%s' "$mine" | grep -c .)"
    [ "$n" -eq $((2 * nbench)) ] || bad "$name: $n records, want $((2 * nbench)) (2 rounds)"
    for rep in 0 1; do
        k="$(printf '%s\n' "$mine" | grep -c "\"rep\":$rep,")"
        [ "$k" -eq "$nbench" ] || bad "$name: $k records of repetition $rep, want $nbench"
    done
    served="$(printf '%s\n' "$mine" | grep -Ec "\"served_by\":\"/[^\"]*/$lib[^\"]*\",\"verified\":true")"
    [ "$served" -eq "$n" ] || bad "$name: served_by/verified wrong in $((n - served)) records"
    ok="$(printf '%s\n' "$mine" | grep -Ec '"status":"ok".*"ns_per_op":[0-9.]+[0-9e+-]*,')"
    [ "$ok" -eq "$n" ] || bad "$name: $((n - ok)) records not ok or without ns_per_op"
    head -n 2 "$tmp/table" | grep -q " $name\b" || bad "$name: no column in the table"
done
# Interleaved: every record of round 0, of all allocators, comes before any of round 1.
order="$(grep -o '"rep":[0-9]*' "$records" | cut -d: -f2 | tr -d '\n')"
[[ "$order" =~ ^0+1+$ ]] || bad "rounds not interleaved: repetitions in file order $order"

# A variant's variables reach its records; the shell's allocator-tuning ones are dropped.
MALLOC_CONF=narenas:2 MH_MICRO_BIN="$MICRO" MH_MICRO_CONVERT="$CONVERT" "$MICRO_SH" \
    --allocators 'nocache=multiheap+MULTIHEAP_CACHE=0' --repetitions 1 --min-time 0.002 \
    --filter '^pair/size:64$' --out "$tmp/variant" >/dev/null 2>"$tmp/variant.err" ||
    bad "the variant run failed: $(tail -n 2 "$tmp/variant.err")"
grep -q 'ignoring MALLOC_CONF' "$tmp/variant.err" || bad "micro.sh did not drop MALLOC_CONF: $(head -n 2 "$tmp/variant.err")"
grep -q '"env":{"MULTIHEAP_CACHE":"0"},"inherited_env":{}' "$tmp/variant/micro.jsonl" ||
    bad "the variant's records lack its variables: $(grep -o '"allocator":{[^}]*}' "$tmp/variant/micro.jsonl" | head -n 1)"

# A library that defines no malloc (libm) is no allocator: bad input, exit 2, one line,
# before anything runs.
"$MICRO" --allocator=libm=/lib/x86_64-linux-gnu/libm.so.6 --benchmark_filter='^empty$' \
    >"$tmp/stdout" 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] || bad "a library without malloc: exit $rc, want 2"
[ "$(wc -l <"$tmp/err")" -eq 1 ] && [ ! -s "$tmp/stdout" ] && grep -q "defines no malloc" "$tmp/err" ||
    bad "a library without malloc: want one line on stderr naming it and no output, got: $(cat "$tmp/err" "$tmp/stdout")"
"$MICRO" --allocator=nosuch >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] || bad "unknown allocator: exit $rc, stderr: $(cat "$tmp/err")"
exit $fail
