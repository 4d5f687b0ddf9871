#!/usr/bin/env bash
# Disks the Nitro way: azote exposes a virtio-blk PCI function and an azote-blk device process
# serves it over vhost-user, straight from guest memory. Checks what a user sees: bytes on the
# host image after the guest wrote and flushed, a host-written pattern read by the guest, a
# read-only disk refusing writes, two disks and two queues at once, a filesystem round trip,
# interoperability with QEMU both ways, and the VM surviving the death of its device process.
#
# Runs inside the lab (tests/run.sh packs azote, azote-blk, qemu-system-x86_64 and
# qemu-storage-daemon there) or on a host with VT-x/AMD-V:
#   AZOTE=build/azote AZOTE_GUEST=$(scripts/guest-assets.sh --print-dir) tests/integration/blk.sh
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../lib/lab-boot.sh"

AZOTE=${AZOTE:-azote}
BLK=${AZOTE_BLK:-$(dirname "$(command -v "$AZOTE")")/azote-blk}
GUEST=${AZOTE_GUEST:-/lab/guest}
BOOT_TIMEOUT=${AZOTE_BOOT_TIMEOUT:-90}
INITRD=$GUEST/initramfs.cpio.gz
CMDLINE="console=ttyS0 quiet"

WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT
OUT=$WORK/stdout ERR=$WORK/stderr STATUS=

boot() { vm_boot "$@"; }

azote_boot() { boot "$1" "$AZOTE" --exit-stats --kernel "$GUEST/vmlinuz" --initrd "$INITRD" "${@:2}"; }

# Lines the guest printed with a given prefix: "KEY value" -> value.
guest_value() { awk -v k="$1" '$1 == k { print $2; exit }' "$OUT.txt"; }

clean_exit() {
    PROBLEMS=()
    [ "$STATUS" = 0 ] || PROBLEMS+=("azote exit status $STATUS, expected 0")
    grep -qx 'AZOTE-RUN-EXIT 0' "$OUT.txt" || PROBLEMS+=("the guest command did not finish with status 0")
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# A 8 MiB random pattern (read-only disk) and a 16 MiB blank data disk.
head -c $((8 << 20)) /dev/urandom >"$WORK/pattern.img"
truncate -s 16M "$WORK/data.img"
pattern_sha=$(sha "$WORK/pattern.img")

# --- Two disks, two vCPUs: read, write + flush, read-only refusal, multiqueue.
azote_boot "two disks, 2 vCPUs" --cpus 2 --mem 256M \
    --disk "path=$WORK/data.img" --disk "path=$WORK/pattern.img,ro" \
    --cmdline "$CMDLINE azote_run=\"echo QUEUES \$(ls /sys/block/vda/mq | wc -l); echo VDB-SHA \$(sha256sum /dev/vdb | cut -c1-64); dd if=/dev/vdb of=/dev/vda bs=1M count=8 conv=fsync 2>/dev/null && echo COPY ok; echo RO \$(blockdev --getro /dev/vdb); dd if=/dev/zero of=/dev/vdb bs=512 count=1 conv=fsync 2>/dev/null && echo ROWRITE accepted || echo ROWRITE refused\""
clean_exit
tap_result "two disks: guest boots, runs, powers off with status 0" "${PROBLEMS[@]}"
got=$(guest_value VDB-SHA)
[ "$got" = "$pattern_sha" ] && tap_result "guest reads the host-written pattern (sha256 matches)" ||
    tap_result "guest reads the host-written pattern (sha256 matches)" "guest saw ${got:-nothing}, host has $pattern_sha"
if [ "$(guest_value COPY)" = ok ] && cmp -s -n $((8 << 20)) "$WORK/data.img" "$WORK/pattern.img"; then
    tap_result "guest writes + flushes 8 MiB: the bytes are on the host image"
else
    tap_result "guest writes + flushes 8 MiB: the bytes are on the host image" "host image differs from what the guest wrote"
fi
PROBLEMS=()
[ "$(guest_value RO)" = 1 ] || PROBLEMS+=("blockdev --getro said $(guest_value RO)")
[ "$(guest_value ROWRITE)" = refused ] || PROBLEMS+=("a write to the ro disk was $(guest_value ROWRITE)")
[ "$(sha "$WORK/pattern.img")" = "$pattern_sha" ] || PROBLEMS+=("the ro image changed on the host")
tap_result "read-only disk: the guest sees it ro and writes are refused" "${PROBLEMS[@]}"
q=$(guest_value QUEUES)
[ "$q" = 2 ] && tap_result "2 vCPUs: the disk has 2 queues" || tap_result "2 vCPUs: the disk has 2 queues" "guest saw ${q:-no} queues"

# --- Filesystem round trip across two boots, checked on the host too.
truncate -s 32M "$WORK/fs.img"
azote_boot "mkfs + write a file" --disk "path=$WORK/fs.img" --disk "path=$WORK/pattern.img,ro" \
    --cmdline "$CMDLINE azote_run=\"mke2fs -q /dev/vda && mkdir -p /mnt && mount -t ext2 /dev/vda /mnt && cat /dev/vdb > /mnt/f && echo FSW \$(sha256sum /mnt/f | cut -c1-64) && umount /mnt\""
clean_exit
[ "$(guest_value FSW)" = "$pattern_sha" ] || PROBLEMS+=("guest wrote a file with sha $(guest_value FSW)")
tap_result "filesystem: guest makes ext2 and writes a file" "${PROBLEMS[@]}"
azote_boot "mount + read the file" --disk "path=$WORK/fs.img" \
    --cmdline "$CMDLINE azote_run=\"mkdir -p /mnt && mount -t ext2 /dev/vda /mnt && echo FSR \$(sha256sum /mnt/f | cut -c1-64)\""
clean_exit
[ "$(guest_value FSR)" = "$pattern_sha" ] || PROBLEMS+=("second boot read sha $(guest_value FSR)")
if command -v debugfs >/dev/null; then
    [ "$(debugfs -R 'cat /f' "$WORK/fs.img" 2>/dev/null | sha256sum | cut -c1-64)" = "$pattern_sha" ] ||
        PROBLEMS+=("debugfs on the host reads a different file")
fi
tap_result "filesystem: a second boot (and the host) read the same file back" "${PROBLEMS[@]}"

# --- Image problems are clear errors at start.
boot "missing image" "$AZOTE" --kernel "$GUEST/vmlinuz" --disk "path=$WORK/nope.img"
PROBLEMS=()
[ "$STATUS" = 2 ] || PROBLEMS+=("exit status $STATUS, expected 2")
grep -q 'nope.img' "$ERR" || PROBLEMS+=("no message names the image")
tap_result "missing image: exit 2 with a message naming it" "${PROBLEMS[@]}"
boot "directory as image" "$AZOTE" --kernel "$GUEST/vmlinuz" --disk "path=$WORK"
[ "$STATUS" = 2 ] && tap_result "directory as image: exit 2" || tap_result "directory as image: exit 2" "exit status $STATUS"
"$BLK" --socket "$WORK/lock.sock" --file "$WORK/data.img" >/dev/null 2>&1 &
holder=$!
sleep 1
boot "image locked by another writer" "$AZOTE" --kernel "$GUEST/vmlinuz" --disk "path=$WORK/data.img"
kill $holder 2>/dev/null; wait $holder 2>/dev/null
PROBLEMS=()
[ "$STATUS" = 2 ] || PROBLEMS+=("exit status $STATUS, expected 2")
grep -qi 'use\|lock' "$ERR" || PROBLEMS+=("no message says the image is in use")
tap_result "image in use by another azote-blk: exit 2, says so" "${PROBLEMS[@]}"

# --- The device process dies mid-run: the VM keeps running and says why.
echo "# boot: device process killed while the guest runs"
timeout -k 10 "$BOOT_TIMEOUT" "$AZOTE" --kernel "$GUEST/vmlinuz" --initrd "$INITRD" \
    --disk "path=$WORK/data.img" \
    --cmdline "$CMDLINE azote_run=\"sleep 8; echo STILL-ALIVE\"" </dev/null >"$OUT" 2>"$ERR" &
vm=$!
for _ in $(seq 100); do grep -q AZOTE-GUEST-READY "$OUT" 2>/dev/null && break; sleep 0.3; done
for p in /proc/[0-9]*; do
    if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q '^[^ ]*azote-blk --fd'; then
        kill -KILL "${p#/proc/}" && echo "#   killed azote-blk (pid ${p#/proc/})"
    fi
done
wait $vm
STATUS=$?
tr -d '\r' <"$OUT" >"$OUT.txt"
tap_indent "    | " <"$OUT"; tap_indent "    stderr| " <"$ERR"
PROBLEMS=()
[ "$STATUS" = 0 ] || PROBLEMS+=("azote exit status $STATUS, expected 0")
grep -qx STILL-ALIVE "$OUT.txt" || PROBLEMS+=("the guest did not keep running")
grep -q 'disk vda: device process is gone' "$ERR" || PROBLEMS+=("no log line about the dead device process")
tap_result "device process killed: VM keeps running, clear log line" "${PROBLEMS[@]}"

# --- Interop: azote-blk serves QEMU's vhost-user-blk-pci.
if command -v qemu-system-x86_64 >/dev/null; then
    "$BLK" --socket "$WORK/q.sock" --file "$WORK/pattern.img" --ro >"$WORK/blk.log" 2>&1 &
    card=$!
    for _ in $(seq 50); do [ -S "$WORK/q.sock" ] && break; sleep 0.1; done
    boot "QEMU + azote-blk" qemu-system-x86_64 -L /usr/share/seabios -L /usr/share/qemu \
        -M q35,accel=kvm -cpu host -m 256M -smp 1 \
        -nodefaults -no-user-config -nographic -serial stdio -no-reboot \
        -object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
        -chardev socket,id=blk0,path="$WORK/q.sock" -device vhost-user-blk-pci,chardev=blk0 \
        -kernel "$GUEST/vmlinuz" -initrd "$INITRD" \
        -append "$CMDLINE azote_run=\"echo QSHA \$(sha256sum /dev/vda | cut -c1-64)\""
    kill $card 2>/dev/null; wait $card 2>/dev/null
    got=$(guest_value QSHA)
    [ "$got" = "$pattern_sha" ] && tap_result "interop: QEMU guest reads a disk served by azote-blk" ||
        tap_result "interop: QEMU guest reads a disk served by azote-blk" "guest saw ${got:-nothing}" "$(tail -3 "$WORK/blk.log")"
else
    tap_skip "interop: QEMU guest reads a disk served by azote-blk" "qemu-system-x86_64 not available here"
fi

# --- Interop: qemu-storage-daemon serves azote.
if command -v qemu-storage-daemon >/dev/null; then
    cp "$WORK/pattern.img" "$WORK/qsd.img"
    qemu-storage-daemon --blockdev "driver=file,node-name=f,filename=$WORK/qsd.img" \
        --export "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=$WORK/qsd.sock,writable=on" \
        >"$WORK/qsd.log" 2>&1 &
    qsd=$!
    for _ in $(seq 50); do [ -S "$WORK/qsd.sock" ] && break; sleep 0.1; done
    azote_boot "azote + qemu-storage-daemon" --disk "socket=$WORK/qsd.sock" \
        --cmdline "$CMDLINE azote_run=\"echo QSDSHA \$(sha256sum /dev/vda | cut -c1-64); dd if=/dev/zero of=/dev/vda bs=1M count=1 conv=fsync 2>/dev/null && echo QSDW ok\""
    kill $qsd 2>/dev/null; wait $qsd 2>/dev/null
    clean_exit
    [ "$(guest_value QSDSHA)" = "$pattern_sha" ] || PROBLEMS+=("guest read sha $(guest_value QSDSHA)")
    [ "$(guest_value QSDW)" = ok ] && cmp -s -n $((1 << 20)) "$WORK/qsd.img" /dev/zero ||
        PROBLEMS+=("the guest's write did not reach the image")
    [ ${#PROBLEMS[@]} -eq 0 ] || PROBLEMS+=("qemu-storage-daemon: $(tail -3 "$WORK/qsd.log")")
    tap_result "interop: azote uses a disk served by qemu-storage-daemon" "${PROBLEMS[@]}"
else
    tap_skip "interop: azote uses a disk served by qemu-storage-daemon" "qemu-storage-daemon not available here"
fi

tap_done
