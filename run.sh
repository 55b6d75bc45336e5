#!/usr/bin/env bash
# multiheap: one entry point for setup, build, tests, benchmarks and reports.
# Run `./run.sh --help` for the subcommands.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUILD="${MH_BUILD_DIR:-$ROOT/build}"
JOBS="${MH_JOBS:-$(nproc)}"

# Debian packages the project needs; setup installs only the missing ones.
PACKAGES=(cmake gcc g++ make libhwloc-dev hwloc libbenchmark-dev gnuplot-nox linux-perf
          libgoogle-perftools-dev libjemalloc-dev libmimalloc-dev python3)

die() { echo "run.sh: $*" >&2; exit 2; }

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
    cmd_setup
    cmd_build
    ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS" "$@"
}

usage() {
    cat <<USAGE
usage: ./run.sh [SUBCOMMAND] [ARGS]

  setup     install the missing Debian packages (apt-get; needs root or sudo)
  build     configure and build into \$MH_BUILD_DIR (default: build/)
  test      setup, build, then run every test through ctest
USAGE
}

case "${1:-}" in
    setup) shift; cmd_setup "$@" ;;
    build) shift; cmd_setup; cmd_build "$@" ;;
    test)  shift; cmd_test "$@" ;;
    -h|--help|help) usage ;;
    *) usage >&2; die "unknown subcommand '${1:-}'; see ./run.sh --help" ;;
esac
