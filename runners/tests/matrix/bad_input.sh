#!/usr/bin/env bash
# matrix.bad_input: bad configs are refused before anything runs (one line,
# exit 2, no run directory); a missing gnuplot and an empty result set are
# refused by the report with the records kept.
. "$(dirname "$0")/lib.sh"
dir="$WORK/bad"
rm -rf "$dir"
mkdir -p "$dir"
write() { local name="$1"; shift; printf '%s\n' "$@" >"$dir/$name.conf"; }

write unknown_workload "allocators = glibc" "workload no-such-workload --x=1"
expect_refusal "unknown workload 'no-such-workload'" "$MATRIX" --config "$dir/unknown_workload.conf" --out "$dir/run1"
write unknown_allocator "allocators = glibc nosuchalloc" "workload thread-local-churn"
expect_refusal "unknown allocator 'nosuchalloc'" "$MATRIX" --config "$dir/unknown_allocator.conf" --out "$dir/run2"
write bad_line "allocators = glibc" "repetitions = many" "workload thread-local-churn"
expect_refusal "repetitions" "$MATRIX" --config "$dir/bad_line.conf" --out "$dir/run3"
write bad_param "allocators = glibc" "workload cross-core-free --remote=0,150" "workload thread-local-churn --slots=8"
expect_refusal "case cross-core-free:remote=150: cross-core-free: --remote=150 is out of range" "$MATRIX" --config "$dir/bad_param.conf" --out "$dir/run3b"
write misspelt_param "allocators = glibc" "workload thread-local-churn --slot=8"
expect_refusal "unknown parameter '--slot=8'" "$MATRIX" --config "$dir/misspelt_param.conf" --out "$dir/run3c"
write bad_key "colour = blue" "workload thread-local-churn"
expect_refusal "unknown key 'colour'" "$MATRIX" --config "$dir/bad_key.conf" --out "$dir/run4"
# a driver option on a workload line ran another allocator or thread count under the cell's name
write driver_opt "allocators = glibc" "threads = 1" "workload thread-local-churn --allocator=jemalloc"
expect_refusal "case thread-local-churn: --allocator is given twice" "$MATRIX" --config "$dir/driver_opt.conf" --out "$dir/run4b"
write no_allocators "allocators =" "workload thread-local-churn"
expect_refusal "no_allocators.conf:1: 'allocators' is empty" "$MATRIX" --config "$dir/no_allocators.conf" --out "$dir/run4c"
write no_workload "allocators = glibc"
expect_refusal "no 'workload" "$MATRIX" --config "$dir/no_workload.conf" --out "$dir/run5"
expect_refusal "shard" "$MATRIX" --preset test --shard 3/2 --out "$dir/run6"
expect_refusal "unknown preset" "$MATRIX" --preset huge --out "$dir/run7"
expect_refusal "--out is given twice" "$MATRIX" --preset test --out "$dir/run7x" --out "$dir/run7y"
expect_refusal "--filter is given twice" "$ROOT/runners/micro.sh" --filter a --filter b --out "$dir/micro7"
expect_refusal "shard" "$MATRIX" --preset test --shard 1/99999999999999999999 --out "$dir/run7b"
printf 'not a library\n' >"$dir/notlib.c"
write notlib "allocators = glibc x=$dir/notlib.c" "workload thread-local-churn"
expect_refusal "not installed ($dir/notlib.c is not an ELF file)" "$MATRIX" --config "$dir/notlib.conf" --out "$dir/run7d"
# an executable (or an object file) defines malloc, yet no loader can preload it
write exe_lib "allocators = sh=$(readlink -f /bin/sh)" "workload thread-local-churn"
expect_refusal "is not a shared library" "$MATRIX" --config "$dir/exe_lib.conf" --out "$dir/run7e"
printf 'void *malloc(unsigned long n) { return 0; }\n' | ${CC:-cc} -x c -c -o "$dir/malloc.o" -
write obj_lib "allocators = o=$dir/malloc.o" "workload thread-local-churn"
expect_refusal "is not a shared library" "$MATRIX" --config "$dir/obj_lib.conf" --out "$dir/run7f"
write lat_big "allocators = glibc" "lat_every = 2000000000" "workload thread-local-churn"
expect_refusal "from 0 (no latency samples) to 1073741824" "$MATRIX" --config "$dir/lat_big.conf" --out "$dir/run7c"
# values that used to pass the config check and then fail every run, or worse:
# a thread count is checked before bash does arithmetic on it
write threads_code "allocators = glibc" "threads = 1+a[\$(touch\${IFS}$dir/pwned)]N" "workload thread-local-churn"
expect_refusal "threads" "$MATRIX" --config "$dir/threads_code.conf" --out "$dir/run8" --dry-run
[ ! -e "$dir/pwned" ] || fail "a threads value ran a command"
write threads_many "allocators = glibc" "threads = 5000" "workload thread-local-churn"
expect_refusal "at most 4096 threads" "$MATRIX" --config "$dir/threads_many.conf" --out "$dir/run9"
write threads_empty "allocators = glibc" "threads =" "workload thread-local-churn"
expect_refusal "threads" "$MATRIX" --config "$dir/threads_empty.conf" --out "$dir/run10"
write placement_word "allocators = glibc" "placement = bogus" "workload thread-local-churn"
expect_refusal "placement 'bogus'" "$MATRIX" --config "$dir/placement_word.conf" --out "$dir/run11"
write placement_cpu "allocators = glibc" "placement = 4095" "workload thread-local-churn"
expect_refusal "placement '4095'" "$MATRIX" --config "$dir/placement_cpu.conf" --out "$dir/run12"
write line_placement "allocators = glibc" "workload thread-local-churn placement=sideways"
expect_refusal "placement=sideways" "$MATRIX" --config "$dir/line_placement.conf" --out "$dir/run16"
write lat_every "allocators = glibc" "lat_every = often" "workload thread-local-churn"
expect_refusal "lat_every" "$MATRIX" --config "$dir/lat_every.conf" --out "$dir/run17"
for bad in "timeout = abc" "timeout = 0"; do
    write timeout_bad "allocators = glibc" "$bad" "workload thread-local-churn"
    expect_refusal "timeout must be whole seconds" "$MATRIX" --config "$dir/timeout_bad.conf" --out "$dir/run20"
done
write warmup_bad "allocators = glibc" "warmup = 2" "workload thread-local-churn"
expect_refusal "warmup must be 0 or 1" "$MATRIX" --config "$dir/warmup_bad.conf" --out "$dir/run21"
write reps_huge "allocators = glibc" "repetitions = 99999999999999999999999" "workload thread-local-churn"
expect_refusal "repetitions" "$MATRIX" --config "$dir/reps_huge.conf" --out "$dir/run13" --dry-run
write missing_lib "allocators = glibc x=$dir/nonexistent.so" "workload thread-local-churn"
expect_refusal "not installed ($dir/nonexistent.so: No such file or directory)" "$MATRIX" --config "$dir/missing_lib.conf" --out "$dir/run14"
write marker "allocators = glibc x=glibc+MH_PRELOADED=1" "workload thread-local-churn"
expect_refusal "driver's own variable" "$MATRIX" --config "$dir/marker.conf" --out "$dir/run15"
# the setup check runs at the case's largest thread count: 4 producers need more than 4
write producers "allocators = glibc" "threads = 2" "workload producer-consumer --producers=4 --objects=2000 threads=8"
"$MATRIX" --config "$dir/producers.conf" --out "$dir/run18" --dry-run >/dev/null 2>"$dir/producers.err" ||
    fail "a case valid at its own thread count was refused: $(cat "$dir/producers.err")"
# two cases whose values differ in their text only: the same cells under two names
write same_value "allocators = glibc" "threads = 1" "workload thread-local-churn --ops=1000,1e3"
expect_refusal "cases 'thread-local-churn:ops=1000' and 'thread-local-churn:ops=1e3' run the same parameters" \
    "$MATRIX" --config "$dir/same_value.conf" --out "$dir/run22v"
write same_default "allocators = glibc" "threads = 1" "workload thread-local-churn --slots=1024,64" "workload thread-local-churn --slots=1024.0"
expect_refusal "run the same parameters" "$MATRIX" --config "$dir/same_default.conf" --out "$dir/run23v"
write hex "allocators = glibc" "threads = 1" "workload thread-local-churn --ops=0x10"
expect_refusal "--ops=0x10 is not an integer" "$MATRIX" --config "$dir/hex.conf" --out "$dir/run24v"
for r in run22v run23v run24v; do [ ! -e "$dir/$r" ] || fail "a refused config left its run directory $r"; done
# ... while a sweep of the seed alone makes cases of their own, and so does 1e3 beside 2000
write seeds "allocators = glibc" "threads = 1" "workload thread-local-churn --ops=1e3,2000 --seed=1,2"
[ "$("$MATRIX" --config "$dir/seeds.conf" --out "$dir/run25v" --dry-run 2>"$dir/seeds.err" | grep -c '^measured rep 0:')" -eq 4 ] ||
    fail "a sweep of the seed was refused or lost cases: $(cat "$dir/seeds.err")"
write producers_few "allocators = glibc" "threads = 2 4" "workload producer-consumer --producers=4 --objects=2000"
expect_refusal "--producers=4 leaves no consumer among 4 threads" "$MATRIX" --config "$dir/producers_few.conf" --out "$dir/run19"
# given twice, or empty: the later one used to win silently, or the default to take over
write reps_twice "allocators = glibc" "repetitions = 1" "repetitions = 5" "workload thread-local-churn"
expect_refusal "reps_twice.conf:3: 'repetitions' is set again (first on line 2)" "$MATRIX" --config "$dir/reps_twice.conf" --out "$dir/run22" --dry-run
for twice in "threads=1 threads=2" "repetitions=1 repetitions=2" "placement=none placement=compact"; do
    write line_twice "allocators = glibc" "workload thread-local-churn $twice"
    expect_refusal "'${twice%%=*}' is given twice on one workload line" "$MATRIX" --config "$dir/line_twice.conf" --out "$dir/run23" --dry-run
done
write param_twice "allocators = glibc" "workload cross-core-free --remote=0,100 --remote=50"
expect_refusal "'--remote' is given twice on one workload line" "$MATRIX" --config "$dir/param_twice.conf" --out "$dir/run24" --dry-run
for list in "--remote=0," "--remote=,0" "--remote=0,,100" "threads=1,"; do
    write empty_item "allocators = glibc" "workload cross-core-free $list"
    expect_refusal "'$list' has an empty value in its comma list" "$MATRIX" --config "$dir/empty_item.conf" --out "$dir/run25v" --dry-run
done
for opt in --out --preset --config --resume --shard; do
    expect_refusal "$opt is given an empty value" "$MATRIX" --preset test "$opt" '' --dry-run
done
expect_refusal "--resume $TINY writes into $TINY itself; drop --out" "$MATRIX" --resume "$TINY" --out "$dir/run26" --dry-run
"$MATRIX" --resume "$TINY" --out "$TINY" --dry-run >/dev/null || fail "--resume DIR --out DIR was refused"
# the test preset has 5 case x thread count groups: shard 7/9 would run nothing
expect_refusal "--shard 7/9 gets no runs: the config has 5 case x thread count groups" "$MATRIX" --preset test --shard 7/9 --out "$dir/run27" --dry-run
write good "allocators = glibc" "workload thread-local-churn --ops=1000"
expect_refusal "give a writable --out" "$MATRIX" --config "$dir/good.conf" --out /proc/multiheap-run
for i in $(seq 1 17); do
    [ ! -e "$dir/run$i" ] || fail "a refused config left a run directory behind (run$i)"
done
expect_refusal "unknown allocator 'nosuch'" "$ROOT/runners/micro.sh" --allocators glibc,nosuch --out "$dir/micro"
[ ! -e "$dir/micro/micro.jsonl" ] || fail "micro.sh ran glibc's rounds before refusing an unknown allocator"
expect_refusal "allocator name 'a' is given twice" "$ROOT/runners/micro.sh" --allocators 'a=glibc+GLIBC_TUNABLES=glibc.malloc.arena_max=1,a=jemalloc+MALLOC_CONF=narenas:1' --out "$dir/micro2"
[ ! -e "$dir/micro2/micro.jsonl" ] || fail "micro.sh ran before refusing a name given twice"
# the filter matches nothing: a value let through is refused for that, not run
for reps in 0 1001 99999999999999999999999; do
    expect_refusal "--repetitions '$reps' must be a whole number from 1 to 1000" "$ROOT/run.sh" micro --repetitions "$reps" --filter '^zzz' --out "$dir/micro4"
done
for t in 0 0.000 .0 x; do
    expect_refusal "--min-time '$t' must be a positive number" "$ROOT/run.sh" micro --min-time "$t" --filter '^zzz' --out "$dir/micro4"
done
[ ! -e "$dir/micro4" ] || fail "micro.sh made its directory before refusing its options"
expect_refusal "--filter '^zzz' matches no benchmark" "$ROOT/runners/micro.sh" --filter '^zzz' --out "$dir/micro3"
expect_refusal "--filter '\[' is not a valid regular expression" "$ROOT/runners/micro.sh" --filter '[' --out "$dir/micro3"
# an mhmicro that cannot run is named as such, not as a filter that matches nothing
mkdir -p "$dir/brokenbuild/runners"
printf '#!/bin/sh\necho "mhmicro: error while loading shared libraries" >&2\nexit 127\n' >"$dir/brokenbuild/runners/mhmicro"
chmod +x "$dir/brokenbuild/runners/mhmicro"
ln -sf "$MH_BUILD_DIR/runners/mhmicro_convert" "$dir/brokenbuild/runners/mhmicro_convert"
MH_BUILD_DIR="$dir/brokenbuild" expect_refusal "listing the benchmarks failed: .*error while loading shared libraries" \
    "$ROOT/runners/micro.sh" --filter pair --out "$dir/micro4"
[ ! -e "$dir/micro3" ] || fail "micro.sh made its directory before refusing a filter that matches nothing"
expect_refusal "unknown workload 'nosuch'" "$ROOT/run.sh" profile nosuch
! ls -d "$ROOT"/results/local/profile-*-nosuch >/dev/null 2>&1 || fail "a refused profile left its directory behind"
expect_refusal "not a writable directory" "$ROOT/run.sh" bundle --out "$dir/no/such/dir/b.tar.gz"
# arguments more, or twice: the later one, or the extra, used to be ignored unsaid
expect_refusal "--out is given twice; give it once" "$ROOT/run.sh" bundle --out "$dir/b1" --out "$dir/b2"
[ ! -e "$dir/b1" ] && [ ! -e "$dir/b2" ] || fail "a refused bundle left a directory behind"
expect_refusal "unknown argument 'extra'; build takes none" "$ROOT/run.sh" build extra
expect_refusal "unknown argument 'extra'; setup takes none" "$ROOT/run.sh" setup extra
for bogus in --bogus extra "-N extra" --tests-regex=x; do
    expect_refusal "test: unknown argument '${bogus#-N }'" "$ROOT/run.sh" test $bogus
done
expect_refusal "test: -R needs a value" "$ROOT/run.sh" test -R
# and what ctest takes passes (checked without the build and the run that follow)
for good in "-R x -j2 --output-on-failure --repeat until-fail:3 -E y -L z --timeout 100" \
            "-j 2 -N" "-j4 -VV" "--parallel 4 --no-tests=error" "-R a|b -LE z"; do
    (die() { echo "$*"; exit 2; }; . "$ROOT/runners/ctest_args.sh"; check_ctest_args $good) >"$dir/good.txt" ||
        fail "run.sh test refused ctest's own arguments '$good': $(cat "$dir/good.txt")"
done
# targets adds its own --preset: the user's was said to be given twice
for opt in --preset --config; do
    expect_refusal "targets takes no $opt" "$ROOT/run.sh" targets --dry-run "$opt" quick
done

# empty result set
mkdir -p "$dir/empty" && : >"$dir/empty/records.jsonl"
expect_refusal "no records in" "$MH_MHREPORT" report "$dir/empty"
# lines that are no records are not "no records yet": the message says what is wrong
mkdir -p "$dir/notrecords" && printf '[1,2,3]\n{"schema":"multiheap-result/2"}\n' >"$dir/notrecords/records.jsonl"
rc=0; err="$("$MH_MHREPORT" report --no-plots "$dir/notrecords" 2>&1 >/dev/null)" || rc=$?
[ "$rc" -eq 2 ] && grep -q "no valid records in $dir/notrecords: none of its 2 lines" <<<"$err" ||
    fail "a file of non-records: exit $rc, said: $err"
mkdir -p "$dir/allfailed" && "$MH_MHREPORT" failed-record --run-id x --cell 'thread-local-churn|1|glibc' --rep 0 \
    --workload thread-local-churn --allocator glibc --threads 1 --reason boom >"$dir/allfailed/records.jsonl"
expect_refusal "its 1 measured records are failed runs" "$MH_MHREPORT" report "$dir/allfailed"
# the matrix appends it to records.jsonl: a write that fails (a full disk) must not pass
expect_refusal "cannot write the record: No space left" bash -c '"$0" failed-record --run-id x --cell "a|1|glibc" \
    --rep 0 --workload a --allocator glibc --threads 1 >/dev/full' "$MH_MHREPORT"
# a cell that lost a run: marked in the summary, left out of the geometric means (5 cells
# in the tiny set, 4 then)
mkdir -p "$dir/partfailed" && cp "$TINY/records.jsonl" "$dir/partfailed/" &&
    "$MH_MHREPORT" failed-record --run-id x --cell 'producer-consumer|2|jemalloc' --rep 7 --workload producer-consumer \
        --allocator jemalloc --threads 2 --reason timeout >>"$dir/partfailed/records.jsonl"
"$MH_MHREPORT" report --no-plots "$dir/partfailed" >/dev/null 2>&1 || fail "the report of a set with a failed run failed"
grep -q '^| producer-consumer | 2 | 1.00 | [0-9.]* (1 failed) |' "$dir/partfailed/report.md" &&
    grep -q '^| jemalloc | [0-9.]* | - | 4 |' "$dir/partfailed/report.md" ||
    fail "a cell with a failed run is not marked, or still in the geometric means: $(grep -e '^| producer-consumer | 2 |' -e '^| jemalloc |' "$dir/partfailed/report.md" | head -3)"
mkdir -p "$dir/warmups" && grep '"warmup":true' "$TINY/records.jsonl" >"$dir/warmups/records.jsonl"
expect_refusal "are all warm-up runs" "$MH_MHREPORT" report "$dir/warmups"
expect_refusal "threshold" "$MH_MHREPORT" compare "$TINY" "$TINY" --threshold lots
expect_refusal "--threshold needs a value" "$MH_MHREPORT" compare "$TINY" "$TINY" --threshold
expect_refusal "--threshold is given twice" "$MH_MHREPORT" compare "$TINY" "$TINY" --threshold 3 --threshold 4
expect_refusal "unknown option '--bogus'" "$MH_MHREPORT" report --bogus "$TINY"
expect_refusal "--out is given twice" "$MH_MHREPORT" report --out "$dir/o1" --out "$dir/o2" "$TINY"
expect_refusal "at most 64 result sets" "$MH_MHREPORT" report $(for i in $(seq 65); do printf '%s ' "$dir/empty"; done)
expect_refusal "not a directory" "$ROOT/run.sh" report "$dir/nonexistent"
expect_refusal "unknown subcommand 'frob'" "$ROOT/run.sh" frob

# missing gnuplot: exit 2, one line, the records and the earlier report untouched, the CSV
# still written
mkdir -p "$dir/nognuplot" && cp "$TINY/records.jsonl" "$TINY/report.md" "$dir/nognuplot/"
sum="$(cat "$dir/nognuplot/records.jsonl" "$dir/nognuplot/report.md" | md5sum)"
expect_refusal "gnuplot not found" env MH_GNUPLOT=/nonexistent/gnuplot "$MH_MHREPORT" report "$dir/nognuplot"
[ "$(cat "$dir/nognuplot/records.jsonl" "$dir/nognuplot/report.md" | md5sum)" = "$sum" ] ||
    fail "the report without gnuplot changed the records or replaced the earlier report"
[ -s "$dir/nognuplot/results.csv" ] || fail "without gnuplot the CSV should still be written"
# a gnuplot that fails on every plot: the same, and the earlier plots kept (they were
# replaced by an empty folder, and the report by one that said gnuplot was missing)
mkdir -p "$dir/badgnuplot" && cp -r "$TINY/records.jsonl" "$TINY/report.md" "$TINY/plots" "$dir/badgnuplot/"
sum="$(cat "$dir/badgnuplot/records.jsonl" "$dir/badgnuplot/report.md" "$dir/badgnuplot/plots/"*.png | md5sum)"
expect_refusal "gnuplot failed on every plot" env MH_GNUPLOT=false "$MH_MHREPORT" report "$dir/badgnuplot"
[ "$(cat "$dir/badgnuplot/records.jsonl" "$dir/badgnuplot/report.md" "$dir/badgnuplot/plots/"*.png | md5sum)" = "$sum" ] ||
    fail "a failing gnuplot changed the records or replaced the earlier report or plots"
# one script that fails: one line naming it, the report without it, no file of it left
mkdir -p "$dir/onebad/gp" && cp "$ROOT"/plots/*.gp "$dir/onebad/gp/" && echo 'set garbage' >>"$dir/onebad/gp/scaling.gp"
cp "$TINY/records.jsonl" "$dir/onebad/"
expect_refusal "gnuplot failed on 1 plot(s), left out of the report (scaling: " \
    "$MH_MHREPORT" report --plots-src "$dir/onebad/gp" "$dir/onebad"
[ -s "$dir/onebad/plots/normalised.png" ] && ! ls "$dir/onebad/plots"/scaling.* >/dev/null 2>&1 &&
    grep -q 'plots/normalised.png' "$dir/onebad/report.md" && ! grep -q 'plots/scaling' "$dir/onebad/report.md" ||
    fail "a plot that failed alone: $(ls "$dir/onebad/plots")"
# a write that fails (here a file-size limit, as a full disk would) leaves the earlier
# report whole, says why in one line, and leaves no partial file
mkdir -p "$dir/fullfs" && cp "$TINY/records.jsonl" "$dir/fullfs/" && "$MH_MHREPORT" report --no-plots "$dir/fullfs" >/dev/null
sum="$(cat "$dir/fullfs/"* | md5sum)"
expect_refusal "cannot write $dir/fullfs/results.csv: File too large" \
    bash -c 'ulimit -f 1; trap "" XFSZ; exec "$0" report --no-plots "$1"' "$MH_MHREPORT" "$dir/fullfs"
[ "$(cat "$dir/fullfs/"* | md5sum)" = "$sum" ] && [ -z "$(ls -A "$dir/fullfs" | grep partial)" ] ||
    fail "a report that could not be written changed the earlier one or left a partial file: $(ls -A "$dir/fullfs")"
# the second file of the report cannot be made: one line, exit 2, nothing left behind
mkdir -p "$dir/fullfs/.report.html.partial"
expect_refusal "cannot write $dir/fullfs/.report.html.partial" "$MH_MHREPORT" report --no-plots "$dir/fullfs"
rmdir "$dir/fullfs/.report.html.partial"
[ "$(cat "$dir/fullfs/"* | md5sum)" = "$sum" ] && [ -z "$(ls -A "$dir/fullfs" | grep partial)" ] ||
    fail "a report whose second file could not be made changed the earlier one or left a partial file: $(ls -A "$dir/fullfs")"
# with plots: a report that fails after drawing them leaves the earlier plots too
mkdir -p "$dir/plotsfail" && cp "$TINY/records.jsonl" "$dir/plotsfail/" && "$MH_MHREPORT" report "$dir/plotsfail" >/dev/null 2>&1 ||
    fail "the report of the tiny set failed"
sum="$(cd "$dir/plotsfail" && find . -type f -exec md5sum {} + | sort | md5sum)"
grep -v '"rep":1,' "$TINY/records.jsonl" >"$dir/plotsfail/records.jsonl" && mkdir "$dir/plotsfail/.report.html.partial"
expect_refusal "cannot write $dir/plotsfail/.report.html.partial" "$MH_MHREPORT" report "$dir/plotsfail"
rmdir "$dir/plotsfail/.report.html.partial" && cp "$TINY/records.jsonl" "$dir/plotsfail/"
[ "$(cd "$dir/plotsfail" && find . -type f -exec md5sum {} + | sort | md5sum)" = "$sum" ] &&
    [ -z "$(ls -A "$dir/plotsfail" | grep partial)" ] ||
    fail "a report that failed after its plots changed the earlier plots or left a partial folder: $(ls -A "$dir/plotsfail")"
expect_refusal "--plots-src $dir/fullfs holds no gnuplot scripts" "$MH_MHREPORT" report --plots-src "$dir/fullfs" "$dir/fullfs"
# what that message advises, through run.sh, the option after the directory
MH_GNUPLOT=/nonexistent/gnuplot "$ROOT/run.sh" report "$dir/nognuplot" --no-plots >/dev/null 2>&1 ||
    fail "./run.sh report DIR --no-plots failed without gnuplot"
expect_refusal "unknown option '--frob'" "$ROOT/run.sh" report --frob "$dir/nognuplot"
echo "matrix.bad_input: ok"
