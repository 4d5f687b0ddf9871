#!/usr/bin/env bash
# seccomp filters, as a user sees them without a guest: every role's filter prints (azote
# --print-seccomp ROLE, azote-blk/azote-net --print-seccomp) at levels 0, 1 and 2; a bad
# --seccomp-level is one line and exit 2; and a device process that makes a forbidden syscall
# (the AZOTE_SECCOMP_SELFTEST hook) dies by SIGSYS after one line naming it. azote-blk serving
# a real frontend under the default level 2 is tests/host/blk-qemu.sh (QEMU + a Linux guest);
# whole VMs under the filters are tests/integration/seccomp.sh.
#
# Usage: AZOTE=build/azote tests/host/seccomp.sh   (the cards are looked up next to azote)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/tap.sh"
. "$ROOT/tests/lib/expect-bad.sh"
EXPECT_TIMEOUT=10

AZOTE=$(realpath -m "${AZOTE:-$ROOT/build/azote}")
BLK=${AZOTE_BLK:-$(dirname "$AZOTE")/azote-blk}
NET=${AZOTE_NET:-$(dirname "$AZOTE")/azote-net}
for b in "$AZOTE" "$BLK" "$NET"; do
    [ -x "$b" ] || { tap_result "$(basename "$b") is built" "$b missing: run make"; tap_done; }
done

W=$(mktemp -d "${TMPDIR:-/tmp}/azote-seccomp.XXXXXX")
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
# A process killed by SIGSYS dumps core by default: not in the test's folder.
ulimit -c 0

# print_ok NAME PATTERN COMMAND...: exit 0, nothing on stderr, stdout matches PATTERN.
print_ok() {
    local name=$1 pattern=$2 problems=() status
    shift 2
    "$@" >"$W/out" 2>"$W/err"
    status=$?
    [ "$status" = 0 ] || problems+=("exit status $status")
    [ ! -s "$W/err" ] || problems+=("stderr: $(head -c 300 "$W/err")")
    grep -Eq -- "$pattern" "$W/out" || problems+=("stdout does not match /$pattern/: $(head -c 300 "$W/out" | tr '\n' '|')")
    tap_result "$name" "${problems[@]}"
}

# Rules of libseccomp's PFC output: "if ($syscall == N)" per syscall, actions by name.
for role in vmm vcpu blk net; do
    print_ok "azote --print-seccomp $role (level 2)" 'action TRAP' "$AZOTE" --print-seccomp "$role"
done
KVM_RUN=$((0xae80))
print_ok "the vcpu filter at level 2 checks ioctl numbers (KVM_RUN)" "$KVM_RUN" \
    "$AZOTE" --print-seccomp vcpu --seccomp-level 2
print_ok "azote --print-seccomp vmm --seccomp-level 1" 'action TRAP' \
    "$AZOTE" --print-seccomp vmm --seccomp-level 1
print_ok "azote --print-seccomp vmm --seccomp-level 0 says there is no filter" 'no filter' \
    "$AZOTE" --seccomp-level 0 --print-seccomp vmm
print_ok "azote-blk --print-seccomp" 'action TRAP' "$BLK" --print-seccomp
print_ok "azote-net --print-seccomp --seccomp-level 1" 'action TRAP' "$NET" --print-seccomp --seccomp-level 1
if "$AZOTE" --print-seccomp vcpu --seccomp-level 1 | grep -q "$KVM_RUN"; then
    tap_result "level 1 checks syscall numbers only" "the level-1 vcpu filter compares KVM_RUN"
else
    tap_result "level 1 checks syscall numbers only"
fi

expect_bad_input "azote --seccomp-level 3" 'seccomp-level' -- "$AZOTE" --seccomp-level 3 --kernel "$W/k"
expect_bad_input "azote --seccomp-level x" 'seccomp-level' -- "$AZOTE" --seccomp-level x --kernel "$W/k"
expect_bad_input "azote --print-seccomp with an unknown role" 'print-seccomp' 'vcpu' -- \
    "$AZOTE" --print-seccomp api
expect_bad_input "azote-blk --seccomp-level 3" 'seccomp-level' -- \
    "$BLK" --seccomp-level 3 --socket "$W/s" --file "$W/disk.img"
expect_bad_input "azote-net --seccomp-level 3" 'seccomp-level' -- \
    "$NET" --seccomp-level 3 --socket "$W/s" --tap t0

# expect_sigsys NAME SYSCALL_LINE COMMAND...: the command dies by SIGSYS (shell status 159)
# with one seccomp line naming the syscall, its last line.
expect_sigsys() {
    local name=$1 line=$2 problems=() status
    shift 2
    # (The subshell keeps bash's own "Bad system call" notice out of the output.)
    (timeout -k 5 20 "$@" </dev/null >/dev/null 2>"$W/err"; exit $?) 2>/dev/null
    status=$?
    [ "$status" = $((128 + 31)) ] || problems+=("exit status $status, expected 159 (SIGSYS)")
    grep -q -- "$line" "$W/err" || problems+=("no line like '$line'")
    [ "$(grep -c 'forbidden syscall' "$W/err")" = 1 ] || problems+=("not exactly one seccomp line")
    [ ${#problems[@]} -eq 0 ] || problems+=("stderr: $(head -c 600 "$W/err" | tr '\r\n' ' |')")
    tap_result "$name" "${problems[@]}"
}

truncate -s 1M "$W/disk.img"
expect_sigsys "azote-blk: a forbidden syscall once serving kills it (SIGSYS), named" \
    'azote-blk: error: seccomp: blk device process made forbidden syscall socket (41); killing the process' \
    env AZOTE_SECCOMP_SELFTEST=blk "$BLK" --socket "$W/blk.sock" --file "$W/disk.img"
rm -f "$W/blk.sock"
# Level 0: no filter, the hook has nothing to trip; the card serves until SIGTERM.
AZOTE_SECCOMP_SELFTEST=blk "$BLK" --seccomp-level 0 --socket "$W/blk.sock" --file "$W/disk.img" \
    </dev/null >/dev/null 2>"$W/err0" &
PIDS+=($!)
for _ in $(seq 50); do [ -S "$W/blk.sock" ] && break; sleep 0.1; done
sleep 0.3
kill -TERM "${PIDS[-1]}"
wait "${PIDS[-1]}"
status=$?
[ "$status" = 0 ] && ! grep -q 'forbidden syscall' "$W/err0" &&
    tap_result "azote-blk --seccomp-level 0: no filter, serves until SIGTERM" ||
    tap_result "azote-blk --seccomp-level 0: no filter, serves until SIGTERM" "exit status $status" "$(head -c 300 "$W/err0")"

if unshare -n true 2>/dev/null && command -v ip >/dev/null; then
    export NET W
    expect_sigsys "azote-net: a forbidden syscall once serving kills it (SIGSYS), named" \
        'azote-net: error: seccomp: net device process made forbidden syscall socket (41); killing the process' \
        unshare -n sh -c 'ip tuntap add azsc0 mode tap multi_queue &&
            AZOTE_SECCOMP_SELFTEST=net exec "$NET" --socket "$W/net.sock" --tap azsc0'
else
    tap_skip "azote-net: a forbidden syscall once serving kills it (SIGSYS), named" \
        "no private network namespace (unshare -n) or no ip here"
fi

tap_done
