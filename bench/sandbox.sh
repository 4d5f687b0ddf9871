#!/usr/bin/env bash
# Sandbox benchmark (`make bench-sandbox`): what azote's seccomp filters cost. Figures, not
# tests: the target (under 3%) is reported, never asserted.
#
# The same guests under `azote --seccomp-level 2` (the default: every thread of azote and of
# its device processes filtered, arguments checked) and `--seccomp-level 0` (no filter),
# alternately (ABBA) in ONE lab (scripts/lab.sh, one CPU) or directly on this host's /dev/kvm
# where it has hardware virtualization:
#   1. boot to marker: the test initramfs, `console=ttyS0 quiet`, 1 vCPU, 256 MiB, as
#      `make bench` (bench/launch): exec -> AZOTE-GUEST-READY, exec -> first KVM_RUN, exec ->
#      exit, VM exits per boot;
#   2. 4 KiB random read IOPS: fio in the guest (io_uring, iodepth 32, --direct=1) on a virtio
#      disk served by azote-blk, on a 1 GiB image on tmpfs, as `make bench-blk`; with azote's
#      and azote-blk's CPU time per request.
# azote starts its device processes with `--sandbox on` at both levels (azote-blk's
# `--sandbox off` is not reachable from azote): the cards' namespaces, empty root and dropped
# capabilities are in both columns; only the seccomp filters differ.
#
# Environment (see bench/sandbox-run.sh for the rest, passed through: BENCH_PHASES,
# BENCH_CMDLINE, BENCH_RUNTIME, BENCH_RAMP, BENCH_IODEPTH, BENCH_IOENGINE, BENCH_IMG_MIB,
# BENCH_VERBOSE):
#   BUILD                 build folder holding azote, azote-blk and bench/launch (default build)
#   BENCH_BOOT_RUNS=6     timed boots per level, boot phase
#   BENCH_FIO_RUNS=4      timed fio boots per level
#   BENCH_WARMUP=1        untimed boots per level first, in each phase
#   BENCH_OUT             where the log, the raw table and the summary go ($BUILD/bench)
#   BENCH_WAIT=0          seconds to wait for other QEMU processes (labs) to end first; by
#                         default none: the alternation keeps the comparison fair
#   BENCH_IN_LAB=1        use the lab even on a host with hardware virtualization
#   BENCH_LAB_CPUS=1      the lab's CPUs; BENCH_LAB_MEM=4096 its RAM in MiB
# Exit status: 0 when every boot succeeded; 1 otherwise; 2 on bad setup.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$(realpath -m "${BUILD:-$ROOT/build}")
AZOTE=$BUILD/azote
BLK=$BUILD/azote-blk
LAUNCH=$BUILD/bench/launch
BOOT_RUNS=${BENCH_BOOT_RUNS:-6}
FIO_RUNS=${BENCH_FIO_RUNS:-4}
WARMUP=${BENCH_WARMUP:-1}
PHASES=${BENCH_PHASES:-boot fio}
OUT=${BENCH_OUT:-$BUILD/bench}

die() { echo "bench-sandbox: $*" >&2; exit 2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

for b in "$AZOTE" "$BLK" "$LAUNCH"; do [ -x "$b" ] || die "$b missing: run \`make bench-sandbox\`"; done
for v in "$BOOT_RUNS" "$FIO_RUNS"; do
    [[ $v =~ ^[1-9][0-9]*$ ]] || die "BENCH_BOOT_RUNS and BENCH_FIO_RUNS must be positive numbers"
done
[[ $WARMUP =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a number, got '$WARMUP'"

mkdir -p "$OUT"
STAMP=$(date +%Y%m%d-%H%M%S)
LOG=$OUT/sandbox-$STAMP.log RAW=$OUT/sandbox-$STAMP.tsv SUMMARY=$OUT/sandbox-$STAMP.txt
BENCH_ENV=(BENCH_BOOT_RUNS="$BOOT_RUNS" BENCH_FIO_RUNS="$FIO_RUNS" BENCH_WARMUP="$WARMUP" BENCH_PHASES="$PHASES")
for v in BENCH_CMDLINE BENCH_RUNTIME BENCH_RAMP BENCH_IODEPTH BENCH_IOENGINE BENCH_IMG_MIB BENCH_VERBOSE; do
    [ -z "${!v:-}" ] || BENCH_ENV+=("$v=${!v}")
done

# fio is the benchmark's own dependency (Debian's package), as for `make bench-blk`; what it
# loads goes into the guest's initramfs at the same paths.
FIO_FILES=$OUT/sandbox-$STAMP.fio-files
lab_fio=()
if [[ " $PHASES " == *" fio "* ]]; then
    if ! command -v fio >/dev/null; then
        echo "bench-sandbox: installing fio (apt-get)"
        export DEBIAN_FRONTEND=noninteractive
        as_root apt-get install -y -qq --no-install-recommends fio >/dev/null ||
            { as_root apt-get update -qq && as_root apt-get install -y -qq --no-install-recommends fio >/dev/null; } ||
            die "cannot install fio"
    fi
    FIO=$(readlink -f "$(command -v fio)")
    # shellcheck source=bench/lib-guest.sh
    . "$ROOT/bench/lib-guest.sh"
    bench_binary_files "$FIO" >"$FIO_FILES" || die "ldd $FIO failed"
    lab_fio=(-b "$FIO" -f "$FIO_FILES:/lab/bench/fio-files")
fi
ASSETS=$("$ROOT/scripts/guest-assets.sh" --print-dir) || die "guest assets unavailable"
others() { pgrep -c '^qemu-system' || true; }

# lab_cpu_ns: the CPU time (ns) every thread of our lab's QEMU has used on this host so far.
# Our lab is the qemu-system process below LAB_PID (lab.sh -> timeout -> qemu).
LAB_QEMU=
lab_cpu_ns() {
    local p st f pp n=0 t ns
    if [ -z "$LAB_QEMU" ] || [ ! -d "/proc/$LAB_QEMU" ]; then
        LAB_QEMU=
        for p in $(pgrep '^qemu-system'); do
            read -r st <"/proc/$p/stat" 2>/dev/null || continue
            read -r -a f <<<"${st##*) }"
            pp=${f[1]}
            read -r st <"/proc/$pp/stat" 2>/dev/null || continue
            read -r -a f <<<"${st##*) }"
            if [ "$pp" = "$LAB_PID" ] || [ "${f[1]}" = "$LAB_PID" ]; then LAB_QEMU=$p; break; fi
        done
    fi
    [ -n "$LAB_QEMU" ] || { echo none; return; }
    for t in /proc/"$LAB_QEMU"/task/*/schedstat; do
        read -r ns _ <"$t" 2>/dev/null && n=$((n + ns))
    done
    echo "$n"
}

# follow_lab: the lab's console to the log and on, each "BENCH stamp" record followed in the
# log by "BENCH hostcpu ns=N" (bench/sandbox-run.sh's stamp()).
follow_lab() {
    local line
    while IFS= read -r line; do
        printf '%s\n' "$line" >>"$LOG"
        printf '%s\n' "$line"
        [[ $line != "BENCH stamp "* ]] || echo "BENCH hostcpu ns=$(lab_cpu_ns)" >>"$LOG"
    done
}

if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -z "${BENCH_IN_LAB:-}" ]; then
    echo "bench-sandbox: on this host's /dev/kvm, image on /dev/shm; --seccomp-level 2 vs 0, ABBA"
    env "${BENCH_ENV[@]}" BENCH_GUEST="$ASSETS" BENCH_IMG_DIR=/dev/shm BENCH_FIO_FILES="$FIO_FILES" \
        BENCH_AZOTE="$AZOTE" BENCH_LAUNCH="$LAUNCH" BENCH_FIO="${FIO:-fio}" \
        bash "$ROOT/bench/sandbox-run.sh" 2>&1 | tee "$LOG" | grep --line-buffered -v '^BENCH '
    status=${PIPESTATUS[0]}
else
    max=${BENCH_WAIT:-0} waited=0
    while [ "$(others)" -gt 0 ] && [ "$waited" -lt "$max" ]; do
        [ "$waited" -gt 0 ] || echo "bench-sandbox: waiting up to ${max}s for $(others) other QEMU process(es) (labs) to end"
        sleep 10
        waited=$((waited + 10))
    done
    n_others=$(others)
    echo "bench-sandbox: no hardware virtualization here: --seccomp-level 2 vs 0 inside one lab, ABBA;" \
        "$WARMUP warm-up + $BOOT_RUNS boots per level, then $WARMUP warm-up + $FIO_RUNS fio boots per level" \
        "(~15 minutes in all with the defaults)"
    echo "bench-sandbox: $n_others other QEMU process(es) (labs) running on this host's $(nproc) CPUs:" \
        "the alternation keeps the comparison fair, not the absolute figures"
    # One lab CPU, as bench/boot.sh and bench/blk.sh: the lab's TCG is single-threaded, and
    # with two lab CPUs taking turns on it guests hang; with one, every thread (vCPU, azote's
    # loop, azote-blk's queue thread, io_uring workers) shares the same CPU alike.
    lab_args=(-s "${BENCH_LAB_CPUS:-1}" -m "${BENCH_LAB_MEM:-4096}" -b "$AZOTE" -b "$BLK" -b "$LAUNCH"
        "${lab_fio[@]}" -f "$ROOT/bench/sandbox-run.sh:/lab/bench/sandbox-run.sh"
        -f "$ROOT/bench/lib-guest.sh:/lab/bench/lib-guest.sh")
    printf -v cmd '%q ' env "${BENCH_ENV[@]}" bash /lab/bench/sandbox-run.sh
    # A plain boot takes 10-20 s in the lab, a fio boot about a minute; allow 3 and 10 minutes.
    export LAB_TIMEOUT=${LAB_TIMEOUT:-$((600 + (BOOT_RUNS + WARMUP) * 2 * 180 + (FIO_RUNS + WARMUP) * 2 * 600))}
    FIFO=$(mktemp -u "${TMPDIR:-/tmp}/bench-sandbox.XXXXXX")
    mkfifo "$FIFO" || die "cannot make a fifo"
    "$ROOT/scripts/lab.sh" "${lab_args[@]}" -- "$cmd" >"$FIFO" 2>&1 &
    LAB_PID=$!
    : >"$LOG"
    follow_lab <"$FIFO" | grep --line-buffered -v '^BENCH '
    wait "$LAB_PID"
    status=$?
    rm -f "$FIFO"
    echo "BENCH labs at_start=$n_others at_end=$(others) host_cpus=$(nproc)" >>"$LOG"
    echo "bench-sandbox: $(others) other QEMU process(es) running at the end"
fi

echo
tr -d '\r' <"$LOG" | awk -v raw="$RAW" -f "$ROOT/bench/sandbox-summary.awk" | tee "$SUMMARY"
echo
echo "bench-sandbox: console log $LOG"
echo "bench-sandbox: per-run figures $RAW, summary $SUMMARY"
if ! tr -d '\r' <"$LOG" | grep -q '^BENCH done failed=0$'; then
    echo "bench-sandbox: some boots failed or the run did not finish (status $status): see the log" >&2
    exit 1
fi
