#!/usr/bin/env bash
# API benchmark (`make bench-api`): what azote's management API costs. Figures, not tests.
#
# 1. Request latency, on the host (no guest: `azote --api-sock S` serves the API before any VM
#    exists): BENCH_LAT_REQUESTS GET /machine-config, then as many PUT /machine-config with a
#    valid body, one at a time on ONE keep-alive connection, timed per request by
#    bench/api-client (C: write the request, read exactly one response by its Content-Length);
#    median, p90, p99, max (us) and requests/s, per round and as medians over the rounds, next
#    to the same loop against a trivial server (the floor: client + kernel without azote).
# 2. Start to guest marker, in the lab (scripts/lab.sh) or on this host's /dev/kvm where it
#    has hardware virtualization: `azote --api-sock S` then PUT /boot-source, PUT
#    /machine-config (1 vCPU, 256 MiB), PUT /actions InstanceStart, against the same VM from
#    the command line, alternately (ABBA) in one lab; ms from exec to each 204, to the first
#    KVM_RUN, to AZOTE-GUEST-READY on the console and to exit; the API's overhead is the
#    difference.
#
# Environment:
#   BUILD                   build folder holding azote, bench/launch, bench/api-client
#   BENCH_PARTS="latency boot"   which parts run
#   BENCH_LAT_ROUNDS=5, BENCH_LAT_REQUESTS=10000   latency rounds and requests per loop
#   BENCH_RUNS=6            boots per path (API, command line), after BENCH_WARMUP=1 each
#   BENCH_CMDLINE           guest command line (default "console=ttyS0 quiet")
#   BENCH_OUT               where the log, the raw table and the summary go ($BUILD/bench)
#   BENCH_WAIT=0            seconds to wait for other QEMU processes (labs) to end first;
#                           by default none: the alternation keeps the comparison fair
#   BENCH_IN_LAB=1          use the lab even on a host with hardware virtualization
#   BENCH_LAB_CPUS=1        the lab's CPU count (one, as bench/boot.sh: see bench/README.md)
# Exit status: 0 when every loop and boot succeeded; 1 otherwise; 2 on bad setup.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$(realpath -m "${BUILD:-$ROOT/build}")
AZOTE=$BUILD/azote
LAUNCH=$BUILD/bench/launch
CLIENT=$BUILD/bench/api-client
PARTS=${BENCH_PARTS:-latency boot}
RUNS=${BENCH_RUNS:-6}
WARMUP=${BENCH_WARMUP:-1}
OUT=${BENCH_OUT:-$BUILD/bench}

die() { echo "bench-api: $*" >&2; exit 2; }

for b in "$AZOTE" "$BUILD/azote-blk" "$BUILD/azote-net" "$LAUNCH" "$CLIENT"; do
    [ -x "$b" ] || die "$b missing: run \`make bench-api\`"
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive number, got '$RUNS'"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a number, got '$WARMUP'"
for v in "${BENCH_LAT_ROUNDS:-5}" "${BENCH_LAT_REQUESTS:-10000}"; do
    [[ $v =~ ^[1-9][0-9]*$ ]] || die "BENCH_LAT_ROUNDS and BENCH_LAT_REQUESTS must be positive numbers"
done

mkdir -p "$OUT"
STAMP=$(date +%Y%m%d-%H%M%S)
LOG=$OUT/api-$STAMP.log RAW=$OUT/api-$STAMP.tsv SUMMARY=$OUT/api-$STAMP.txt
: >"$LOG"
BENCH_ENV=(BENCH_RUNS="$RUNS" BENCH_WARMUP="$WARMUP")
[ -z "${BENCH_CMDLINE:-}" ] || BENCH_ENV+=(BENCH_CMDLINE="$BENCH_CMDLINE")
others() { pgrep -c '^qemu-system' || true; }
status=0

if [[ " $PARTS " == *" latency "* ]]; then
    echo "bench-api: request latency on the host (${BENCH_LAT_ROUNDS:-5} rounds of ${BENCH_LAT_REQUESTS:-10000} requests per loop)"
    env BENCH_AZOTE="$AZOTE" BENCH_LAUNCH="$LAUNCH" BENCH_CLIENT="$CLIENT" \
        BENCH_LAT_ROUNDS="${BENCH_LAT_ROUNDS:-5}" BENCH_LAT_REQUESTS="${BENCH_LAT_REQUESTS:-10000}" \
        bash "$ROOT/bench/api-run.sh" latency 2>&1 | tee -a "$LOG" | grep --line-buffered -v '^BENCH '
    [ "${PIPESTATUS[0]}" = 0 ] || status=1
fi

if [[ " $PARTS " == *" boot "* ]]; then
    ASSETS=$("$ROOT/scripts/guest-assets.sh" --print-dir) || die "guest assets unavailable"
    if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -z "${BENCH_IN_LAB:-}" ]; then
        echo "bench-api: $RUNS boots per path on this host's /dev/kvm"
        env "${BENCH_ENV[@]}" BENCH_GUEST="$ASSETS" BENCH_AZOTE="$AZOTE" BENCH_LAUNCH="$LAUNCH" \
            BENCH_CLIENT="$CLIENT" bash "$ROOT/bench/api-run.sh" boot 2>&1 |
            tee -a "$LOG" | grep --line-buffered -v '^BENCH '
        [ "${PIPESTATUS[0]}" = 0 ] || status=1
    else
        max=${BENCH_WAIT:-0} waited=0
        while [ "$(others)" -gt 0 ] && [ "$waited" -lt "$max" ]; do
            [ "$waited" -gt 0 ] || echo "bench-api: waiting up to ${max}s for $(others) other QEMU process(es) (labs) to end"
            sleep 10
            waited=$((waited + 10))
        done
        echo "bench-api: no hardware virtualization here: $WARMUP warm-up + $RUNS timed boots per path inside one lab" \
            "($(others) other QEMU process(es) running on this host's $(nproc) CPUs: the ABBA alternation" \
            "keeps the comparison fair, the absolute times are not)"
        lab_args=(-s "${BENCH_LAB_CPUS:-1}" -b "$AZOTE" -b "$BUILD/azote-blk" -b "$BUILD/azote-net"
            -b "$LAUNCH" -b "$CLIENT" -f "$ROOT/bench/api-run.sh:/lab/bench/api-run.sh")
        printf -v cmd '%q ' env "${BENCH_ENV[@]}" bash /lab/bench/api-run.sh boot
        # A guest boot takes 10-20 s in the lab; allow for 3 minutes each before giving up.
        export LAB_TIMEOUT=${LAB_TIMEOUT:-$((300 + (RUNS + WARMUP) * 2 * 180))}
        "$ROOT/scripts/lab.sh" "${lab_args[@]}" -- "$cmd" 2>&1 | tee -a "$LOG" | grep --line-buffered -v '^BENCH '
        [ "${PIPESTATUS[0]}" = 0 ] || status=1
        echo "bench-api: $(others) other QEMU process(es) running at the end"
    fi
fi

echo
tr -d '\r' <"$LOG" | awk -v raw="$RAW" -f "$ROOT/bench/api-summary.awk" | tee "$SUMMARY"
echo
echo "bench-api: log $LOG"
echo "bench-api: per-record figures $RAW, summary $SUMMARY"
[ "$status" = 0 ] || echo "bench-api: some loops or boots failed or the lab did not finish: see the log" >&2
exit "$status"
