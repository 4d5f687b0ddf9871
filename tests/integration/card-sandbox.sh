#!/usr/bin/env bash
# The device processes azote starts are sandboxed: azote-blk and azote-net run in other mount,
# network and IPC namespaces than azote, with no_new_privs, no capability, an empty root (no
# /dev/kvm, no image by path) and no fd but theirs (the image or tap queues azote opened for
# them, their socket, their counters page, the event fds and rings they made); azote's own fd
# limit is the computed cap, not the shell's.
#
# Runs inside the lab (tests/run.sh packs azote, its cards and iproute2's ip there) or on a
# host with VT-x/AMD-V, as root, in a network namespace of its own (it makes a tap):
#   AZOTE=build/azote AZOTE_GUEST=$(scripts/guest-assets.sh --print-dir) tests/integration/card-sandbox.sh
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"

AZOTE=${AZOTE:-azote}
GUEST=${AZOTE_GUEST:-/lab/guest}
# iproute2's ip by its full path: busybox's applet has no `tuntap`.
IP=$(PATH=/lab/bin:/usr/sbin:/sbin:$PATH command -v ip)
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; "$IP" link del azsb0 2>/dev/null; rm -rf "$WORK"' EXIT
truncate -s 16M "$WORK/disk.img"

net_args=()
if [ -n "$IP" ] && "$IP" tuntap add azsb0 mode tap multi_queue 2>/dev/null; then
    net_args=(--net tap=azsb0)
else
    tap_skip "azote-net: sandboxed" "cannot make a tap here"
fi

# The guest only has to keep the VM up while the cards are looked at.
"$AZOTE" --kernel "$GUEST/vmlinuz" --initrd "$GUEST/initramfs.cpio.gz" --cpus 2 --mem 256M \
    --cmdline "console=ttyS0 quiet" --disk "path=$WORK/disk.img" "${net_args[@]}" \
    </dev/null >"$WORK/out" 2>"$WORK/err" &
azote=$!

# LeakSanitizer builds (make asan) keep /proc in the cards' root for the leak check at exit.
LSAN_PROC=-
grep -qa __lsan_do_leak_check "$(command -v "$AZOTE")" && LSAN_PROC=proc

# card PROGRAM: the pid of azote's child running PROGRAM, once it has dropped its privileges.
card() {
    local i c
    for i in $(seq 100); do
        for c in $(cat "/proc/$azote/task/$azote/children" 2>/dev/null); do
            [ "$(basename "$(readlink "/proc/$c/exe")")" = "$1" ] &&
                grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$c/status" && { echo "$c"; return; }
        done
        kill -0 "$azote" 2>/dev/null || return
        sleep 0.1
    done
}

# problems PID FILE...: what is wrong with the card's sandbox; FILE... are the only files it
# may hold by path (the guest's RAM, a memfd, aside).
problems() {
    local pid=$1 st=/proc/$1/status c n f l
    shift
    grep -q '^NoNewPrivs:[[:space:]]*1$' "$st" || echo "no_new_privs not set"
    for c in CapEff CapPrm CapBnd CapAmb; do
        grep -Eq "^$c:[[:space:]]*0+$" "$st" || echo "$(grep "^$c" "$st"), expected none"
    done
    for n in mnt net ipc; do
        [ "$(readlink "/proc/$pid/ns/$n")" != "$(readlink "/proc/$azote/ns/$n")" ] ||
            echo "in azote's $n namespace"
    done
    [ -z "$(ls -A "/proc/$pid/root/" 2>&1 | grep -vx "$LSAN_PROC")" ] ||
        echo "its root is not empty: $(ls -A "/proc/$pid/root/" | tr '\n' ' ')"
    for f in /proc/"$pid"/fd/*; do
        l=$(readlink "$f") || continue
        case $l in
        socket:* | anon_inode:* | /memfd:* | /dev/null | "$WORK/out" | "$WORK/err") ;;
        *) printf '%s\n' "$@" | grep -qxF -- "$l" || echo "fd ${f##*/} -> $l" ;;
        esac
    done
    [ "$(ls "/proc/$pid/fd" | wc -l)" -le 64 ] || echo "$(ls "/proc/$pid/fd" | wc -l) fds"
}

blk=$(card azote-blk)
if [ -z "$blk" ]; then
    tap_result "azote-blk: sandboxed by azote" "no sandboxed azote-blk: $(tr '\n' '|' <"$WORK/err")"
else
    mapfile -t p < <(problems "$blk" "$WORK/disk.img")
    tap_result "azote-blk: own namespaces, no privileges, empty root, only its fds" "${p[@]}"
fi
if [ ${#net_args[@]} -gt 0 ]; then
    net=$(card azote-net)
    if [ -z "$net" ]; then
        tap_result "azote-net: sandboxed by azote" "no sandboxed azote-net: $(tr '\n' '|' <"$WORK/err")"
    else
        mapfile -t p < <(problems "$net" /dev/net/tun)
        tap_result "azote-net: own namespaces, no privileges, empty root, only its fds" "${p[@]}"
    fi
fi
nofile=$(awk '/^Max open files/ { print $4 }' "/proc/$azote/limits")
[ -n "$nofile" ] && [ "$nofile" -le 4096 ] && tap_result "azote's fd limit is its computed cap ($nofile)" ||
    tap_result "azote's fd limit is its computed cap" "Max open files: ${nofile:-unknown}"

kill -TERM "$azote" 2>/dev/null
wait "$azote"
status=$?
[ "$status" = 0 ] && tap_result "azote ends cleanly on SIGTERM with sandboxed cards" ||
    tap_result "azote ends cleanly on SIGTERM with sandboxed cards" "status $status: $(tr '\n' '|' <"$WORK/err")"
tap_done
