#!/usr/bin/env bash
# azote-blk against a real Linux virtio-blk driver, with QEMU as the vhost-user frontend
# (`-device vhost-user-blk-pci`) under TCG, so it runs on any host in seconds: Debian's cloud
# kernel boots the test initramfs with three disks served by three azote-blk processes and
# runs a script read from the third (read-only) disk. Then, with QEMU gone, the host checks
# what a user would: the bytes the guest wrote and flushed are in the image files, the
# discarded range reads as zeros, the file system the guest made passes e2fsck, and the
# backends are still waiting for the next frontend and end cleanly on SIGTERM.
#
# Usage: AZOTE=build/azote tests/host/blk-qemu.sh   (azote-blk is looked up next to azote)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/tap.sh"

AZOTE=$(realpath -m "${AZOTE:-$ROOT/build/azote}")
BLK=${AZOTE_BLK:-$(dirname "$AZOTE")/azote-blk}
[ -x "$BLK" ] || { tap_result "azote-blk is built" "$BLK missing: run make"; tap_done; }
command -v qemu-system-x86_64 >/dev/null ||
    { tap_skip "azote-blk serves a Linux guest through QEMU" "qemu-system-x86_64 not installed"; tap_done; }
ASSETS=$("$ROOT/scripts/guest-assets.sh" --print-dir) ||
    { tap_result "guest assets" "scripts/guest-assets.sh failed"; tap_done; }

W=$(mktemp -d "${TMPDIR:-/tmp}/azote-blk-qemu.XXXXXX")
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT

MIB=1048576
truncate -s 64M "$W/a.img" # data, discard, two queues
truncate -s 32M "$W/b.img" # the guest makes a file system here
# The guest's script, on the read-only disk; NUL padding is dropped before sh reads it.
cat >"$W/script.img" <<'EOF'
set -e
r() { echo "R $1=$2"; }
r size "$(cat /sys/block/vda/size)"
r serial "$(cat /sys/block/vda/serial)"
r queues "$(ls /sys/block/vda/mq | wc -l)"
r discard "$(cat /sys/block/vda/queue/discard_max_bytes)"
r wzeroes "$(cat /sys/block/vda/queue/write_zeroes_max_bytes)"
r ro "$(cat /sys/block/vdc/ro)"
head -c 4194304 /dev/urandom >/r
dd if=/r of=/dev/vda bs=65536 seek=16 conv=fsync 2>/dev/null
echo 3 >/proc/sys/vm/drop_caches
r readback "$(dd if=/dev/vda bs=65536 skip=16 count=64 2>/dev/null | sha256sum | cut -d' ' -f1)"
r written "$(sha256sum </r | cut -d' ' -f1)"
r tail "$(dd if=/r bs=1048576 skip=1 2>/dev/null | sha256sum | cut -d' ' -f1)"
blkdiscard -o 1048576 -l 1048576 /dev/vda
for c in 0 1; do
    head -c 1048576 /dev/urandom >/w$c
    r w$c "$(sha256sum </w$c | cut -d' ' -f1)"
    taskset -c $c dd if=/w$c of=/dev/vda bs=4096 seek=$((4096 + c * 256)) oflag=direct conv=fsync 2>/dev/null &
done
wait
mke2fs -q -F /dev/vdb
sync
r done ok
EOF
truncate -s 1M "$W/script.img"

# start_blk NAME ARGS...: an azote-blk on $W/NAME.sock, log in $W/NAME.log.
start_blk() {
    local name=$1 i
    shift
    "$BLK" --socket "$W/$name.sock" "$@" </dev/null >/dev/null 2>"$W/$name.log" &
    PIDS+=($!)
    eval "PID_$name=$!"
    for i in $(seq 50); do [ -S "$W/$name.sock" ] && return 0; sleep 0.1; done
    return 1
}

if ! start_blk a --file "$W/a.img" --serial azote-test-disk --queues 2 ||
    ! start_blk b --file "$W/b.img" || ! start_blk c --file "$W/script.img" --ro; then
    tap_result "azote-blk starts" "$(cat "$W"/*.log | tr '\n' '|')"
    tap_done
fi

# TCG: no dependency on the host's KVM. Shared memfd RAM is what vhost-user needs.
disks=()
for n in a b c; do
    disks+=(-chardev "socket,id=$n,path=$W/$n.sock" -device "vhost-user-blk-pci,chardev=$n,num-queues=2")
done
timeout -k 5 240 qemu-system-x86_64 -machine q35,accel=tcg -cpu max -smp 2 -m 256M \
    -object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
    "${disks[@]}" -kernel "$ASSETS/vmlinuz-cloud" -initrd "$ASSETS/initramfs.cpio.gz" \
    -append "console=ttyS0 panic=-1 quiet azote_run=\"dd if=/dev/vdc bs=4096 count=4 2>/dev/null | tr -d '\\000' | sh\"" \
    -nographic -no-reboot </dev/null >"$W/console.log" 2>&1
status=$?
tr -d '\r' <"$W/console.log" >"$W/console"
result() { sed -n "s/^R $1=//p" "$W/console" | tail -n1; }

problems=()
[ "$status" = 0 ] || problems+=("qemu exit status $status")
grep -q '^AZOTE-RUN-EXIT 0' "$W/console" || problems+=("the guest script failed")
[ "$(result done)" = ok ] || problems+=("the guest script did not finish")
tap_result "Linux guest runs its disk tests through QEMU + azote-blk" "${problems[@]}"
if [ ${#problems[@]} -ne 0 ]; then
    tap_indent <"$W/console" | tail -n 40
    tap_indent "    blk | " <"$W/a.log"
    tap_done
fi

check() { # check NAME GOT EXPECTED
    if [ "$2" = "$3" ]; then tap_result "$1"; else tap_result "$1" "got '$2', expected '$3'"; fi
}
check "capacity seen by the guest" "$(result size)" $((64 * 2048))
check "serial (GET_ID) seen by the guest" "$(result serial)" azote-test-disk
check "two queues used by the guest" "$(result queues)" 2
check "read-only disk seen read-only" "$(result ro)" 1
[ "$(result discard)" -gt 0 ] && [ "$(result wzeroes)" -gt 0 ] &&
    tap_result "discard and write-zeroes offered" ||
    tap_result "discard and write-zeroes offered" "discard_max_bytes $(result discard), write_zeroes_max_bytes $(result wzeroes)"
check "guest reads back what it wrote" "$(result readback)" "$(result written)"

# The guest is gone: what it flushed must be in the files.
sum() { dd if="$W/a.img" bs=$MIB iflag=skip_bytes,count_bytes skip="$1" count="$2" 2>/dev/null | sha256sum | cut -d' ' -f1; }
check "flushed data is in the image file" "$(sum $((2 * MIB)) $((3 * MIB)))" "$(result tail)"
check "data written by CPU 0's queue is in the image file" "$(sum $((16 * MIB)) $MIB)" "$(result w0)"
check "data written by CPU 1's queue is in the image file" "$(sum $((17 * MIB)) $MIB)" "$(result w1)"
if cmp -s -n $MIB <(dd if="$W/a.img" bs=$MIB skip=1 count=1 2>/dev/null) /dev/zero; then
    tap_result "discarded range reads as zeros"
else
    tap_result "discarded range reads as zeros" "bytes left at 1 MiB..2 MiB"
fi
if command -v e2fsck >/dev/null || [ -x /usr/sbin/e2fsck ]; then
    fsck=$(command -v e2fsck || echo /usr/sbin/e2fsck)
    out=$("$fsck" -fn "$W/b.img" 2>&1) && tap_result "file system made by the guest is clean (e2fsck)" ||
        tap_result "file system made by the guest is clean (e2fsck)" "$(tr '\n' '|' <<<"$out")"
else
    tap_skip "file system made by the guest is clean (e2fsck)" "e2fsck not installed"
fi

# The frontend left; the backends wait for the next one, and stop cleanly.
problems=()
for n in a b c; do
    eval "pid=\$PID_$n"
    kill -0 "$pid" 2>/dev/null || { problems+=("azote-blk $n exited with the frontend"); continue; }
    kill -TERM "$pid"
    wait "$pid"
    s=$?
    [ "$s" = 0 ] || problems+=("azote-blk $n: exit status $s after SIGTERM")
    ! grep -qi 'error' "$W/$n.log" || problems+=("azote-blk $n logged: $(grep -i error "$W/$n.log" | head -3 | tr '\n' '|')")
done
tap_result "backends outlive the frontend and stop on SIGTERM without errors" "${problems[@]}"
tap_done
