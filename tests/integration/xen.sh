#!/usr/bin/env bash
# --xen: boot Debian's stock 6.1 kernel on azote's Xen HVM platform and check what the guest
# says: it found Xen (the configured version) and runs as an HVM guest, xenbus and xenstore
# came up (which needs the store's event channel working both ways), hvc0 (the PV console)
# reaches azote's stdout, and poweroff ends azote with status 0.
#
# Runs where /dev/kvm has KVM_CAP_XEN_HVM: the lab (tests/run.sh packs it there), e.g.
#   TESTS_SKIP_UNIT=1 TESTS_SKIP_HOST=1 TESTS_INTEGRATION=xen make test
set -uo pipefail
# With a disk (--xen --disk path=IMG): the guest's stock xen-blkfront finds /dev/xvda, served by
# azote-blk --xen-blkif, reads a host-written pattern and writes 4 MiB that are on the host
# image after poweroff.
# shellcheck disable=SC1091 # tests/lib/tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../lib/lab-boot.sh"

AZOTE=${AZOTE:-azote}
GUEST=${AZOTE_GUEST:-/lab/guest}
BOOT_TIMEOUT=${AZOTE_BOOT_TIMEOUT:-150}
INITRD=$GUEST/initramfs.cpio.gz

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
OUT=$WORK/stdout ERR=$WORK/stderr STATUS=

for f in "$GUEST/vmlinuz" "$INITRD"; do
    [ -f "$f" ] || { tap_result "guest assets present" "$f missing (set AZOTE_GUEST)"; tap_done; }
done

# What the guest runs: its Xen view (dmesg, sysfs), a line through the PV console, xenstore's
# device directory through /proc/xen (xenfs), then it powers off.
RUN='dmesg | grep -i -e xen -e hvc -e hypervisor; echo hyp=$(cat /sys/hypervisor/type 2>&1) $(cat /sys/hypervisor/version/major 2>&1).$(cat /sys/hypervisor/version/minor 2>&1); ls /sys/bus/xen/devices; mount -t xenfs xenfs /proc/xen && ls /proc/xen; echo AZOTE-HVC-PING >/dev/hvc0; sleep 1'
vm_boot "stock kernel with --xen --xen-version 4.17" "$AZOTE" --exit-stats --xen --xen-version 4.17 \
    --kernel "$GUEST/vmlinuz" --initrd "$INITRD" \
    --cmdline "console=ttyS0 loglevel=4 azote_run=\"$RUN\""

PROBLEMS=()
[ "$STATUS" != 124 ] || PROBLEMS+=("no exit within ${BOOT_TIMEOUT}s")
[ "$STATUS" = 0 ] || PROBLEMS+=("exit status $STATUS, expected 0")
grep -qx AZOTE-GUEST-READY "$OUT.txt" || PROBLEMS+=("AZOTE-GUEST-READY missing from the console")
tap_result "--xen: the stock kernel boots to init, exit 0 on poweroff" "${PROBLEMS[@]}"

check() { # check WHAT PATTERN: an extended regex the console must match
    if grep -qE "$2" "$OUT.txt"; then tap_result "$1"; else tap_result "$1" "no line matches /$2/"; fi
}
check "--xen: the guest finds Xen 4.17" 'Xen version 4\.17'
check "--xen: the guest runs as a Xen HVM guest" 'Hypervisor detected: Xen HVM'
check "--xen: /sys/hypervisor says xen 4.17" '^hyp=xen 4\.17'
check "--xen: xenbus/xenstore initialised (xenfs lists xenbus)" '^xenbus$|xenbus'
check "--xen: hvc0 (PV console) output reaches azote's stdout" '^AZOTE-HVC-PING'
absent() { # absent WHAT PATTERN: no console line may match
    if grep -qE "$2" "$OUT.txt"; then tap_result "$1" "$(grep -E "$2" "$OUT.txt" | head -n1)"
    else tap_result "$1"; fi
}
absent "--xen: grant table set up (frames mapped)" 'grant table add_to_physmap failed|Failed to set up grant'
absent "--xen: xen-platform-pci binds the platform device" 'xen-platform-pci: probe .* failed'
absent "--xen: vCPU state readable from xenstore" 'cpu_hotplug: Unable to read cpu state'
if grep -q 'Xen Platform PCI: unrecognised magic value' "$OUT.txt"; then
    tap_result "--xen: the unplug protocol answers" "the guest saw no platform magic"
else
    tap_result "--xen: the unplug protocol answers"
fi

# --- PV block: xen-blkfront on a vbd served by azote-blk.
head -c $((8 << 20)) /dev/urandom >"$WORK/xvda.img"
truncate -s 16M "$WORK/xvda.img"
pattern_sha=$(head -c $((8 << 20)) "$WORK/xvda.img" | sha256sum | cut -c1-64)
first4_sha=$(head -c $((4 << 20)) "$WORK/xvda.img" | sha256sum | cut -c1-64)
RUN='for i in $(seq 100); do [ -b /dev/xvda ] && break; sleep 0.2; done; dmesg | grep -e blkfront -e xvda; echo XVDA-SHA $(head -c 8388608 /dev/xvda | sha256sum | cut -c1-64); dd if=/dev/xvda of=/dev/xvda bs=1M count=4 seek=8 conv=fsync 2>/dev/null && echo XVDA-WRITE ok; sync; echo XVDA-WSHA $(dd if=/dev/xvda bs=1M skip=8 count=4 2>/dev/null | sha256sum | cut -c1-64)'
vm_boot "--xen with a disk (xvda)" "$AZOTE" --exit-stats --xen \
    --kernel "$GUEST/vmlinuz" --initrd "$INITRD" --disk "path=$WORK/xvda.img" \
    --cmdline "console=ttyS0 loglevel=4 azote_run=\"$RUN\""
PROBLEMS=()
[ "$STATUS" = 0 ] || PROBLEMS+=("exit status $STATUS, expected 0")
grep -qx 'AZOTE-RUN-EXIT 0' "$OUT.txt" || PROBLEMS+=("the guest command did not finish with status 0")
tap_result "--xen --disk: the guest boots, runs, powers off with status 0" "${PROBLEMS[@]}"
check "--xen --disk: xen-blkfront finds xvda" 'blkfront: xvda'
got=$(awk '$1 == "XVDA-SHA" { print $2; exit }' "$OUT.txt")
[ "$got" = "$pattern_sha" ] && tap_result "--xen --disk: the guest reads the host pattern (sha256 matches)" ||
    tap_result "--xen --disk: the guest reads the host pattern (sha256 matches)" "guest saw ${got:-nothing}, host has $pattern_sha"
host_wsha=$(dd if="$WORK/xvda.img" bs=1M skip=8 count=4 2>/dev/null | sha256sum | cut -c1-64)
if grep -qx 'XVDA-WRITE ok' "$OUT.txt" && [ "$host_wsha" = "$first4_sha" ]; then
    tap_result "--xen --disk: 4 MiB written + flushed by the guest are on the host image"
else
    tap_result "--xen --disk: 4 MiB written + flushed by the guest are on the host image" \
        "host has $host_wsha at 8 MiB, expected $first4_sha (guest read back $(awk '$1 == "XVDA-WSHA" { print $2; exit }' "$OUT.txt"))"
fi
tap_done
