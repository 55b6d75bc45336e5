#!/usr/bin/env bash
# multiheap: one entry point for setup, build, tests, benchmarks and reports.
# Run `./run.sh --help` for the subcommands.
set -euo pipefail
# wait -p (run_child, and the matrix's runs)
if ((BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] < 501)); then
    echo "run.sh: needs bash 5.1 or later (wait -p), this is bash $BASH_VERSION; install a newer bash" >&2
    exit 2
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUILD="${MH_BUILD_DIR:-$ROOT/build}"
JOBS="${MH_JOBS:-$(nproc)}"

# Debian packages the project needs; setup installs only the missing ones.
PACKAGES=(cmake gcc g++ make libhwloc-dev hwloc libbenchmark-dev gnuplot-nox linux-perf
          libgoogle-perftools-dev libjemalloc-dev libmimalloc-dev python3)

die() { echo "run.sh: $*" >&2; exit 2; }
. "$ROOT/runners/ctest_args.sh"

# For a subcommand $1 that takes no arguments: the rest of "$@" must be empty (one ignored
# unsaid looked as if it had been obeyed).
no_arguments() {
    [ $# -le 1 ] || die "unknown argument '$2'; $1 takes none (see ./run.sh --help)"
}

cmd_setup() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "run.sh: installing missing packages: ${missing[*]}"
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q >/dev/null ||
        die "apt-get update failed; check the network or install by hand: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}" >/dev/null ||
        die "apt-get install failed for: ${missing[*]}"
}

cmd_build() {
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$BUILD" -j "$JOBS"
}

cmd_test() {
    command -v ctest >/dev/null || cmd_setup   # to check the arguments with, before the build
    check_ctest_args "$@"
    cmd_setup
    cmd_build
    ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS" "$@"
}

# ---- benchmarks and reports (runners/matrix.sh, build/runners/mhreport) ----

TOOLS="$BUILD/runners"
export MH_BUILD_DIR="$BUILD"

need_tool() {
    [ -x "$TOOLS/$1" ] || die "$TOOLS/$1 is missing; run ./run.sh build first"
}

# A long child that run.sh has more to do after (all, targets): a SIGTERM to run.sh is
# passed on and run.sh waits for the child to stop as it does (the matrix after its run
# in flight, exit 143), then stops with it; were the child in the foreground, bash would
# hold the signal until the child ended. Ctrl-C reaches the child from the terminal, and
# the child keeps SIGINT, which a command started with & would ignore.
run_child() {
    local pid rc sig="" ended
    ( trap - INT; exec "$@" ) <&0 &
    pid=$!
    trap "sig=TERM; kill -TERM $pid 2>/dev/null" TERM
    trap 'sig=INT' INT
    while :; do
        rc=0
        unset ended
        wait -p ended "$pid" || rc=$?
        [ -z "${ended+set}" ] || break   # unset: a signal ended the wait, not the child
    done
    trap - TERM INT
    [ -z "$sig" ] || exit $((rc ? rc : 128 + $(kill -l "$sig")))
    return "$rc"
}

# The matrix with options "$@" as run_child; MATRIX_DIR is the run directory it printed
# at its end ("" when it stopped before).
run_matrix() {
    need_tool mhbench; need_tool mhreport
    local listing rc=0
    listing="$(mktemp)"
    run_child "$ROOT/runners/matrix.sh" "$@" >"$listing" || rc=$?
    MATRIX_DIR="$(cat "$listing")"
    rm -f "$listing"
    return "$rc"
}

cmd_matrix() {
    need_tool mhbench; need_tool mhreport
    exec "$ROOT/runners/matrix.sh" "$@"
}

# Merging shards or hosts is concatenating their records (each run is one line).
cmd_merge() {
    [ $# -ge 2 ] || die "merge needs OUT_DIR and at least one run directory: ./run.sh merge OUT DIR1 DIR2 ..."
    local out="$1" d; shift
    [ -e "$out/records.jsonl" ] && die "$out already holds records; merge into a new directory"
    for d in "$@"; do
        [ -f "$d/records.jsonl" ] || die "'$d' has no records.jsonl; give matrix run directories"
    done
    mkdir -p "$out" 2>/dev/null && [ -w "$out" ] || die "cannot create $out; merge into a writable directory"
    # A killed run leaves its last line torn (no newline): the next set starts a line of
    # its own, or its first record would be glued to the torn one and lost with it.
    for d in "$@"; do
        cat "$d/records.jsonl"
        [ -z "$(tail -c1 "$d/records.jsonl")" ] || echo
    done >"$out/records.jsonl"
    # one config for all (a config's shards): it is the merged set's config too
    local same=1
    for d in "$@"; do cmp -s "$1/config.conf" "$d/config.conf" || same=0; done
    [ "$same" = 1 ] && cp "$1/config.conf" "$out/config.conf"
    printf '%s\n' "$@" >"$out/merged-from.txt"
    echo "$out"
}

# Options (mhreport report's: --no-plots, --out DIR, ...) go to mhreport wherever they
# stand; the other arguments are run directories, several of them merged first.
cmd_report() {
    need_tool mhreport
    local opts=() dirs=()
    while [ $# -gt 0 ]; do
        case "$1" in
            -h|--help) "$TOOLS/mhreport" --help; return 0 ;;
            --no-plots|--png-only) opts+=("$1"); shift ;;
            --out|--plots-src|--reproduce)
                [ $# -ge 2 ] || die "report: $1 needs a value (./run.sh report --help)"
                opts+=("$1" "$2"); shift 2 ;;
            -*) die "report: unknown option '$1'; see ./run.sh report --help" ;;
            *) dirs+=("$1"); shift ;;
        esac
    done
    [ ${#dirs[@]} -ge 1 ] || die "report needs a run directory: ./run.sh report results/local/RUN_ID [DIR2 ...]"
    local dir="${dirs[0]}"
    if [ ${#dirs[@]} -gt 1 ]; then
        dir="$(cmd_merge "$ROOT/results/local/merged-$(date -u +%Y%m%d-%H%M%S)" "${dirs[@]}")"
    fi
    [ -d "$dir" ] || die "'$dir' is not a directory; give a run directory (results/local/RUN_ID)"
    exec "$TOOLS/mhreport" report "${opts[@]}" "$dir"
}

cmd_compare() {
    need_tool mhreport
    exec "$TOOLS/mhreport" compare "$@"
}

# Without --out the results go to a new directory under results/local/.
cmd_micro() {
    local a
    for a in "$@"; do
        [ "$a" = --out ] && exec "$ROOT/runners/micro.sh" "$@"
    done
    exec "$ROOT/runners/micro.sh" "$@" --out "$ROOT/results/local/micro-$(date -u +%Y%m%d-%H%M%S)"
}

# Issue 6's evidence in one result set: the targets matrix, then the malloc+free
# pair microbenchmarks of the five allocators appended to its records (records
# are one line each, so the report and a later `./run.sh report DIR` see both),
# then the report with its "Issue 6 targets" and "seed design vs multiheap" sections.
# The report of the run in $1, then the matrix's status $2 (1: some runs failed, which
# the report names).
report_and_return() {
    "$TOOLS/mhreport" report "$1"
    echo "run.sh: the report is $1/report.html (and report.md)"
    return "$2"
}

cmd_targets() {
    need_tool mhbench; need_tool mhreport
    local dir preset=(--preset targets) a
    for a in "$@"; do
        [ "$a" = --resume ] && preset=()   # a resumed run keeps its config
        # the matrix would say "--preset is given twice" of the one given here
        [ "$a" != --preset ] && [ "$a" != --config ] ||
            die "targets takes no $a: it runs results/configs/targets.conf; run another config with ./run.sh matrix $a ..."
    done
    # the matrix's listing or help is the whole answer: no run directory follows
    for a in "$@"; do
        if [ "$a" = --dry-run ] || [ "$a" = -h ] || [ "$a" = --help ]; then
            exec "$ROOT/runners/matrix.sh" "${preset[@]}" "$@"
        fi
    done
    local rc=0
    MH_RESUME_COMMAND="./run.sh targets --resume" run_matrix "${preset[@]}" "$@" || rc=$?
    dir="$MATRIX_DIR"
    [ -d "$dir" ] || exit "$rc"
    # The stage is done once its records are in records.jsonl (micro.sh appends its rounds
    # to micro.jsonl as they end, so a stopped one leaves a part). A part is moved aside:
    # micro.sh adds to no micro.jsonl, and its rounds would be pooled with the new ones.
    if ! grep -q '"cell":"micro/' "$dir/records.jsonl"; then
        if [ -e "$dir/micro" ]; then
            # one that is still running holds its lock (moved aside with it, the lock
            # would not stop a second micro.sh in the fresh directory)
            [ ! -e "$dir/micro/.micro.lock" ] || flock -n "$dir/micro/.micro.lock" true ||
                die "a micro.sh is still writing $dir/micro; wait for it to end, then resume"
            local aside="$dir/micro.interrupted-$(date -u +%Y%m%d-%H%M%S)"
            mv "$dir/micro" "$aside"
            echo "run.sh: the microbenchmarks of $dir did not finish; their part is now $aside, and they run again" >&2
        fi
        MH_RESUME_HINT="./run.sh targets --resume $dir continues" \
            run_child "$ROOT/runners/micro.sh" --allocators glibc,tcmalloc,jemalloc,mimalloc,multiheap \
            --filter '^pair/size:' --repetitions 5 --out "$dir/micro" >&2 || {
            echo "run.sh: some microbenchmarks failed (see $dir/micro/stderr-*.txt); the report lists them among the failed runs" >&2
            [ "$rc" -ne 0 ] || rc=1
        }
        [ -s "$dir/micro/micro.jsonl" ] && cat "$dir/micro/micro.jsonl" >>"$dir/records.jsonl"
    fi
    report_and_return "$dir" "$rc"
}

# The allocator's system tests in rounds at N and 2N threads (allocator/tests/system/soak.sh).
cmd_soak() {
    exec "$ROOT/allocator/tests/system/soak.sh" "$@"
}

# The matrix for a machine where nothing can be built or installed (runners/bundle.sh).
cmd_bundle() {
    need_tool mhbench; need_tool mhreport
    exec "$ROOT/runners/bundle.sh" "$@"
}

# One workload under perf record, then the top of perf report next to the record.
cmd_profile() {
    need_tool mhbench
    [ $# -ge 1 ] && [[ "$1" != -* ]] || die "profile needs a workload: ./run.sh profile WORKLOAD [--allocator A] [mhbench options]"
    command -v perf >/dev/null || die "perf is not installed; ./run.sh setup installs linux-perf"
    local workload="$1"; shift
    local dir="$ROOT/results/local/profile-$(date -u +%Y%m%d-%H%M%S)-$workload"
    mkdir -p "$dir"
    local rc=0
    "$TOOLS/mhbench" run "$workload" --perf-record="$dir/perf.data" --out="$dir/records.jsonl" "$@" || rc=$?
    if [ "$rc" -ne 0 ]; then
        # mhbench said why; a run refused before it began leaves nothing worth keeping
        [ -s "$dir/records.jsonl" ] || rm -rf "$dir"
        exit "$rc"
    fi
    # flat: the hottest symbols first, each with its thread ("w1 freer": the workers are
    # named by index and role); the call graphs stay in perf.data (perf report -i)
    perf report --stdio --no-children -g none --percent-limit 0.5 -i "$dir/perf.data" \
        >"$dir/perf-report.txt" 2>/dev/null || die "perf report failed on $dir/perf.data"
    head -n 60 "$dir/perf-report.txt"
    echo "run.sh: profile in $dir (perf.data, perf-report.txt, records.jsonl)"
}

# Plain ./run.sh: everything a new user needs, ending with where the report is.
cmd_all() {
    cmd_setup
    cmd_build
    local rc=0
    # exit 1: some runs failed; the report is written all the same, and says which
    run_matrix --preset quick || rc=$?
    [ -d "$MATRIX_DIR" ] || exit "$rc"
    report_and_return "$MATRIX_DIR" "$rc"
}

usage() {
    cat <<USAGE
usage: ./run.sh [SUBCOMMAND] [ARGS]

  (none)    setup, build, the quick matrix, the report; prints where the report is
  setup     install the missing Debian packages (apt-get; needs root or sudo)
  build     configure and build into \$MH_BUILD_DIR (default: build/)
  test      setup, build, then run every test through ctest
  matrix    [--config F | --preset quick|full|targets|scaling] [--shard K/N] [--resume RUN_DIR] [--out DIR] [--dry-run]
            run a benchmark matrix into results/local/<run-id>/ (see results/README.md)
  report    [--no-plots | --png-only] [--out DIR] RUN_DIR [RUN_DIR2 ...]: results.csv, plots, report.md, report.html
            (several directories: merged first into results/local/merged-<time>/)
  merge     OUT RUN_DIR...: one result set from shards or hosts (concatenated records)
  compare   OLD NEW [--threshold PCT]: cell by cell, Mann-Whitney U; exit 1 on a regression
  micro     [runners/micro.sh options]: the Google Benchmark microbenchmarks
            (default --out results/local/micro-<time>/; ./run.sh report DIR reports them)
  targets   [--resume RUN_DIR | --out DIR] [--dry-run]: issue 6's targets matrix (results/configs/targets.conf,
            about 8 minutes on 2 CPUs) + the pair microbenchmarks + the report
  profile   WORKLOAD [--allocator A] [mhbench options]: perf record + perf report
  soak      [--seconds S] [--threads N] [--logs DIR]: the allocator's system tests in rounds at N and 2N threads
            with new seeds, for S seconds (default 300; N: the CPUs); exit 1 if any run failed
  bundle    [--out DIR | --out FILE.tar.gz]: the built matrix, peers, presets and soak in one
            directory, to run where nothing can be installed (DIR/matrix --preset scaling, DIR/soak)

Documentation: README.md (usage, the allocator, mhbench, microbenchmarks, tests),
results/README.md (result sets, configs, CSV), runners/README-matrix.md (matrix, report).
USAGE
}

case "${1:-}" in
    "") cmd_all ;;
    setup) no_arguments "$@"; cmd_setup ;;
    build) no_arguments "$@"; cmd_setup; cmd_build ;;
    test)  shift; cmd_test "$@" ;;
    matrix) shift; cmd_matrix "$@" ;;
    report) shift; cmd_report "$@" ;;
    merge) shift; cmd_merge "$@" ;;
    compare) shift; cmd_compare "$@" ;;
    micro) shift; cmd_micro "$@" ;;
    targets) shift; cmd_targets "$@" ;;
    profile) shift; cmd_profile "$@" ;;
    bundle) shift; cmd_bundle "$@" ;;
    soak) shift; cmd_soak "$@" ;;
    -h|--help|help) usage ;;
    *) die "unknown subcommand '$1'; see ./run.sh --help" ;;
esac
