#!/usr/bin/env bash
# Bad input to azote's CLI: each case must fail before any guest runs, with exit
# status 2 and exactly one line on stderr that names the problem (checked with
# case-insensitive patterns that the file names used here cannot satisfy).
#
# Usage: AZOTE=build/azote tests/host/cli-errors.sh   (tests/run.sh sets AZOTE)
# Needs no working /dev/kvm; the cases that change users or mounts need root (or
# util-linux's setpriv/unshare) and are skipped with a reason otherwise.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/tap.sh"
. "$ROOT/tests/lib/expect-bad.sh"

AZOTE=$(realpath -m "${AZOTE:-$ROOT/build/azote}")
[ -x "$AZOTE" ] || { tap_result "azote is built" "$AZOTE missing: run make"; tap_done; }
ASSETS=$("$ROOT/scripts/guest-assets.sh" --print-dir) ||
    { tap_result "guest assets" "scripts/guest-assets.sh failed"; tap_done; }

# World-readable work dir: some cases run as uid 65534.
W=$(mktemp -d "${TMPDIR:-/tmp}/azote-cli.XXXXXX")
chmod 755 "$W"
trap 'chmod -R u+rwX "$W"; rm -rf "$W"' EXIT
cp -L "$ASSETS/vmlinuz" "$W/good.img"
chmod 644 "$W/good.img"
K=$W/good.img
IS_ROOT=0
[ "$(id -u)" -eq 0 ] && IS_ROOT=1


NOT_FOUND='no such file|not found|does not exist|missing|cannot open'

expect_bad_input "missing kernel file" 'kernel|absent\.img' "$NOT_FOUND" -- \
    "$AZOTE" --kernel "$W/absent.img"

# Root reads anything; without CAP_DAC_OVERRIDE/READ_SEARCH a mode-000 file is
# unreadable even to its owner, while root-owned /dev/kvm stays usable.
echo data >"$W/locked.img"
chmod 000 "$W/locked.img"
if [ "$IS_ROOT" = 0 ]; then
    expect_bad_input "unreadable kernel file" 'kernel|locked\.img' 'permission|denied|not readable|cannot read|access' -- \
        "$AZOTE" --kernel "$W/locked.img"
elif setpriv --bounding-set -dac_override,-dac_read_search true 2>/dev/null; then
    expect_bad_input "unreadable kernel file" 'kernel|locked\.img' 'permission|denied|not readable|cannot read|access' -- \
        setpriv --bounding-set -dac_override,-dac_read_search "$AZOTE" --kernel "$W/locked.img"
else
    tap_skip "unreadable kernel file" "running as root and setpriv cannot drop CAP_DAC_OVERRIDE"
fi

mkdir "$W/somedir"
expect_bad_input "kernel is a directory" 'kernel|somedir' 'directory|not a (regular )?file' -- \
    "$AZOTE" --kernel "$W/somedir"

head -c 65536 /dev/urandom >"$W/noise.img"
expect_bad_input "kernel is random bytes" 'kernel|noise\.img' \
    'bzimage|not an? |invalid|unsupported|unknown|format|magic|header|unrecogni' -- \
    "$AZOTE" --kernel "$W/noise.img"

head -c 4096 "$K" >"$W/head-4k.img"
expect_bad_input "kernel is a truncated bzImage" 'kernel|head-4k\.img' \
    'truncat|too (small|short)|short|incomplete|invalid|corrupt|end of file|eof|size' -- \
    "$AZOTE" --kernel "$W/head-4k.img"

expect_bad_input "missing initrd file" 'initrd|absent\.cpio' "$NOT_FOUND" -- \
    "$AZOTE" --kernel "$K" --initrd "$W/absent.cpio"

expect_bad_input "--mem 0" 'mem' '\b0\b|zero|too small|at least|between|range|invalid|positive|must be' -- "$AZOTE" --kernel "$K" --mem 0
expect_bad_input "--mem 1T (more than the host has)" 'mem' \
    '1 ?T|exceed|too (large|big|much)|more than|host|available|beyond|at most|between|range' -- "$AZOTE" --kernel "$K" --mem 1T
expect_bad_input "--mem abc" 'mem' 'abc|invalid|size|parse|number' -- "$AZOTE" --kernel "$K" --mem abc
expect_bad_input "--cpus 0" 'cpu' '\b0\b|zero|at least|between|range|invalid|positive|must be' -- "$AZOTE" --kernel "$K" --cpus 0
expect_bad_input "--cpus 100000" 'cpu' '100000|max|between|range|too many|at most|exceed|limit' -- \
    "$AZOTE" --kernel "$K" --cpus 100000
expect_bad_input "--cpus x" 'cpu' "\bx\b|invalid|number|integer" -- "$AZOTE" --kernel "$K" --cpus x
expect_bad_input "unknown flag" 'bogus' -- "$AZOTE" --kernel "$K" --bogus-flag
expect_bad_input "no arguments" 'kernel|usage' -- "$AZOTE"

# A 200 MiB initrd cannot fit in 128 MiB of guest memory (the stock kernel alone
# needs 63 MiB, so a smaller --mem would fail on the kernel instead).
truncate -s 200M "$W/big.cpio"
expect_bad_input "initrd larger than guest memory" 'initrd' 'too (big|large)|exceed|fit|memory|larger|--mem' -- \
    "$AZOTE" --kernel "$K" --initrd "$W/big.cpio" --mem 128M

# /dev/kvm cases run in a private mount namespace; the host's /dev is untouched.
UNSHARE=(unshare -m)
[ "$IS_ROOT" = 1 ] || UNSHARE=(unshare -r -m)
if "${UNSHARE[@]}" true 2>/dev/null; then
    # Swap /dev for a tmpfs holding only the basic character devices.
    # shellcheck disable=SC2016 # expanded by the inner shell
    expect_bad_input "no /dev/kvm" 'kvm' -- "${UNSHARE[@]}" sh -c '
        mkdir -p "$1/dev" && mount -t tmpfs tmpfs "$1/dev" &&
        for n in null zero full random urandom; do
            touch "$1/dev/$n" && mount --bind "/dev/$n" "$1/dev/$n" || exit 99
        done &&
        mount --move "$1/dev" /dev && shift && exec "$@"' sh "$W" "$AZOTE" --kernel "$K"
    if [ -e /dev/kvm ]; then
        expect_bad_input "/dev/kvm is not a KVM device" 'kvm' -- "${UNSHARE[@]}" sh -c '
            mount --bind /dev/null /dev/kvm && exec "$@"' sh "$AZOTE" --kernel "$K"
    else
        tap_skip "/dev/kvm is not a KVM device" "this host has no /dev/kvm to cover"
    fi
else
    tap_skip "no /dev/kvm" "cannot create a mount namespace (unshare -m)"
    tap_skip "/dev/kvm is not a KVM device" "cannot create a mount namespace (unshare -m)"
fi

if [ ! -e /dev/kvm ]; then
    tap_skip "no permission on /dev/kvm" "this host has no /dev/kvm"
elif [ "$IS_ROOT" = 1 ]; then
    expect_bad_input "no permission on /dev/kvm (uid 65534)" 'kvm' 'permission|denied|access' -- \
        setpriv --reuid 65534 --regid 65534 --clear-groups "$AZOTE" --kernel "$K"
elif [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    tap_skip "no permission on /dev/kvm" "this user may use /dev/kvm and cannot switch users"
else
    expect_bad_input "no permission on /dev/kvm" 'kvm' 'permission|denied|access' -- "$AZOTE" --kernel "$K"
fi

tap_done
