#!/usr/bin/env bash
# Storage benchmark (`make bench-blk`): fio against one disk image on tmpfs, three ways side by
# side in one run: fio on the (lab) host directly, fio in an azote guest (virtio-blk served by
# azote-blk), fio in a QEMU guest (`-device virtio-blk-pci` on `-drive aio=io_uring`). Jobs:
# 4 KiB random read, 4 KiB random write, 1 MiB sequential read, each at iodepth 32. Prints IOPS
# and bandwidth (medians), the ratios azote/QEMU, azote/host and QEMU/host, VM exits per disk
# request during the fio phase, and where the CPU time went. Figures, not tests: the product
# targets (4 KiB random read >= 90% of host IOPS and >= 1.2x QEMU's) are reported, never asserted.
#
# On a host without hardware virtualization (no vmx/svm, e.g. KVM's PVM module) everything runs
# inside ONE lab (scripts/lab.sh, QEMU TCG with nested SVM): compare the ratios there, not the
# absolute figures.
#
# Environment (see bench/blk-run.sh for the rest, passed through: BENCH_RUNTIME, BENCH_RAMP,
# BENCH_IODEPTH, BENCH_IOENGINE, BENCH_CPUS, BENCH_MEM, BENCH_IMG_MIB, BENCH_VERBOSE):
#   BUILD                 build folder holding azote and azote-blk (default build)
#   BENCH_RUNS=3          rounds (host fio, one azote boot, one QEMU boot each)
#   BENCH_TRACE_RUNS=1    boots per VMM, first, that count VM exits (left out of the figures)
#   BENCH_OUT             where the log, the raw per-run table and the summary go ($BUILD/bench)
#   BENCH_WAIT=1800       seconds to wait for other QEMU processes (other labs) to end first
#   BENCH_IN_LAB=1        use the lab even on a host with hardware virtualization
#   BENCH_LAB_CPUS=1      the lab's CPU count; BENCH_LAB_MEM=4096 its RAM in MiB
# Exit status: 0 when every run finished; 1 otherwise; 2 on bad setup.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$(realpath -m "${BUILD:-$ROOT/build}")
AZOTE=$BUILD/azote
BLK=$BUILD/azote-blk
RUNS=${BENCH_RUNS:-3}
TRACE_RUNS=${BENCH_TRACE_RUNS:-1}
OUT=${BENCH_OUT:-$BUILD/bench}
# QEMU's q35 firmware (SeaBIOS) and option ROMs, as tests/run.sh packs them.
QEMU_DATA_DIRS=(/usr/share/seabios /usr/share/qemu)

die() { echo "bench: $*" >&2; exit 2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

for b in "$AZOTE" "$BLK"; do [ -x "$b" ] || die "$b missing: run \`make bench-blk\`"; done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive number, got '$RUNS'"
[[ $TRACE_RUNS =~ ^[0-9]+$ ]] || die "BENCH_TRACE_RUNS must be a number, got '$TRACE_RUNS'"

# fio is the benchmark's own dependency (Debian's package); scripts/deps.sh does not carry it.
if ! command -v fio >/dev/null; then
    echo "bench: installing fio (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get install -y -qq --no-install-recommends fio >/dev/null ||
        { as_root apt-get update -qq && as_root apt-get install -y -qq --no-install-recommends fio >/dev/null; } ||
        die "cannot install fio"
fi
FIO=$(command -v fio)
QEMU=$(command -v qemu-system-x86_64) || die "qemu-system-x86_64 not found (scripts/deps.sh installs it)"
for d in "${QEMU_DATA_DIRS[@]}"; do [ -d "$d" ] || die "$d missing (packages seabios, qemu-system-data)"; done
ASSETS=$("$ROOT/scripts/guest-assets.sh" --print-dir) || die "guest assets unavailable"

mkdir -p "$OUT"
STAMP=$(date +%Y%m%d-%H%M%S)
LOG=$OUT/blk-$STAMP.log RAW=$OUT/blk-$STAMP.tsv SUMMARY=$OUT/blk-$STAMP.txt
# What fio loads (ldd: "name => /path" per library, "/path" for the loader): it goes into the
# guest's initramfs at the same paths. Debian's fio links every engine's library (Ceph, Gluster,
# RDMA...): ~80 MiB, which the guest kernel unpacks at each boot.
FIO_FILES=$OUT/blk-$STAMP.fio-files
ldd "$FIO" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' >"$FIO_FILES" ||
    die "ldd $FIO failed"

BENCH_ENV=(BENCH_RUNS="$RUNS" BENCH_TRACE_RUNS="$TRACE_RUNS")
for v in BENCH_RUNTIME BENCH_RAMP BENCH_IODEPTH BENCH_IOENGINE BENCH_CPUS BENCH_MEM BENCH_IMG_MIB BENCH_VERBOSE; do
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

if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -z "${BENCH_IN_LAB:-}" ]; then
    echo "bench: $RUNS rounds on this host's /dev/kvm, image on /dev/shm"
    env "${BENCH_ENV[@]}" BENCH_GUEST="$ASSETS" BENCH_IMG_DIR=/dev/shm BENCH_FIO_FILES="$FIO_FILES" \
        BENCH_AZOTE="$AZOTE" BENCH_QEMU="$QEMU" BENCH_FIO="$FIO" \
        bash "$ROOT/bench/blk-run.sh" 2>&1 | tee "$LOG" | grep --line-buffered -v '^BENCH '
    status=${PIPESTATUS[0]}
else
    wait_for_other_qemus
    echo "bench: no hardware virtualization here: $TRACE_RUNS traced boot(s) per VMM, then $RUNS rounds" \
        "(host fio, azote, QEMU) inside one lab; about a minute per boot, ~10 minutes in all with the defaults"
    # One lab CPU, as bench/boot.sh: the lab's TCG is single-threaded, and with two lab CPUs
    # taking turns on it guests hang; with one, every thread (vCPU, device process, QEMU's
    # main loop, host fio) shares the same CPU alike.
    lab_args=(-s "${BENCH_LAB_CPUS:-1}" -m "${BENCH_LAB_MEM:-4096}" -b "$AZOTE" -b "$BLK" -b "$QEMU" -b "$FIO"
        -f "$ROOT/bench/blk-run.sh:/lab/bench/blk-run.sh" -f "$FIO_FILES:/lab/bench/fio-files")
    for d in "${QEMU_DATA_DIRS[@]}"; do lab_args+=(-f "$d:$d"); done
    printf -v cmd '%q ' env "${BENCH_ENV[@]}" bash /lab/bench/blk-run.sh
    # A boot with its three fio jobs takes 1-3 minutes in the lab; allow 10 per boot.
    export LAB_TIMEOUT=${LAB_TIMEOUT:-$((900 + (RUNS + TRACE_RUNS) * 2 * 600 + RUNS * 300))}
    "$ROOT/scripts/lab.sh" "${lab_args[@]}" -- "$cmd" 2>&1 | tee "$LOG" | grep --line-buffered -v '^BENCH '
    status=${PIPESTATUS[0]}
fi

echo
tr -d '\r' <"$LOG" | awk -v raw="$RAW" -f "$ROOT/bench/blk-summary.awk" | tee "$SUMMARY"
echo
echo "bench: console log $LOG"
echo "bench: per-run figures $RAW, summary $SUMMARY"
if ! tr -d '\r' <"$LOG" | grep -q '^BENCH done failed=0$'; then
    echo "bench: some runs failed or the run did not finish (status $status): see the log" >&2
    exit 1
fi
