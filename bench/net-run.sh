#!/usr/bin/env bash
# The measuring half of bench/net.sh: iperf3 and ping between a guest and the host end of a
# TAP device, azote (virtio-net served by azote-net over vhost-user) and QEMU (-netdev tap,
# vhost=off, -device virtio-net-pci) side by side, one record per figure. bench/net.sh runs it
# inside the lab (scripts/lab.sh), where everything is at its default path; on a host with
# hardware virtualization it runs there directly, in a network namespace of its own
# (`unshare -n`), with the paths given in the environment. It creates (and deletes) tap0.
#
# Environment (lab defaults):
#   BENCH_RUNS=3            rounds; each is one azote boot and one QEMU boot, who goes first
#                           swapped every other round (ABBA), each running every test
#   BENCH_TRACE_RUNS=1      extra boots per VMM, first, that count VM exits per phase with
#                           tracepoints; they double as warm-up, their figures are left out
#   BENCH_TIME=5, BENCH_OMIT=1   iperf3 -t and -O (seconds measured, seconds left out first)
#   BENCH_TESTS="up1 up4 down1 down4"   up = guest -> host, down = host -> guest (iperf3 -R),
#                           1 or 4 parallel streams (-P 4)
#   BENCH_PING_COUNT=20, BENCH_PING_INTERVAL=0.2   the guest's busybox ping of the TAP end
#   BENCH_CPUS=1            guest vCPUs; both VMMs get one queue pair per vCPU (QEMU:
#                           queues=N, mq=on when N > 1; the TAP is multi-queue where needed)
#   BENCH_MEM=512M          guest RAM
#   BENCH_VMMS="azote qemu" which VMMs to run (one of them alone for debugging)
#   BENCH_GUEST=/lab/guest  vmlinuz and initramfs.cpio.gz (scripts/guest-assets.sh)
#   BENCH_QEMU_DATA="/usr/share/seabios /usr/share/qemu"   QEMU's -L folders
#   BENCH_AZOTE, BENCH_QEMU, BENCH_IPERF, BENCH_IP   the programs (default: found on PATH;
#                           azote-net must sit next to azote; BENCH_IP is iproute2's ip)
#   BENCH_IPERF_FILES       file listing what iperf3 loads (ldd): it goes into the guest's
#                           initramfs at the same paths
#   BENCH_AZOTE_TAP_MQ=1    create the TAP multi-queue for azote (azote-net opens it so)
#   BENCH_VERBOSE=1         print every boot's console
#   BENCH_READY_TIMEOUT=300, BENCH_BOOT_TIMEOUT (~700)   seconds before a boot that has not
#                           reached init / not ended is killed (one that never reached init
#                           is retried once: a known lab hang, see tests/lib/lab-boot.sh)
#
# Output: lines starting with "# " are progress; the records are
#   BENCH info key=value...
#   BENCH iperf vmm=azote|qemu i=N test=T rx_mbps=R tx_mbps=S retr=X
#   BENCH snap vmm=V i=N test=T|ping irq_in=A irq_out=B irq_cfg=C rx_pk=D tx_pk=E rx_b=F tx_b=G
#             (deltas over the phase, in the guest: interrupts of its virtio-net queues, eth0's
#             packets and bytes)
#   BENCH ping vmm=V i=N n=K median_ms=M min_ms=A max_ms=B
#   BENCH nic vmm=V i=N queues=Q features=BITS mtu=M
#   BENCH trace vmm=V i=N phase=T event=E key=K count=C    exits in a phase (traced boots)
#   BENCH run vmm=V i=N traced=0|1 status=S timed_out=0|1
#   BENCH azexit vmm=azote i=N reason=R count=C            azote's --exit-stats (whole boot)
#   BENCH done failed=N
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib-guest.sh
. "$HERE/lib-guest.sh"

RUNS=${BENCH_RUNS:-3}
TRACE_RUNS=${BENCH_TRACE_RUNS:-1}
TIME=${BENCH_TIME:-5}
OMIT=${BENCH_OMIT:-1}
TESTS=${BENCH_TESTS:-up1 up4 down1 down4}
PING_COUNT=${BENCH_PING_COUNT:-20}
PING_INTERVAL=${BENCH_PING_INTERVAL:-0.2}
CPUS=${BENCH_CPUS:-1}
MEM=${BENCH_MEM:-512M}
read -r -a VMMS <<<"${BENCH_VMMS:-azote qemu}"
GUEST=${BENCH_GUEST:-/lab/guest}
read -r -a QEMU_DATA <<<"${BENCH_QEMU_DATA:-/usr/share/seabios /usr/share/qemu}"
AZOTE=${BENCH_AZOTE:-azote}
QEMU=${BENCH_QEMU:-qemu-system-x86_64}
IPERF=${BENCH_IPERF:-iperf3}
IP=${BENCH_IP:-ip}
IPERF_FILES=${BENCH_IPERF_FILES:-/lab/bench/iperf3-files}
AZOTE_TAP_MQ=${BENCH_AZOTE_TAP_MQ:-1}
READY_TIMEOUT=${BENCH_READY_TIMEOUT:-300}
# A boot ends by itself: the guest's iperf3 runs are capped at TIME + OMIT + 60 s each.
BOOT_TIMEOUT=${BENCH_BOOT_TIMEOUT:-$((READY_TIMEOUT + 120 + $(wc -w <<<"$TESTS") * (TIME + OMIT + 65)))}

TAP=tap0 HOST_ADDR=10.0.2.1 GUEST_ADDR=10.0.2.2 MAC=02:00:00:00:00:0a
WORK=$(mktemp -d)
SERVER=
cleanup() {
    [ -z "$SERVER" ] || { kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null; }
    "$IP" link del "$TAP" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
INITRD=$WORK/initramfs-iperf3.cpio.gz
CMDLINE="console=ttyS0 quiet azote_run=/bench/guest.sh"

# The guest's initramfs: the test initramfs with an uncompressed cpio archive appended
# holding iperf3, what it loads, /bench/guest.sh (bench/net-guest.sh) and its settings.
build_initrd() {
    local s=$WORK/stage f
    mkdir -p "$s/bench" "$s/usr/bin"
    ln -s "$(command -v "$IPERF")" "$s/usr/bin/iperf3"
    while read -r f; do
        [ -n "$f" ] || continue
        [ -e "$f" ] || { echo "# net-run: $f (listed in $IPERF_FILES) missing"; return 1; }
        mkdir -p "$s$(dirname "$f")"
        [ -e "$s$f" ] || ln -s "$f" "$s$f"
    done <"$IPERF_FILES"
    cp "$HERE/net-guest.sh" "$s/bench/guest.sh"
    chmod 755 "$s/bench/guest.sh"
    cat >"$s/bench/guest.conf" <<EOF
MAC=$MAC ADDR=$GUEST_ADDR PEER=$HOST_ADDR
TESTS="$TESTS" TIME=$TIME OMIT=$OMIT
PING_COUNT=$PING_COUNT PING_INTERVAL=$PING_INTERVAL
EOF
    bench_initrd "$GUEST/initramfs.cpio.gz" "$s" "$INITRD" || return 1
    echo "# guest initramfs: $(($(stat -c %s "$INITRD") >> 10)) KiB (test initramfs + iperf3)"
}

# tap_up MQ: tap0 with the host's address, multi-queue when MQ is 1. A TAP keeps the mode it
# was made with and refuses an open that asks for the other one, hence one per boot.
tap_up() {
    local mode=(mode tap)
    [ "$1" = 0 ] || mode+=(multi_queue)
    "$IP" link del "$TAP" 2>/dev/null
    "$IP" tuntap add "$TAP" "${mode[@]}" &&
        "$IP" addr add "$HOST_ADDR/24" dev "$TAP" && "$IP" link set "$TAP" up
}

# Commands: same kernel, initrd, command line, vCPUs, RAM, MAC and TAP for both. QEMU's
# network is the issue's: the TAP opened by QEMU itself, no vhost-net; romfile= drops
# virtio-net-pci's iPXE option ROM, which only SeaBIOS would run (boot time, not network).
vmm_cmd() {
    if [ "$1" = azote ]; then
        TAP_MQ=$AZOTE_TAP_MQ
        CMD=("$AZOTE" --kernel "$GUEST/vmlinuz" --initrd "$INITRD" --cmdline "$CMDLINE"
            --cpus "$CPUS" --mem "$MEM" --net "tap=$TAP,mac=$MAC" --exit-stats)
    else
        local d netdev="tap,id=n0,ifname=$TAP,script=no,downscript=no,vhost=off"
        local device="virtio-net-pci,netdev=n0,mac=$MAC,romfile="
        TAP_MQ=0
        if [ "$CPUS" -gt 1 ]; then
            TAP_MQ=1
            netdev+=",queues=$CPUS"
            device+=",mq=on,vectors=$((2 * CPUS + 2))"
        fi
        CMD=("$QEMU")
        for d in "${QEMU_DATA[@]}"; do CMD+=(-L "$d"); done
        # shellcheck disable=SC2054 # commas are QEMU's
        CMD+=(-name bench,debug-threads=on -M q35 -accel kvm -cpu host -smp "$CPUS" -m "$MEM"
            -nodefaults -no-user-config -nographic -serial stdio -no-reboot
            -netdev "$netdev" -device "$device"
            -kernel "$GUEST/vmlinuz" -initrd "$INITRD" -append "$CMDLINE")
    fi
}

# watchdog PID DIR: kill a boot that has not reached init in READY_TIMEOUT seconds or not
# ended in BOOT_TIMEOUT.
watchdog() {
    local waited=0
    while kill -0 "$1" 2>/dev/null; do
        sleep 5
        waited=$((waited + 5))
        if { [ ! -f "$2/ready" ] && [ "$waited" -ge "$READY_TIMEOUT" ]; } || [ "$waited" -ge "$BOOT_TIMEOUT" ]; then
            : >"$2/timed_out"
            kill -TERM "$1" 2>/dev/null
            sleep 10
            kill -KILL "$1" 2>/dev/null
            return
        fi
    done
}

# boot_once VMM I TRACED DIR: one boot with a fresh TAP and iperf3 server; the console goes
# to DIR/console, exit counts per phase to DIR/trace.
boot_once() {
    local vmm=$1 i=$2 traced=$3 dir=$4 pid wd line phase=
    rm -rf "$dir"
    mkdir -p "$dir"
    mkfifo "$dir/con"
    vmm_cmd "$vmm"
    tap_up "$TAP_MQ" || { echo "# net-run: cannot set up $TAP"; echo 2 >"$dir/status"; return; }
    # A fresh server per boot: one left waiting on a dead guest's test would refuse the next.
    "$IPERF" -s -B "$HOST_ADDR" >"$dir/server" 2>&1 &
    SERVER=$!
    "${CMD[@]}" </dev/null >"$dir/con" 2>"$dir/stderr" &
    pid=$!
    watchdog "$pid" "$dir" &
    wd=$!
    while IFS= read -r line; do
        line=${line%$'\r'}
        printf '%s\n' "$line" >>"$dir/console"
        case $line in
            *AZOTE-GUEST-READY*) : >"$dir/ready" ;;
            *BENCH-PHASE-START*)
                phase=${line##* }
                [ "$traced" = 0 ] || bench_trace_start
                ;;
            *BENCH-PHASE-END*)
                [ "$traced" = 0 ] || bench_trace_stop "BENCH trace vmm=$vmm i=$i phase=$phase" >>"$dir/trace"
                phase=
                ;;
        esac
    done <"$dir/con"
    wait "$pid"
    echo $? >"$dir/status"
    kill "$wd" 2>/dev/null
    wait "$wd" 2>/dev/null
    [ -z "$phase" ] || [ "$traced" = 0 ] || bench_trace_stop x >/dev/null
    kill "$SERVER" 2>/dev/null
    wait "$SERVER" 2>/dev/null
    SERVER=
    "$IP" link del "$TAP" 2>/dev/null
}

# boot VMM I TRACED: a boot (retried once if it never reached init), then its records.
boot() {
    local vmm=$1 i=$2 traced=$3 dir=$WORK/$1-$2 status timed_out=0 fail=0 recs
    echo "# $vmm run $i$([ "$traced" = 1 ] && echo ' (traced)'): booting"
    boot_once "$vmm" "$i" "$traced" "$dir"
    if [ ! -f "$dir/ready" ] && [ -f "$dir/console" ]; then
        echo "# $vmm run $i: the guest stopped before init (a known lab hang); retrying once"
        tail -n 5 "$dir/console" | sed 's/^/#   console| /'
        boot_once "$vmm" "$i" "$traced" "$dir"
    fi
    status=$(cat "$dir/status")
    [ -f "$dir/timed_out" ] && timed_out=1
    touch "$dir/console"
    recs=$(awk -v pre="vmm=$vmm i=$i" '
        $1 == "BENCH-IPERF" { print "BENCH iperf", pre, "test=" $2, $3, $4, $5 }
        $1 == "BENCH-NIC" { $1 = ""; print "BENCH nic", pre $0 }
        $1 == "BENCH-SNAP" && $10 == "/" {
            print "BENCH snap", pre, "test=" $2, "irq_in=" $11 - $3, "irq_out=" $12 - $4, "irq_cfg=" $13 - $5,
                "rx_pk=" $14 - $6, "tx_pk=" $15 - $7, "rx_b=" $16 - $8, "tx_b=" $17 - $9
        }
        $1 == "BENCH-PING" {
            n = 0
            for (k = 2; k <= NF; k++) { v = $k + 0; for (j = ++n; j > 1 && t[j - 1] > v; j--) t[j] = t[j - 1]; t[j] = v }
            if (n) print "BENCH ping", pre, "n=" n, "median_ms=" (n % 2 ? t[(n + 1) / 2] : (t[n / 2] + t[n / 2 + 1]) / 2),
                "min_ms=" t[1], "max_ms=" t[n]
        }' "$dir/console")
    for t in $TESTS; do grep -q "^BENCH iperf .* test=$t " <<<"$recs" || { fail=1; echo "# $vmm run $i: no iperf3 figure for $t"; }; done
    grep -q '^BENCH ping ' <<<"$recs" || { fail=1; echo "# $vmm run $i: no ping figure"; }
    { [ "$status" = 0 ] && grep -qx 'AZOTE-RUN-EXIT 0' "$dir/console"; } || fail=1
    echo "$recs"
    echo "BENCH run vmm=$vmm i=$i traced=$traced status=$status timed_out=$timed_out"
    [ "$traced" = 0 ] || cat "$dir/trace" 2>/dev/null
    if [ "$vmm" = azote ]; then
        sed -n 's/.*info: exits: //p' "$dir/stderr" | sed 's/;.*//' | tr ' ' '\n' | grep '=' |
            while IFS='=' read -r reason count; do
                echo "BENCH azexit vmm=azote i=$i reason=$reason count=$count"
            done
    fi
    if [ "$fail" = 1 ]; then
        echo "# $vmm run $i failed (status $status, timed out $timed_out); console, stderr, iperf3 server (last lines):"
        echo "#   command| $(printf '%q ' "${CMD[@]}")"
        tail -n 40 "$dir/console" | sed 's/^/#   console| /'
        tail -n 15 "$dir/stderr" | sed 's/^/#   stderr| /'
        tail -n 10 "$dir/server" | sed 's/^/#   server| /'
        return 1
    fi
    [ -z "${BENCH_VERBOSE:-}" ] || cat -v "$dir/console" | sed 's/^/#   console| /'
    echo "# $vmm run $i$([ "$traced" = 1 ] && echo ' (traced)'): $(awk '
        $2 == "iperf" { sub(/test=/, "", $5); sub(/rx_mbps=/, "", $6); s = s (s ? ", " : "") $5 " " $6 " Mbit/s" }
        $2 == "ping" { sub(/median_ms=/, "", $6); p = ", ping " $6 " ms" }
        END { print s p }' <<<"$recs")"
}

for p in "$QEMU" "$IPERF" "$IP"; do
    command -v "$p" >/dev/null || { echo "# net-run: $p not found"; exit 2; }
done
for v in "${VMMS[@]}"; do
    case $v in
        azote)
            command -v "$AZOTE" >/dev/null || { echo "# net-run: $AZOTE not found"; exit 2; }
            [ -x "$(dirname "$(command -v "$AZOTE")")/azote-net" ] || { echo "# net-run: no azote-net next to $AZOTE"; exit 2; }
            ;;
        qemu) ;;
        *) echo "# net-run: unknown VMM '$v' in BENCH_VMMS"; exit 2 ;;
    esac
done
# (`ip tuntap help` exits with status 255: read its text, not its status.)
[[ $("$IP" tuntap help 2>&1) == *multi_queue* ]] || { echo "# net-run: $IP is not iproute2's (no tuntap)"; exit 2; }
for f in "$GUEST/vmlinuz" "$GUEST/initramfs.cpio.gz" "$IPERF_FILES"; do
    [ -f "$f" ] || { echo "# net-run: $f missing"; exit 2; }
done
build_initrd || { echo "# net-run: cannot build the guest initramfs"; exit 2; }
if [ "$TRACE_RUNS" -gt 0 ] && ! bench_trace_ready; then
    echo "# net-run: no writable $BENCH_TRACEFS/events/kvm (tracefs, root): exits are not counted"
    TRACE_RUNS=0
fi
if [ "$TRACE_RUNS" -gt 0 ]; then
    # shellcheck disable=SC2034 # bench_trace_stop reads them by name
    BENCH_TRACE_NAMES_kvm_exit=$(bench_trace_names kvm_exit)
    # shellcheck disable=SC2034
    BENCH_TRACE_NAMES_kvm_userspace_exit=$(bench_trace_names kvm_userspace_exit)
fi

echo "BENCH info runs=$RUNS trace_runs=$TRACE_RUNS time_s=$TIME omit_s=$OMIT tests=${TESTS// /,}" \
    "ping_count=$PING_COUNT ping_interval=$PING_INTERVAL cpus=$CPUS mem=$MEM vmms=$(IFS=,; echo "${VMMS[*]}")" \
    "host_kernel=$(uname -r) host_cpus=$(nproc) qemu=$("$QEMU" --version | head -n1 | awk '{ print $4 }')" \
    "iperf3=$("$IPERF" --version | head -n1 | awk '{ print $2 }')"
failed=0
for ((i = 1; i <= TRACE_RUNS; i++)); do
    for vmm in qemu azote; do
        [[ " ${VMMS[*]} " == *" $vmm "* ]] || continue
        boot "$vmm" "t$i" 1 || failed=$((failed + 1))
    done
done
# Rounds: who goes first is swapped every other round (azote QEMU, QEMU azote, ...).
for ((i = 1; i <= RUNS; i++)); do
    order=("${VMMS[@]}")
    [ $((i % 2)) = 1 ] || read -r -a order <<<"$(printf '%s\n' "${VMMS[@]}" | tac | tr '\n' ' ')"
    for vmm in "${order[@]}"; do boot "$vmm" "$i" 0 || failed=$((failed + 1)); done
done
echo "BENCH done failed=$failed"
[ "$failed" -eq 0 ]
