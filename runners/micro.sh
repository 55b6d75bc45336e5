#!/usr/bin/env bash
# Runs the microbenchmarks (mhmicro) under each allocator, in interleaved rounds,
# converts each Google Benchmark JSON into result records (one JSONL file), and
# prints a table of median ns/op and spread, benchmark x allocator. See README.md (Microbenchmarks).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${MH_BUILD_DIR:-$ROOT/build}"
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
MICRO="${MH_MICRO_BIN:-$BUILD/runners/mhmicro}"
CONVERT="${MH_MICRO_CONVERT:-$BUILD/runners/mhmicro_convert}"

allocators="glibc,tcmalloc,jemalloc,mimalloc,multiheap"
repetitions=5
min_time=0.02
filter=""
out=""
timeout=""

usage() {
    cat <<USAGE
usage: runners/micro.sh [--allocators a,b,...] [--repetitions N] [--min-time S]
                        [--filter REGEX] [--timeout S] --out DIR

Runs mhmicro under each allocator (default: $allocators; NAME=/path.so too),
N times (default $repetitions), interleaved: round r runs every allocator once,
each benchmark for at least S seconds (default $min_time); only the benchmarks
matching REGEX (default all; list them with
'mhmicro --allocator=glibc --benchmark_list_tests'); a run that takes longer than
--timeout seconds (default 300, or 400 x S if longer, since each of the hundred or so
benchmarks runs at least S) is stopped and its allocator counted failed. Writes to DIR:
  gbench-NAME-rR.json  Google Benchmark's JSON for each allocator and round
  micro.jsonl          the result records (results/SCHEMA.md), one per
                       benchmark, allocator and round (its "rep"), a failed one for each
                       benchmark of a run that failed; DIR must not hold one
  command.txt          this command without --out, for the report's "How to reproduce"
  .micro.lock          held (flock) while a run writes DIR: a second run into DIR is refused
and prints median ns/op (± coefficient of variation) per benchmark and allocator.
Binaries: \$MH_MICRO_BIN and \$MH_MICRO_CONVERT, else \$MH_BUILD_DIR/runners/ (default build/).
USAGE
}

die() { echo "micro.sh: $*" >&2; exit 2; }

given=" "
while [ $# -gt 0 ]; do
    # of two, the last would win unsaid
    case "$1" in
        --allocators|--repetitions|--min-time|--filter|--timeout|--out)
            [[ "$given" != *" $1 "* ]] || die "$1 is given twice; give it once"
            given+="$1 " ;;
    esac
    case "$1" in
        --allocators)  [ $# -ge 2 ] || die "--allocators needs a list, e.g. glibc,jemalloc"; allocators="$2"; shift 2 ;;
        --repetitions) [ $# -ge 2 ] || die "--repetitions needs a number"; repetitions="$2"; shift 2 ;;
        --min-time)    [ $# -ge 2 ] || die "--min-time needs seconds, e.g. 0.05"; min_time="$2"; shift 2 ;;
        --filter)      [ $# -ge 2 ] || die "--filter needs a regular expression"; filter="$2"; shift 2 ;;
        --timeout)     [ $# -ge 2 ] || die "--timeout needs seconds, e.g. 300"; timeout="$2"; shift 2 ;;
        --out)         [ $# -ge 2 ] || die "--out needs a directory"; out="$2"; shift 2 ;;
        -h|--help)     usage; exit 0 ;;
        *) die "unknown argument '$1'; see runners/micro.sh --help" ;;
    esac
done
[ -n "$out" ] || die "missing --out DIR; see runners/micro.sh --help"
# checked as text: bash's arithmetic wraps round past 2^63 (the time left went negative)
[[ "$repetitions" =~ ^([1-9][0-9]{0,2}|1000)$ ]] || die "--repetitions '$repetitions' must be a whole number from 1 to 1000"
[[ "$min_time" =~ ^([0-9]+\.?[0-9]*|\.[0-9]+)$ ]] && [[ "$min_time" =~ [1-9] ]] ||
    die "--min-time '$min_time' must be a positive number of seconds, e.g. 0.02"
[ -n "$timeout" ] || timeout="$(awk -v s="$min_time" 'BEGIN { t = int(400 * s + 0.999); print (t > 300 ? t : 300) }')"
[[ "$timeout" =~ ^[1-9][0-9]{0,5}$ ]] || die "--timeout '$timeout' must be a whole number of seconds from 1 to 999999"
[ -n "$allocators" ] || die "--allocators is empty; give e.g. glibc,jemalloc"
[ -x "$MICRO" ] && [ -x "$CONVERT" ] ||
    die "mhmicro or mhmicro_convert not built under $BUILD/runners; run ./run.sh build (or set MH_BUILD_DIR)"
# The benchmarks each run covers: a run that leaves no JSON gets a failed record for each.
list=(--allocator=glibc --benchmark_list_tests ${filter:+"--benchmark_filter=$filter"})
listing="$("$MICRO" "${list[@]}" 2>/dev/null)" || {
    why="$("$MICRO" "${list[@]}" 2>&1 >/dev/null)" || true
    # Google Benchmark's words for a regex it cannot compile
    [[ "$why" != *"Could not compile benchmark re"* ]] ||
        die "--filter '$filter' is not a valid regular expression (${why##*re: }); fix it, or list the benchmarks with '$MICRO --allocator=glibc --benchmark_list_tests'"
    [[ "$why" != *"Failed to match any benchmarks"* ]] ||
        die "--filter '$filter' matches no benchmark; list them with '$MICRO --allocator=glibc --benchmark_list_tests'"
    die "listing the benchmarks failed: $MICRO --allocator=glibc --benchmark_list_tests: ${why:-no output}; rebuild with ./run.sh build"
}
mapfile -t benchmarks <<<"$listing"
# Rounds of two runs in one micro.jsonl would be pooled into one median per cell.
[ ! -s "$out/micro.jsonl" ] || die "'$out' already holds a run's micro.jsonl; pick another --out"

run_id="micro-$(date -u +%Y%m%dT%H%M%SZ)"
records="$out/micro.jsonl"
failed=()
IFS=',' read -r -a names <<<"$allocators"
nnames=${#names[@]}
# Names are checked before the first round: a typo must not come to light only after
# the other allocators' rounds have run.
MHBENCH="${MH_MHBENCH:-$BUILD/runners/mhbench}"
[ -x "$MHBENCH" ] || die "no driver at $MHBENCH to check the allocator names; run ./run.sh build (or set MH_MHBENCH)"
seen=" "
for name in "${names[@]}"; do
    msg="$("$MHBENCH" allocators "$name" 2>&1 >/dev/null)" || die "${msg#mhbench: }"
    # records are named by the allocator's name: two specs of one name would be pooled
    [[ "$seen" != *" ${name%%=*} "* ]] || die "allocator name '${name%%=*}' is given twice; name each variant differently"
    seen+="${name%%=*} "
done
mkdir -p "$out" 2>/dev/null && [ -w "$out" ] || die "cannot create --out directory '$out'; give a writable one"
# One run a directory, as in the matrix: a second one would measure beside the first, on
# the same CPUs, and write the same files. The lock lives as long as any process holds fd 9.
exec 9>>"$out/.micro.lock"
flock -n 9 || die "another micro.sh is writing '$out'; wait for it to end, or pick another --out"
# As the matrix: a SIGTERM lets the run in flight finish and write its JSON, then stops
# (bash runs the trap once that run returns), so that no run is left behind writing.
# Ctrl-C (SIGINT to the group) stops the run in flight too, and says the same; run.sh
# targets names its own resume command in MH_RESUME_HINT. The trap may run inside the
# redirection of a run's stderr to its allocator's file: it writes to a copy (fd 8).
exec 8>&2
stop() {
    echo "micro.sh: stopped by SIG$1; $out holds the rounds done so far${MH_RESUME_HINT:+; $MH_RESUME_HINT}" >&8
    exit $((128 + $(kill -l "$1")))
}
trap 'stop TERM' TERM
trap 'stop INT' INT
# How to run this set again, for its report: into a new directory (this one is taken);
# %q keeps an argument one word.
cmd="./run.sh micro --allocators $(printf '%q' "$allocators") --repetitions $repetitions --min-time $min_time"
[ -z "$filter" ] || cmd+=" --filter $(printf '%q' "$filter")"
echo "$cmd" >"$out/command.txt"
# As in the matrix, a name must say what ran: allocator-tuning variables from the shell go.
inherited="$("$MHBENCH" inherited | tr '\n' ' ')"
for v in $inherited; do unset "$v"; done
[ -z "$inherited" ] || echo "micro.sh: ignoring ${inherited% } from the environment; set such variables with a variant, e.g. NAME=jemalloc+MALLOC_CONF=..." >&2
total=$((repetitions * nnames))
done_runs=0
start=$SECONDS
is_failed() { local f; for f in ${failed[@]+"${failed[@]}"}; do [ "$f" = "$1" ] && return 0; done; return 1; }
# failure LABEL SPEC ROUND REASON: says so, and writes a failed record for each benchmark of
# the run, as the matrix does for a run that died, so that the report names the allocator
# among the failed runs instead of leaving it out. One that cannot be written (a full disk)
# stops micro.sh: the set would look as if the allocator had never run.
failure() {
    echo "micro.sh: $1 failed: $4" >&2
    failed+=("$1")
    "$CONVERT" --failed "$4" --allocator "$2" --run-id "$run_id" --cell "micro/$1" --rep "$3" \
        --out "$records" "${benchmarks[@]}" || {
        echo "micro.sh: stopped: $records lacks $1's failed records; free space, then run again into a new --out" >&2
        exit 1
    }
}
# This run's messages only: a reused --out must not show an older run's last line.
for name in "${names[@]}"; do : >"$out/stderr-${name%%=*}.txt"; done
# The repetitions interleave: round r runs every allocator once (one Google Benchmark
# repetition each), starting one allocator further on each round, so that a slow spell
# of a shared machine falls on every allocator instead of on one. An allocator that
# fails is left out of the later rounds.
for ((r = 0; r < repetitions; r++)); do
    for ((j = 0; j < nnames; j++)); do
        name="${names[(j + r) % nnames]}"
        label="${name%%=*}"
        done_runs=$((done_runs + 1))
        is_failed "$label" && continue
        json="$out/gbench-$label-r$r.json"
        args=(--allocator="$name" --benchmark_repetitions=1
              --benchmark_min_time="$min_time" --benchmark_format=json)
        [ -n "$filter" ] && args+=(--benchmark_filter="$filter")
        left=""
        [ $done_runs -gt 1 ] &&
            left=", about $(( (SECONDS - start) * (total - done_runs + 1) / (done_runs - 1) )) s left"
        echo "micro.sh: round $((r + 1))/$repetitions: $label (run $done_runs of $total$left)" >&2
        # stderr carries mhmicro's one-line reason: exit 2 is bad input (an unknown
        # allocator, a filter matching nothing), 3 a preload that did not take effect.
        # --foreground: Ctrl-C reaches the run as it reaches micro.sh; the braces send
        # bash's own "Aborted" line to the allocator's stderr file, not the terminal.
        rc=0
        { timeout --foreground -k 5 "$timeout" "$MICRO" "${args[@]}" >"$json"; } 2>>"$out/stderr-$label.txt" || rc=$?
        [ $rc -eq 2 ] && die "$(tail -n 1 "$out/stderr-$label.txt")"
        # Ctrl-C: the run died of it, and timeout exits 130 instead of dying of it too,
        # which bash takes for a run that handled the signal, so its trap never runs.
        [ $rc -eq 130 ] && stop INT
        if [ $rc -ne 0 ]; then
            case "$rc" in
                124|137) reason="timed out after ${timeout}s (--timeout)" ;;
                1[3-9][0-9]) reason="killed by signal $((rc - 128)) (SIG$(kill -l $((rc - 128)) 2>/dev/null))" ;;
                *) reason="exit status $rc: $(tail -n 1 "$out/stderr-$label.txt")" ;;
            esac
            failure "$label" "$name" "$r" "$reason"
            continue
        fi
        msg="$("$CONVERT" --run-id "$run_id" --cell "micro/$label" --rep "$r" --out "$records" "$json" 2>&1)" ||
            failure "$label" "$name" "$r" "its JSON was not converted: ${msg#mhmicro_convert: }"
    done
done

[ -s "$records" ] && "$CONVERT" --table "$records" --run-id "$run_id"
if [ ${#failed[@]} -gt 0 ]; then
    echo "micro.sh: failed: ${failed[*]} (see $out/stderr-NAME.txt)" >&2
    exit 1
fi
