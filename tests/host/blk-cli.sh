#!/usr/bin/env bash
# azote-blk's command line and start-up checks: every bad image or flag must stop it at once
# with exit status 2 and exactly one stderr line naming the problem; a good image must be
# served until SIGTERM (exit 0, socket removed); two writers must never share an image.
#
# Usage: AZOTE=build/azote tests/host/blk-cli.sh   (azote-blk is looked up next to azote)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/tap.sh"
. "$ROOT/tests/lib/expect-bad.sh"
EXPECT_TIMEOUT=10

AZOTE=$(realpath -m "${AZOTE:-$ROOT/build/azote}")
BLK=${AZOTE_BLK:-$(dirname "$AZOTE")/azote-blk}
[ -x "$BLK" ] || { tap_result "azote-blk is built" "$BLK missing: run make"; tap_done; }

W=$(mktemp -d "${TMPDIR:-/tmp}/azote-blk-cli.XXXXXX")
chmod 755 "$W"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    chmod -R u+rwX "$W"
    rm -rf "$W"
}
trap cleanup EXIT
truncate -s 1M "$W/disk.img"
IS_ROOT=0
[ "$(id -u)" -eq 0 ] && IS_ROOT=1


# start_blk LOG ARGS...: run azote-blk in the background; sets BLK_PID.
start_blk() {
    local log=$1
    shift
    "$BLK" "$@" </dev/null >/dev/null 2>"$log" &
    BLK_PID=$!
    PIDS+=("$BLK_PID")
}

# wait_for_socket PATH: up to 5 s.
wait_for_socket() {
    local i
    for i in $(seq 50); do [ -S "$1" ] && return 0; sleep 0.1; done
    return 1
}

expect_bad_input "missing image" 'absent\.img' 'no such file' -- \
    "$BLK" --socket "$W/s" --file "$W/absent.img"
mkdir "$W/somedir"
expect_bad_input "image is a directory" 'somedir' 'directory' -- "$BLK" --socket "$W/s" --file "$W/somedir"
expect_bad_input "image is a directory (read-only)" 'somedir' 'directory' -- \
    "$BLK" --socket "$W/s" --file "$W/somedir" --ro
expect_bad_input "image is a character device" '/dev/null' 'not a regular file or a block device' -- \
    "$BLK" --socket "$W/s" --file /dev/null
: >"$W/empty.img"
expect_bad_input "empty image" 'empty\.img' 'empty' -- "$BLK" --socket "$W/s" --file "$W/empty.img"

cp "$W/disk.img" "$W/locked.img"
chmod 000 "$W/locked.img"
if [ "$IS_ROOT" = 0 ]; then
    expect_bad_input "unreadable image" 'locked\.img' 'permission denied' -- \
        "$BLK" --socket "$W/s" --file "$W/locked.img"
elif setpriv --bounding-set -dac_override,-dac_read_search true 2>/dev/null; then
    expect_bad_input "unreadable image" 'locked\.img' 'permission denied' -- \
        setpriv --bounding-set -dac_override,-dac_read_search "$BLK" --socket "$W/s" --file "$W/locked.img"
else
    tap_skip "unreadable image" "running as root and setpriv cannot drop CAP_DAC_OVERRIDE"
fi
chmod 444 "$W/locked.img"
if [ "$IS_ROOT" = 0 ]; then
    expect_bad_input "read-only file opened for writing" 'locked\.img' 'permission denied.*--ro' -- \
        "$BLK" --socket "$W/s" --file "$W/locked.img"
elif setpriv --bounding-set -dac_override,-dac_read_search true 2>/dev/null; then
    expect_bad_input "read-only file opened for writing" 'locked\.img' 'permission denied.*--ro' -- \
        setpriv --bounding-set -dac_override,-dac_read_search "$BLK" --socket "$W/s" --file "$W/locked.img"
else
    tap_skip "read-only file opened for writing" "running as root and setpriv cannot drop CAP_DAC_OVERRIDE"
fi

expect_bad_input "no --file" 'file' -- "$BLK" --socket "$W/s"
expect_bad_input "no socket" 'socket|fd' -- "$BLK" --file "$W/disk.img"
expect_bad_input "both --socket and --fd" 'socket|fd' -- "$BLK" --socket "$W/s" --fd 3 --file "$W/disk.img"
expect_bad_input "--queues 0" 'queues' -- "$BLK" --socket "$W/s" --file "$W/disk.img" --queues 0
expect_bad_input "--queues 257" 'queues' -- "$BLK" --socket "$W/s" --file "$W/disk.img" --queues 257
expect_bad_input "--serial longer than 20 bytes" 'serial' '20' -- \
    "$BLK" --socket "$W/s" --file "$W/disk.img" --serial 123456789012345678901
expect_bad_input "--fd that is not open" 'fd 77|socket' -- "$BLK" --fd 77 --file "$W/disk.img"
expect_bad_input "unknown flag" 'bogus' -- "$BLK" --bogus --file "$W/disk.img"
echo x >"$W/notasocket"
expect_bad_input "socket path taken by a file" 'notasocket' 'not a socket' -- \
    "$BLK" --socket "$W/notasocket" --file "$W/disk.img"

out=$("$BLK" --print-capabilities)
[[ $out == *'"type": "block-device"'* ]] && tap_result "--print-capabilities" ||
    tap_result "--print-capabilities" "printed: $out"

# A writer locks the image: a second writer or reader is refused, a second reader of a
# read-only image is not.
start_blk "$W/first.log" --socket "$W/a.sock" --file "$W/disk.img"
first=$BLK_PID
if wait_for_socket "$W/a.sock"; then
    expect_bad_input "second writer on an image in use" 'disk\.img' 'in use by another process' -- \
        "$BLK" --socket "$W/b.sock" --file "$W/disk.img"
    expect_bad_input "reader on an image in use by a writer" 'disk\.img' 'in use by another process' -- \
        "$BLK" --socket "$W/b.sock" --file "$W/disk.img" --ro
    expect_bad_input "second backend on the same socket" 'a\.sock' 'another backend' -- \
        "$BLK" --socket "$W/a.sock" --file "$W/locked.img" --ro
    kill -TERM "$first"
    wait "$first"
    status=$?
    problems=()
    [ "$status" = 0 ] || problems+=("exit status $status after SIGTERM, expected 0")
    [ ! -e "$W/a.sock" ] || problems+=("socket $W/a.sock left behind")
    tap_result "SIGTERM ends a serving backend cleanly" "${problems[@]}"
else
    tap_result "azote-blk serves an image" "no socket after 5 s: $(tr '\n' '|' <"$W/first.log")"
fi

start_blk "$W/ro1.log" --socket "$W/r1.sock" --file "$W/disk.img" --ro
ro1=$BLK_PID
start_blk "$W/ro2.log" --socket "$W/r2.sock" --file "$W/disk.img" --ro
ro2=$BLK_PID
if wait_for_socket "$W/r1.sock" && wait_for_socket "$W/r2.sock"; then
    tap_result "two read-only backends share an image"
    expect_bad_input "writer on an image read by others" 'disk\.img' 'in use by another process' -- \
        "$BLK" --socket "$W/b.sock" --file "$W/disk.img"
else
    tap_result "two read-only backends share an image" \
        "$(tr '\n' '|' <"$W/ro1.log") $(tr '\n' '|' <"$W/ro2.log")"
fi
kill -TERM "$ro1" "$ro2"
wait "$ro1" "$ro2"

# A size that is not whole sectors is rounded down, with a warning, not refused.
head -c 1000 /dev/zero >"$W/odd.img"
start_blk "$W/odd.log" --socket "$W/o.sock" --file "$W/odd.img"
odd=$BLK_PID
if wait_for_socket "$W/o.sock" && grep -qi 'not a multiple of 512' "$W/odd.log"; then
    tap_result "odd-sized image served with a warning"
else
    tap_result "odd-sized image served with a warning" "$(tr '\n' '|' <"$W/odd.log")"
fi
kill -TERM "$odd"
wait "$odd"

tap_done
