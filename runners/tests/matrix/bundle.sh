#!/usr/bin/env bash
# matrix.bundle: runners/bundle.sh copies the matrix out of the build tree, and the
# copy runs a matrix on its own (its driver, report tool, libmultiheap and peers, no
# build tree); it refuses a machine whose glibc is older than its binaries need, and
# bundle.sh refuses to overwrite.
. "$(dirname "$0")/lib.sh"
dir="$WORK/bundle"
rm -rf "$dir" && mkdir -p "$dir"

b="$("$ROOT/runners/bundle.sh" --out "$dir/b")"
[ "$b" = "$dir/b" ] || fail "bundle.sh printed '$b', want $dir/b"
for f in matrix soak bin/mhbench bin/mhreport lib/libmultiheap.so runners/matrix.sh \
         results/configs/scaling.conf sys/soak.sh sys/mhsys_stress sys/mhsys_fork BUNDLE.txt; do
    [ -e "$b/$f" ] || fail "the bundle lacks $f"
done
grep -q "^needs: $(uname -m), glibc >= 2\.[0-9]*$" "$b/BUNDLE.txt" ||
    fail "BUNDLE.txt does not say what its binaries need: $(cat "$b/BUNDLE.txt")"
# every library the driver loads beyond glibc's own travels with it
for so in $(ldd "$b/bin/mhbench" | awk '$2 == "=>" { print $1 }' | grep -Ev '^(ld-linux|libc|libm)\.'); do
    [ -e "$b/lib/$so" ] || fail "the bundle lacks $so, which mhbench loads"
done

# every peer installed here travels
for lib in $("$MH_MHBENCH" allocators | awk '$2 == "yes" && $3 ~ /^\// && $1 != "multiheap" { print $3 }'); do
    [ -e "$b/peers/$(basename "$lib")" ] || fail "the bundle lacks the peer $lib"
done

# A matrix from the bundle alone: the build tree's tools are out of reach, and every
# allocator but glibc must be served from the bundle.
printf '%s\n' "allocators = installed" "threads = 2" "repetitions = 1" "warmup = 0" \
    "placement = none" "workload cross-core-free --batches=100" >"$dir/tiny.conf"
MH_BUILD_DIR="$dir/nowhere" MH_MHBENCH=/nonexistent MH_MHREPORT=/nonexistent \
    "$b/matrix" --config "$dir/tiny.conf" --out "$dir/run" >/dev/null 2>"$dir/run.err" ||
    fail "the bundle's matrix failed: $(tail -n3 "$dir/run.err")"
python3 - "$dir/run/records.jsonl" "$b" <<'PY' || fail "the bundle's runs did not use the bundle's libraries"
import json, sys
bundle = sys.argv[2]
recs = [json.loads(l) for l in open(sys.argv[1])]
served = {r["allocator"]["name"]: r["allocator"].get("served_by") or "" for r in recs if r["status"] == "ok"}
wrong = {a: p for a, p in served.items() if a != "glibc" and not p.startswith(bundle + "/")}
if len(served) != len(recs) or "multiheap" not in served or wrong:
    print("records: %d, served by: %s" % (len(recs), served), file=sys.stderr)
    sys.exit(1)
PY

# Its command.txt runs it again through the bundle, not through a checkout's run.sh.
grep -qx "$b/matrix --config $dir/run/config.conf" "$dir/run/command.txt" ||
    fail "the bundle's command.txt names another entry point: $(cat "$dir/run/command.txt")"

# The bundle's soak runs its own copies of the system tests.
MH_BUILD_DIR="$dir/nowhere" "$b/soak" --seconds 1 --threads 1 >"$dir/soak.out" 2>&1 ||
    fail "the bundle's soak failed: $(tail -n5 "$dir/soak.out")"
grep -q "^soak: 1 rounds at 1 and 2 threads: [1-9][0-9]* runs passed, 0 failed$" "$dir/soak.out" ||
    fail "the bundle's soak reported: $(tail -n3 "$dir/soak.out")"

# A machine with an older glibc than the binaries need is told so before anything runs.
sed 's/^GLIBC_NEEDED=[0-9.]*/GLIBC_NEEDED=99.0/' "$b/matrix" >"$b/matrix-future" && chmod +x "$b/matrix-future"
expect_refusal "glibc .* need 99.0" "$b/matrix-future" --config "$dir/tiny.conf" --out "$dir/run-future"
[ ! -e "$dir/run-future" ] || fail "a refused bundle run left a run directory"
expect_refusal "already exists" "$ROOT/runners/bundle.sh" --out "$b"
# A machine with no peer installed gets a bundle of multiheap and glibc alone.
mkdir -p "$dir/nopeers/runners" "$dir/nopeers/allocator"
printf '#!/bin/sh\n[ "$1" = allocators ] && { echo "name installed library"; exit 0; }\nexec %s "$@"\n' \
    "$MH_MHBENCH" >"$dir/nopeers/runners/mhbench"
chmod +x "$dir/nopeers/runners/mhbench"
ln -s "$MH_MHREPORT" "$dir/nopeers/runners/mhreport"
ln -s "$MH_BUILD_DIR/allocator/libmultiheap.so" "$dir/nopeers/allocator/libmultiheap.so"
MH_BUILD_DIR="$dir/nopeers" "$ROOT/runners/bundle.sh" --out "$dir/b-nopeers" >/dev/null ||
    fail "bundle.sh failed where no peer is installed"
grep -qx "peers: none" "$dir/b-nopeers/BUNDLE.txt" || fail "a bundle without peers says: $(cat "$dir/b-nopeers/BUNDLE.txt")"
# a tarball holds the same directory
tgz="$("$ROOT/runners/bundle.sh" --out "$dir/b.tar.gz")"
tar -tzf "$tgz" >"$dir/tgz.list"
grep -qx "multiheap-bundle/matrix" "$dir/tgz.list" || fail "$tgz lacks multiheap-bundle/matrix"
echo "matrix.bundle: ok"
