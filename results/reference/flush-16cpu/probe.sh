#!/bin/bash
set -u
K="$PWD/.devkit"; B="$K/B"
exec > >(tee "$OUT/log.txt") 2>&1
date -u; nproc
export LD_LIBRARY_PATH="$B/lib" MH_ALLOCATOR_DIR="$B/peers"
for p in "$B"/peers/*; do [ -n "$(LD_PRELOAD=$p /bin/true 2>&1)" ] && { export LD_LIBRARY_PATH="$B/lib:$B/cxx"; echo "using cxx"; break; }; done
M="$B/bin/mhbench"; export MH_MULTIHEAP_LIB="$B/lib/libmultiheap.so"
A="tcmalloc jemalloc mimalloc new3=$K/var/new3.so new4=$K/var/new4.so"
r() { local w=$1 a=$2 t=$3 rep=$4; shift 4
  timeout 60 "$M" run $w --allocator "$a" --threads $t --placement compact --lat-every 0 --out "$OUT/r.jsonl" --cell "$w|$t|$*|${a%%=*}" --rep $rep "$@" >/dev/null || echo "FAIL $w $a $t"; }
s=$(date +%s)
for rep in $(seq ${REPS:-5}); do for a in $A; do
  r producer-consumer $a 16 $rep --objects=2000000
  r producer-consumer $a 16 $rep --objects=16000000
  r producer-consumer $a 8 $rep --objects=16000000
  r cross-core-free $a 16 $rep --remote=100 --batches=10000
  r xmalloc $a 16 $rep --batches=1000
  r threadtest $a 16 $rep --iterations=150
  r larson $a 16 $rep --replacements=200000 --generations=8
done; echo "rep $rep at $(( $(date +%s) - s ))s"; done
echo "== soak"
timeout 200 "$B/soak" --seconds ${SOAK_S:-100} --threads 16 >"$OUT/soak.txt" 2>&1; echo "soak rc=$?"
grep -A22 "FAILED" "$OUT/soak.txt" | head -80; tail -3 "$OUT/soak.txt"
date -u
