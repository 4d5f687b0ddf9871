#!/bin/sh
# Runs inside the benchmark guest (busybox sh) for bench/net-run.sh, packed into the initramfs
# as /bench/guest.sh with its settings in /bench/guest.conf, and started by azote_run. Brings up
# the interface with MAC, then runs iperf3 clients against the iperf3 server on the TAP end
# (PEER), and pings it. Each phase is framed by
#   BENCH-PHASE-START NAME  (then 1 s of sleep: the host switches exit counting on)
#   BENCH-PHASE-END NAME    (then 1 s of sleep: the host reads the counts)
# and nothing else is printed while the phases run (each console byte is a VM exit). The
# results come at the end:
#   BENCH-NIC dev=D queues=Q features=BITS mtu=M
#   BENCH-IPERF NAME rx_mbps=R tx_mbps=S retr=N      (receiver and sender side, -f m)
#   BENCH-SNAP NAME <counters before> / <counters after>
#             counters: virtio interrupts (input queues, output queues, config), then eth0's
#             rx_packets tx_packets rx_bytes tx_bytes
#   BENCH-PING t1 t2 ...                               round trips, ms
. /bench/guest.conf
cd /tmp || exit 1

dev=
for d in /sys/class/net/*; do
    [ "$(cat "$d/address" 2>/dev/null)" = "$MAC" ] && dev=${d##*/}
done
[ -n "$dev" ] || { echo "BENCH-ERROR no interface with MAC $MAC: $(ls /sys/class/net)"; exit 1; }
ip link set "$dev" up && ip addr add "$ADDR/24" dev "$dev" || exit 1
# The first echo also waits for ARP and the link.
ping -c 3 -w 30 "$PEER" >/dev/null || { echo "BENCH-ERROR cannot ping $PEER"; exit 1; }

snap() {
    awk 'NR == 1 { n = NF; next }
        /virtio/ { s = 0; for (i = 2; i <= n + 1; i++) s += $i
            if ($NF ~ /input/) r += s; else if ($NF ~ /output/) t += s; else c += s }
        END { printf "%d %d %d", r, t, c }' /proc/interrupts
    for f in rx_packets tx_packets rx_bytes tx_bytes; do
        printf ' %s' "$(cat "/sys/class/net/$dev/statistics/$f")"
    done
}

fail=0
: >/tmp/snaps
for t in $TESTS; do
    case $t in
        up1) args= ;;
        up4) args="-P 4" ;;
        down1) args="-R" ;;
        down4) args="-R -P 4" ;;
        *) echo "BENCH-ERROR unknown test $t"; exit 1 ;;
    esac
    s0=$(snap)
    echo "BENCH-PHASE-START $t"
    sleep 1
    # shellcheck disable=SC2086 # args is a list of options
    # timeout: a test whose data stopped flowing would otherwise wait for minutes.
    timeout $((TIME + OMIT + 60)) /usr/bin/iperf3 -c "$PEER" -t "$TIME" -O "$OMIT" -f m --connect-timeout 30000 $args >"/tmp/$t.out" 2>&1 ||
        { fail=1; echo "iperf3 failed" >>"/tmp/$t.out"; }
    s1=$(snap)
    echo "BENCH-PHASE-END $t"
    sleep 1
    echo "$t $s0 / $s1" >>/tmp/snaps
done

s0=$(snap)
echo "BENCH-PHASE-START ping"
sleep 1
ping -c "$PING_COUNT" -i "$PING_INTERVAL" "$PEER" >/tmp/ping.out 2>&1 || fail=1
s1=$(snap)
echo "BENCH-PHASE-END ping"
sleep 1
echo "ping $s0 / $s1" >>/tmp/snaps

echo "BENCH-NIC dev=$dev queues=$(ls -d "/sys/class/net/$dev/queues/"rx-* | wc -l)" \
    "features=$(cat "/sys/class/net/$dev/device/features" 2>/dev/null)" \
    "mtu=$(cat "/sys/class/net/$dev/mtu")"
for t in $TESTS; do
    sed "s/^/iperf3-$t| /" "/tmp/$t.out"
    # Summary lines (the [SUM] ones with -P 4, which come last): "... 943 Mbits/sec 12 sender"
    # and "... 941 Mbits/sec receiver".
    awk -v t="$t" '$NF == "sender" && $(NF - 2) == "Mbits/sec" { s = $(NF - 3); r = $(NF - 1) }
        $NF == "sender" && $(NF - 1) == "Mbits/sec" { s = $(NF - 2); r = "-" }
        $NF == "receiver" && $(NF - 1) == "Mbits/sec" { v = $(NF - 2) }
        END { if (v != "") printf "BENCH-IPERF %s rx_mbps=%s tx_mbps=%s retr=%s\n", t, v, s, r }' "/tmp/$t.out"
done
sed 's/^/BENCH-SNAP /' /tmp/snaps
sed 's/^/ping| /' /tmp/ping.out
echo "BENCH-PING $(sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p' /tmp/ping.out | tr '\n' ' ')"
exit $fail
