#!/bin/sh
# Runs inside a test guest (busybox) for tests/integration/net.sh, packed into the initramfs as
# /net-guest.sh and started by azote_run. Prints "KEY value" lines the host checks.
#
# Usage: net-guest.sh MAC ADDR PEER [transfer]
#   Finds the interface with MAC, gives it ADDR/24, pings PEER, reports the interface's name
#   and queue count; with `transfer`, receives PEER:5002's stream (64 MiB), prints its SHA-256
#   and sends it back to PEER:5001.
mac=$1 addr=$2 peer=$3 mode=${4:-}

dev=
for d in /sys/class/net/*; do
    [ "$(cat "$d/address")" = "$mac" ] && dev=${d##*/}
done
[ -n "$dev" ] || { echo "IFACE none"; ls /sys/class/net; exit 1; }
echo "IFACE-$mac $dev"
echo "QUEUES-$mac $(ls -d /sys/class/net/$dev/queues/rx-* | wc -l)"
ip link set "$dev" up && ip addr add "$addr/24" dev "$dev" || exit 1
# The first echo also waits for ARP; give the link a moment to come up.
if ping -c 3 -w 30 "$peer" >/dev/null; then echo "PING-$peer ok"; else echo "PING-$peer failed"; exit 1; fi

[ "$mode" = transfer ] || exit 0
# nc exits when its stdin ends: hold stdin open (a fifo nobody writes) while it receives.
mkfifo /tmp/hold
exec 3<>/tmp/hold
nc "$peer" 5002 </tmp/hold >/tmp/down.bin || exit 1
echo "DOWN-BYTES $(wc -c </tmp/down.bin)"
echo "DOWN-SHA $(sha256sum </tmp/down.bin | cut -c1-64)"
nc "$peer" 5001 </tmp/down.bin || exit 1
echo "UP-SENT ok"
