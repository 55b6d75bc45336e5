# check_ctest_args ARGS...: for run.sh test, sourced (it calls the caller's die).
# ctest ignores an argument it does not know and runs every test (`./run.sh test --bogus`
# passed): each option must be one that `ctest --help` lists, each other word the value of
# the option before it.
check_ctest_args() {
    local help opt re after
    help="$(ctest --help)"
    while [ $# -gt 0 ]; do
        opt="${1%%=*}"
        after='[ ,[]|$'
        # --name=value only where the help shows it so (--tests-regex=X was ignored)
        [ "$opt" = "$1" ] || after='=|\[='
        [[ ! "$opt" =~ ^-[A-Za-z]+[0-9]+$ ]] || opt="${opt%%[0-9]*}"   # -j4
        re="${opt//./\\.}"
        [[ "$1" == -* ]] && grep -qE -- "(^|[ ,])$re($after)" <<<"$help" ||
            die "test: unknown argument '$1'; ./run.sh test passes its arguments to ctest, whose options ctest --help lists"
        if [ "$opt" = "$1" ] && grep -qE -- "(^|[ ,])$re (<|\\[|until)" <<<"$help"; then
            [ $# -ge 2 ] || die "test: $1 needs a value (see ctest --help)"
            shift
        fi
        shift
    done
}
