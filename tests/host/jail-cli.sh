#!/usr/bin/env bash
# azote-jail's command line: every bad argument, unusable file or unusable host must stop it at
# once, before it changes anything, with exit status 2 and exactly one stderr line naming the
# problem. (Jailing a real guest needs cgroup2 and /dev/kvm: tests/integration/jail.sh, in the
# lab.)
#
# Usage: AZOTE=build/azote tests/host/jail-cli.sh   (azote-jail is looked up next to azote)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/tap.sh"
. "$ROOT/tests/lib/expect-bad.sh"
EXPECT_TIMEOUT=10

AZOTE=$(realpath -m "${AZOTE:-$ROOT/build/azote}")
JAIL=${AZOTE_JAIL:-$(dirname "$AZOTE")/azote-jail}
[ -x "$JAIL" ] || { tap_result "azote-jail is built" "$JAIL missing: run make"; tap_done; }

W=$(mktemp -d "${TMPDIR:-/tmp}/azote-jail-cli.XXXXXX")
trap 'rm -rf "$W"' EXIT
BASE=$W/base
mkdir "$W/dir"
: >"$W/not-exec"
ok=(--id vm1 --exec-file "$AZOTE" --uid 1000 --gid 1000 --chroot-base "$BASE")

expect_bad_input "no arguments" '--id is required' -- "$JAIL"
expect_bad_input "no --exec-file" 'exec-file is required' -- "$JAIL" --id vm1 --uid 1 --gid 1
expect_bad_input "no --gid" '--uid and --gid' -- "$JAIL" --id vm1 --exec-file "$AZOTE" --uid 1
expect_bad_input "--id with a '/'" "--id a/b" 'A-Z' -- "$JAIL" "${ok[@]}" --id a/b
expect_bad_input "--id of 65 characters" '--id' '64' -- "$JAIL" "${ok[@]}" --id "$(printf 'a%.0s' {1..65})"
expect_bad_input "--exec-file missing" "$W/nope" 'no such file' -- "$JAIL" "${ok[@]}" --exec-file "$W/nope"
expect_bad_input "--exec-file a directory" "$W/dir" 'not an executable regular file' -- \
    "$JAIL" "${ok[@]}" --exec-file "$W/dir"
expect_bad_input "--exec-file not executable" 'not-exec' 'not an executable regular file' -- \
    "$JAIL" "${ok[@]}" --exec-file "$W/not-exec"
expect_bad_input "--uid not a number" '--uid alice' 'number' -- "$JAIL" "${ok[@]}" --uid alice
expect_bad_input "--gid -1" '--gid -1' -- "$JAIL" "${ok[@]}" --gid -1
expect_bad_input "--uid 0" '--uid 0' 'unprivileged' -- "$JAIL" "${ok[@]}" --uid 0
expect_bad_input "--chroot-base relative" 'chroot-base' 'absolute' -- "$JAIL" "${ok[@]}" --chroot-base srv
expect_bad_input "--cgroup without '='" 'key=value' -- "$JAIL" "${ok[@]}" --cgroup memory.max
expect_bad_input "--cgroup key with '..'" "'\\.\\./memory\\.max'" "no '/'" -- \
    "$JAIL" "${ok[@]}" --cgroup ../memory.max=1
expect_bad_input "--cgroup key in a subdirectory" "'sub/pids\.max'" -- \
    "$JAIL" "${ok[@]}" --cgroup sub/pids.max=1
expect_bad_input "--cgroup cgroup.procs" 'cgroup\.procs' -- "$JAIL" "${ok[@]}" --cgroup cgroup.procs=1
expect_bad_input "--cgroup empty value" 'pids\.max' -- "$JAIL" "${ok[@]}" --cgroup pids.max=
expect_bad_input "--resource-limit unknown" 'fsize=BYTES or no-file=N' -- \
    "$JAIL" "${ok[@]}" --resource-limit nproc=5
expect_bad_input "--resource-limit no-file=x" 'no-file' -- "$JAIL" "${ok[@]}" --resource-limit no-file=x
expect_bad_input "unknown option" '--bogus' 'after --' -- "$JAIL" "${ok[@]}" --bogus
expect_bad_input "azote argument before --" "'--kernel'|unknown option --kernel" -- \
    "$JAIL" "${ok[@]}" --kernel /vmlinuz
expect_bad_input "--netns missing" 'netns' "$W/ns" -- "$JAIL" "${ok[@]}" --netns "$W/ns"
expect_bad_input "--netns not a namespace" 'not a network namespace' -- \
    "$JAIL" "${ok[@]}" --netns /dev/null

if [ "$(id -u)" = 0 ] && setpriv --reuid 65534 --regid 65534 --clear-groups true 2>/dev/null &&
    setpriv --reuid 65534 --regid 65534 --clear-groups test -x "$AZOTE"; then
    expect_bad_input "not root" 'must run as root' -- \
        setpriv --reuid 65534 --regid 65534 --clear-groups "$JAIL" "${ok[@]}"
else
    tap_skip "not root" "needs root, setpriv, and $AZOTE reachable by nobody"
fi

if [ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" != cgroup2fs ] && [ "$(id -u)" = 0 ]; then
    expect_bad_input "host without cgroup2" 'cgroups v2' '/sys/fs/cgroup' 'cgroup2' -- \
        "$JAIL" "${ok[@]}" -- --kernel /vmlinuz
    [ ! -e "$BASE" ] && tap_result "host without cgroup2: nothing created" ||
        tap_result "host without cgroup2: nothing created" "$BASE exists"
else
    tap_skip "host without cgroup2" "this host has cgroup2 (or is not root): tests/integration/jail.sh jails for real"
fi
[ ! -e "$BASE" ] && tap_result "bad input leaves no chroot behind" ||
    tap_result "bad input leaves no chroot behind" "$BASE was created"

out=$("$JAIL" --help)
[[ $out == *--cgroup* && $out == *--daemonize* && $out == *--resource-limit* ]] &&
    tap_result "--help" || tap_result "--help" "printed: $out"

tap_done
