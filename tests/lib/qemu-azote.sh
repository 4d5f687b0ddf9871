#!/usr/bin/env bash
# A stand-in for azote's CLI built on QEMU's microvm machine with KVM.
#
# Usage: same as azote: --kernel PATH [--initrd PATH] [--cmdline STR] [--cpus N] [--mem SIZE]
# Exit status like azote's: 0 when the guest powers off or reboots, 3 when it
# panics (one line on stderr says so), 1 otherwise.
#
# Why: `TESTS_AZOTE_STANDIN=qemu tests/run.sh` runs the integration tests against
# this instead of azote, which tells whether a failure lies in the tests, the lab
# or the guest assets rather than in azote. Not a reference for azote's behaviour
# beyond the exit statuses and markers the tests check.
set -uo pipefail

kernel='' initrd='' cmdline='' cpus=1 mem=256M
while [ $# -gt 0 ]; do
    case $1 in
        --kernel) kernel=$2; shift 2 ;;
        --initrd) initrd=$2; shift 2 ;;
        --cmdline) cmdline=$2; shift 2 ;;
        --cpus) cpus=$2; shift 2 ;;
        --mem) mem=$2; shift 2 ;;
        *) echo "qemu-azote: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -n "$kernel" ] || { echo "qemu-azote: --kernel is required" >&2; exit 2; }

args=(-L /usr/share/qemu -M microvm -enable-kvm -cpu host -smp "$cpus" -m "$mem"
    -nodefaults -no-user-config -display none -serial stdio -no-reboot
    -device pvpanic -action panic=exit-failure -kernel "$kernel"
    # microvm under nested KVM re-enters its firmware on a keyboard-controller
    # reset instead of honouring -no-reboot; a triple fault does stop it.
    -append "$cmdline reboot=t")
[ -z "$initrd" ] || args+=(-initrd "$initrd")

console=$(mktemp)
trap 'rm -f "$console"' EXIT
qemu-system-x86_64 "${args[@]}" | tee "$console"
status=${PIPESTATUS[0]}
if grep -q 'Kernel panic - not syncing' "$console"; then
    echo "qemu-azote: guest kernel panic: $(grep -m1 -o 'Kernel panic - not syncing.*' "$console" | tr -d '\r')" >&2
    exit 3
fi
[ "$status" -eq 0 ] || exit 1
