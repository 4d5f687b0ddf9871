#!/usr/bin/env bash
# `make run`: boot Debian's stock kernel under azote with the busybox test guest.
#
# On a terminal you get a shell in the guest (kernel parameter azote_shell=1);
# `poweroff -f` ends it. When stdin is not a terminal (CI) the guest runs
# `uname -a; nproc` instead and powers off, and this script exits with azote's status.
#
# azote needs hardware virtualization to boot a stock kernel at a useful speed. On
# a host without it (no vmx/svm in /proc/cpuinfo, e.g. KVM's PVM module) the same
# command runs inside the lab (scripts/lab.sh), a QEMU machine whose emulated CPU
# has SVM; there the terminal is QEMU's serial console and Ctrl-A x leaves QEMU.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$(realpath -m "${BUILD:-$ROOT/build}")
AZOTE=$BUILD/azote
[ -x "$AZOTE" ] || { echo "run-demo: $AZOTE is not built (run make)" >&2; exit 2; }
ASSETS=$("$ROOT/scripts/guest-assets.sh" --print-dir)

if [ -t 0 ]; then
    INTERACTIVE=1
    GUEST_CMDLINE="console=ttyS0 quiet azote_shell=1"
else
    INTERACTIVE=0
    GUEST_CMDLINE='console=ttyS0 quiet azote_run="uname -a; nproc"'
fi
GUEST_ARGS=(--cpus 2 --mem 256M --cmdline "$GUEST_CMDLINE")

if grep -qwE 'vmx|svm' /proc/cpuinfo; then
    [ "$INTERACTIVE" = 0 ] || echo "run-demo: a busybox shell in the guest; poweroff -f ends it"
    exec "$AZOTE" --kernel "$ASSETS/vmlinuz" --initrd "$ASSETS/initramfs.cpio.gz" "${GUEST_ARGS[@]}"
fi

echo "run-demo: no vmx/svm in /proc/cpuinfo (no hardware virtualization), so azote runs inside the QEMU lab;" \
    "$([ "$INTERACTIVE" = 1 ] && echo "poweroff -f ends the guest, Ctrl-A x quits QEMU" || echo "takes about a minute")"
LAB_ARGS=(-b "$AZOTE")
[ "$INTERACTIVE" = 0 ] || LAB_ARGS+=(-i)
printf -v cmd '%q ' azote --kernel /lab/guest/vmlinuz --initrd /lab/guest/initramfs.cpio.gz "${GUEST_ARGS[@]}"
exec "$ROOT/scripts/lab.sh" "${LAB_ARGS[@]}" -- "$cmd"
