#!/usr/bin/env bash
# matrix.compare: compare passes an identical pair and flags an injected
# regression (one cell 30% slower) with exit status 1. The tiny matrix has 2
# repetitions, too few for any test to be significant, so the pair is made of
# 5 repetitions per cell: the tiny matrix's measured runs, spread by 1% steps.
. "$(dirname "$0")/lib.sh"
dir="$WORK/compare"
rm -rf "$dir"
mkdir -p "$dir/old" "$dir/same" "$dir/slow"
# scale the throughput of lines matching $2 by $3 (1: unchanged); lines matching $4 (by
# default $2) ran a rebuilt library (another file hash): a library that did not change
# makes any change of its own cells the machine's
spread() {
    awk -v pat="$2" -v scale="$3" -v rebuilt="${4-$2}" '/"warmup":false/ && /"rep":0,/ {
        if (rebuilt != "none" && index($0, rebuilt)) sub(/"file_hash":"[^"]*"/, "\"file_hash\":\"fnv1a64:rebuilt\"")
        match($0, /"throughput_ops_s":[0-9.eE+-]+/)
        base = substr($0, RSTART + 19, RLENGTH - 19)
        f = index($0, pat) ? scale : 1
        for (k = 0; k < 5; k++) {
            line = substr($0, 1, RSTART + 18) base * f * (1 + k / 100) substr($0, RSTART + RLENGTH)
            sub(/"rep":0,/, "\"rep\":" k ",", line)   # five repetitions, not one record five times
            print line
        }
    }' "$1"
}
spread "$TINY/records.jsonl" none 1 >"$dir/old/records.jsonl"
cp "$dir/old/records.jsonl" "$dir/same/records.jsonl"
spread "$TINY/records.jsonl" '"cell":"cross-core-free:remote=0|1|glibc"' 0.7 >"$dir/slow/records.jsonl"
[ "$(wc -l <"$dir/old/records.jsonl")" -eq 50 ] || fail "want 50 records (10 cells x 5), got $(wc -l <"$dir/old/records.jsonl")"

"$ROOT/run.sh" compare "$dir/old" "$dir/same" >"$dir/same.out" || fail "an identical pair was flagged: $(cat "$dir/same.out")"
grep -q "10 cells compared, 0 regressions" "$dir/same.out" || fail "identical pair: $(tail -n2 "$dir/same.out")"

rc=0
"$ROOT/run.sh" compare "$dir/old" "$dir/slow" --threshold 10 >"$dir/slow.out" || rc=$?
[ "$rc" -eq 1 ] || fail "the injected regression exited $rc, want 1: $(cat "$dir/slow.out")"
grep -E '^cross-core-free:remote=0\|1\|glibc .*-30\.0% .*REGRESSION' "$dir/slow.out" >/dev/null ||
    fail "the slowed cell is not flagged: $(cat "$dir/slow.out")"
[ "$(grep -c REGRESSION "$dir/slow.out")" -eq 1 ] || fail "only the slowed cell may be flagged: $(cat "$dir/slow.out")"

# The controls: allocators that ran the same library, with the same variables, on both
# sides. A set of six: glibc and jemalloc, and glibc's runs again as ctl2..ctl5, each its
# own library (another file hash, the same on both sides) unless SHARE names some that are
# variants of one ("glibc": all are glibc's file). NEW's case cross-core-free:remote=100 at
# 2 threads is scaled per allocator by FACTORS (name=factor, or name=f0/f1/f2/f3/f4 by
# repetition); jemalloc is rebuilt (a new hash) and scaled by JE (the same forms). EDIT
# names further changes to ctl2..ctl5: newenv (variable X=1 in OLD, X=2 in NEW), oldenv
# (X=1 in OLD only), newinherited (NEW's inherited variables), oldinherited (those of OLD's
# second repetition), newhash0 (NEW's first repetition another file: a cell resumed after a
# rebuild), oldfailed (ctl2's first repetition of the case failed in OLD).
machine() {   # machine NAME JE FACTORS [SHARE] [EDIT]
    mkdir -p "$dir/$1/old"
    python3 - "$dir/old/records.jsonl" "$dir/$1/old/records.jsonl" "$dir/$1/records.jsonl" "$2" "$3" "${4-}" "${5-}" <<'PY'
import json, sys
src, old_out, new_out, je, factors, share, edit = sys.argv[1:8]
def scale(spec):
    f = [float(x) for x in spec.split("/")]
    return f * 5 if len(f) == 1 else f
factors = {k: scale(v) for k, v in (kv.split("=") for kv in factors.split(",") if kv)}
share, edit = share.split(",") if share else [], set(edit.split(",")) if edit else set()
ctls = ("ctl2", "ctl3", "ctl4", "ctl5")
olds, news = [], []
for line in open(src):
    r = json.loads(line)
    copies = [r]
    if r["allocator"]["name"] == "glibc":
        for name in ctls:
            c = json.loads(line)
            c["allocator"]["name"], c["allocator"]["spec"] = name, name
            c["allocator"]["file_hash"] = (r["allocator"]["file_hash"] if share == ["glibc"] else
                                           "fnv1a64:" + ("shared" if name in share else name))
            c["cell"] = c["cell"].rsplit("|", 1)[0] + "|" + name
            copies.append(c)
    for c in copies:
        n = json.loads(json.dumps(c))
        name, rep = n["allocator"]["name"], n["rep"]
        if name in ctls:
            if "oldenv" in edit or "newenv" in edit:
                c["allocator"]["env"] = {"X": "1"}
                if "newenv" in edit:
                    n["allocator"]["env"] = {"X": "2"}
            if "oldinherited" in edit and rep == 1:
                c["allocator"]["inherited_env"] = {"MALLOC_ARENA_MAX": "1"}
            if "newinherited" in edit:
                n["allocator"]["inherited_env"] = {"MALLOC_ARENA_MAX": "1"}
        if n["cell"].startswith("cross-core-free:remote=100|2|"):
            if name == "jemalloc":
                n["throughput_ops_s"] *= scale(je)[rep]
                n["allocator"]["file_hash"] = "fnv1a64:rebuilt"
            else:
                n["throughput_ops_s"] *= factors.get(name, [1] * 5)[rep]
                if name in ctls and "newhash0" in edit and rep == 0:
                    n["allocator"]["file_hash"] = "fnv1a64:resumed"
                if name == "ctl2" and "oldfailed" in edit and rep == 0:
                    c["status"], c["error"] = "failed", "timed out"
        olds.append(c)
        news.append(n)
for path, rows in ((old_out, olds), (new_out, news)):
    with open(path, "w") as f:
        f.writelines(json.dumps(x) + "\n" for x in rows)
PY
    rc=0
    "$ROOT/run.sh" compare "$dir/$1/old" "$dir/$1" --threshold 10 >"$dir/$1.out" || rc=$?
}
row() { grep -E "^cross-core-free:remote=100\\|2\\|$1 " "$dir/$2.out"; }
# expect NAME RC PATTERN WHAT: comparison NAME exited RC, and jemalloc's line matches PATTERN
expect() {
    [ "$rc" -eq "$2" ] && row jemalloc "$1" | grep -q -- "$3" || fail "$1: $4 (exit $rc): $(cat "$dir/$1.out")"
}
all5() { echo "glibc=$1,ctl2=$1,ctl3=$1,ctl4=$1,ctl5=$1"; }
ctl4() { echo "ctl2=$1,ctl3=$1,ctl4=$1,ctl5=$1"; }
# the machine got 40% slower for every allocator of the case: no verdict, and each line
# gives the raw change and p, then the change judged and its p
machine slower 0.6 "$(all5 0.6)"
[ "$rc" -eq 0 ] && row jemalloc slower | grep -q ' -40.0%  0.0079  slower, as the machine (the machine here: -40.0%, from 5 of 5 unchanged libraries; judged on what is left: +0.0%, p 1.0000)' &&
    row glibc slower | grep -q ' slower with the same library' &&
    grep -q '^6 changes past the threshold are the machine.s or a control.s own' "$dir/slower.out" ||
    fail "a machine 40% slower for every allocator (exit $rc): $(cat "$dir/slower.out")"
# ... a rebuilt allocator that lost more than the machine is a regression on what is left
machine worse 0.4 "$(all5 0.7)"
expect worse 1 ' -60.0%  0.0079  REGRESSION (the machine here: -30.0%, .*judged on what is left: -42.9%, p 0.0079)' \
    "a rebuilt allocator 60% slower where the machine lost 30"
# ... and one that gained less than a faster machine lost ground: a regression too, and the
# controls' own gains count as nothing
machine faster 1.2 "$(all5 2.0)"
[ "$rc" -eq 1 ] && row jemalloc faster | grep -q ' +20.0%  0.0079  REGRESSION (the machine here: +100.0%' &&
    grep -q '^30 cells compared, 1 regressions, 0 improvements' "$dir/faster.out" ||
    fail "a rebuilt allocator 20% faster on a machine 100% faster (exit $rc): $(cat "$dir/faster.out")"
# the machine's change is the median of the libraries that moved (-20, -40 and -80%; their
# mean, -46.7%, would make the rebuilt allocator's -40% an improvement)
machine median 0.6 "glibc=0.8,ctl2=0.6,ctl3=0.2"
expect median 0 'slower, as the machine (the machine here: -40.0%, from 3 of 5' "not the median of the controls that moved"
# ... and a library's change the median of its names' (ctl2..ctl5 one library: -70, -40,
# -40, -40%)
machine libmedian 0.6 "glibc=0.6,ctl2=0.3,ctl3=0.6,ctl4=0.6,ctl5=0.6" ctl2,ctl3,ctl4,ctl5
expect libmedian 0 'slower, as the machine (the machine here: -40.0%, from 2 of 2' "not the median of a library's names"
# a control whose OLD lost a run says nothing of the machine (its median is flattered)
machine oldfailed 0.6 "$(all5 0.6)" "" oldfailed
expect oldfailed 0 'slower, as the machine (the machine here: -40.0%, from 4 of 4' "a control that lost a run in OLD was counted"
# three libraries of five moved down and one up: the one is outvoted
machine outvoted 0.6 "glibc=0.6,ctl2=0.6,ctl3=0.6,ctl4=1.6"
expect outvoted 0 'slower, as the machine (the machine here: -40.0%, from 3 of 5' "three libraries of five down are not the machine"
# not the machine, so the rebuilt allocator's 40% is a regression:
#   alone: one library moved among five; variants: one library of four names; minority: two
#   of five; bothways: two down, two up; single: one library in all (ctl2..ctl5 are glibc's
#   file); halfnames: glibc and half the names of one library; noisy: controls 40% slower
#   in three repetitions of five and faster in two (not significant); under: controls 8%
#   slower, under the threshold; newenv / oldenv / newinherited / oldinherited / newhash0:
#   ctl2..ctl5 ran other variables or another file on one side or in one run, so glibc is
#   the only control
for when in "alone glibc=0.6" "variants $(ctl4 0.6) ctl2,ctl3,ctl4,ctl5" \
            "minority glibc=0.6,ctl2=0.6" "bothways glibc=0.6,ctl2=0.6,ctl3=1.6,ctl4=1.6" \
            "single $(all5 0.6) glibc" "halfnames glibc=0.6,ctl2=0.6,ctl3=0.6 ctl2,ctl3,ctl4,ctl5" \
            "noisy $(all5 0.6/0.6/0.6/1.4/1.4)" "newenv $(all5 0.6) - newenv" "oldenv $(all5 0.6) - oldenv" \
            "newinherited $(all5 0.6) - newinherited" "oldinherited $(all5 0.6) - oldinherited" \
            "newhash0 $(all5 0.6) - newhash0"; do
    set -- $when
    share=${3-}; [ "$share" = - ] && share=""
    machine "$1" 0.6 "$2" "$share" "${4-}"
    expect "$1" 1 ' -40.0%  0.0079  REGRESSION$' "the rebuilt allocator's 40% was excused"
done
# ... and the same upwards: glibc and half the names of one library 60% faster is not the
# machine, and the rebuilt allocator's 60% is an improvement
machine halfup 1.6 "glibc=1.6,ctl2=1.6,ctl3=1.6" ctl2,ctl3,ctl4,ctl5
expect halfup 0 ' +60.0%  0.0079  improvement$' "the rebuilt allocator's 60% is no improvement"
machine under 0.85 "$(all5 0.92)"
expect under 1 ' -15.0%  0.0079  REGRESSION$' "controls 8% slower, under the threshold, excused 15%"
row ctl2 variants | grep -q 'slower with the same library: not a change of this allocator' ||
    fail "a control's own change got a verdict: $(row ctl2 variants)"
# the verdict follows the judged p: 70% slower raw (p 0.0079), but on what is left three
# repetitions slower and two faster, not significant
machine judgedp 0.3/0.3/0.3/0.9/0.9 "$(all5 0.6)"
expect judgedp 0 ' slower, not significant (the machine here: -40.0%' "judged on the raw p"
# records without a spec (microbenchmarks) have controls too
mkdir -p "$dir/nospec/old"
for side in "" /old; do
    python3 -c 'import json, sys
for line in sys.stdin:
    r = json.loads(line); r["allocator"].pop("spec", None); print(json.dumps(r))' \
        <"$dir/slower$side/records.jsonl" >"$dir/nospec$side/records.jsonl"
done
rc=0
"$ROOT/run.sh" compare "$dir/nospec/old" "$dir/nospec" --threshold 10 >"$dir/nospec.out" || rc=$?
[ "$rc" -eq 0 ] && row jemalloc nospec | grep -q 'slower, as the machine' ||
    fail "records without a spec got no controls (exit $rc): $(cat "$dir/nospec.out")"

# the other way round it is an improvement: exit 0, counted and marked as one
rc=0
"$ROOT/run.sh" compare "$dir/slow" "$dir/old" --threshold 10 >"$dir/fast.out" || rc=$?
[ "$rc" -eq 0 ] && ! grep -q REGRESSION "$dir/fast.out" && grep -q "0 regressions, 1 improvements" "$dir/fast.out" &&
    grep -E '^cross-core-free:remote=0\|1\|glibc .*improvement' "$dir/fast.out" >/dev/null ||
    fail "a 43% speed-up (exit $rc) was not an improvement: $(cat "$dir/fast.out")"
# the same slowdown under a higher threshold is not a regression
"$ROOT/run.sh" compare "$dir/old" "$dir/slow" --threshold 40 >/dev/null || fail "a 30% change was flagged at --threshold 40"
# the tiny matrix against itself: 2 repetitions, passes and says why nothing can be significant
"$ROOT/run.sh" compare "$TINY" "$TINY" >"$dir/tiny.out" || fail "the tiny matrix against itself was flagged"
grep -q "no difference can reach p < 0.05" "$dir/tiny.out" || fail "compare does not warn that 2 repetitions cannot be significant"
# a cell whose workload ran with other parameters is not compared, however its speed moved
sed 's/"batches":200/"batches":400/' "$dir/slow/records.jsonl" >"$dir/otherparams.jsonl"
mkdir -p "$dir/otherparams" && mv "$dir/otherparams.jsonl" "$dir/otherparams/records.jsonl"
rc=0
"$ROOT/run.sh" compare "$dir/old" "$dir/otherparams" --threshold 10 >"$dir/otherparams.out" 2>&1 || rc=$?
grep -q 'not compared: the workload.s parameters differ (batches: 200 vs 400)' "$dir/otherparams.out" ||
    fail "cells with other parameters were compared: $(cat "$dir/otherparams.out")"
! grep -q REGRESSION "$dir/otherparams.out" || fail "a cell with other parameters was flagged as a regression"
# runs that fail in NEW where none failed in OLD are a regression, whatever the medians:
# one cell's five runs all failed, another's first failed
mkdir -p "$dir/fails"
python3 - "$dir/old/records.jsonl" "$dir/fails/records.jsonl" <<'PY'
import json, sys
out = open(sys.argv[2], "w")
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["cell"] == "cross-core-free:remote=0|1|glibc" or (r["cell"] == "cross-core-free:remote=100|2|glibc" and r["rep"] == 0):
        r = {k: r[k] for k in ("schema", "run_id", "cell", "rep", "warmup", "timestamp", "workload", "allocator", "threads")}
        r.update(status="failed", error="mhbench exited with status 5: synthetic")
    out.write(json.dumps(r) + "\n")
PY
rc=0
"$ROOT/run.sh" compare "$dir/old" "$dir/fails" >"$dir/fails.out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] && grep -q 'cross-core-free:remote=0|1|glibc .*REGRESSION: 5 of 5 runs fail now, none did' "$dir/fails.out" &&
    grep -q '^10 cells compared, 2 regressions' "$dir/fails.out" &&
    grep -q 'cross-core-free:remote=100|2|glibc .*REGRESSION: 1 of 5 runs fail now, none did' "$dir/fails.out" ||
    fail "runs that fail now were not flagged (exit $rc): $(cat "$dir/fails.out")"
# ... and a cell whose every run fails now is one, though one of OLD's failed too (the
# fails set as OLD: remote=100's first run failed there; all of its runs fail in NEW)
mkdir -p "$dir/allfail"
python3 - "$dir/old/records.jsonl" "$dir/allfail/records.jsonl" <<'PY'
import json, sys
out = open(sys.argv[2], "w")
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["cell"] == "cross-core-free:remote=100|2|glibc":
        r = {k: r[k] for k in ("schema", "run_id", "cell", "rep", "warmup", "timestamp", "workload", "allocator", "threads")}
        r.update(status="failed", error="mhbench exited with status 5: synthetic")
    out.write(json.dumps(r) + "\n")
PY
rc=0
"$ROOT/run.sh" compare "$dir/fails" "$dir/allfail" >"$dir/allfail.out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] && grep -q 'cross-core-free:remote=100|2|glibc .*REGRESSION: every run fails now, 1 of 5 did' "$dir/allfail.out" ||
    fail "a cell whose every run fails now went unflagged (exit $rc): $(cat "$dir/allfail.out")"
# a cell with 3 repetitions a side cannot reach p < 0.05: its verdict says so, though
# the other cells, with 5, could
mkdir -p "$dir/few-old" "$dir/few-new"
python3 - "$dir/old/records.jsonl" "$dir/few-old/records.jsonl" "$dir/few-new/records.jsonl" <<'PY'
import json, sys
few = "cross-core-free:remote=0|1|glibc"
with open(sys.argv[2], "w") as old, open(sys.argv[3], "w") as new:
    for line in open(sys.argv[1]):
        r = json.loads(line)
        if r["cell"] == few and r["rep"] >= 3:
            continue
        old.write(json.dumps(r) + "\n")
        if r["cell"] == few:
            r["throughput_ops_s"] *= 0.7
        new.write(json.dumps(r) + "\n")
PY
"$ROOT/run.sh" compare "$dir/few-old" "$dir/few-new" >"$dir/few.out" 2>&1 ||
    fail "3 repetitions a side made a verdict: $(cat "$dir/few.out")"
grep -q 'cross-core-free:remote=0|1|glibc .*slower, too few repetitions to tell' "$dir/few.out" ||
    fail "a cell that cannot reach p < 0.05 does not say so: $(grep 'remote=0|1|glibc' "$dir/few.out")"
# A cell slower by exactly the threshold is not slower by more than it: 95 / 100 - 1 is
# -5.000000000000004%, which read as past 5. OLD: 100 x (1 + rep / 500) Mops/s, NEW 95 x the
# same, a rebuilt library (not a control).
# OLD that lost runs in a cell (timeouts, its slowest) has a flattered median there: NEW's
# complete runs 20% under it get no verdict, neither a regression nor "same".
mkdir -p "$dir/edge-old" "$dir/edge-new"
python3 - "$dir/old/records.jsonl" "$dir/edge-old/records.jsonl" "$dir/edge-new/records.jsonl" <<'PY'
import json, sys
exact, lost = "cross-core-free:remote=0|1|glibc", "cross-core-free:remote=100|2|glibc"
with open(sys.argv[2], "w") as old, open(sys.argv[3], "w") as new:
    for line in open(sys.argv[1]):
        o, n = json.loads(line), json.loads(line)
        if o["cell"] == exact:
            o["throughput_ops_s"] = 100e6 * (1 + o["rep"] / 500)
            n["throughput_ops_s"] = 95e6 * (1 + n["rep"] / 500)
            n["allocator"]["file_hash"] = "fnv1a64:rebuilt"
        if o["cell"] == lost:
            n["throughput_ops_s"] *= 0.8
            n["allocator"]["file_hash"] = "fnv1a64:rebuilt"
            if o["rep"] >= 3:
                o = {k: o[k] for k in ("schema", "run_id", "cell", "rep", "warmup", "timestamp", "workload", "allocator", "threads")}
                o.update(status="failed", error="timed out")
        old.write(json.dumps(o) + "\n")
        new.write(json.dumps(n) + "\n")
PY
rc=0
"$ROOT/run.sh" compare "$dir/edge-old" "$dir/edge-new" --threshold 5 >"$dir/edge.out" 2>&1 || rc=$?
grep -q '^cross-core-free:remote=0|1|glibc .* -5\.0% .*  same$' "$dir/edge.out" ||
    fail "a change of exactly the threshold got a verdict: $(grep 'remote=0|1|glibc' "$dir/edge.out")"
grep -q '^cross-core-free:remote=100|2|glibc .* -[0-9.]*% .*  cannot tell: OLD lost 2 of 5 runs, its median is flattered$' \
    "$dir/edge.out" && grep -q '^1 cell without a verdict: OLD lost runs there' "$dir/edge.out" ||
    fail "a change against OLD's flattered median got a verdict: $(grep 'remote=100|2|glibc\|without a verdict' "$dir/edge.out")"
[ "$rc" -eq 0 ] || fail "neither edge is a regression, yet compare exited $rc: $(cat "$dir/edge.out")"
echo "matrix.compare: ok"
