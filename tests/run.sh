#!/usr/bin/env bash
# azote's test driver (`make test` builds first, then runs `BUILD=build tests/run.sh`).
#
# Runs, streaming everything to the terminal:
#   1. unit tests: every $BUILD/tests/test_* (cmocka, TAP output);
#   2. host tests: every tests/host/*.sh (no real guest needed);
#   3. integration tests: ONE lab boot (scripts/lab.sh) running tests/integration/*.sh
#      with $BUILD/azote on the lab's PATH and the guest assets in /lab/guest.
# Counts the `ok`/`not ok` result lines of all three and ends with the line
#   N passed, N failed
# Exit status 1 when anything failed, including a test binary or script that crashed
# and a lab that did not report back (counted as a failure, never as zero tests).
#
# Environment:
#   BUILD                  build folder (default build)
#   TESTS_SKIP_UNIT=1, TESTS_SKIP_HOST=1, TESTS_SKIP_LAB=1   leave a stage out
#   TESTS_INTEGRATION="boot net"   only these tests/integration files (".sh" optional)
#   TESTS_AZOTE_STANDIN=qemu       integration tests drive QEMU (tests/lib/qemu-azote.sh)
#                                  instead of azote: checks the tests themselves
#   LAB_TIMEOUT, AZOTE_CACHE       see scripts/lab.sh and scripts/guest-assets.sh
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$(realpath -m "${BUILD:-$ROOT/build}")
export BUILD
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/azote-tests.XXXXXX")
trap 'rm -rf "$LOGS"' EXIT

# A synthesized result line: shown, and recorded in the stage's log.
fail_line() { echo "not ok - $2" | tee -a "$LOGS/$1"; }

# count LOG: "passed failed skipped" for the result lines in LOG.
count() {
    local lines
    lines=$(tr -d '\r' <"$1" | grep -E '^(not )?ok( |$)')
    printf '%s %s %s\n' \
        "$(grep -E '^ok( |$)' <<<"$lines" | grep -cv '# SKIP')" \
        "$(grep -E '^not ok( |$)' <<<"$lines" | grep -cv '# SKIP')" \
        "$(grep -c '# SKIP' <<<"$lines")"
}

stage_unit() {
    echo "=== unit tests ($BUILD/tests)"
    local src bin name status one
    # A unit-test source without its binary means the build is incomplete.
    for src in "$ROOT"/tests/unit/test_*.c; do
        [ -f "$src" ] || continue
        name=$(basename "$src" .c)
        [ -x "$BUILD/tests/$name" ] || fail_line unit "unit: $name was not built ($BUILD/tests/$name)"
    done
    one=$LOGS/unit.one
    for bin in "$BUILD"/tests/test_*; do
        [[ -f $bin && -x $bin ]] || continue
        case $bin in *.d | *.o) continue ;; esac
        name=$(basename "$bin")
        echo "# ---- $name"
        CMOCKA_MESSAGE_OUTPUT=TAP "$bin" 2>&1 | tee "$one"
        status=${PIPESTATUS[0]}
        cat "$one" >>"$LOGS/unit"
        # cmocka exits with the number of failures; anything else is a crash.
        if [ "$status" -ne 0 ] && ! grep -q '^not ok' "$one"; then
            fail_line unit "unit: $name exited with status $status"
        elif ! grep -qE '^(not )?ok( |$)' "$one"; then
            fail_line unit "unit: $name reported no results"
        fi
    done
}

stage_host() {
    echo "=== host tests (tests/host)"
    AZOTE=$BUILD/azote "$ROOT/tests/lib/run-scripts.sh" "$ROOT/tests/host" 2>&1 |
        tee "$LOGS/host"
    grep -q '^# run-scripts: done' "$LOGS/host" || fail_line host "host tests did not finish"
}

stage_lab() {
    local names=() n
    for n in ${TESTS_INTEGRATION:-}; do
        n=${n%.sh}
        [ -f "$ROOT/tests/integration/$n.sh" ] || { fail_line lab "integration: no test tests/integration/$n.sh"; return; }
        names+=("$n")
    done
    [ -n "${TESTS_INTEGRATION:-}" ] || for n in "$ROOT"/tests/integration/*.sh; do [ -f "$n" ] && names+=("$(basename "$n" .sh)"); done
    [ ${#names[@]} -gt 0 ] || { fail_line lab "integration: no tests found"; return; }
    echo "=== integration tests in the lab (${names[*]})"

    local args=(-b timeout -f "$ROOT/tests/lib:/lab/tests/lib" -f "$ROOT/tests/integration:/lab/tests/integration"
        -f "$ROOT/tests/guest:/lab/tests/guest")
    if [ "${TESTS_AZOTE_STANDIN:-}" = qemu ]; then
        echo "# TESTS_AZOTE_STANDIN=qemu: the integration tests drive QEMU, not azote"
        args+=(-b qemu-system-x86_64 -f /usr/share/qemu:/usr/share/qemu
            -f "$ROOT/tests/lib/qemu-azote.sh:/lab/bin/azote")
    else
        [ -x "$BUILD/azote" ] || { fail_line lab "integration: $BUILD/azote not built"; return; }
        args+=(-b "$BUILD/azote" -b "$BUILD/azote-blk" -b "$BUILD/azote-net" -b "$BUILD/azote-jail")
        # Network tests: iproute2 makes multi-queue TAP devices (busybox's ip cannot).
        args+=(-b "$(PATH=/usr/sbin:/sbin:$PATH command -v ip)")
        # API tests: curl talks to the API socket.
        args+=(-b "$(command -v curl)")
        # Interop tests: QEMU as a vhost-user frontend, qemu-storage-daemon as a backend.
        args+=(-b qemu-system-x86_64 -b qemu-storage-daemon -f /usr/share/qemu:/usr/share/qemu
            -f /usr/share/seabios:/usr/share/seabios)
    fi
    local cmd
    cmd="AZOTE_GUEST=/lab/guest bash /lab/tests/lib/run-scripts.sh /lab/tests/integration ${names[*]}"
    "$ROOT/scripts/lab.sh" "${args[@]}" -- "$cmd" 2>&1 | tee "$LOGS/lab.raw"
    local lab_status=${PIPESTATUS[0]}
    tr -d '\r' <"$LOGS/lab.raw" >"$LOGS/lab"

    local done_line
    done_line=$(grep '^# run-scripts: done' "$LOGS/lab" | tail -n1)
    if [ -z "$done_line" ]; then
        fail_line lab "integration: the lab did not report back (scripts/lab.sh exit status $lab_status)"
        return
    fi
    # The console is shared with the lab kernel: make sure no result line was mangled.
    local reported seen
    reported=$(sed -E 's/.* ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped.*/\1 \2 \3/' <<<"$done_line")
    seen=$(count "$LOGS/lab")
    [ "$reported" = "$seen" ] ||
        fail_line lab "integration: result lines garbled on the lab console (lab counted $reported, seen $seen as passed failed skipped)"
}

[ -n "${TESTS_SKIP_UNIT:-}" ] || stage_unit
[ -n "${TESTS_SKIP_HOST:-}" ] || stage_host
if [ -n "${TESTS_SKIP_LAB:-}" ]; then
    echo "# integration tests skipped (TESTS_SKIP_LAB is set)"
else
    stage_lab
fi

passed=0 failed=0 skipped=0
for log in unit host lab; do
    [ -f "$LOGS/$log" ] || continue
    read -r p f s < <(count "$LOGS/$log")
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
done
echo
[ "$skipped" -eq 0 ] || echo "($skipped skipped)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
