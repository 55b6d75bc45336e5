#!/usr/bin/env bash
# matrix.soak: ./run.sh soak (which the bundle carries) on stand-ins for the system tests
# that pass at once: a thread count past the tests' bounds is clamped and said so in one
# line, each run of a round is shown as it starts (k of n: a round at 256 threads printed
# nothing for two minutes), and an option given twice is refused.
. "$(dirname "$0")/lib.sh"
bin="$WORK/soak-bin"
rm -rf "$bin" && mkdir -p "$bin"
for b in mhsys_stress mhsys_fork mhsys_steal mhsys_large_race; do
    printf '#!/bin/sh\necho "${0##*/} $*" >>"%s/calls"\n' "$bin" >"$bin/$b"
    chmod +x "$bin/$b"
done
out="$(MH_SOAK_BIN="$bin" "$ROOT/run.sh" soak --threads 99999 --seconds 1 2>"$WORK/soak.err")" ||
    fail "a soak of passing stand-ins failed: $(tail -n 3 "$WORK/soak.err")"
[ "$(wc -l <"$WORK/soak.err")" -eq 1 ] &&
    grep -q "99999 threads is more than the tests take .*: stress runs at 256 and 256 threads, fork at 64$" "$WORK/soak.err" ||
    fail "the clamped thread count is not said in one line: $(cat "$WORK/soak.err")"
grep -q -- '^mhsys_stress --threads 256 ' "$bin/calls" && grep -q -- '^mhsys_fork --forks 40 --threads 64$' "$bin/calls" &&
    ! grep -q 99999 "$bin/calls" || fail "the runs did not get the clamped counts: $(sort -u "$bin/calls" | head -n 3)"
# the first round's runs numbered 1 to n, n of them, the last large_race (every fourth
# round; no TSan build here)
shown="$(grep '^soak: round 1: ' <<<"$out")"
n="$(wc -l <<<"$shown")"
[ "$n" -gt 10 ] && grep -qx 'soak: round 1: stress.cpu (1 of '"$n"')' <<<"$shown" &&
    [ "$(tail -n 1 <<<"$shown")" = "soak: round 1: large_race ($n of $n)" ] ||
    fail "the first round's runs are not shown k of n: $(head -n 3 <<<"$out")"
for opt in --seconds --threads; do
    expect_refusal "$opt is given twice; give it once" "$ROOT/run.sh" soak "$opt" 1 "$opt" 2
done
echo "matrix.soak: ok"
