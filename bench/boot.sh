#!/usr/bin/env bash
# Boot benchmark (`make bench`): azote against QEMU's microvm machine, same guest, side by side.
#
# Boots Debian's stock kernel with the busybox test initramfs (scripts/guest-assets.sh) under
# azote and under `qemu-system-x86_64 -M microvm -enable-kvm`, alternately, with the same
# kernel, initrd, command line, 1 vCPU and 256 MiB, and prints per VMM: time from exec to the
# guest's AZOTE-GUEST-READY console line and to process exit, peak RSS, azote's own RSS and
# exec-to-first-KVM_RUN, and VM exits per boot by reason, port, MMIO address and MSR, counted
# for both VMMs by the same kernel tracepoints; then azote/QEMU ratios. Figures, not tests:
# nothing here judges a timing (the product targets are reported, never asserted).
#
# On a host without hardware virtualization (no vmx/svm, e.g. KVM's PVM module) all boots
# run inside ONE lab (scripts/lab.sh): compare the ratios there, not the absolute times.
#
# Environment:
#   BUILD                 build folder holding azote and bench/launch (default build)
#   BENCH_RUNS=5          timed boots per VMM
#   BENCH_TRACE_RUNS=1    boots per VMM that count exits (tracing stays out of the timed boots)
#   BENCH_CMDLINE         guest command line (default "console=ttyS0 quiet")
#   BENCH_OUT             where the log, the raw per-run table and the summary go
#                         (default $BUILD/bench)
#   BENCH_WAIT=1800       seconds to wait for other QEMU processes (other labs) to end
#                         before starting, so that they do not skew the timings; 0: no wait
#   BENCH_IN_LAB=1        use the lab even on a host with hardware virtualization
#   BENCH_LAB_CPUS=1      the lab's CPU count (see below why 1)
# Exit status: 0 when every boot reached the marker and exited 0; 1 otherwise; 2 on bad setup.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$(realpath -m "${BUILD:-$ROOT/build}")
AZOTE=$BUILD/azote
LAUNCH=$BUILD/bench/launch
RUNS=${BENCH_RUNS:-5}
TRACE_RUNS=${BENCH_TRACE_RUNS:-1}
OUT=${BENCH_OUT:-$BUILD/bench}
QEMU_DATA_SRC=/usr/share/qemu
# The only data files microvm opens: its firmware (Debian's bios-microvm.bin is a link to
# qboot.rom) and the Linux-boot option ROM it registers even though qboot loads the kernel.
QEMU_DATA_FILES=(bios-microvm.bin linuxboot_dma.bin)

die() { echo "bench: $*" >&2; exit 2; }

for b in "$AZOTE" "$LAUNCH"; do [ -x "$b" ] || die "$b missing: run \`make bench\`"; done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive number, got '$RUNS'"
[[ $TRACE_RUNS =~ ^[0-9]+$ ]] || die "BENCH_TRACE_RUNS must be a number, got '$TRACE_RUNS'"
QEMU=$(command -v qemu-system-x86_64) || die "qemu-system-x86_64 not found (scripts/deps.sh installs it)"
for f in "${QEMU_DATA_FILES[@]}"; do
    [ -f "$QEMU_DATA_SRC/$f" ] || die "$QEMU_DATA_SRC/$f missing (package qemu-system-data)"
done
ASSETS=$("$ROOT/scripts/guest-assets.sh" --print-dir) || die "guest assets unavailable"

# Other QEMU processes (another lab) would share our two CPUs and skew the timings.
wait_for_other_qemus() {
    local max=${BENCH_WAIT:-1800} waited=0 others
    while others=$(pgrep -f '^qemu-system-' | wc -l) && [ "$others" -gt 0 ]; do
        if [ "$waited" -ge "$max" ]; then
            echo "bench: $others other QEMU process(es) still running after ${max}s; going on, timings may be skewed" >&2
            return
        fi
        [ "$waited" -gt 0 ] || echo "bench: waiting for $others other QEMU process(es) (labs) to end (BENCH_WAIT=${max}s)" >&2
        sleep 10
        waited=$((waited + 10))
    done
}

mkdir -p "$OUT"
STAMP=$(date +%Y%m%d-%H%M%S)
LOG=$OUT/boot-$STAMP.log RAW=$OUT/boot-$STAMP.tsv SUMMARY=$OUT/boot-$STAMP.txt
BENCH_ENV=(BENCH_RUNS="$RUNS" BENCH_TRACE_RUNS="$TRACE_RUNS")
[ -z "${BENCH_CMDLINE:-}" ] || BENCH_ENV+=(BENCH_CMDLINE="$BENCH_CMDLINE")

if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -z "${BENCH_IN_LAB:-}" ]; then
    echo "bench: $RUNS timed boots per VMM on this host's /dev/kvm"
    env "${BENCH_ENV[@]}" BENCH_GUEST="$ASSETS" BENCH_QEMU_DATA="$QEMU_DATA_SRC" \
        BENCH_AZOTE="$AZOTE" BENCH_LAUNCH="$LAUNCH" BENCH_QEMU="$QEMU" \
        bash "$ROOT/bench/boot-run.sh" 2>&1 | tee "$LOG" | grep --line-buffered -v '^BENCH '
    status=${PIPESTATUS[0]}
else
    wait_for_other_qemus
    echo "bench: no hardware virtualization here: $RUNS timed + $TRACE_RUNS traced boots per VMM inside one lab" \
        "(each guest boot takes ~10 s there)"
    # One lab CPU: the lab's TCG is single-threaded (scripts/lab.sh), and with two lab CPUs
    # taking turns on that thread QEMU microvm guests hung in most boots (spinning after
    # "mousedev: PS/2 mouse device common for all mice"); with one, both VMMs' threads share
    # the same CPU alike, and the lab takes one host CPU.
    lab_args=(-s "${BENCH_LAB_CPUS:-1}" -b "$AZOTE" -b "$LAUNCH" -b "$QEMU"
        -f "$ROOT/bench/boot-run.sh:/lab/bench/boot-run.sh")
    for f in "${QEMU_DATA_FILES[@]}"; do lab_args+=(-f "$QEMU_DATA_SRC/$f:/lab/qemu/$f"); done
    printf -v cmd '%q ' env "${BENCH_ENV[@]}" bash /lab/bench/boot-run.sh
    # A guest boot takes 10-20 s in the lab; allow for 3 minutes each before giving up.
    export LAB_TIMEOUT=${LAB_TIMEOUT:-$((300 + (RUNS + TRACE_RUNS) * 2 * 180))}
    "$ROOT/scripts/lab.sh" "${lab_args[@]}" -- "$cmd" 2>&1 | tee "$LOG" | grep --line-buffered -v '^BENCH '
    status=${PIPESTATUS[0]}
fi

echo
tr -d '\r' <"$LOG" | awk -v raw="$RAW" -f "$ROOT/bench/boot-summary.awk" | tee "$SUMMARY"
echo
echo "bench: console log $LOG"
echo "bench: per-run figures $RAW, summary $SUMMARY"
if ! tr -d '\r' <"$LOG" | grep -q '^BENCH done failed=0$'; then
    echo "bench: some boots failed or the run did not finish (status $status): see the log" >&2
    exit 1
fi
