#!/usr/bin/env bash
# Boot Debian's stock kernels under azote and check what a user sees: the console,
# the CPU and memory counts the guest reports, and azote's exit status when the
# guest powers off (0), reboots (0) or panics (3, with a one-line message).
#
# Runs where /dev/kvm can boot a real kernel: inside the lab (tests/run.sh packs it
# there, assets in /lab/guest) or on a host with VT-x/AMD-V:
#   AZOTE=build/azote AZOTE_GUEST=$(scripts/guest-assets.sh --print-dir) tests/integration/boot.sh
# The guest initramfs's /init prints AZOTE-GUEST-READY, runs the kernel parameter
# azote_run="..." and prints AZOTE-RUN-EXIT <status> (scripts/guest-assets.sh).
set -uo pipefail
# shellcheck disable=SC1091 # tests/lib/tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../lib/lab-boot.sh"

AZOTE=${AZOTE:-azote}
GUEST=${AZOTE_GUEST:-/lab/guest}
BOOT_TIMEOUT=${AZOTE_BOOT_TIMEOUT:-90}
INITRD=$GUEST/initramfs.cpio.gz
CMDLINE="console=ttyS0 quiet"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
OUT=$WORK/stdout ERR=$WORK/stderr STATUS=

# boot WHAT AZOTE-ARGS...: one guest under azote; --exit-stats gives exits by reason and each
# vCPU's last RIP, to diagnose a hang.
boot() { vm_boot "$1" "$AZOTE" --exit-stats "${@:2}"; }

# Problems shared by every boot that should end in a clean power-off.
clean_exit_problems() {
    PROBLEMS=()
    [ "$STATUS" != 124 ] || PROBLEMS+=("no exit within ${BOOT_TIMEOUT}s")
    [ "$STATUS" = 0 ] || PROBLEMS+=("exit status $STATUS, expected 0")
    grep -qx AZOTE-GUEST-READY "$OUT.txt" || PROBLEMS+=("AZOTE-GUEST-READY missing from the console")
}

# The output of the guest's azote_run command (between the two markers).
run_output() { awk '/^AZOTE-RUN-EXIT /{ f = 0 } f; /^AZOTE-GUEST-READY$/{ f = 1 }' "$OUT.txt"; }

for f in "$GUEST/vmlinuz" "$GUEST/vmlinuz-cloud" "$INITRD"; do
    [ -f "$f" ] || { tap_result "guest assets present" "$f missing (set AZOTE_GUEST)"; tap_done; }
done

boot "stock kernel, 1 vCPU" --kernel "$GUEST/vmlinuz" --initrd "$INITRD" --cmdline "$CMDLINE" --cpus 1
clean_exit_problems
tap_result "stock kernel, 1 vCPU: boots to init, exit 0 on poweroff" "${PROBLEMS[@]}"

boot "stock kernel, 2 vCPUs, 256 MiB" --kernel "$GUEST/vmlinuz" --initrd "$INITRD" --cpus 2 --mem 256M \
    --cmdline "$CMDLINE azote_run=\"nproc; grep MemTotal /proc/meminfo\""
clean_exit_problems
grep -qx 'AZOTE-RUN-EXIT 0' "$OUT.txt" || PROBLEMS+=("AZOTE-RUN-EXIT 0 missing: the command failed or never ran")
tap_result "stock kernel, 2 vCPUs, 256 MiB: runs a command, exit 0" "${PROBLEMS[@]}"
cpus=$(run_output | grep -xE '[0-9]+' | head -n1)
if [ "$cpus" = 2 ]; then tap_result "--cpus 2: the guest sees 2 CPUs"
else tap_result "--cpus 2: the guest sees 2 CPUs" "nproc printed '${cpus:-nothing}'"; fi
# The stock 6.1 kernel keeps ~50 MiB of 256 for itself (QEMU microvm: 204 MiB).
mem_kib=$(run_output | awk '$1 == "MemTotal:" { print $2 }')
if [ -n "$mem_kib" ] && [ "$mem_kib" -ge $((190 * 1024)) ] && [ "$mem_kib" -le $((256 * 1024)) ]; then
    tap_result "--mem 256M: guest MemTotal ($mem_kib kB) between 190 and 256 MiB"
else
    tap_result "--mem 256M: guest MemTotal between 190 and 256 MiB" "MemTotal: ${mem_kib:-not printed} kB"
fi

boot "cloud kernel" --kernel "$GUEST/vmlinuz-cloud" --initrd "$INITRD" --cmdline "$CMDLINE"
clean_exit_problems
tap_result "cloud kernel: boots to init, exit 0 on poweroff" "${PROBLEMS[@]}"

boot "guest runs poweroff -f" --kernel "$GUEST/vmlinuz" --initrd "$INITRD" \
    --cmdline "$CMDLINE azote_run=\"poweroff -f\""
clean_exit_problems
tap_result "guest poweroff -f: exit 0" "${PROBLEMS[@]}"

boot "guest runs reboot -f" --kernel "$GUEST/vmlinuz" --initrd "$INITRD" \
    --cmdline "$CMDLINE azote_run=\"reboot -f\""
clean_exit_problems
tap_result "guest reboot -f: exit 0" "${PROBLEMS[@]}"

boot "guest panics" --kernel "$GUEST/vmlinuz" --initrd "$INITRD" \
    --cmdline "$CMDLINE azote_run=\"echo c > /proc/sysrq-trigger\""
PROBLEMS=()
[ "$STATUS" != 124 ] || PROBLEMS+=("no exit within ${BOOT_TIMEOUT}s")
[ "$STATUS" = 3 ] || PROBLEMS+=("exit status $STATUS, expected 3")
grep -qi panic "$ERR" || PROBLEMS+=("no stderr line mentions the panic")
tap_result "guest kernel panic: exit 3 with a message on stderr" "${PROBLEMS[@]}"

# SIGTERM while the guest runs: a clean, prompt exit with status 0 and a line saying why.
echo "# boot: SIGTERM while the guest runs"
# azote itself in the background (not under timeout, which would get the signal instead).
"$AZOTE" --kernel "$GUEST/vmlinuz" --initrd "$INITRD" --cpus 2 \
    --cmdline "$CMDLINE azote_run=\"sleep 600\"" </dev/null >"$OUT" 2>"$ERR" &
vm=$!
for _ in $(seq 300); do grep -q AZOTE-GUEST-READY "$OUT" 2>/dev/null && break; sleep 0.3; done
kill -TERM $vm
STATUS=
for _ in $(seq 50); do kill -0 $vm 2>/dev/null || break; sleep 0.1; done
kill -0 $vm 2>/dev/null && { STATUS=hung; kill -KILL $vm; }
wait $vm
rc=$?
[ -n "$STATUS" ] || STATUS=$rc
tap_indent "    | " <"$OUT"
tap_indent "    stderr| " <"$ERR"
PROBLEMS=()
grep -q AZOTE-GUEST-READY "$OUT" || PROBLEMS+=("the guest never reached init")
[ "$STATUS" = 0 ] || PROBLEMS+=("exit status $STATUS within 5 s of SIGTERM, expected 0")
grep -q 'stopped by SIGTERM' "$ERR" || PROBLEMS+=("no line says SIGTERM stopped it")
tap_result "SIGTERM: azote stops the guest and exits 0 within 5 s" "${PROBLEMS[@]}"

tap_done
