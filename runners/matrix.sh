#!/usr/bin/env bash
# The benchmark matrix: every workload case x thread count x allocator x
# repetition of a config (results/README.md describes the format), one mhbench
# run each, every record appended to RUN_DIR/records.jsonl the moment it exists.
#
# Order: one warm-up pass over all cells (recorded with "warmup": true, left out
# of the statistics), then repetition 0 over all cells, then 1, ...; inside a
# pass the allocators alternate (A B C A B C), so drift hits them all alike. A
# workload line's own repetitions=N adds passes that hold only its cells (or
# leaves it out of the last ones), so it too interleaves with the other cells.
set -euo pipefail
# wait -p (run_one waits for each run in the background); a bash without it spun.
if ((BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] < 501)); then
    echo "matrix: needs bash 5.1 or later (wait -p), this is bash $BASH_VERSION; install a newer bash" >&2
    exit 2
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${MH_BUILD_DIR:-$ROOT/build}"
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
MHBENCH="${MH_MHBENCH:-$BUILD/runners/mhbench}"
MHREPORT="${MH_MHREPORT:-$BUILD/runners/mhreport}"

die() { echo "matrix: $*" >&2; exit 2; }

usage() {
    cat <<USAGE
usage: runners/matrix.sh [--config FILE | --preset quick|full|targets|scaling] [--shard K/N]
                         [--resume RUN_DIR] [--out RUN_DIR] [--dry-run]

Runs the matrix of FILE (default: the quick preset, results/configs/quick.conf)
into RUN_DIR (default: results/local/<run-id>/): records.jsonl (append-only),
config.conf (the config used), command.txt (how to run it again), logs/ (stderr
of failed runs). --resume RUN_DIR continues an interrupted matrix with its own
config, skipping every (cell, repetition) already in its records. --shard K/N
runs only the (case, threads) groups K, K+N, K+2N, ... (1-based), each with all
its allocators: run the N shards anywhere and concatenate their records.jsonl
files (./run.sh report DIR1 DIR2 ... merges).
--dry-run checks the config and prints the runs without running them.
Binaries: \$MH_MHBENCH, \$MH_MHREPORT, else \$MH_BUILD_DIR/runners/ (default build/).
USAGE
}

# ---- the config ----------------------------------------------------------

ALLOCS=() THREADS=() CASE_NAMES=() CASE_WORKLOADS=() CASE_ARGS=() CASE_THREADS=() CASE_REPS=()
CASE_PLACEMENT=()
REPS=3 WARMUP=1 PLACEMENT=compact TIMEOUT=60 LAT_EVERY=64

cpus() { nproc; }

# "1 N 4N" -> "1 2 8" on a 2-CPU machine; N is the number of online CPUs. Fails on
# anything else, on an empty list and past the driver's 4096 threads (the tokens are
# checked before any arithmetic: bash would evaluate an expression in them).
MAX_THREADS=4096
expand_threads() {
    local tok n=$(cpus) out=() seen=" "
    [ $# -gt 0 ] || return 1
    for tok in "$@"; do
        local v
        if [ "$tok" = N ]; then
            v=$n
        elif [[ "$tok" =~ ^([1-9][0-9]{0,3})N$ ]]; then
            v=$(( BASH_REMATCH[1] * n ))
        elif [[ "$tok" =~ ^[1-9][0-9]{0,3}$ ]]; then
            v=$tok
        else
            return 1
        fi
        [ "$v" -le "$MAX_THREADS" ] || return 1
        [[ "$seen" == *" $v "* ]] || { out+=("$v"); seen+="$v "; }
    done
    echo "${out[@]}"
}

# A workload line's --k=a,b,c arguments are a sweep: one case per value, so
# "workload cross-core-free --remote=0,50,100" makes three cases, named
# cross-core-free:remote=0 and so on. FIXED_ARGS holds the arguments chosen so far.
add_cases() {
    local workload="$1" label="$2"; shift 2
    if [ $# -eq 0 ]; then
        local c
        for c in "${CASE_NAMES[@]}"; do
            [ "$c" != "$label" ] || die "two workload lines make the same case '$label'; put the values in one line as a sweep (--k=a,b)"
        done
        CASE_NAMES+=("$label") CASE_WORKLOADS+=("$workload") CASE_ARGS+=("${FIXED_ARGS[*]}")
        CASE_THREADS+=("$LINE_THREADS") CASE_REPS+=("$LINE_REPS") CASE_PLACEMENT+=("$LINE_PLACEMENT")
        return 0
    fi
    local arg="$1"; shift
    if [[ "$arg" != --*=*,* ]]; then
        FIXED_ARGS+=("$arg")
        add_cases "$workload" "$label" "$@"
        unset 'FIXED_ARGS[${#FIXED_ARGS[@]}-1]'
        return 0
    fi
    local key="${arg%%=*}" vals v sep=":"
    [[ "$label" == *:* ]] && sep=";"
    IFS=',' read -r -a vals <<<"${arg#*=}"
    for v in "${vals[@]}"; do
        FIXED_ARGS+=("$key=$v")
        add_cases "$workload" "$label$sep${key#--}=$v" "$@"
        unset 'FIXED_ARGS[${#FIXED_ARGS[@]}-1]'
    done
}

# "0-2,5" -> "0 1 2 5" (checked by the caller).
expand_cpu_list() {
    local part c
    for part in ${1//,/ }; do
        for ((c = 10#${part%-*}; c <= 10#${part#*-}; c++)); do printf '%d ' "$c"; done
    done
}

# A placement the driver takes: a policy, or a list of CPUs this process may run on
# (a list for another machine would fail every run, after the first had begun).
check_placement() {
    case "$1" in none|compact|scatter|split) return 0 ;; esac
    [[ "$1" =~ ^[0-9]{1,4}(-[0-9]{1,4})?(,[0-9]{1,4}(-[0-9]{1,4})?)*$ ]] || return 1
    local allowed c part
    for part in ${1//,/ }; do [ $((10#${part%-*})) -le $((10#${part#*-})) ] || return 1; done
    allowed=" $(expand_cpu_list "$(awk '/^Cpus_allowed_list:/ { print $2 }' /proc/self/status)")"
    for c in $(expand_cpu_list "$1"); do [[ "$allowed" == *" $c "* ]] || return 1; done
}

parse_config() {
    local file="$1" lineno=0 line key value
    [ -f "$file" ] || die "config '$file' not found; use --preset quick|full or --config FILE"
    local allocs_line="installed" threads_line="1 N 4N"
    local -A key_line=()   # the line that set each global key: a second one would override it unseen
    while IFS= read -r line || [ -n "$line" ]; do
        lineno=$((lineno + 1))
        line="${line%%#*}"
        line="$(echo "$line" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')"
        [ -z "$line" ] && continue
        if [[ "$line" =~ ^workload[[:space:]]+([a-z0-9-]+)(.*)$ ]]; then
            local wl="${BASH_REMATCH[1]}" args=() words a seen=" "
            read -r -a words <<<"${BASH_REMATCH[2]}"
            LINE_THREADS=""     # "": the global threads line, resolved below
            LINE_REPS=""        # "": the global repetitions line, likewise
            LINE_PLACEMENT=""   # "": the global placement line, likewise
            for a in "${words[@]}"; do
                # one value each (the later one won, or both cases ran the later one's
                # value under the earlier one's name), and no empty one in a list
                [[ "$seen" != *" ${a%%=*} "* ]] ||
                    die "$file:$lineno: '${a%%=*}' is given twice on one workload line; keep one (a comma list sweeps)"
                seen+="${a%%=*} "
                [[ "$a" != *=,* && "$a" != *, && "$a" != *,,* ]] ||
                    die "$file:$lineno: '$a' has an empty value in its comma list; drop the extra comma"
                if [[ "$a" == threads=* ]]; then
                    LINE_THREADS="${a#threads=}"
                    LINE_THREADS="${LINE_THREADS//,/ }"
                    expand_threads $LINE_THREADS >/dev/null ||
                        die "$file:$lineno: '$a' must list numbers, N or kN separated by commas, at most $MAX_THREADS threads"
                elif [[ "$a" == placement=* ]]; then
                    LINE_PLACEMENT="${a#placement=}"
                    check_placement "$LINE_PLACEMENT" ||
                        die "$file:$lineno: '$a' must be none, compact, scatter, split or a list of CPUs this process may run on"
                elif [[ "$a" == repetitions=* ]]; then
                    LINE_REPS="${a#repetitions=}"
                    [[ "$LINE_REPS" =~ ^[1-9][0-9]{0,3}$ ]] ||
                        die "$file:$lineno: '$a' must be a whole number from 1 to 9999"
                else
                    [[ "$a" =~ ^--[a-z0-9-]+=[^|[:space:]]+$ ]] ||
                        die "$file:$lineno: workload argument '$a' is not --name=value, threads=LIST, repetitions=N or placement=P (a comma list sweeps, no '|')"
                    args+=("$a")
                fi
            done
            FIXED_ARGS=()
            add_cases "$wl" "$wl" "${args[@]}"
            continue
        fi
        [[ "$line" =~ ^([a-z_]+)[[:space:]]*=[[:space:]]*(.*)$ ]] ||
            die "$file:$lineno: '$line' is neither 'key = value' nor 'workload NAME --param=value ...'"
        key="${BASH_REMATCH[1]}" value="${BASH_REMATCH[2]}"
        [ -z "${key_line[$key]:-}" ] || die "$file:$lineno: '$key' is set again (first on line ${key_line[$key]}); keep one"
        key_line[$key]=$lineno
        case "$key" in
            allocators) [ -n "$value" ] || die "$file:$lineno: 'allocators' is empty; list some, e.g. glibc multiheap, or 'installed'"
                        allocs_line="$value" ;;
            threads) threads_line="$value" ;;
            repetitions) [[ "$value" =~ ^[1-9][0-9]{0,3}$ ]] || die "$file:$lineno: repetitions must be a whole number from 1 to 9999"; REPS=$value ;;
            warmup) [[ "$value" =~ ^[01]$ ]] || die "$file:$lineno: warmup must be 0 or 1"; WARMUP=$value ;;
            placement) check_placement "$value" || die "$file:$lineno: placement '$value' must be none, compact, scatter, split or a list of CPUs this process may run on, like 0,2-3"; PLACEMENT=$value ;;
            timeout) [[ "$value" =~ ^[1-9][0-9]{0,5}$ ]] || die "$file:$lineno: timeout must be whole seconds"; TIMEOUT=$value ;;
            lat_every) [[ "$value" =~ ^[0-9]{1,10}$ ]] && [ $((10#$value)) -le 1073741824 ] ||
                           die "$file:$lineno: lat_every must be a whole number from 0 (no latency samples) to 1073741824"
                       LAT_EVERY=$((10#$value)) ;;
            *) die "$file:$lineno: unknown key '$key' (allocators, threads, repetitions, warmup, placement, timeout, lat_every, workload)" ;;
        esac
    done <"$file"
    [ ${#CASE_NAMES[@]} -gt 0 ] || die "$file: no 'workload NAME ...' line; add at least one"
    local t
    t="$(expand_threads $threads_line)" || die "$file: threads '$threads_line' must be numbers, N or kN (N = CPUs), at most $MAX_THREADS threads"
    read -r -a THREADS <<<"$t"
    local i
    for i in "${!CASE_THREADS[@]}"; do
        CASE_THREADS[$i]="$(expand_threads ${CASE_THREADS[$i]:-$threads_line})"
        CASE_REPS[$i]="${CASE_REPS[$i]:-$REPS}"
        CASE_PLACEMENT[$i]="${CASE_PLACEMENT[$i]:-$PLACEMENT}"
    done
    resolve_allocators $allocs_line
}

# ---- checking names against the driver before anything runs ----------------

# `mhbench list`: NAME and a summary per line. `mhbench allocators`: a header
# line, then NAME, yes|no (installed), the library.
driver_names() { "$MHBENCH" "$1" 2>/dev/null | awk 'NF && !($1 == "name" && NR == 1) { print $1 }'; }

resolve_allocators() {
    local known installed a names=" " msg
    known="$(driver_names allocators)" || true
    [ -n "$known" ] || die "cannot list allocators with '$MHBENCH allocators'; build first (./run.sh build)"
    # "installed": the plain allocators; built-in variants are named when wanted
    installed="$("$MHBENCH" allocators 2>/dev/null | awk '$2 == "yes" && $3 != "variant:" { print $1 }')"
    for a in "$@"; do
        if [ "$a" = installed ]; then
            ALLOCS+=($installed)
        elif [[ "$a" == *=* ]]; then
            # NAME=/path.so or NAME=BASE+VAR=VALUE: the driver checks the spec's form and
            # its library now, the switches when it runs
            msg="$("$MHBENCH" allocators "$a" 2>&1 >/dev/null)" || die "${msg#mhbench: }"
            ALLOCS+=("$a")
        elif grep -qx -- "$a" <<<"$known"; then
            ALLOCS+=("$a")
        else
            die "unknown allocator '$a'; choose from: $(echo $known) installed NAME=/path.so NAME=BASE+VAR=VALUE"
        fi
    done
    [ ${#ALLOCS[@]} -gt 0 ] || die "no allocator to run (none installed?); see '$MHBENCH allocators'"
    for a in "${ALLOCS[@]}"; do
        [[ "$names" != *" ${a%%=*} "* ]] || die "allocator name '${a%%=*}' is given twice; name each variant differently"
        names+="${a%%=*} "
    done
}

# An allocator-tuning variable inherited from the shell (MALLOC_CONF, GLIBC_TUNABLES,
# MULTIHEAP_*, ...: `mhbench inherited` names them) would change what a cell
# measures while its allocator's name stays the same: the matrix drops them
# (variants set their own) and says so.
drop_inherited_tuning() {
    local v dropped=()
    for v in $("$MHBENCH" inherited); do dropped+=("$v"); unset "$v"; done
    [ ${#dropped[@]} -eq 0 ] ||
        echo "matrix: ignoring ${dropped[*]} from the environment; set such variables with a variant, e.g. NAME=jemalloc+MALLOC_CONF=... or NAME=multiheap+MULTIHEAP_CACHE=0" >&2
}

# Every case's workload, then its parameters as `mhbench check` reads them (a name the
# workload lacks, a value out of range, one parameter larger than another), at the case's
# largest thread count, which a workload that needs threads accepts if any does: a cell
# whose smaller thread count the workload refuses (xmalloc at 1) fails at run time, as a
# failed record the report lists. The check gets every option run_one sets, so that a
# workload line's --allocator=X or --threads=N is refused as given twice, not run under
# another cell's name. The check prints the case by value (every parameter, 1e3 as 1000):
# two cases that print the same would run the same cells under two names
# (--ops=1000,1e3), as two lines of one case would.
check_workloads() {
    local known w i t most out args=()
    local -A case_of=()
    known="$(driver_names list)" || true
    [ -n "$known" ] || die "cannot list workloads with '$MHBENCH list'; build first (./run.sh build)"
    for w in "${CASE_WORKLOADS[@]}"; do
        grep -qx -- "$w" <<<"$known" || die "unknown workload '$w'; choose from: $(echo $known)"
    done
    for i in "${!CASE_WORKLOADS[@]}"; do
        read -r -a args <<<"${CASE_ARGS[$i]}"
        most=1
        for t in ${CASE_THREADS[$i]}; do [ "$t" -le "$most" ] || most=$t; done
        out="$("$MHBENCH" check "${CASE_WORKLOADS[$i]}" --threads "$most" --allocator glibc --placement none \
            --lat-every 0 --out /dev/null --run-id check --cell check --rep 0 --warmup "${args[@]}" 2>&1)" ||
            die "case ${CASE_NAMES[$i]}: ${out#mhbench: }"
        out="${CASE_WORKLOADS[$i]} ${out##*$'\n'}"
        [ -z "${case_of[$out]:-}" ] ||
            die "cases '${case_of[$out]}' and '${CASE_NAMES[$i]}' run the same parameters (numbers compare by value: 1e3 is 1000); keep one"
        case_of[$out]="${CASE_NAMES[$i]}"
    done
}

# ---- running ---------------------------------------------------------------

# How to continue this run: run.sh targets sets MH_RESUME_COMMAND, since its own --resume
# also runs the microbenchmarks and the report, which the matrix's alone would leave out.
resume_hint() { echo "${MH_RESUME_COMMAND:---resume} $RUN_DIR continues"; }

# The signals' traps (set in main): between runs the matrix stops at once; during one,
# once the run has ended (run_one), the run's record written or not.
RUN_PID="" STOPPING=""
stop() {
    rm -f "$RUN_DIR/logs/current.err"
    echo "matrix: stopped by SIG$1; $(resume_hint)" >&8
    exit $((128 + $(kill -l "$1")))
}
signalled() {
    [ -n "$RUN_PID" ] || stop "$1"
    local first=${STOPPING:-yes}
    STOPPING=$1
    # Ctrl-C stops the run with the matrix; a SIGTERM or SIGHUP to the matrix alone, not
    # the run, which is then still there (a group's TERM has killed it: nothing to say).
    [ "$first" = yes ] && [ "$1" != INT ] && kill -0 "$RUN_PID" 2>/dev/null &&
        echo "matrix: SIG$1: the run in flight ends first (at most $((TIMEOUT + 5))s), then the matrix stops" >&8
    return 0
}
# Waits for the run in flight (RUN_PID); its status. A trap ends a wait early: the run
# is waited for again, unless it has gone and a wait cannot say how (bash 5.1.0-5.1.9
# answered a wait after a trap with 127).
wait_for_run() {
    local rc ended
    while :; do
        rc=0
        unset ended
        wait -p ended "$RUN_PID" || rc=$?
        [ -z "${ended+set}" ] || return "$rc"
        kill -0 "$RUN_PID" 2>/dev/null || return "$rc"
    done
}
fmt_time() { printf '%d:%02d' $(($1 / 60)) $(($1 % 60)); }
# Milliseconds of the wall clock: $EPOCHREALTIME (bash 5; microseconds with the locale's
# decimal point), else whole seconds.
now_ms() { local us="${EPOCHREALTIME//[!0-9]/}"; echo $(( ${us:-$((SECONDS * 1000000))} / 1000 )); }

# A run killed while writing leaves a torn last line: what comes next starts its own.
# A write that fails here (a full disk) is left to the record after it to report.
end_torn_line() {
    [ -s "$1" ] && [ "$(tail -c1 "$1" | od -An -c | tr -d ' ')" != '\n' ] && echo >>"$1" 2>/dev/null
    return 0
}

# One run; its record (or, when the driver died, one written for it) is appended.
run_one() {
    local cell="$1" case_i="$2" threads="$3" alloc="$4" rep="$5" kind="$6"
    local records="$RUN_DIR/records.jsonl" err="$RUN_DIR/logs/current.err"
    local before after rc=0 args=() warm=()
    read -r -a args <<<"${CASE_ARGS[$case_i]}"
    [ "$kind" = warmup ] && warm=(--warmup)
    end_torn_line "$records"
    before=$(wc -l <"$records")
    # --foreground keeps the run in the matrix's process group, so that Ctrl-C or a kill
    # of the group stops it too instead of leaving it to append a record after the matrix.
    # --name=VALUE: a separate value that starts with "--" (a run directory named --odd,
    # its id) is refused as a missing one. The run goes to the background and the matrix
    # waits for it, so that a signal's trap runs at once (in the foreground it ran only
    # once the run ended: a SIGTERM waited up to the timeout without a word); the
    # subshell takes back the SIGINT that bash ignores in a background command. The
    # braces send bash's own "Segmentation fault" line to the log, not the terminal.
    { ( trap - INT; exec timeout --foreground -k 5 "$TIMEOUT" "$MHBENCH" run "${CASE_WORKLOADS[$case_i]}" \
        --allocator="$alloc" --threads="$threads" --placement="${CASE_PLACEMENT[$case_i]}" \
        --lat-every="$LAT_EVERY" --out="$records" --run-id="$RUN_ID" \
        --cell="$cell" --rep="$rep" "${warm[@]}" "${args[@]}" >/dev/null ) &
      RUN_PID=$!
      wait_for_run || rc=$?; } 2>"$err"
    RUN_PID=""
    after=$(wc -l <"$records")
    # Stopping: a run the signal killed has no record, and --resume runs it again; one
    # that wrote its record and then failed is handled below first, as without a signal.
    [ -z "$STOPPING" ] || { [ "$rc" -ne 0 ] && [ "$after" -gt "$before" ]; } || stop "$STOPPING"
    [ "$rc" -eq 0 ] && [ "$after" -gt "$before" ] && return 0
    local reason="mhbench exited with status $rc"
    case "$rc" in
        0) reason="mhbench exited 0 without writing a record" ;;
        124|137) reason="timed out after ${TIMEOUT}s (config: timeout)" ;;
        1[3-9][0-9]) reason="killed by signal $((rc - 128)) (SIG$(kill -l $((rc - 128)) 2>/dev/null))" ;;
    esac
    # that line repeats our command line; the reason names the signal already
    sed -i '/timeout --foreground -k 5 /d' "$err"
    local log="$RUN_DIR/logs/$(printf '%s' "$cell.$rep.$kind" | tr -c 'A-Za-z0-9._=-' '_').err"
    cp "$err" "$log"
    if [ "$after" -gt "$before" ]; then
        # A driver that wrote its record and then failed (a crash at exit, in the
        # allocator's destructors): the run is not a success. Its record moves to the
        # log, and the failed record below takes its place; the lines before it stay.
        reason+=" after writing its record (kept in logs/${log##*/})"
        { echo "--- the record it wrote:"; tail -n +"$((before + 1))" "$records"; } >>"$log"
        head -n "$before" "$records" >"$records.tmp" && mv "$records.tmp" "$records"
    fi
    end_torn_line "$records"   # the driver may have died while writing
    # A run without a record cannot be told from one not run yet: where even the failed
    # record cannot be written (a full disk), every later run would fail the same way,
    # so the matrix stops. The record is appended by a builtin, whose error message the
    # die names.
    local failed_record msg
    failed_record="$("$MHREPORT" failed-record --run-id "$RUN_ID" --cell "$cell" --rep "$rep" "${warm[@]}" \
        --workload "${CASE_WORKLOADS[$case_i]}" --params "${CASE_ARGS[$case_i]}" --allocator "$alloc" \
        --threads "$threads" --reason "$reason" --error-file "$err")" &&
        msg="$(printf '%s\n' "$failed_record" 2>&1 >>"$records")" ||
        die "cannot write $records (${msg##*: }); free space, then $(resume_hint)"
    [ -z "$STOPPING" ] || stop "$STOPPING"
    return 1
}

main() {
    local config="" preset="" shard="1/1" resume="" out="" dry=0 given=" "
    while [ $# -gt 0 ]; do
        # an empty value would fall back to the default (a fresh run, the quick preset),
        # and of two the last would win unsaid
        case "$1" in
            --config|--preset|--shard|--resume|--out)
                [ "${2-unset}" != "" ] || die "$1 is given an empty value; give one or drop $1"
                [[ "$given" != *" $1 "* ]] || die "$1 is given twice; give it once"
                given+="$1 " ;;
        esac
        case "$1" in
            --config) [ $# -ge 2 ] || die "--config needs a file"; config="$2"; shift 2 ;;
            --preset) [ $# -ge 2 ] || die "--preset needs quick, full, targets or scaling"; preset="$2"; shift 2 ;;
            --shard) [ $# -ge 2 ] || die "--shard needs K/N, e.g. 1/4"; shard="$2"; shift 2 ;;
            --resume) [ $# -ge 2 ] || die "--resume needs a run directory"; resume="$2"; shift 2 ;;
            --out) [ $# -ge 2 ] || die "--out needs a directory"; out="$2"; shift 2 ;;
            --dry-run) dry=1; shift ;;
            -h|--help) usage; exit 0 ;;
            *) die "unknown argument '$1'; see ./run.sh matrix --help" ;;
        esac
    done
    if [ -n "$resume" ] && [ -f "$resume/command.txt" ]; then
        # a shard's run directory resumes as that shard (command.txt names it)
        local own_shard
        own_shard="$(grep -o -- '--shard [0-9]*/[0-9]*' "$resume/command.txt" | cut -d' ' -f2)" || true
        [ "$shard" = 1/1 ] || [ "$shard" = "${own_shard:-1/1}" ] ||
            die "--resume $resume continues its own shard ${own_shard:-1/1}; drop --shard $shard"
        shard="${own_shard:-1/1}"
    fi
    [[ "$shard" =~ ^([1-9][0-9]{0,5})/([1-9][0-9]{0,5})$ ]] && [ "${BASH_REMATCH[1]}" -le "${BASH_REMATCH[2]}" ] ||
        die "--shard '$shard' must be K/N with 1 <= K <= N <= 999999, e.g. 2/4"
    local shard_k=${BASH_REMATCH[1]} shard_n=${BASH_REMATCH[2]}
    [ -n "$config" ] && [ -n "$preset" ] && die "give --config or --preset, not both"
    [ -x "$MHBENCH" ] || die "no driver at $MHBENCH; run ./run.sh build (or set MH_MHBENCH)"
    [ -x "$MHREPORT" ] || die "no report tool at $MHREPORT; run ./run.sh build (or set MH_MHREPORT)"
    if [ -n "$resume" ]; then
        [ -f "$resume/config.conf" ] || die "'$resume' is not a matrix run directory (no config.conf)"
        [ -z "$config$preset" ] || die "--resume uses the run's own config.conf; drop --config/--preset"
        [ -z "$out" ] || [ "$out" -ef "$resume" ] || die "--resume $resume writes into $resume itself; drop --out $out"
        config="$resume/config.conf" out="$resume"
    elif [ -z "$config" ]; then
        case "${preset:-quick}" in
            quick|full|targets|scaling|test) config="$ROOT/results/configs/${preset:-quick}.conf" ;;
            *) die "unknown preset '$preset'; choose quick, full, targets or scaling (or --config FILE)" ;;
        esac
    fi
    parse_config "$config"
    check_workloads
    drop_inherited_tuning
    # cells: case x threads x allocator, allocators innermost (interleaved). A
    # shard takes whole case x threads groups: the allocators a report compares
    # side by side always run on the same machine.
    local cells=() cell_case=() cell_threads=() cell_alloc=() c t a i=0
    for c in "${!CASE_NAMES[@]}"; do
        for t in ${CASE_THREADS[$c]}; do
            if [ $((i % shard_n)) -eq $((shard_k - 1)) ]; then
                for a in "${ALLOCS[@]}"; do
                    cells+=("${CASE_NAMES[$c]}|$t|${a%%=*}") cell_case+=("$c") cell_threads+=("$t") cell_alloc+=("$a")
                done
            fi
            i=$((i + 1))
        done
    done
    [ "$shard_k" -le "$i" ] ||
        die "--shard $shard gets no runs: the config has $i case x thread count groups; use at most $i shards"

    RUN_ID="$(date -u +%Y%m%d-%H%M%S)-$(hostname -s 2>/dev/null || uname -n)"
    [ -n "$out" ] && RUN_ID="$(basename "$out")"
    RUN_DIR="${out:-$ROOT/results/local/$RUN_ID}"
    if [ -z "$resume" ] && [ -s "$RUN_DIR/records.jsonl" ]; then
        [ -e "$RUN_DIR/.matrix.lock" ] && ! flock -n "$RUN_DIR/.matrix.lock" true &&
            die "another matrix is writing $RUN_DIR; wait for it to end, or pick another --out"
        die "$RUN_DIR already holds records; continue it with --resume $RUN_DIR or pick another --out"
    fi
    if [ "$dry" -eq 0 ]; then
        # One matrix a run directory: a second one (a --resume while the first still runs)
        # would run the same cells beside it and append them twice. The lock lives as
        # long as any process holds fd 9, a run this matrix started included.
        mkdir -p "$RUN_DIR" 2>/dev/null && exec 9>>"$RUN_DIR/.matrix.lock" ||
            die "cannot write the run directory $RUN_DIR; give a writable --out DIR"
        flock -n 9 || die "another matrix is writing $RUN_DIR; wait for it to end (or stop it) first"
        # A SIGTERM to the matrix alone lets the run in flight finish and write its
        # record, then stops, and says so at once: the run is not left behind to append
        # after the matrix has gone. Ctrl-C (SIGINT to the group) stops the run in flight
        # as well, and says the same. The trap runs inside run_one's redirection of
        # stderr to the run's log: it writes to a copy (fd 8).
        exec 8>&2
        trap 'signalled TERM' TERM
        trap 'signalled INT' INT
        trap 'signalled HUP' HUP
    fi

    local passes=() r n fewest=${CASE_REPS[0]} most=0
    for n in "${CASE_REPS[@]}"; do
        [ "$n" -le "$most" ] || most=$n
        [ "$n" -ge "$fewest" ] || fewest=$n
    done
    [ "$WARMUP" -eq 1 ] && passes+=("0:warmup")
    for ((r = 0; r < most; r++)); do passes+=("$r:measured"); done
    # Does cell $1 run in pass $2? Every cell warms up; a measured pass holds the
    # cells whose case has more repetitions than the pass's number.
    in_pass() { [ "${2#*:}" = warmup ] || [ "${2%%:*}" -lt "${CASE_REPS[${cell_case[$1]}]}" ]; }

    # (cell, repetition, kind) triples already recorded: a resume skips them
    declare -A done_runs=()
    local line
    while IFS= read -r line; do done_runs["$line"]=1; done < <("$MHREPORT" done "$RUN_DIR/records.jsonl")

    if [ "$dry" -eq 1 ]; then
        for r in "${passes[@]}"; do
            for i in "${!cells[@]}"; do
                in_pass "$i" "$r" && [ -z "${done_runs["${cells[$i]}"$'\t'"${r%%:*}"$'\t'"${r#*:}"]:-}" ] &&
                    echo "${r#*:} rep ${r%%:*}: ${cells[$i]}"
            done
        done
        return 0
    fi

    mkdir -p "$RUN_DIR/logs" 2>/dev/null && touch "$RUN_DIR/records.jsonl" 2>/dev/null ||
        die "cannot write the run directory $RUN_DIR; give a writable --out DIR"
    [ -n "$resume" ] || cp "$config" "$RUN_DIR/config.conf"
    # A bundle names its own entry point (MH_MATRIX_CMD, quoted for the shell), the
    # checkout run.sh; %q keeps a path with spaces one argument when the line is run again.
    local cmd
    cmd="${MH_MATRIX_CMD:-./run.sh matrix} --config $(printf '%q' "${RUN_DIR#"$ROOT"/}/config.conf")"
    [ "$shard" = 1/1 ] || cmd+=" --shard $shard"
    echo "$cmd" >"$RUN_DIR/command.txt"

    # left[i]: cell i's runs still to do, for the time left below
    local total=0 todo=0 p
    local -a left=() last_ms=()
    for p in "${passes[@]}"; do
        for i in "${!cells[@]}"; do
            in_pass "$i" "$p" || continue
            total=$((total + 1))
            [ -n "${done_runs["${cells[$i]}"$'\t'"${p%%:*}"$'\t'"${p#*:}"]:-}" ] && continue
            todo=$((todo + 1))
            left[i]=$(( ${left[i]:-0} + 1 ))
        done
    done
    echo "matrix: $RUN_DIR: shard $shard: $(( ${#cells[@]} / ${#ALLOCS[@]} )) case x thread count groups" \
         "(of ${#CASE_NAMES[@]} cases) x ${#ALLOCS[@]} allocators," \
         "$([ "$fewest" -eq "$most" ] && echo "$most" || echo "$fewest-$most") repetitions$([ "$WARMUP" -eq 1 ] && echo ' + warm-up');" \
         "$todo of $total runs to do" >&2
    # Time left: each cell's runs still to do at what its last run took (cells not run
    # yet at the mean so far). Cells differ tenfold (growth-storm's settle), and a
    # line's extra repetitions hold only its cells, so one mean for all would mislead.
    local start=$SECONDS n=0 failed=0 skipped=$((total - todo)) spent_ms=0 t0 eta_ms
    for p in "${passes[@]}"; do
        local rep="${p%%:*}" kind="${p#*:}"
        for i in "${!cells[@]}"; do
            in_pass "$i" "$p" || continue
            [ -n "${done_runs["${cells[$i]}"$'\t'"$rep"$'\t'"$kind"]:-}" ] && continue
            local status=ok
            t0=$(now_ms)
            run_one "${cells[$i]}" "${cell_case[$i]}" "${cell_threads[$i]}" "${cell_alloc[$i]}" "$rep" "$kind" ||
                { status=FAILED; failed=$((failed + 1)); }
            last_ms[i]=$(( $(now_ms) - t0 ))
            spent_ms=$((spent_ms + last_ms[i]))
            left[i]=$((left[i] - 1))
            n=$((n + 1))
            eta_ms=0
            for c in "${!left[@]}"; do
                eta_ms=$((eta_ms + left[c] * ${last_ms[c]:-$((spent_ms / n))}))
            done
            printf 'matrix: [%d/%d] %-7s rep %s %-50s %-6s elapsed %s  eta %s\n' \
                $((n + skipped)) "$total" "$kind" "$rep" "${cells[$i]}" "$status" \
                "$(fmt_time $((SECONDS - start)))" "$(fmt_time $((eta_ms / 1000)))" >&2
        done
    done
    rm -f "$RUN_DIR/logs/current.err"
    echo "matrix: done: $n runs ($failed failed) in $(fmt_time $((SECONDS - start))); records in $RUN_DIR/records.jsonl" >&2
    echo "$RUN_DIR"
    # Every record is kept; the exit status says the set is incomplete.
    if [ "$failed" -gt 0 ]; then
        echo "matrix: $failed run(s) failed: their records say why (status failed) and their stderr is in $RUN_DIR/logs/; the report marks their cells, and leaves them out of its geometric means and target verdicts" >&2
        exit 1
    fi
}

main "$@"
