#!/usr/bin/env bash
# A bundle's entry points (runners/bundle.sh made this file from runners/bundle-entry.sh,
# as `matrix` and as `soak`): checks the machine can run the bundle's binaries, then runs
#   matrix  runners/matrix.sh with the bundle's driver, report tool, libmultiheap and peer
#           allocators (matrix.sh's options; results in results/local/ inside the bundle
#           unless --out says otherwise);
#   soak    the allocator's system tests in rounds (allocator/tests/system/soak.sh).
set -euo pipefail
B="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
GLIBC_NEEDED=@GLIBC_NEEDED@ CXX_GLIBC_NEEDED=@CXX_GLIBC_NEEDED@ ARCH=@ARCH@

die() { echo "bundle: $*" >&2; exit 2; }
at_least() { [ "$(printf '%s\n' "$1" "$2" | sort -V | head -n1)" = "$1" ]; }   # $2 >= $1

[ "$(uname -m)" = "$ARCH" ] || die "this bundle holds $ARCH binaries and this machine is $(uname -m); make a bundle on a $(uname -m) machine"
have="$( (getconf GNU_LIBC_VERSION 2>/dev/null || true) | awk '{ print $2 }')"
[ -n "$have" ] || die "this machine's C library is not glibc; build the suite here instead"
at_least "$GLIBC_NEEDED" "$have" ||
    die "this machine has glibc $have and the bundle's binaries need $GLIBC_NEEDED or newer; make the bundle on an older system"

export LD_LIBRARY_PATH="$B/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if [ "$(basename "$0")" = soak ]; then
    MH_SOAK_BIN="$B/sys" exec "$B/sys/soak.sh" "$@"
fi
export MH_MHBENCH="$B/bin/mhbench" MH_MHREPORT="$B/bin/mhreport"
export MH_MULTIHEAP_LIB="$B/lib/libmultiheap.so" MH_ALLOCATOR_DIR="$B/peers" MH_MATRIX_CMD="$(printf '%q' "$B/matrix")"
# The peers' C++ runtime: this machine's, unless it is too old to load one of them.
for peer in "$B"/peers/*; do
    [ -e "$peer" ] || continue
    if [ -n "$(LD_PRELOAD="$peer" /bin/true 2>&1)" ]; then
        at_least "$CXX_GLIBC_NEEDED" "$have" ||
            die "this machine cannot load $(basename "$peer") with its own C++ runtime, and the bundle's needs glibc $CXX_GLIBC_NEEDED (it has $have); name the allocators without it in the config"
        export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$B/cxx"
        break
    fi
done
exec "$B/runners/matrix.sh" "$@"
