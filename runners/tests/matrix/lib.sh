# Shared by the matrix tests. The caller (ctest) sets MH_MHBENCH, MH_MHREPORT,
# MH_BUILD_DIR and MH_TEST_WORK (a scratch directory of the build tree).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
WORK="${MH_TEST_WORK:?set MH_TEST_WORK}"
MATRIX="$ROOT/runners/matrix.sh"
TINY="$WORK/tiny"               # the tiny matrix made by tiny.sh (fixture)
mkdir -p "$WORK"

fail() { echo "FAIL: $*" >&2; exit 1; }
# a command that fails under set -e says where, instead of ending the test silently
trap 'echo "FAIL: ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND exited $?" >&2' ERR

# A value of the CSV column named $2 for every row of file $1 matching awk condition $3.
csv_column_index() { head -n1 "$1" | tr ',' '\n' | grep -nx -- "$2" | cut -d: -f1; }

# Runs a command that must fail with status 2 and one line on stderr naming $1.
expect_refusal() {
    local want="$1"; shift
    local rc=0 err
    err="$("$@" 2>&1 >/dev/null)" || rc=$?
    [ "$rc" -eq 2 ] || fail "'$*' exited $rc, want 2 (stderr: $err)"
    [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "'$*' printed more than one line: $err"
    grep -qi -- "$want" <<<"$err" || fail "'$*' said '$err', want it to mention '$want'"
}
