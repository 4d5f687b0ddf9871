#!/usr/bin/env bash
# --xen: boot Debian's stock 6.1 kernel on azote's Xen HVM platform and check what the guest
# says: it found Xen (the configured version) and runs as an HVM guest, xenbus and xenstore
# came up (which needs the store's event channel working both ways), hvc0 (the PV console)
# reaches azote's stdout, and poweroff ends azote with status 0.
#
# Runs where /dev/kvm has KVM_CAP_XEN_HVM: the lab (tests/run.sh packs it there), e.g.
#   TESTS_SKIP_UNIT=1 TESTS_SKIP_HOST=1 TESTS_INTEGRATION=xen make test
set -uo pipefail
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
tap_done
