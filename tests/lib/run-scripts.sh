#!/usr/bin/env bash
# Run a folder's test scripts one after another, streaming their output.
#
# Usage: tests/lib/run-scripts.sh DIR [NAME...]
#   Runs DIR/NAME (".sh" optional) for each NAME, or every DIR/*.sh, with bash.
# tests/run.sh uses it for tests/host on the host and for tests/integration inside
# the lab. A script that exits non-zero without printing a "not ok" line, or that
# prints no result at all, gets a "not ok" line here, so a crashed or empty test
# file can never pass or count as zero tests. Ends with a line
#   # run-scripts: done, N passed, N failed, N skipped
# that tells the caller every script ran and lets it cross-check its own count.
set -uo pipefail

dir=${1:?usage: run-scripts.sh DIR [NAME...]}
shift
scripts=()
if [ $# -eq 0 ]; then
    for t in "$dir"/*.sh; do [ -f "$t" ] && scripts+=("$t"); done
else
    for n in "$@"; do scripts+=("$dir/${n%.sh}.sh"); done
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
passed=0 failed=0 skipped=0
for t in "${scripts[@]}"; do
    name=$(basename "$t")
    echo "# ---- $name"
    if [ ! -f "$t" ]; then
        echo "not ok - $name: no such test file" | tee "$out"
    else
        bash "$t" 2>&1 | tee "$out"
        status=${PIPESTATUS[0]}
        if [ "$status" -ne 0 ] && ! grep -q '^not ok' "$out"; then
            echo "not ok - $name exited with status $status" | tee -a "$out"
        elif ! grep -qE '^(not )?ok( |$)' "$out"; then
            echo "not ok - $name reported no results" | tee -a "$out"
        fi
    fi
    skipped=$((skipped + $(grep -E '^(not )?ok( |$)' "$out" | grep -c '# SKIP')))
    passed=$((passed + $(grep -E '^ok( |$)' "$out" | grep -cv '# SKIP')))
    failed=$((failed + $(grep -E '^not ok( |$)' "$out" | grep -cv '# SKIP')))
done
echo "# run-scripts: done, $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
