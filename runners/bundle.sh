#!/usr/bin/env bash
# A copy of the matrix for a machine where nothing can be built or installed (a shared
# cluster node, a machine lent for an hour): the built driver, report tool and
# libmultiheap, the peer allocators installed here, every library they need beyond
# glibc, runners/matrix.sh and the presets, and the allocator's system tests with their
# soak loop, in one directory (or tarball). Unpack it there and run
#     ./matrix --preset scaling
#     ./soak --seconds 300
# then bring results/local/<run-id>/ back and report it here (./run.sh report DIR).
#
# The binaries are this machine's: the other one needs the same architecture and a
# glibc at least as new as the newest symbol version they use, which the bundle
# checks before it runs anything.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${MH_BUILD_DIR:-$ROOT/build}"
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac

die() { echo "bundle: $*" >&2; exit 2; }

usage() {
    cat <<USAGE
usage: runners/bundle.sh [--out DIR | --out FILE.tar.gz]

Copies what the matrix and the allocator's soak need to run elsewhere into DIR
(default: results/local/bundle-<commit>/), or into FILE.tar.gz. On the other machine:
DIR/matrix takes runners/matrix.sh's options and writes under DIR/results/local/;
DIR/soak takes soak.sh's (--seconds S, --threads N).
USAGE
}

# The libraries a binary loads that glibc itself does not provide (those the other
# machine has in its own version), as "soname path" lines.
GLIBC_LIBS='^(linux-vdso|ld-linux|libc|libm|libpthread|libdl|librt|libresolv)\b'
extra_libs() {
    ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' | grep -Ev "$GLIBC_LIBS" || true
}

# Copies library $2 into directory $1 under its soname $3, once.
take() { [ -e "$1/$3" ] || cp -L "$2" "$1/$3"; }

# The newest GLIBC_x.y symbol version any of the files needs; empty for none (or no file).
glibc_needed() {
    { objdump -T "$@" 2>/dev/null || true; } | { grep -o 'GLIBC_[0-9][0-9.]*' || true; } |
        sed 's/GLIBC_//' | sort -uV | tail -n1
}

main() {
    local out=""
    while [ $# -gt 0 ]; do
        case "$1" in
            --out) [ $# -ge 2 ] || die "--out needs a directory or a .tar.gz file"
                   # of two, the last would win unsaid
                   [ -z "$out" ] || die "--out is given twice; give it once"
                   out="$2"; shift 2 ;;
            -h|--help) usage; exit 0 ;;
            *) die "unknown argument '$1'; see runners/bundle.sh --help" ;;
        esac
    done
    local bin
    for bin in runners/mhbench runners/mhreport allocator/libmultiheap.so; do
        [ -e "$BUILD/$bin" ] || die "$BUILD/$bin is missing; run ./run.sh build first"
    done
    command -v objdump >/dev/null || die "objdump is missing; install binutils"
    local commit
    commit="$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
    [ -n "$out" ] || out="$ROOT/results/local/bundle-$commit"
    [ ! -e "$out" ] || die "$out already exists; give another --out"
    local parent
    parent="$(dirname "$out")"
    [ -d "$parent" ] && [ -w "$parent" ] || die "cannot write $out: $parent is not a writable directory; give another --out"
    local tarball=""
    if [[ "$out" == *.tar.gz ]]; then tarball="$out"; out="$(mktemp -d)/multiheap-bundle"; fi
    # A bundle is whole or absent: a failure part way leaves nothing to refuse a rerun.
    # (Globals: the EXIT trap runs after main's locals are gone.)
    PARTIAL="$out" PARTIAL_TARBALL="$tarball"
    [ -z "$tarball" ] || PARTIAL="$(dirname "$out")"
    trap 'rm -rf "$PARTIAL" ${PARTIAL_TARBALL:+"$PARTIAL_TARBALL"}' EXIT
    mkdir -p "$out"/{bin,lib,peers,cxx,sys,runners,results/configs}

    cp "$BUILD/runners/mhbench" "$BUILD/runners/mhreport" "$out/bin/"
    cp "$BUILD/allocator/libmultiheap.so" "$out/lib/"
    cp "$ROOT/runners/matrix.sh" "$out/runners/"
    cp "$ROOT"/results/configs/*.conf "$out/results/configs/"
    local sys="$BUILD/allocator/tests/system"
    for bin in mhsys_stress mhsys_fork mhsys_steal mhsys_large_race mhsys_stress_tsan; do
        [ ! -x "$sys/$bin" ] || cp "$sys/$bin" "$out/sys/"
    done
    cp "$ROOT/allocator/tests/system/soak.sh" "$out/sys/"
    # The peers found here, under the sonames the driver looks for. Their C++ runtime
    # goes to cxx/: the other machine's own is used unless it cannot load them.
    local lib soname path
    while read -r lib; do
        cp -L "$lib" "$out/peers/$(basename "$lib")"
    done < <("$BUILD/runners/mhbench" allocators 2>/dev/null |
             awk '$2 == "yes" && $3 ~ /^\// && $1 != "multiheap" { print $3 }')
    for bin in "$out"/bin/* "$out"/lib/libmultiheap.so "$out"/sys/mhsys_*; do
        while read -r soname path; do take "$out/lib" "$path" "$soname"; done < <(extra_libs "$bin")
    done
    for bin in "$out"/peers/*; do
        [ -e "$bin" ] || continue
        while read -r soname path; do
            case "$soname" in libstdc++*|libgcc_s*) take "$out/cxx" "$path" "$soname" ;;
                              *) take "$out/lib" "$path" "$soname" ;; esac
        done < <(extra_libs "$bin")
    done

    # cxx/ loads only where the machine's C++ runtime cannot: it does not raise the need.
    local needed cxx_needed peers
    needed="$(glibc_needed "$out"/bin/* "$out"/lib/* "$out"/peers/* "$out"/sys/mhsys_*)"
    cxx_needed="$(glibc_needed "$out"/cxx/*)"
    peers="$(cd "$out/peers" && ls)"
    {
        echo "multiheap bundle: build of $commit, made on $(uname -n) ($(uname -m)), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "needs: $(uname -m), glibc >= $needed"
        echo "peers: $(echo ${peers:-none})"
        if [ -n "$cxx_needed" ]; then
            echo "cxx/ (the peers' C++ runtime, used where the machine's cannot load them) needs glibc >= $cxx_needed"
        else
            echo "cxx/: empty (no peer needs a C++ runtime)"
        fi
    } >"$out/BUNDLE.txt"
    sed "s/@GLIBC_NEEDED@/$needed/; s/@CXX_GLIBC_NEEDED@/${cxx_needed:-0}/; s/@ARCH@/$(uname -m)/" \
        "$ROOT/runners/bundle-entry.sh" >"$out/matrix"
    chmod +x "$out/matrix"
    cp "$out/matrix" "$out/soak"

    if [ -n "$tarball" ]; then
        tar -czf "$tarball" -C "$(dirname "$out")" multiheap-bundle
        rm -rf "$PARTIAL"
    fi
    trap - EXIT
    echo "${tarball:-$out}"
}

main "$@"
