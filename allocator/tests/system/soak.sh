#!/usr/bin/env bash
# The allocator's system tests again and again, at N and 2N threads (N = CPUs), with a
# new seed each round, until a time limit: what a many-core machine finds and ctest's
# single short runs on 2 CPUs do not (the purger's deadlock in a forked child showed up
# once in 12 rounds on 16 CPUs, purge.c). Each failing run's command and the tail of
# its output go to stderr as it fails, its whole output to a file in the log folder,
# and the summary at the end names them again (a long soak's early failure is then not
# lost above the fold); the exit status is 1 if any run failed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
BUILD="${MH_BUILD_DIR:-$ROOT/build}"
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
BIN="${MH_SOAK_BIN:-$BUILD/allocator/tests/system}"

die() { echo "soak: $*" >&2; exit 2; }

usage() {
    cat <<USAGE
usage: soak.sh [--seconds S] [--threads N] [--logs DIR]

Runs the system tests (stress under each key and run-time design, with threads
hopping between CPUs and under a stream of signals, fork from a multithreaded parent, steal, the large-path race,
the TSan stress build) in rounds at N and 2N threads (default N: the CPUs) with a new seed each round, for S seconds
(default 300; a round started before then is finished), showing each run as it starts
(k of n; an N past the programs' bounds, stress 256 threads and fork 64, is said and
clamped). A failing run's whole output
goes to DIR (default: a folder made under \$TMPDIR or /tmp at the first failure). Binaries: \$MH_SOAK_BIN,
else \$MH_BUILD_DIR/allocator/tests/system/ (./run.sh build makes them).
USAGE
}

SECONDS_LIMIT=300 N="$(nproc)" LOGS="" given=" "
while [ $# -gt 0 ]; do
    # of two, the last would win unsaid
    case "$1" in
        --seconds|--threads|--logs)
            [[ "$given" != *" $1 "* ]] || die "$1 is given twice; give it once"
            given+="$1 " ;;
    esac
    case "$1" in
        --seconds) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || die "--seconds needs a positive whole number"; SECONDS_LIMIT=$2; shift 2 ;;
        --threads) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || die "--threads needs a positive whole number"; N=$2; shift 2 ;;
        --logs) [ -n "${2:-}" ] || die "--logs needs a directory"; LOGS=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument '$1'; see soak.sh --help" ;;
    esac
done
for b in mhsys_stress mhsys_fork mhsys_steal mhsys_large_race; do
    [ -x "$BIN/$b" ] || die "$BIN/$b is missing; run ./run.sh build first (or set MH_SOAK_BIN)"
done

[ -z "$LOGS" ] || mkdir -p "$LOGS" 2>/dev/null || die "cannot make the log folder $LOGS; name another with --logs"

passed=0 failed=0 round=0
declare -A runs=() fails=()
failures=()
# Progress within a round, which takes minutes at 256 threads: the run going on, k of n,
# on one line that each run overwrites on a terminal, else a line each. counting: the
# round's runs are being counted (run_round's first pass), none is run.
counting="" k=0 n=0
progress() {
    if [ -t 1 ]; then printf '\r\033[Ksoak: round %d: %s (%d of %d)' $((round + 1)) "$1" "$k" "$n"
    else echo "soak: round $((round + 1)): $1 ($k of $n)"; fi
}
# Ends the progress line before other output.
end_progress() { [ ! -t 1 ] || printf '\r\033[K'; }
# soak_run NAME [VAR=VALUE...] -- PROGRAM ARGS...: one run, tallied under NAME.
soak_run() {
    local name="$1"; shift
    k=$((k + 1))
    [ -z "$counting" ] || return 0
    progress "$name"
    local env=() out rc=0
    while [ "$1" != -- ]; do env+=("$1"); shift; done
    shift
    out="$(env "${env[@]}" timeout 300 "$@" 2>&1)" || rc=$?
    runs[$name]=$(( ${runs[$name]:-0} + 1 ))
    if [ "$rc" -eq 0 ]; then passed=$((passed + 1)); return; fi
    failed=$((failed + 1)) fails[$name]=$(( ${fails[$name]:-0} + 1 ))
    [ -n "$LOGS" ] || LOGS="$(mktemp -d "${TMPDIR:-/tmp}/mhsoak.XXXXXX")"
    local log="$LOGS/$name.round$round.txt"
    printf '%s\n' "${env[*]} $*" "$out" >"$log"
    failures+=("$name (round $round, exit $rc): $log")
    end_progress
    { echo "soak: FAILED $name (round $round, exit $rc): ${env[*]} $*"; tail -n 20 <<<"$out"; } >&2
}

# The programs' own bounds: stress takes up to 256 threads, fork 64.
min() { echo $(( $1 < $2 ? $1 : $2 )); }
one="$(min "$N" 256)" two="$(min $((2 * N)) 256)" forkers="$(min "$N" 64)"
[ "$one" -eq "$N" ] && [ "$two" -eq $((2 * N)) ] && [ "$forkers" -eq "$N" ] ||
    echo "soak: $N threads is more than the tests take (stress at most 256, fork 64): stress runs at $one and $two threads, fork at $forkers" >&2
# One round's runs (counted first, then run: see progress).
run_round() {
    local s=$((1000 + round))
    soak_run stress.cpu MULTIHEAP_KEY=cpu -- "$BIN/mhsys_stress" --threads "$one" --ops 60000 --seed $s --stats-reader --expect-options cache=rseq
    soak_run stress.cpu.2N MULTIHEAP_KEY=cpu -- "$BIN/mhsys_stress" --threads "$two" --ops 30000 --seed $s --expect-options cache=rseq
    soak_run stress.migrate MULTIHEAP_KEY=cpu -- "$BIN/mhsys_stress" --threads "$two" --ops 30000 --seed $s --migrate $((20 + round % 50)) --expect-options cache=rseq
    soak_run stress.signals MULTIHEAP_KEY=cpu -- "$BIN/mhsys_stress" --threads "$two" --ops 60000 --seed $s --signals $((2 + round % 20)) --expect-options cache=rseq
    soak_run stress.thread MULTIHEAP_KEY=thread -- "$BIN/mhsys_stress" --threads "$one" --ops 60000 --seed $s
    soak_run stress.global MULTIHEAP_KEY=global -- "$BIN/mhsys_stress" --threads "$one" --ops 30000 --seed $s
    soak_run stress.seed MULTIHEAP_SEED=1 -- "$BIN/mhsys_stress" --threads "$one" --ops 30000 --seed $s --expect-options cache=off
    soak_run stress.norseq GLIBC_TUNABLES=glibc.pthread.rseq=0 -- "$BIN/mhsys_stress" --threads "$one" --ops 30000 --seed $s --expect-options "cache=off(no rseq)"
    soak_run stress.local_cache MULTIHEAP_REMOTE_BATCH=0 -- "$BIN/mhsys_stress" --threads "$one" --ops 60000 --seed $s --expect-options remote_batch=off
    soak_run stress.no_remote_bins MULTIHEAP_REMOTE_BINS=0 -- "$BIN/mhsys_stress" --threads "$one" --ops 60000 --seed $s --expect-options remote_bins=off
    soak_run stress.check MULTIHEAP_CHECK=1 -- "$BIN/mhsys_stress" --threads "$two" --ops 30000 --seed $s --stats-reader --expect-options check=on
    soak_run stress.purge_now MULTIHEAP_PURGE_MS=0 -- "$BIN/mhsys_stress" --threads "$one" --ops 60000 --seed $s --expect-options purge_ms=0
    soak_run stress.purge_inline MULTIHEAP_PURGE_MS=0 MULTIHEAP_PURGE_THREAD=0 -- "$BIN/mhsys_stress" --threads "$one" --ops 60000 --seed $s
    soak_run stress.generations MULTIHEAP_KEY=thread -- "$BIN/mhsys_stress" --threads "$one" --rounds 30 --ops 1500 --max-large 262144 --seed $s
    soak_run fork.cpu MULTIHEAP_KEY=cpu -- "$BIN/mhsys_fork" --forks 40 --threads "$forkers"
    soak_run fork.thread MULTIHEAP_KEY=thread -- "$BIN/mhsys_fork" --forks 20 --threads "$forkers"
    soak_run steal MULTIHEAP_KEY=thread -- "$BIN/mhsys_steal"
    [ $((round % 4)) -ne 0 ] || soak_run large_race -- "$BIN/mhsys_large_race" 3
    [ ! -x "$BIN/mhsys_stress_tsan" ] ||
        soak_run tsan.cpu MULTIHEAP_KEY=cpu TSAN_OPTIONS=halt_on_error=1:exitcode=66 -- \
            "$BIN/mhsys_stress_tsan" --threads "$one" --ops 30000 --max-large 1048576 --stats-reader --seed $s
}
end=$((SECONDS + SECONDS_LIMIT))
while [ "$SECONDS" -lt "$end" ]; do
    k=0 counting=1
    run_round
    n=$k k=0 counting=""
    run_round
    end_progress
    round=$((round + 1))
    echo "soak: round $round done at ${SECONDS}s of ${SECONDS_LIMIT}s: $passed runs passed, $failed failed"
done
for name in $(printf '%s\n' "${!runs[@]}" | sort); do
    echo "soak:   $name: ${runs[$name]} runs, ${fails[$name]:-0} failed"
done
for f in ${failures[@]+"${failures[@]}"}; do echo "soak: failed: $f"; done
echo "soak: $round rounds at $one and $two threads: $passed runs passed, $failed failed"
[ "$failed" -eq 0 ]
