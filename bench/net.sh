#!/usr/bin/env bash
# Network benchmark (`make bench-net`): iperf3 between a guest and the host end of a TAP device,
# guest -> host and host -> guest (iperf3 -R), 1 and 4 streams, and the guest's ping of the TAP
# end, azote (virtio-net served by the azote-net device process over vhost-user) and QEMU
# (-netdev tap,vhost=off -device virtio-net-pci) side by side in one run, alternating. Prints
# Gbit/s and round trips (medians over the rounds), the ratios azote/QEMU, interrupts and VM
# exits per packet. Figures, not tests: the product targets (>= 1.2x QEMU's throughput,
# <= 0.8x its round trip) are reported, never asserted.
#
# On a host without hardware virtualization (no vmx/svm, e.g. KVM's PVM module) everything runs
# inside ONE lab (scripts/lab.sh, QEMU TCG with nested SVM): compare the ratios there, not the
# absolute figures.
#
# Environment (see bench/net-run.sh for the rest, passed through: BENCH_TIME, BENCH_OMIT,
# BENCH_TESTS, BENCH_PING_COUNT, BENCH_PING_INTERVAL, BENCH_CPUS, BENCH_MEM, BENCH_VMMS,
# BENCH_AZOTE_TAP_MQ, BENCH_VERBOSE, BENCH_READY_TIMEOUT, BENCH_BOOT_TIMEOUT):
#   BUILD                 build folder holding azote and azote-net (default build)
#   BENCH_RUNS=3          rounds (one azote boot and one QEMU boot each)
#   BENCH_TRACE_RUNS=1    boots per VMM, first, that count VM exits (left out of the figures)
#   BENCH_OUT             where the log, the raw per-run table and the summary go ($BUILD/bench)
#   BENCH_WAIT=1800       seconds to wait for other QEMU processes (other labs) to end first
#   BENCH_IN_LAB=1        use the lab even on a host with hardware virtualization
#   BENCH_LAB_CPUS=1      the lab's CPU count; BENCH_LAB_MEM=2048 its RAM in MiB
# Exit status: 0 when every run finished; 1 otherwise; 2 on bad setup.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$(realpath -m "${BUILD:-$ROOT/build}")
AZOTE=$BUILD/azote
NET=$BUILD/azote-net
RUNS=${BENCH_RUNS:-3}
TRACE_RUNS=${BENCH_TRACE_RUNS:-1}
OUT=${BENCH_OUT:-$BUILD/bench}
VMMS=${BENCH_VMMS:-azote qemu}
# QEMU's q35 firmware (SeaBIOS) and option ROMs, as tests/run.sh packs them.
QEMU_DATA_DIRS=(/usr/share/seabios /usr/share/qemu)

die() { echo "bench: $*" >&2; exit 2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if [[ " $VMMS " == *" azote "* ]]; then
    for b in "$AZOTE" "$NET"; do [ -x "$b" ] || die "$b missing: run \`make bench-net\`"; done
fi
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive number, got '$RUNS'"
[[ $TRACE_RUNS =~ ^[0-9]+$ ]] || die "BENCH_TRACE_RUNS must be a number, got '$TRACE_RUNS'"

# iperf3 is the benchmark's own dependency (Debian's package); scripts/deps.sh does not carry it.
if ! command -v iperf3 >/dev/null; then
    echo "bench: installing iperf3 (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get install -y -qq --no-install-recommends iperf3 >/dev/null ||
        { as_root apt-get update -qq && as_root apt-get install -y -qq --no-install-recommends iperf3 >/dev/null; } ||
        die "cannot install iperf3"
fi
IPERF=$(readlink -f "$(command -v iperf3)")
QEMU=$(command -v qemu-system-x86_64) || die "qemu-system-x86_64 not found (scripts/deps.sh installs it)"
# iproute2's ip, by path: busybox's (first on the lab's PATH for applets) has no tuntap.
IP=$(PATH=/usr/sbin:/sbin:/usr/bin:/bin command -v ip) || die "iproute2's ip not found"
for d in "${QEMU_DATA_DIRS[@]}"; do [ -d "$d" ] || die "$d missing (packages seabios, qemu-system-data)"; done
ASSETS=$("$ROOT/scripts/guest-assets.sh" --print-dir) || die "guest assets unavailable"

mkdir -p "$OUT"
STAMP=$(date +%Y%m%d-%H%M%S)
LOG=$OUT/net-$STAMP.log RAW=$OUT/net-$STAMP.tsv SUMMARY=$OUT/net-$STAMP.txt
# What iperf3 loads: it goes into the guest's initramfs at the same paths.
# shellcheck source=bench/lib-guest.sh
. "$ROOT/bench/lib-guest.sh"
IPERF_FILES=$OUT/net-$STAMP.iperf3-files
bench_binary_files "$IPERF" >"$IPERF_FILES" || die "ldd $IPERF failed"

BENCH_ENV=(BENCH_RUNS="$RUNS" BENCH_TRACE_RUNS="$TRACE_RUNS" BENCH_VMMS="$VMMS")
for v in BENCH_TIME BENCH_OMIT BENCH_TESTS BENCH_PING_COUNT BENCH_PING_INTERVAL BENCH_CPUS BENCH_MEM \
    BENCH_AZOTE_TAP_MQ BENCH_VERBOSE BENCH_READY_TIMEOUT BENCH_BOOT_TIMEOUT; do
    [ -z "${!v:-}" ] || BENCH_ENV+=("$v=${!v}")
done

# Other QEMU processes (another lab) would share our two CPUs and skew the figures.
wait_for_other_qemus() {
    local max=${BENCH_WAIT:-1800} waited=0 others
    while others=$(pgrep -f '^qemu-system-' | wc -l) && [ "$others" -gt 0 ]; do
        if [ "$waited" -ge "$max" ]; then
            echo "bench: $others other QEMU process(es) still running after ${max}s; going on, figures may be skewed" >&2
            return
        fi
        [ "$waited" -gt 0 ] || echo "bench: waiting for $others other QEMU process(es) (labs) to end (BENCH_WAIT=${max}s)" >&2
        sleep 10
        waited=$((waited + 10))
    done
}

ntests=$(wc -w <<<"${BENCH_TESTS:-up1 up4 down1 down4}")
nvmms=$(wc -w <<<"$VMMS")
if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -z "${BENCH_IN_LAB:-}" ]; then
    echo "bench: $RUNS rounds on this host's /dev/kvm, in a network namespace of its own"
    # shellcheck disable=SC2016 # $0 is expanded by the inner bash
    as_root unshare -n env "${BENCH_ENV[@]}" BENCH_GUEST="$ASSETS" BENCH_IPERF_FILES="$IPERF_FILES" \
        BENCH_AZOTE="$AZOTE" BENCH_QEMU="$QEMU" BENCH_IPERF="$IPERF" BENCH_IP="$IP" \
        bash -c 'ip link set lo up 2>/dev/null; exec bash "$0"' "$ROOT/bench/net-run.sh" 2>&1 |
        tee "$LOG" | grep --line-buffered -v '^BENCH '
    status=${PIPESTATUS[0]}
else
    wait_for_other_qemus
    echo "bench: no hardware virtualization here: $TRACE_RUNS traced boot(s) per VMM, then $RUNS rounds" \
        "($VMMS) inside one lab; about 2 minutes per boot, 15-20 minutes in all with the defaults"
    # One lab CPU, as bench/boot.sh and bench/blk.sh: the lab's TCG is single-threaded, and
    # with two lab CPUs taking turns on it guests hang; with one, every thread (vCPU, device
    # process, QEMU's main loop, the iperf3 server) shares the same CPU alike.
    lab_args=(-s "${BENCH_LAB_CPUS:-1}" -m "${BENCH_LAB_MEM:-2048}" -b "$QEMU" -b "$IPERF" -b "$IP"
        -f "$ROOT/bench/net-run.sh:/lab/bench/net-run.sh" -f "$ROOT/bench/net-guest.sh:/lab/bench/net-guest.sh"
        -f "$ROOT/bench/lib-guest.sh:/lab/bench/lib-guest.sh" -f "$IPERF_FILES:/lab/bench/iperf3-files")
    [[ " $VMMS " != *" azote "* ]] || lab_args+=(-b "$AZOTE" -b "$NET")
    for d in "${QEMU_DATA_DIRS[@]}"; do lab_args+=(-f "$d:$d"); done
    printf -v cmd '%q ' env "${BENCH_ENV[@]}" BENCH_IP=/lab/bin/ip bash /lab/bench/net-run.sh
    # A boot with its tests takes 1-3 minutes in the lab; allow 10 per boot.
    export LAB_TIMEOUT=${LAB_TIMEOUT:-$((600 + (RUNS + TRACE_RUNS) * nvmms * (300 + ntests * 60)))}
    "$ROOT/scripts/lab.sh" "${lab_args[@]}" -- "$cmd" 2>&1 | tee "$LOG" | grep --line-buffered -v '^BENCH '
    status=${PIPESTATUS[0]}
fi

echo
tr -d '\r' <"$LOG" | awk -v raw="$RAW" -f "$ROOT/bench/net-summary.awk" | tee "$SUMMARY"
echo
echo "bench: console log $LOG"
echo "bench: per-run figures $RAW, summary $SUMMARY"
if ! tr -d '\r' <"$LOG" | grep -q '^BENCH done failed=0$'; then
    echo "bench: some runs failed or the run did not finish (status $status): see the log" >&2
    exit 1
fi
