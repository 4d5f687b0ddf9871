#!/usr/bin/env bash
# The measuring half of bench/api.sh, in two modes; prints one BENCH record per measurement.
#
#   api-run.sh latency   (on the host) request latency of azote's API: `azote --api-sock S`
#                        serves the API before any VM exists, so no guest is needed. Per round:
#                        a fresh azote, then N GET /machine-config and N PUT /machine-config
#                        on one keep-alive connection each, one request at a time
#                        (bench/api-client), in ABBA order over the rounds; and the same loop
#                        against api-client's trivial built-in server (the floor).
#   api-run.sh boot      (in the lab) start to guest marker, through the API and from the
#                        command line, alternately (ABBA), same guest, 1 vCPU, 256 MiB.
#
# Environment (lab defaults):
#   BENCH_RUNS=6              boot mode: timed boots per path (even: ABBA balances)
#   BENCH_WARMUP=1            boot mode: untimed boots per path first (first KVM VM, page cache)
#   BENCH_CMDLINE             guest command line (default "console=ttyS0 quiet")
#   BENCH_GUEST=/lab/guest    vmlinuz and initramfs.cpio.gz
#   BENCH_BOOT_TIMEOUT=180    seconds before a boot is killed
#   BENCH_LAT_ROUNDS=5        latency mode: rounds (a fresh azote each)
#   BENCH_LAT_REQUESTS=10000  latency mode: timed requests per loop (after 1000 untimed)
#   BENCH_AZOTE, BENCH_LAUNCH, BENCH_CLIENT   the programs (default: found on PATH)
#
# Records:
#   BENCH info key=value...
#   BENCH lat round=R kind=floor|get|put requests=N errors=E rps= min_us= p50_us= p90_us=
#             p99_us= p999_us= max_us= max_at= over1ms= top= client_cpu_us= server_cpu_us=...
#   BENCH boot path=cli|api i=N warm=0|1 status=S marker_ms= exit_ms= kvmrun_ms=
#             maxrss_kib= [api: ready_ms= bootsrc_ms= machine_ms= start_ms=]
# Boot times are from the instant before execve of azote (bench/launch) to: the API socket
# accepting a connection (ready), each PUT's response read in full by the client, azote's
# first KVM_RUN (its --exit-stats, against AZOTE_T0), the console line holding
# AZOTE-GUEST-READY (marker), and azote being reaped (exit).
set -uo pipefail

MODE=${1:-}
RUNS=${BENCH_RUNS:-6}
WARMUP=${BENCH_WARMUP:-1}
CMDLINE=${BENCH_CMDLINE:-console=ttyS0 quiet}
GUEST=${BENCH_GUEST:-/lab/guest}
AZOTE=${BENCH_AZOTE:-azote}
LAUNCH=${BENCH_LAUNCH:-launch}
CLIENT=${BENCH_CLIENT:-api-client}
BOOT_TIMEOUT=${BENCH_BOOT_TIMEOUT:-180}
LAT_ROUNDS=${BENCH_LAT_ROUNDS:-5}
LAT_N=${BENCH_LAT_REQUESTS:-10000}
MARKER='AZOTE-GUEST-READY'
MACHINE='{"vcpu_count": 1, "mem_size_mib": 256}'

WORK=$(mktemp -d)
AZ_PID=
trap '[ -z "$AZ_PID" ] || kill -KILL "$AZ_PID" 2>/dev/null; rm -rf "$WORK"' EXIT

for p in "$AZOTE" "$LAUNCH" "$CLIENT"; do
    command -v "$p" >/dev/null || { echo "# api-run: $p not found"; exit 2; }
done

# ms_between T0 T1 (both S.US): milliseconds with three decimals, integer arithmetic.
ms_between() {
    local a=${1/./} b=${2/./}
    local d=$((10#$b - 10#$a))
    printf '%d.%03d' $((d / 1000)) $((d % 1000))
}

# wait_socket PATH: up to 10 s for azote's API socket to appear.
wait_socket() {
    local _
    for _ in $(seq 1000); do
        [ -S "$1" ] && return 0
        read -rt 0.01 <>"$WORK/never" || true
    done
    return 1
}

# --- latency mode ----------------------------------------------------------------------

# lat_loop ROUND KIND SOCKET METHOD PATH [BODY]: one timed loop, one record.
lat_loop() {
    local round=$1 kind=$2 out
    shift 2
    if out=$(API_SERVER_PID=${AZ_PID:-} "$CLIENT" latency "$1" "$LAT_N" "${@:2}" 2>&1); then
        echo "BENCH lat round=$round kind=$kind $out"
    else
        echo "BENCH lat round=$round kind=$kind failed=1 $out"
        echo "# $kind loop of round $round failed: $out"
        return 1
    fi
}

run_latency() {
    local r sock failed=0 order kind st
    mkfifo "$WORK/never"
    echo "BENCH info mode=latency rounds=$LAT_ROUNDS requests=$LAT_N host_kernel=$(uname -r)" \
        "cpus=$(nproc) other_qemus=$(pgrep -c '^qemu-system' || true)" \
        "load=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,)"
    for ((r = 1; r <= LAT_ROUNDS; r++)); do
        lat_loop "$r" floor - GET /machine-config || failed=$((failed + 1))
        sock=$WORK/api-$r.sock
        "$AZOTE" --api-sock "$sock" </dev/null >"$WORK/az-$r.out" 2>"$WORK/az-$r.err" &
        AZ_PID=$!
        if ! wait_socket "$sock"; then
            echo "# round $r: azote --api-sock made no socket: $(tail -n 3 "$WORK/az-$r.err")"
            failed=$((failed + 1))
            kill -KILL "$AZ_PID" 2>/dev/null
            wait "$AZ_PID" 2>/dev/null
            AZ_PID=
            continue
        fi
        order=(get put)
        [ $((r % 2)) = 1 ] || order=(put get)
        for kind in "${order[@]}"; do
            if [ "$kind" = get ]; then
                lat_loop "$r" get "$sock" GET /machine-config || failed=$((failed + 1))
            else
                lat_loop "$r" put "$sock" PUT /machine-config "$MACHINE" || failed=$((failed + 1))
            fi
        done
        kill -TERM "$AZ_PID"
        wait "$AZ_PID"
        st=$?
        [ "$st" = 0 ] || { echo "# round $r: azote exited with status $st after SIGTERM"; failed=$((failed + 1)); }
        AZ_PID=
        echo "# latency round $r of $LAT_ROUNDS done"
    done
    echo "BENCH done mode=latency failed=$failed"
    [ "$failed" -eq 0 ]
}

# --- boot mode -------------------------------------------------------------------------

# console_reader LOG STAMP: copy azote's console to LOG; the arrival of the first line that
# holds the marker goes to STAMP (bash's $EPOCHREALTIME, as in bench/boot-run.sh).
console_reader() {
    local line now
    while IFS= read -r line; do
        now=$EPOCHREALTIME
        printf '%s\n' "$line" >>"$1"
        if [[ $line == *"$MARKER"* ]]; then
            echo "$now" >"$2"
            cat >>"$1"
            return 0
        fi
    done
    [ -z "$line" ] || printf '%s' "$line" >>"$1"
}

# json_str S: S as a JSON string (quotes and backslashes escaped).
json_str() {
    local s=${1//\\/\\\\}
    s=${s//\"/\\\"}
    printf '"%s"' "$s"
}

# boot PATH I WARM: one boot, one record.
boot() {
    local path=$1 i=$2 warm=$3 dir=$WORK/$1-$2 sock client_pid='' cmd
    mkdir -p "$dir"
    if [ "$path" = cli ]; then
        cmd=("$AZOTE" --kernel "$GUEST/vmlinuz" --initrd "$GUEST/initramfs.cpio.gz"
            --cmdline "$CMDLINE" --cpus 1 --mem 256M --exit-stats)
    else
        sock=$dir/api.sock
        cmd=("$AZOTE" --api-sock "$sock" --exit-stats)
        # The client is running and watching for the socket before azote is exec'd: its own
        # start-up is not counted (an orchestrator is already running), only its requests.
        client_pid=$("$CLIENT" sequence -d -o "$dir/api" -t "$BOOT_TIMEOUT" "$sock" \
            PUT /boot-source "$BOOT_JSON" \
            PUT /machine-config "$MACHINE" \
            PUT /actions '{"action_type": "InstanceStart"}' 2>&1)
        if ! [[ $client_pid =~ ^[0-9]+$ ]]; then
            echo "# $path run $i: api-client did not start: $client_pid"
            return 1
        fi
    fi
    "$LAUNCH" -t "$BOOT_TIMEOUT" "$dir/launch" "${cmd[@]}" </dev/null 2>"$dir/stderr" |
        console_reader "$dir/console" "$dir/marker"
    if [ -n "$client_pid" ]; then
        # azote has exited, so the client has its answers or a closed connection.
        local _
        for _ in $(seq 500); do
            kill -0 "$client_pid" 2>/dev/null || break
            read -rt 0.01 <>"$WORK/never" || true
        done
        kill -KILL "$client_pid" 2>/dev/null
    fi

    local start end status rss timed_out marker_ms=none exit_ms extra kvmrun_ms t k
    read -r start end status rss timed_out <<<"$(sed -n '/^start=/s/[a-z_]*=//gp' "$dir/launch" 2>/dev/null)"
    if [ -z "${start:-}" ]; then
        echo "# $path run $i: bench/launch left no result"
        tail -n 5 "$dir/stderr" | sed 's/^/#   stderr| /'
        return 1
    fi
    [ -f "$dir/marker" ] && marker_ms=$(ms_between "$start" "$(cat "$dir/marker")")
    exit_ms=$(ms_between "$start" "$end")
    kvmrun_ms=$(sed -n 's/.*exec to first KVM_RUN: \([0-9.]*\) ms.*/\1/p' "$dir/stderr" | head -n1)
    extra="kvmrun_ms=${kvmrun_ms:-none}"
    local api_ok=1
    if [ "$path" = api ]; then
        t=$(sed -n 's/^ready t=//p' "$dir/api")
        extra+=" ready_ms=$([ -n "$t" ] && ms_between "$start" "$t" || echo none)"
        for k in 1:bootsrc 2:machine 3:start; do
            t=$(sed -n "s/^req i=${k%%:*} .* status=2[0-9][0-9] t=//p" "$dir/api")
            extra+=" ${k#*:}_ms=$([ -n "$t" ] && ms_between "$start" "$t" || echo none)"
        done
        grep -q '^done ok=1$' "$dir/api" || api_ok=0
    fi
    echo "BENCH boot path=$path i=$i warm=$warm status=$status marker_ms=$marker_ms exit_ms=$exit_ms maxrss_kib=$rss timed_out=$timed_out api_ok=$api_ok $extra"
    echo "# $path run $i$([ "$warm" = 1 ] && echo ' (warm-up)'): marker ${marker_ms} ms, exit ${exit_ms} ms, first KVM_RUN ${kvmrun_ms:-?} ms, status $status"
    if [ "$status" != 0 ] || [ "$marker_ms" = none ] || [ "$api_ok" = 0 ]; then
        echo "# $path run $i failed; console, stderr and API client (last lines):"
        tr -d '\r' <"$dir/console" | tail -n 30 | sed 's/^/#   console| /'
        tail -n 15 "$dir/stderr" | sed 's/^/#   stderr| /'
        [ ! -f "$dir/api" ] || sed 's/^/#   api| /' "$dir/api"
        return 1
    fi
}

run_boot() {
    local i failed=0 order p
    mkfifo "$WORK/never"
    for f in "$GUEST/vmlinuz" "$GUEST/initramfs.cpio.gz"; do
        [ -f "$f" ] || { echo "# api-run: $f missing"; exit 2; }
    done
    BOOT_JSON="{\"kernel_image_path\": $(json_str "$GUEST/vmlinuz"), \"initrd_path\": $(json_str "$GUEST/initramfs.cpio.gz"), \"boot_args\": $(json_str "$CMDLINE")}"
    echo "BENCH info mode=boot runs=$RUNS warmup=$WARMUP host_kernel=$(uname -r) cpus=$(nproc)"
    echo "BENCH cmdline $CMDLINE"
    # Warm-up boots end on cli, so that over an even number of rounds each path follows
    # each path equally often.
    for ((i = 1; i <= WARMUP; i++)); do
        for p in api cli; do boot "$p" "w$i" 1 || failed=$((failed + 1)); done
    done
    # ABBA: cli api, api cli, ...: a boot's speed in the lab depends on what ran just before.
    for ((i = 1; i <= RUNS; i++)); do
        order=(cli api)
        [ $((i % 2)) = 1 ] || order=(api cli)
        for p in "${order[@]}"; do boot "$p" "$i" 0 || failed=$((failed + 1)); done
    done
    echo "BENCH done mode=boot failed=$failed"
    [ "$failed" -eq 0 ]
}

case $MODE in
    latency) run_latency ;;
    boot) run_boot ;;
    *) echo "usage: api-run.sh latency|boot" >&2; exit 2 ;;
esac
