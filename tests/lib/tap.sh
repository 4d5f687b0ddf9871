# shellcheck shell=bash
# Result helpers for azote's shell tests (tests/host/*.sh, tests/integration/*.sh).
# Source it from bash. Every check prints one TAP-like line that tests/run.sh counts:
#   ok - NAME
#   not ok - NAME           followed by "#   why" lines
#   ok - NAME # SKIP why    (counted as skipped, not passed)
# Anything else a test prints must not start with "ok" or "not ok": indent it
# (tap_indent) so that a guest or VMM printing such a line cannot fake a result.

TAP_FAILED=0

# tap_result NAME [PROBLEM...]: passes when no problem is given.
tap_result() {
    local name=$1 p
    shift
    if [ $# -eq 0 ]; then
        echo "ok - $name"
    else
        echo "not ok - $name"
        for p in "$@"; do echo "#   $p"; done
        TAP_FAILED=$((TAP_FAILED + 1))
    fi
}

tap_skip() { echo "ok - $1 # SKIP $2"; }

# Prefix every line of stdin (carriage returns from serial consoles dropped).
tap_indent() { tr -d '\r' | sed "s/^/${1:-    | }/"; }

# Exit status of a test file: 1 when something failed.
tap_done() { [ "$TAP_FAILED" -eq 0 ]; exit; }
