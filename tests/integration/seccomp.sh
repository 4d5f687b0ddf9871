#!/usr/bin/env bash
# seccomp filters on a real VM: a guest with a disk and a network interface boots at
# --seccomp-level 2, writes and reads its disk, pings the TAP end and powers off with status 0,
# and no filter ever fires; then, for each role (vcpu, vmm, blk, net), the AZOTE_SECCOMP_SELFTEST
# hook makes that role's thread or process call a syscall its filter refuses, and the process
# dies by SIGSYS with one line naming the role and the syscall (a card's death is azote's to
# report, and the VM does not start).
#
# Runs inside the lab (tests/run.sh packs azote, the cards and iproute2's ip there), or on a
# host with VT-x/AMD-V inside a network namespace of its own:
#   unshare -n env AZOTE=build/azote AZOTE_GUEST=$(scripts/guest-assets.sh --print-dir) \
#       tests/integration/seccomp.sh
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../lib/lab-boot.sh"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

AZOTE=${AZOTE:-azote}
GUEST=${AZOTE_GUEST:-/lab/guest}
BOOT_TIMEOUT=${AZOTE_BOOT_TIMEOUT:-90}
CMDLINE="console=ttyS0 quiet"
IP=$(PATH=/lab/bin:/usr/sbin:/sbin:$PATH command -v ip)
TAP=tapsc0

WORK=$(mktemp -d)
trap '"$IP" link del $TAP 2>/dev/null; rm -rf "$WORK"' EXIT
OUT=$WORK/stdout ERR=$WORK/stderr STATUS=
# A process killed by SIGSYS dumps core by default; azote's would hold the guest's RAM.
ulimit -c 0

if [ -z "$IP" ] || ! "$IP" tuntap add $TAP mode tap multi_queue ||
    ! "$IP" addr add 10.0.9.1/24 dev $TAP || ! "$IP" link set $TAP up; then
    tap_result "set up $TAP" "ip tuntap/addr/link failed (iproute2's ip: '${IP:-none}')"
    tap_done
fi
mkdir "$WORK/extra"
cp "$HERE/../guest/net-guest.sh" "$WORK/extra/"
(cd "$WORK/extra" && echo net-guest.sh | cpio -o -H newc 2>/dev/null) >"$WORK/extra.cpio"
INITRD=$WORK/initrd
# The kernel looks for an appended uncompressed archive at a 4-byte boundary only: zero-pad.
size=$(stat -c %s "$GUEST/initramfs.cpio.gz")
{ cat "$GUEST/initramfs.cpio.gz"; head -c $(((4 - size % 4) % 4)) /dev/zero; cat "$WORK/extra.cpio"; } >"$INITRD"
truncate -s 16M "$WORK/disk.img"
MAC=02:00:00:00:00:5c

guest_value() { awk -v k="$1" '$1 == k { print $2; exit }' "$OUT.txt"; }
VM=(--exit-stats --cpus 2 --mem 256M --kernel "$GUEST/vmlinuz" --initrd "$INITRD"
    --disk "path=$WORK/disk.img" --net "tap=$TAP,mac=$MAC")

# --- Level 2, everything used: disk I/O both ways, a ping, a clean power-off, --exit-stats.
head -c $((4 << 20)) /dev/urandom >"$WORK/pattern"
vm_boot "level 2: disk and network I/O" "$AZOTE" --seccomp-level 2 "${VM[@]}" \
    --cmdline "$CMDLINE azote_run=\"dd if=/dev/urandom of=/dev/vda bs=1M count=4 conv=fsync 2>/dev/null && echo DD-WRITE ok; echo 3 > /proc/sys/vm/drop_caches; echo DD-READ \$(dd if=/dev/vda bs=1M count=4 iflag=direct 2>/dev/null | wc -c); sh /net-guest.sh $MAC 10.0.9.2 10.0.9.1\""
PROBLEMS=()
[ "$STATUS" = 0 ] || PROBLEMS+=("azote exit status $STATUS, expected 0")
grep -qx AZOTE-GUEST-READY "$OUT.txt" || PROBLEMS+=("no AZOTE-GUEST-READY on the console")
grep -qx 'AZOTE-RUN-EXIT 0' "$OUT.txt" || PROBLEMS+=("the guest's commands did not finish with status 0")
[ "$(guest_value DD-WRITE)" = ok ] || PROBLEMS+=("the guest could not write its disk")
[ "$(guest_value DD-READ)" = $((4 << 20)) ] || PROBLEMS+=("the guest read $(guest_value DD-READ) bytes back, expected 4 MiB")
[ "$(guest_value PING-10.0.9.1)" = ok ] || PROBLEMS+=("the guest could not ping the TAP end")
! grep -q 'seccomp:' "$ERR" || PROBLEMS+=("a filter fired: $(grep 'seccomp:' "$ERR" | head -3 | tr -d '\r' | tr '\n' '|')")
grep -q 'exits: total=' "$ERR" || PROBLEMS+=("no --exit-stats report (made under the vmm filter)")
tap_result "level 2: disk and network I/O, ping, power-off with status 0, no filter fires" "${PROBLEMS[@]}"

# selftest ROLE WHAT LINE [AZOTE-ARGS...]: the hook makes ROLE break its filter.
selftest() {
    local role=$1 what=$2 line=$3
    shift 3
    vm_boot "AZOTE_SECCOMP_SELFTEST=$role" env AZOTE_SECCOMP_SELFTEST="$role" "$AZOTE" "$@"
    tr -d '\r' <"$ERR" >"$ERR.txt"
    PROBLEMS=()
    grep -qF -- "$line" "$ERR.txt" || PROBLEMS+=("no stderr line '$line'")
    [ "$(grep -c 'forbidden syscall' "$ERR.txt")" = 1 ] || PROBLEMS+=("not exactly one seccomp line")
    ! grep -q AZOTE-RUN-EXIT "$OUT.txt" || PROBLEMS+=("the guest ran its commands")
}

selftest vcpu "vCPU thread" "azote: error: seccomp: vcpu thread made forbidden syscall socket (41); killing the process" "${VM[@]}"
[ "$STATUS" = $((128 + 31)) ] || PROBLEMS+=("azote exit status $STATUS, expected 159 (killed by SIGSYS)")
tap_result "vcpu: a forbidden syscall kills azote by SIGSYS, the line names it" "${PROBLEMS[@]}"

selftest vmm "VMM thread" "azote: error: seccomp: vmm thread made forbidden syscall socket (41); killing the process" "${VM[@]}"
[ "$STATUS" = $((128 + 31)) ] || PROBLEMS+=("azote exit status $STATUS, expected 159 (killed by SIGSYS)")
tap_result "vmm: a forbidden syscall kills azote by SIGSYS, the line names it" "${PROBLEMS[@]}"

# A card dies as soon as it serves, before answering azote's first vhost-user message: azote
# reports the device and stops (nothing ran), or reaps the card and names the signal.
card_reported() {
    [ "$STATUS" != 124 ] || PROBLEMS+=("azote still running after ${BOOT_TIMEOUT}s")
    [ "$STATUS" != 0 ] || grep -q "killed by signal SYS" "$ERR.txt" ||
        PROBLEMS+=("azote exited 0 without reporting the card's death")
    grep -q "$1" "$ERR.txt" || PROBLEMS+=("no azote line names '$1'")
}
selftest blk "azote-blk" "azote-blk: error: seccomp: blk device process made forbidden syscall socket (41); killing the process" "${VM[@]}"
card_reported "disk vda"
tap_result "blk: a forbidden syscall kills azote-blk by SIGSYS, the line names it; azote reports it" "${PROBLEMS[@]}"

selftest net "azote-net" "azote-net: error: seccomp: net device process made forbidden syscall socket (41); killing the process" "${VM[@]}"
card_reported "net eth0"
tap_result "net: a forbidden syscall kills azote-net by SIGSYS, the line names it; azote reports it" "${PROBLEMS[@]}"

tap_done
