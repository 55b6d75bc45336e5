#!/usr/bin/env bash
# matrix.report: the tiny matrix's CSV, plots and report agree with each other.
. "$(dirname "$0")/lib.sh"
csv="$TINY/results.csv" md="$TINY/report.md" html="$TINY/report.html"
[ "$(wc -l <"$csv")" -eq 31 ] || fail "results.csv: want a header and 30 rows, got $(wc -l <"$csv") lines"
grep -q '"' "$csv" && fail "the tiny matrix's CSV should need no quoting; the column check below assumes it"

# every plot the matrix can make from this set: PNG (real PNG, not empty) and SVG
for p in normalised scaling rss latency counters remote tradeoff; do
    png="$TINY/plots/$p.png"
    [ -s "$png" ] || fail "plot $p.png missing or empty"
    [ "$(head -c4 "$png" | tail -c3)" = PNG ] || fail "$p.png is not a PNG"
    [ -s "$TINY/plots/$p.svg" ] || fail "plot $p.svg missing or empty"
    grep -q "plots/$p.png" "$md" || fail "report.md does not link $p.png"
done
# the HTML is self-contained: every plot embedded, none linked as an image file
[ "$(grep -o 'src="data:image/png;base64,iVBOR' "$html" | wc -l)" -eq 7 ] || fail "report.html must embed the 7 PNG plots"
grep -q '<img[^>]*src="plots/' "$html" && fail "report.html links an image file instead of embedding it"

# --png-only (a report to commit): the PNGs, no SVG or plot data, and no link to them
png_only="$WORK/png-only"
rm -rf "$png_only" && mkdir -p "$png_only" && cp "$TINY/records.jsonl" "$png_only/"
# through run.sh, which documents it (it used to refuse it as an unknown option)
"$ROOT/run.sh" report --png-only "$png_only" >/dev/null || fail "./run.sh report --png-only failed"
[ -s "$png_only/plots/normalised.png" ] || fail "--png-only drew no normalised.png"
leftover="$(cd "$png_only/plots" && ls -A | grep -v '\.png$')" && fail "--png-only left $leftover in plots/"
grep -qE 'SVG\]|plots/data' "$png_only/report.md" && fail "--png-only's report.md links an SVG or the data"
grep -q '\.svg' "$png_only/report.html" && fail "--png-only's report.html links an SVG"
grep -qF '[SVG](plots/normalised.svg)' "$md" || fail "the default report.md does not link the SVG"

# recompute every median from the CSV and find its row in report.md
col() { csv_column_index "$csv" "$1"; }
medians="$(awk -F, -v c="$(col case)" -v t="$(col threads)" -v a="$(col allocator)" \
               -v w="$(col warmup)" -v s="$(col status)" -v x="$(col throughput_ops_s)" '
    NR > 1 && $w == "false" && $s == "ok" { k = $c "|" $t "|" $a; v[k, ++n[k]] = $x / 1e6 }
    END {
        for (k in n) {
            m = n[k]
            for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++)
                if (v[k, j] < v[k, i]) { tmp = v[k, i]; v[k, i] = v[k, j]; v[k, j] = tmp }
            med = m % 2 ? v[k, (m + 1) / 2] : (v[k, m / 2] + v[k, m / 2 + 1]) / 2
            split(k, f, "|")
            # with 2 repetitions: quartiles by linear interpolation (R type 7), and the
            # median order-statistic interval is the two runs, covering 50%
            if (m != 2) { printf "cell %s has %d repetitions, not 2\n", k, m; continue }
            q1 = v[k, 1] + (v[k, 2] - v[k, 1]) / 4; q3 = v[k, 1] + (v[k, 2] - v[k, 1]) * 3 / 4
            printf "| %s | %s | %s | %d | %.3f | %.3f-%.3f | %.3f-%.3f (50%%) |\n", f[1], f[2], f[3], m, med,
                q1, q3, v[k, 1], v[k, 2]
        }
    }' "$csv")"
[ "$(wc -l <<<"$medians")" -eq 10 ] || fail "want 10 cells in the CSV, got: $medians"
while IFS= read -r row; do
    grep -qF -- "$row" "$md" || fail "report.md has no row starting '$row' (median recomputed from results.csv)"
done <<<"$medians"
# the geometric mean of jemalloc's median over glibc's, over the cells both ran
geo="$(awk -F, -v c="$(col case)" -v t="$(col threads)" -v a="$(col allocator)" \
               -v w="$(col warmup)" -v s="$(col status)" -v x="$(col throughput_ops_s)" '
    NR > 1 && $w == "false" && $s == "ok" { k = $c "|" $t; v[k, $a] += $x; n[k, $a]++; cells[k] = 1 }
    END {
        for (k in cells) if (n[k, "glibc"] && n[k, "jemalloc"]) {
            sum += log((v[k, "jemalloc"] / n[k, "jemalloc"]) / (v[k, "glibc"] / n[k, "glibc"])); m++
        }
        printf "| jemalloc | %.2f | - | %d |", exp(sum / m), m
    }' "$csv")"
grep -qF -- "$geo" "$md" || fail "report.md's geometric mean row is not '$geo': $(grep '^| jemalloc | [0-9.]* | - |' "$md")"
grep -q '^## Counters that were unavailable' "$md" || fail "report.md lacks the unavailable-counter section"
grep -q 'run.sh matrix --config' "$md" || fail "report.md lacks the command to reproduce"
# the records' text reaches gnuplot as text: a machine line with a shell's $( ) and
# backquotes, quotes, a backslash and enhanced-text markup is drawn as it is, and runs
# nothing (the plots were drawn through sh -c); an allocator name with _ stays whole
odd="$WORK/odd text"
rm -rf "$odd" && mkdir -p "$odd"
python3 - "$TINY/records.jsonl" "$odd/records.jsonl" "$odd" <<'PY'
import json, sys
out = open(sys.argv[2], "w")
for line in open(sys.argv[1]):
    r = json.loads(line)
    if isinstance(r.get("env"), dict):
        r["env"]["cpu_model"] = "CPU $(touch '%s/ran1') `touch '%s/ran2'` it's \"q\" back\\slash a_b@c" % (sys.argv[3], sys.argv[3])
    r["allocator"]["name"] = r["allocator"]["name"].replace("glibc", "g_libc")
    r["cell"] = r["cell"].replace("|glibc", "|g_libc")
    out.write(json.dumps(r) + "\n")
PY
"$MH_MHREPORT" report "$odd" >/dev/null 2>"$WORK/odd.err" || fail "the report of odd text failed: $(cat "$WORK/odd.err")"
[ ! -e "$odd/ran1" ] && [ ! -e "$odd/ran2" ] || fail "text from the records ran as a command when the plots were drawn"
grep -qF 'a_b@c' "$odd/plots/scaling.svg" && grep -qF "back\\slash" "$odd/plots/scaling.svg" ||
    fail "the machine line is not drawn as it is: $(grep -o 'CPU [^<]*' "$odd/plots/scaling.svg" | head -n1)"
grep -q 'normalised to g_libc' "$odd/plots/normalised.svg" || fail "an allocator name with _ lost it in the normalised plot's title"
# multiheap's statistics plot, from records that carry allocator_stats (the
# tiny matrix does not run multiheap: give two of its records a small matrix)
mh="$WORK/mhstats"
rm -rf "$mh" && mkdir -p "$mh"
stats='{"remote_frees":7,"heaps":[{"heap":0,"pages_stolen":3,"pages_given":0,"os_grow_calls":2},{"heap":1,"pages_stolen":0,"pages_given":3,"os_grow_calls":1}],"remote_free_matrix":[[0,5],[2,0]]}'
awk '/"warmup":false/ && n++ < 2' "$TINY/records.jsonl" | sed "s/\"allocator_stats\":null/\"allocator_stats\":$stats/" >"$mh/records.jsonl"
grep -q '"remote_free_matrix"' "$mh/records.jsonl" || fail "could not seed allocator_stats (record layout changed?)"
"$MH_MHREPORT" report "$mh" >/dev/null
[ -s "$mh/plots/mhstats.png" ] || fail "no mhstats.png from records with allocator_stats"
[ "$(cat "$mh/plots/data/mh_remote.dat")" = "$(printf '0 5\n2 0')" ] || fail "the remote-free heatmap data is not the records' matrix"
grep -q "plots/mhstats.png" "$mh/report.md" || fail "report.md does not link mhstats.png"
# multiheap's held-back memory: a section with one row per cell whose records carry
# cached_bytes and stashed_bytes (two glibc runs renamed multiheap, 1 and 3 MiB held)
held="$WORK/held"
rm -rf "$held" && mkdir -p "$held"
awk '/"warmup":false/ && /"cell":"producer-consumer\|2\|glibc"/' "$TINY/records.jsonl" |
    sed -e 's/"allocator_stats":null/"allocator_stats":{"cached_bytes":1048576,"stashed_bytes":3145728}/' \
        -e 's/"name":"glibc"/"name":"multiheap"/' -e 's/|glibc"/|multiheap"/' >"$held/records.jsonl"
[ "$(grep -c '"cached_bytes"' "$held/records.jsonl")" -eq 2 ] || fail "could not seed cached_bytes (record layout changed?)"
"$MH_MHREPORT" report --no-plots "$held" >/dev/null
grep -q '^## multiheap: free memory held back when each run ended' "$held/report.md" &&
    grep -Eq '^\| producer-consumer \| 2 \| [0-9.]+ \| [0-9.]+ \| 1\.00 \| 3\.00 \|$' "$held/report.md" ||
    fail "report.md lacks the held-back row for multiheap's producer-consumer (1 and 3 MiB)"
grep -q 'held back' "$md" && fail "report.md has a held-back section without multiheap runs"
# every plot script labels both axes and has a legend (the title and machine
# subtitle come from common.gp's subtitle, which each script must use)
for gp in "$ROOT"/plots/*.gp; do
    [ "${gp##*/}" = common.gp ] && continue
    for want in 'set xlabel' 'set ylabel' 'set key' 'subtitle'; do
        grep -q "$want" "$gp" || fail "${gp##*/} lacks '$want'"
    done
done

# the same set given twice counts each run once
mkdir -p "$WORK/twice" && cp "$TINY/records.jsonl" "$WORK/twice/"
"$MH_MHREPORT" report --no-plots "$WORK/twice" "$TINY" --out "$WORK/twice" >/dev/null 2>"$WORK/twice.err"
grep -q 'records appear twice' "$WORK/twice.err" || fail "duplicate records were not reported: $(cat "$WORK/twice.err")"
# ... and the header counts each once: its records add up to its runs
header=$(grep -m1 " Written " "$WORK/twice/report.md")
python3 - "$header" <<'PY' || fail "the header's counts do not add up: $header"
import re, sys
m = re.search(r"from (\d+) records \((\d+) more appeared twice and count once\): (\d+) measured runs, (\d+) failed, (\d+) warm-up", sys.argv[1])
sys.exit(0 if m and int(m[1]) == int(m[3]) + int(m[4]) + int(m[5]) and int(m[2]) == int(m[1]) else 1)
PY
cmp -s <(grep '^| cross-core-free' "$md") <(grep '^| cross-core-free' "$WORK/twice/report.md") ||
    fail "a set given twice changed the per-cell rows (repetitions counted twice?)"
# a case whose records ran with different parameters is not pooled
mkdir -p "$WORK/mixed_params"
sed '0,/"batches":200/s//"batches":400/' "$TINY/records.jsonl" >"$WORK/mixed_params/records.jsonl"
expect_refusal "different parameters" "$MH_MHREPORT" report --no-plots "$WORK/mixed_params"
# a failed warm-up run is counted as one in the header
mkdir -p "$WORK/warm_failed"
awk '/"warmup":true/ && !done { sub(/"status":"ok"/, "\"status\":\"failed\""); done = 1 } 1' "$TINY/records.jsonl" \
    >"$WORK/warm_failed/records.jsonl"
"$MH_MHREPORT" report --no-plots "$WORK/warm_failed" >/dev/null
grep -q 'warm-up runs (discarded, 1 of them failed)' "$WORK/warm_failed/report.md" ||
    fail "a failed warm-up run is not in the header: $(grep -m1 " Written " "$WORK/warm_failed/report.md")"
# a set made from a preset is reproduced by the config beside it (a preset changes with the code)
mkdir -p "$WORK/preset"
cp "$TINY/records.jsonl" "$TINY/config.conf" "$WORK/preset/"
echo './run.sh matrix --preset quick --shard 1/2' >"$WORK/preset/command.txt"
"$MH_MHREPORT" report --no-plots "$WORK/preset" >/dev/null
grep -qxF "./run.sh matrix --config $WORK/preset/config.conf --shard 1/2" "$WORK/preset/report.md" ||
    fail "the preset's command was not turned into the config beside it: $(grep -A4 'How to reproduce' "$WORK/preset/report.md")"
# records of two machines are not pooled either (a median between two hosts measures neither):
# not within a (case, threads) group, nor two kinds of machine anywhere; shards of identical
# nodes, each group on one of them, are one set
mkdir -p "$WORK/two_hosts" "$WORK/two_kinds" "$WORK/node_shards"
awk '/"rep":1,/ { sub(/"host":"[^"]*"/, "\"host\":\"bigbox\"") } 1' "$TINY/records.jsonl" >"$WORK/two_hosts/records.jsonl"
grep -q '"host":"bigbox"' "$WORK/two_hosts/records.jsonl" || fail "the test's edit named no second host"
expect_refusal "two hosts" "$MH_MHREPORT" report --no-plots "$WORK/two_hosts"
awk '/"cell":"cross-core-free/ { sub(/"cpu_model":"[^"]*"/, "\"cpu_model\":\"Other CPU\"") } 1' "$TINY/records.jsonl" \
    >"$WORK/two_kinds/records.jsonl"
grep -q '"cpu_model":"Other CPU"' "$WORK/two_kinds/records.jsonl" || fail "the test's edit named no second CPU"
expect_refusal "two kinds of machine" "$MH_MHREPORT" report --no-plots "$WORK/two_kinds"
awk '/"cell":"cross-core-free/ { sub(/"host":"[^"]*"/, "\"host\":\"node2\"") } 1' "$TINY/records.jsonl" \
    >"$WORK/node_shards/records.jsonl"
"$MH_MHREPORT" report --no-plots "$WORK/node_shards" >/dev/null 2>"$WORK/node_shards.err" ||
    fail "shards of identical nodes were refused: $(cat "$WORK/node_shards.err")"
# two libraries under one allocator name: one row each, and a warning
mkdir -p "$WORK/mixed_libs"
awk '/"name":"jemalloc"/ && /"rep":1,/ { sub(/"served_by":"[^"]*"/, "\"served_by\":\"/other/libjemalloc.so.2\"") } 1' \
    "$TINY/records.jsonl" >"$WORK/mixed_libs/records.jsonl"
"$MH_MHREPORT" report --no-plots "$WORK/mixed_libs" >/dev/null
[ "$(grep -c '^| jemalloc | ' "$WORK/mixed_libs/report.md")" -ge 2 ] &&
    grep -q '/other/libjemalloc.so.2' "$WORK/mixed_libs/report.md" ||
    fail "the allocator table hides a second library under one name"
grep -q 'stand.* for more than one library or setting' "$WORK/mixed_libs/report.md" ||
    fail "the report does not warn that one name pools two libraries"
# size-sweep's cost curve: the sizes plot and a table of each allocator's median ns per
# operation at each size, recomputed here from the records' extra arrays
sw="$WORK/sizes"
rm -rf "$sw"
printf '%s\n' 'allocators = glibc multiheap' 'threads = 1' 'repetitions = 3' 'warmup = 0' \
    'workload size-sweep --ms-per-size=1 --max-size=1024' >"$WORK/sizes.conf"
"$ROOT/run.sh" matrix --config "$WORK/sizes.conf" --out "$sw" >/dev/null
"$MH_MHREPORT" report "$sw" >/dev/null
[ -s "$sw/plots/sizes.png" ] && [ -s "$sw/plots/sizes.svg" ] && grep -q "plots/sizes.png" "$sw/report.md" ||
    fail "no sizes plot, or report.md does not link it, for a set with size-sweep"
python3 - "$sw" <<'PY' || fail "the size-sweep table does not hold the records' medians"
import json, statistics, sys
d = sys.argv[1]
recs = [json.loads(l) for l in open(d + "/records.jsonl")]
ns = {}
for r in recs:
    if r["status"] == "ok" and not r["warmup"]:
        for size, v in zip(r["extra"]["size_bytes"], r["extra"]["ns_per_op"]):
            ns.setdefault((size, r["allocator"]["name"]), []).append(v)
rows = [l for l in open(d + "/report.md") if l.startswith("| ") and l.split("|")[1].strip().isdigit()]
sizes = sorted({k[0] for k in ns})
assert len(sizes) == 14 and len(rows) == 14, (sizes, rows)
for size, row in zip(sizes, rows):
    want = "| %d | %.1f | %.1f |" % (size, statistics.median(ns[size, "glibc"]), statistics.median(ns[size, "multiheap"]))
    assert row.strip() == want, (row, want)
PY
# Records that must not be pooled are skipped, each named: another schema version, an
# ok run whose allocator was not proven loaded, a negative duration.
mixed="$WORK/report-mixed"
rm -rf "$mixed" && mkdir -p "$mixed"
python3 - "$TINY/records.jsonl" "$mixed/records.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
ok = [r for r in recs if r["status"] == "ok" and not r["warmup"]]
ok[0]["schema"] = "multiheap-result/2"
ok[1]["allocator"]["verified"] = False
ok[2]["duration_s"] = -1
with open(sys.argv[2], "w") as out:
    for r in recs:
        out.write(json.dumps(r) + "\n")
PY
"$MH_MHREPORT" report --no-plots "$mixed" >/dev/null 2>"$WORK/report-mixed.err"
[ "$(grep -c 'not a valid record' "$WORK/report-mixed.err")" -eq 3 ] &&
    grep -q "schema is not multiheap-result/1" "$WORK/report-mixed.err" &&
    grep -q "not proven loaded" "$WORK/report-mixed.err" && grep -q "not a positive number" "$WORK/report-mixed.err" ||
    fail "the report did not name the three records it must skip: $(cat "$WORK/report-mixed.err")"
grep -q "from 27 records" "$mixed/report.md" || fail "the report pooled records it should have skipped: $(grep -o 'from [0-9]* records' "$mixed/report.md")"

# A JSON line without a record's identity (the schema alone, a run without its
# allocator) is skipped and named, as a torn line is, by the report and by compare: it was
# pooled as an allocator "?" and compare listed "?|0|? only in NEW".
phantom="$WORK/report-phantom"
rm -rf "$phantom" && mkdir -p "$phantom"
n=$(wc -l <"$TINY/records.jsonl")
{ cat "$TINY/records.jsonl"; echo '{"schema":"multiheap-result/1"}'
  echo '{"schema":"multiheap-result/1","status":"failed","error":"x","workload":{"name":"larson"},"threads":1}'
} >"$phantom/records.jsonl"
"$MH_MHREPORT" report --no-plots "$phantom" >/dev/null 2>"$WORK/report-phantom.err" ||
    fail "the report failed on lines without a record's identity: $(cat "$WORK/report-phantom.err")"
grep -q "records.jsonl:$((n + 1)): not a valid record (missing key status)" "$WORK/report-phantom.err" &&
    grep -q "records.jsonl:$((n + 2)): not a valid record (missing key allocator.name)" \
        "$WORK/report-phantom.err" || fail "the report did not name the lines it skipped: $(cat "$WORK/report-phantom.err")"
[ "$(grep -o 'from [0-9]* records' "$phantom/report.md")" = "$(grep -o 'from [0-9]* records' "$TINY/report.md")" ] &&
    ! grep -q '| ? |' "$phantom/report.md" || fail "the report pooled a line without a record's identity"
"$ROOT/run.sh" compare "$TINY" "$phantom" >"$WORK/compare-phantom.out" 2>"$WORK/compare-phantom.err" || true
grep -q "records.jsonl:$((n + 1)): not a valid record (missing key status)" "$WORK/compare-phantom.err" &&
    ! grep -q 'only in NEW' "$WORK/compare-phantom.out" ||
    fail "compare took a line without a record's identity for a cell: $(cat "$WORK/compare-phantom.out" "$WORK/compare-phantom.err")"

# A cell where one allocator alone succeeded is not counted as a win: the geometric means
# leave it out, and the wins count the same cells.
alone="$WORK/report-alone"
rm -rf "$alone" && mkdir -p "$alone"
python3 - "$alone/records.jsonl" <<'PY'
import json, sys
out = open(sys.argv[1], "w")
for a in ("glibc", "multiheap"):
    for rep in range(5):
        r = {"schema": "multiheap-result/1", "run_id": "alone", "rep": rep, "warmup": False,
             "timestamp": "2026-11-30T12:00:00Z", "cell": "larson|2|" + a,
             "workload": {"name": "larson", "params": {}}, "allocator": {"name": a}, "threads": 2}
        if a == "glibc":
            r.update(status="failed", error="mhbench exited with status 5: synthetic")
        else:
            r.update(status="ok", error=None, throughput_ops_s=1e8 + rep, ns_per_op=10, duration_s=0.2, ops=2e7,
                     memory={"peak_rss_kib": 8000, "end_rss_kib": 8000})
        out.write(json.dumps(r) + "\n")
PY
"$MH_MHREPORT" report --no-plots "$alone" >/dev/null 2>&1
grep -q '^| multiheap | - | - | 0 | 0 | 0 |$' "$alone/report.md" ||
    fail "a sole survivor's cell counted as a win: $(grep '^| multiheap |' "$alone/report.md" | tail -1)"

# Winners and wins are decided among the distinct allocators: a variant (variables set on a
# base: allocator.env) keeps its column but is no competitor, so multiheap's variants take
# no wins from it or from the peers. A set of variants alone ranks them all. The paragraph
# gives the repetitions and how often intervals that far apart come by chance.
variants="$WORK/report-variants"
rm -rf "$variants" && mkdir -p "$variants/ab"
python3 - "$variants" <<'PY'
import json, sys
def write(path, medians):
    with open(path, "w") as out:
        for case, by_alloc in medians.items():
            for a, (m, env) in by_alloc.items():
                for rep in range(5):
                    out.write(json.dumps({"schema": "multiheap-result/1", "run_id": "variants", "rep": rep,
                        "warmup": False, "timestamp": "2026-12-01T12:00:00Z", "cell": "%s|2|%s" % (case, a),
                        "workload": {"name": case, "params": {}}, "threads": 2, "status": "ok", "error": None,
                        "allocator": {"name": a, "env": env}, "throughput_ops_s": m * 1e6 * (1 + rep / 1000),
                        "ns_per_op": 10, "duration_s": 0.2, "ops": 2e7,
                        "memory": {"peak_rss_kib": 8000, "end_rss_kib": 8000}}) + "\n")
seed, off = {"MULTIHEAP_SEED": "1"}, {"MULTIHEAP_REMOTE_BINS": "0"}
write(sys.argv[1] + "/records.jsonl", {
    "larson": {"glibc": (50, {}), "tcmalloc": (100, {}), "multiheap": (200, {}), "multiheap-seed": (20, seed),
               "mh-noremotebins": (300, off)},
    "xmalloc": {"glibc": (50, {}), "tcmalloc": (200, {}), "multiheap": (100, {}), "multiheap-seed": (199, seed),
                "mh-noremotebins": (10, off)}})
write(sys.argv[1] + "/ab/records.jsonl", {"larson": {"multiheap-seed": (20, seed), "mh-noremotebins": (300, off)}})
PY
"$MH_MHREPORT" report --no-plots "$variants" >/dev/null 2>&1
"$MH_MHREPORT" report --no-plots "$variants/ab" >/dev/null 2>&1
grep -q '^| larson | 2 | .* | multiheap |$' "$variants/report.md" &&
    grep -q '^| xmalloc | 2 | .* | tcmalloc |$' "$variants/report.md" ||
    fail "a variant won a cell, or hid the winner's lead: $(grep -E '^\| (larson|xmalloc) \|' "$variants/report.md")"
grep -q '^| multiheap | [0-9.]* | [0-9.]* | 2 | 1 | 1 |$' "$variants/report.md" &&
    grep -q '^| tcmalloc | [0-9.]* | [0-9.]* | 2 | 1 | 1 |$' "$variants/report.md" &&
    grep -q '^| mh-noremotebins | [0-9.]* | [0-9.]* | 2 | - | - |$' "$variants/report.md" &&
    grep -q '^| multiheap-seed | [0-9.]* | [0-9.]* | 2 | - | - |$' "$variants/report.md" ||
    fail "wins counted variants: $(sed -n '/^| allocator | geomean/,/^$/p' "$variants/report.md")"
grep -q 'Winners and wins are decided among the distinct allocators' "$variants/report.md" &&
    grep -q 'These cells have 5 runs an allocator; two allocators that do not differ at all have intervals apart by chance 0.8% of the time at 5 runs each\.' \
        "$variants/report.md" || fail "the report does not say how wins are counted, or what clear risks at 5 runs"
grep -q '^| larson | 2 | .* | mh-noremotebins |$' "$variants/ab/report.md" &&
    grep -q '^| mh-noremotebins | - | - | 0 | 1 | 1 |$' "$variants/ab/report.md" ||
    fail "a set of two variants ranked neither: $(grep '^| mh-noremotebins' "$variants/ab/report.md")"

# The report's "one cell by hand" line reruns its cell: a variant by its spec (its name alone
# is unknown outside the config) and the run's --lat-every.
by_hand="$WORK/by-hand"
rm -rf "$by_hand" && mkdir -p "$by_hand"
"$MH_MHBENCH" run cross-core-free --allocator 'nc=multiheap+MULTIHEAP_CACHE=0' --threads 2 --lat-every 0 \
    --batches=50 --out "$by_hand/records.jsonl" 2>/dev/null || fail "the variant's run failed"
"$MH_MHREPORT" report --no-plots "$by_hand" >/dev/null
line="$(grep -A3 'One cell by hand' "$by_hand/report.md" | grep '^mhbench run ')" ||
    fail "report.md has no by-hand command: $(grep -A3 'One cell by hand' "$by_hand/report.md")"
eval "\"\$MH_MHBENCH\" ${line#mhbench } --out \"\$by_hand/again.jsonl\"" 2>"$WORK/by-hand.err" ||
    fail "the by-hand line failed: $line: $(cat "$WORK/by-hand.err")"
grep -q '"name":"nc","spec":"nc=multiheap+MULTIHEAP_CACHE=0"' "$by_hand/again.jsonl" &&
    grep -q '"MULTIHEAP_CACHE":"0"' "$by_hand/again.jsonl" && grep -q '"sample_every":0' "$by_hand/again.jsonl" ||
    fail "the by-hand line ran another allocator or sampling: $line"

echo "matrix.report: ok (10 medians match the CSV, 8 plots; duplicates, mixed parameters and libraries; size-sweep's table)"
