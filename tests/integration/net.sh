#!/usr/bin/env bash
# Network interfaces the Nitro way: azote exposes a virtio-net PCI function and an azote-net
# device process moves the packets between guest memory and a TAP device over vhost-user.
# Checks what a user sees: the guest's eth0 with the configured MAC pings the TAP end, a
# 64 MiB TCP transfer each way arrives intact (SHA-256), two interfaces at once, a queue pair
# per vCPU, QEMU as the frontend of azote-net, and clear errors for a missing TAP.
#
# Runs inside the lab (tests/run.sh packs azote, azote-net, iproute2's ip and QEMU there), or
# on a host with VT-x/AMD-V inside a network namespace of its own:
#   unshare -n env AZOTE=build/azote AZOTE_GUEST=$(scripts/guest-assets.sh --print-dir) \
#       tests/integration/net.sh
# It creates tap0..tap2 in the namespace it runs in; never run it in the host's own.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../lib/lab-boot.sh"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

AZOTE=${AZOTE:-azote}
NET=${AZOTE_NET:-$(dirname "$(command -v "$AZOTE")")/azote-net}
GUEST=${AZOTE_GUEST:-/lab/guest}
BOOT_TIMEOUT=${AZOTE_BOOT_TIMEOUT:-90}
CMDLINE="console=ttyS0 quiet"
# iproute2's ip by its full path: busybox's applet has no `tuntap`.
IP=$(PATH=/lab/bin:/usr/sbin:/sbin:$PATH command -v ip)

WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; for t in tap0 tap1 tap2; do "$IP" link del $t 2>/dev/null; done; rm -rf "$WORK"' EXIT
OUT=$WORK/stdout ERR=$WORK/stderr STATUS=

if [ -z "$IP" ] || ! grep -q multi_queue <<<"$("$IP" tuntap help 2>&1)"; then
    tap_result "iproute2's ip is available" "no ip with tuntap support found"
    tap_done
fi

# The test initramfs plus /net-guest.sh (an appended uncompressed cpio archive).
mkdir "$WORK/extra"
cp "$HERE/../guest/net-guest.sh" "$WORK/extra/"
(cd "$WORK/extra" && echo net-guest.sh | cpio -o -H newc 2>/dev/null) >"$WORK/extra.cpio"
INITRD=$WORK/initrd
# The kernel finds an appended archive only at a 4-byte boundary: pad the first one.
cp "$GUEST/initramfs.cpio.gz" "$INITRD"
pad=$(( (4 - $(stat -c %s "$INITRD") % 4) % 4 ))
head -c "$pad" /dev/zero >>"$INITRD"
cat "$WORK/extra.cpio" >>"$INITRD"

# tapN: 10.0.(N+2).1/24 on this side, multi-queue.
for n in 0 1 2; do
    "$IP" tuntap add tap$n mode tap multi_queue &&
        "$IP" addr add 10.0.$((n + 2)).1/24 dev tap$n && "$IP" link set tap$n up ||
        { tap_result "set up tap$n" "ip tuntap/addr/link failed"; tap_done; }
done

azote_boot() { vm_boot "$1" "$AZOTE" --exit-stats --kernel "$GUEST/vmlinuz" --initrd "$INITRD" "${@:2}"; }
guest_value() { awk -v k="$1" '$1 == k { print $2; exit }' "$OUT.txt"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
clean_exit() {
    PROBLEMS=()
    [ "$STATUS" = 0 ] || PROBLEMS+=("azote exit status $STATUS, expected 0")
    grep -qx 'AZOTE-RUN-EXIT 0' "$OUT.txt" || PROBLEMS+=("the guest script did not finish with status 0")
}

# --- One interface, 2 vCPUs: MAC, a queue pair per vCPU, ping, 64 MiB each way.
head -c $((64 << 20)) /dev/urandom >"$WORK/down.bin"
down_sha=$(sha "$WORK/down.bin")
mkfifo "$WORK/hold"
exec 3<>"$WORK/hold"
nc -l -p 5002 <"$WORK/down.bin" >/dev/null 2>"$WORK/nc-down.log" &
nc -l -p 5001 <"$WORK/hold" >"$WORK/up.bin" 2>"$WORK/nc-up.log" &
MAC0=02:00:00:00:00:0a
BOOT_TIMEOUT=$((BOOT_TIMEOUT + 300)) azote_boot "eth0 on tap0, 2 vCPUs, 64 MiB each way" \
    --cpus 2 --mem 512M --net "tap=tap0,mac=$MAC0" \
    --cmdline "$CMDLINE azote_run=\"sh /net-guest.sh $MAC0 10.0.2.2 10.0.2.1 transfer\""
exec 3>&-
clean_exit
[ "$(guest_value "IFACE-$MAC0")" = eth0 ] || PROBLEMS+=("no eth0 with MAC $MAC0 (saw '$(guest_value "IFACE-$MAC0")')")
[ "$(guest_value PING-10.0.2.1)" = ok ] || PROBLEMS+=("the guest could not ping the TAP end")
tap_result "eth0: the configured MAC, pings the TAP end, exits 0" "${PROBLEMS[@]}"
q=$(guest_value "QUEUES-$MAC0")
[ "$q" = 2 ] && tap_result "2 vCPUs: eth0 has 2 queue pairs" ||
    tap_result "2 vCPUs: eth0 has 2 queue pairs" "guest saw ${q:-no} RX queues"
PROBLEMS=()
[ "$(guest_value DOWN-SHA)" = "$down_sha" ] ||
    PROBLEMS+=("guest received $(guest_value DOWN-BYTES) bytes with sha $(guest_value DOWN-SHA)")
tap_result "TCP host -> guest: 64 MiB arrive with the same SHA-256" "${PROBLEMS[@]}"
PROBLEMS=()
[ "$(guest_value UP-SENT)" = ok ] && [ "$(sha "$WORK/up.bin")" = "$down_sha" ] ||
    PROBLEMS+=("host received $(stat -c %s "$WORK/up.bin") bytes, sha $(sha "$WORK/up.bin")")
tap_result "TCP guest -> host: 64 MiB arrive with the same SHA-256" "${PROBLEMS[@]}"
kill $(jobs -p) 2>/dev/null
wait 2>/dev/null

# --- Two interfaces at once.
MAC1=02:00:00:00:00:1a MAC2=02:00:00:00:00:1b
azote_boot "two interfaces" --net "tap=tap0,mac=$MAC1" --net "tap=tap1,mac=$MAC2,id=wan" \
    --cmdline "$CMDLINE azote_run=\"sh /net-guest.sh $MAC1 10.0.2.2 10.0.2.1 && sh /net-guest.sh $MAC2 10.0.3.2 10.0.3.1\""
clean_exit
[ "$(guest_value PING-10.0.2.1)" = ok ] || PROBLEMS+=("no ping through the first interface")
[ "$(guest_value PING-10.0.3.1)" = ok ] || PROBLEMS+=("no ping through the second interface")
tap_result "two interfaces: each pings its own TAP end" "${PROBLEMS[@]}"

# --- Bad input at start.
vm_boot "missing TAP" "$AZOTE" --kernel "$GUEST/vmlinuz" --net tap=nosuchtap
PROBLEMS=()
[ "$STATUS" = 2 ] || PROBLEMS+=("exit status $STATUS, expected 2")
grep -q 'nosuchtap' "$ERR" || PROBLEMS+=("no message names the TAP")
tap_result "missing TAP: exit 2 with a message naming it" "${PROBLEMS[@]}"

# --- Interop: azote-net serves QEMU's virtio-net-pci through -netdev vhost-user.
if command -v qemu-system-x86_64 >/dev/null; then
    "$NET" --socket "$WORK/q.sock" --tap tap2 >"$WORK/net.log" 2>&1 &
    card=$!
    for _ in $(seq 50); do [ -S "$WORK/q.sock" ] && break; sleep 0.1; done
    MAC3=02:00:00:00:00:2a
    vm_boot "QEMU + azote-net" qemu-system-x86_64 -L /usr/share/seabios -L /usr/share/qemu \
        -M q35,accel=kvm -cpu host -m 256M -smp 1 \
        -nodefaults -no-user-config -nographic -serial stdio -no-reboot \
        -object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
        -chardev socket,id=net0,path="$WORK/q.sock" -netdev vhost-user,id=n0,chardev=net0 \
        -device virtio-net-pci,netdev=n0,mac=$MAC3,romfile= \
        -kernel "$GUEST/vmlinuz" -initrd "$INITRD" \
        -append "$CMDLINE azote_run=\"sh /net-guest.sh $MAC3 10.0.4.2 10.0.4.1\""
    kill $card 2>/dev/null; wait $card 2>/dev/null
    [ "$(guest_value PING-10.0.4.1)" = ok ] && tap_result "interop: a QEMU guest pings through azote-net" ||
        tap_result "interop: a QEMU guest pings through azote-net" "ping: $(guest_value PING-10.0.4.1)" "$(tail -3 "$WORK/net.log")"
else
    tap_skip "interop: a QEMU guest pings through azote-net" "qemu-system-x86_64 not available here"
fi

tap_done
