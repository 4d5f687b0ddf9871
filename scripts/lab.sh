#!/usr/bin/env bash
# Run shell commands inside "the lab": a machine where azote can boot real guests.
#
# Usage: scripts/lab.sh [-b BINARY]... [-f SRC:DEST]... [-d DISK]... [-m MEM_MIB] [-s CPUS] [-i]
#                       -- 'commands'
#   -b BINARY    copy BINARY to /lab/bin (on PATH), with the shared libraries ldd
#                lists and the dynamic loader, at their host paths
#   -f SRC:DEST  copy a file or directory to DEST inside the lab
#   -d DISK      attach a raw disk image as a virtio disk (/dev/vda, /dev/vdb...)
#   -m, -s       lab memory in MiB (default 4096) and CPUs (default 2)
#   -i           interactive: the terminal is the lab's console (Ctrl-A x quits QEMU)
#
# Why: hosts whose /dev/kvm cannot run a stock kernel (e.g. KVM's PVM module, which
# emulates every guest instruction) still need real-guest tests. The lab is QEMU
# TCG with `-cpu max` (an emulated AMD CPU with SVM and nested paging) running
# Debian's 6.12 cloud kernel with kvm-amd loaded, so /dev/kvm inside the lab boots
# guests at TCG speed. Assets come from scripts/guest-assets.sh.
#
# Inside the lab: busybox userland plus bash; PATH starts with /lab/bin; the guest
# kernels and test initramfs are in /lab/guest (vmlinuz, vmlinuz-cloud,
# initramfs.cpio.gz); proc, sys, dev, tmp and cgroup2 are mounted; the modules of
# guest-assets.sh's LAB_MODULES are loaded; `lo` is up. The commands run with bash
# in /tmp; their output streams to stdout and the lab then prints `LAB-EXIT <status>`.
#
# Exit status: the commands' status; 124 if LAB_TIMEOUT (seconds, default 1200;
# none with -i unless set) ran out; 125 if the lab stopped without reporting one.
#
# Speed: everything that does not change between runs (busybox, modules, guest
# assets, init) is one cached, uncompressed cpio archive; each run only archives
# its binaries and commands and the kernel unpacks the two concatenated archives.
# Nothing is compressed: the lab kernel unpacks at TCG speed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF=$HERE/$(basename "${BASH_SOURCE[0]}")

usage() { sed -n '3,11p' "$SELF" | sed 's/^# \{0,1\}//'; }
die() { echo "lab.sh: $*" >&2; exit 2; }

BINS=() FILES=() DISKS=() MEM=4096 SMP=1 INTERACTIVE=0
while [ $# -gt 0 ]; do
    case $1 in
        -b) [ $# -ge 2 ] || die "-b needs a file"; BINS+=("$2"); shift 2 ;;
        -f) [ $# -ge 2 ] || die "-f needs SRC:DEST"; FILES+=("$2"); shift 2 ;;
        -d) [ $# -ge 2 ] || die "-d needs a disk image"; DISKS+=("$2"); shift 2 ;;
        -m) [ $# -ge 2 ] || die "-m needs MiB"; MEM=$2; shift 2 ;;
        -s) [ $# -ge 2 ] || die "-s needs a CPU count"; SMP=$2; shift 2 ;;
        -i) INTERACTIVE=1; shift ;;
        -h | --help) usage; exit 0 ;;
        --) shift; break ;;
        *) usage >&2; exit 2 ;;
    esac
done
[ $# -gt 0 ] || { usage >&2; exit 2; }
COMMANDS=$*

ASSETS=$("$HERE/guest-assets.sh" --print-dir)

# The lab's /init (busybox sh). Kept here so that the base archive's recipe covers it.
lab_init() {
    cat <<'EOF'
#!/bin/busybox sh
# Applets at their usual paths, so that scripts using #!/usr/bin/env work.
/bin/busybox --install -s
export PATH=/lab/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
while read -r m; do
    insmod "/lab/modules/$m.ko" || echo "lab: cannot load module $m"
done </lab/modules/load
ip link set lo up
[ -c /dev/kvm ] || echo "lab: no /dev/kvm (kvm-amd did not load?)"
# Guest RAM of VMMs that share it with device processes is shmem (a memfd): let it use
# transparent huge pages where the VMM asks (MADV_HUGEPAGE), as anonymous memory does.
echo advise >/sys/kernel/mm/transparent_hugepage/shmem_enabled 2>/dev/null
echo LAB-READY
cd /tmp
/lab/bin/bash /lab/run.sh
echo "LAB-EXIT $?"
poweroff -f
EOF
}

# cpio_from_dir DIR: archive DIR, following symlinks (staging dirs hold links to the
# real files so that nothing big is copied twice).
cpio_from_dir() {
    (cd "$1" && find -L . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -L -R 0:0)
}

# The cached archive every run shares.
build_base() {
    local base=$ASSETS/lab-base.cpio recipe
    recipe=$({ lab_init; cat "$ASSETS/.recipe"; } | sha256sum | cut -d' ' -f1)
    exec 8>"$ASSETS/.lab-lock"
    flock 8
    if [ -f "$base" ] && [ "$(cat "$base.recipe" 2>/dev/null)" = "$recipe" ]; then
        exec 8>&-
        return 0
    fi
    echo "lab.sh: building the lab base archive" >&2
    local s=$WORK/base
    mkdir -p "$s"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,root,etc,lab/bin,lab/guest}
    ln -s "$ASSETS/busybox" "$s/bin/busybox"
    ln -s "$ASSETS/lab-modules" "$s/lab/modules"
    for f in vmlinuz vmlinuz-cloud initramfs.cpio.gz; do ln -s "$ASSETS/$f" "$s/lab/guest/$f"; done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$s/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$s/etc/group"
    lab_init >"$s/init"
    chmod 755 "$s/init"
    cpio_from_dir "$s" >"$base.new"
    mv "$base.new" "$base"
    echo "$recipe" >"$base.recipe"
    exec 8>&-
}

# stage_binary BINARY: link it into /lab/bin and its libraries at their host paths.
stage_binary() {
    local bin lib
    bin=$(command -v "$1") || die "no such binary: $1"
    bin=$(readlink -f "$bin")
    ln -sf "$bin" "$WORK/run/lab/bin/$(basename "$1")"
    # ldd prints "name => /path (addr)" per library and "/path (addr)" for the loader.
    { ldd "$bin" 2>/dev/null || true; } | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
        while read -r lib; do
            mkdir -p "$WORK/run$(dirname "$lib")"
            ln -sf "$(readlink -f "$lib")" "$WORK/run$lib"
        done
}

build_run_archive() {
    local r=$WORK/run spec src dest b
    mkdir -p "$r/lab/bin"
    stage_binary bash
    for b in "${BINS[@]}"; do stage_binary "$b"; done
    for spec in "${FILES[@]}"; do
        src=${spec%%:*} dest=${spec#*:}
        case $spec:$dest in *:*:/?*) ;; *) die "-f wants SRC:/ABSOLUTE/DEST, got $spec" ;; esac
        [ -e "$src" ] || die "no such file: $src"
        mkdir -p "$r$(dirname "$dest")"
        ln -sfn "$(readlink -f "$src")" "$r$dest"
    done
    printf '%s\n' "$COMMANDS" >"$r/lab/run.sh"
    cpio_from_dir "$r"
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/azote-lab.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
build_base
{ cat "$ASSETS/lab-base.cpio"; build_run_archive; } >"$WORK/lab.cpio"

# The console is multiplexed with the QEMU monitor (Ctrl-A x quits, Ctrl-A c monitor);
# ^C goes to the lab. No -nographic: that turns on SeaBIOS's serial console, which
# clears the terminal.
# TCG runs single-threaded (LAB_TCG_THREAD=multi to change): with one host thread per lab
# CPU, the lab kernel's live code patching (static keys flipped when KVM creates a VM) was
# seen to leave a stale int3 in another CPU's translated code and oops the lab.
# shellcheck disable=SC2054 # commas are QEMU's, not array separators
QEMU=(qemu-system-x86_64 -M q35 -accel "tcg,thread=${LAB_TCG_THREAD:-single}" -cpu max -m "$MEM" -smp "$SMP"
    -nodefaults -no-user-config -display none -no-reboot
    -chardev stdio,id=console,mux=on,signal=off -serial chardev:console
    -mon chardev=console,mode=readline
    -kernel "$ASSETS/vmlinuz-lab" -initrd "$WORK/lab.cpio"
    -append "console=ttyS0 quiet panic=-1 mitigations=off")
for d in "${DISKS[@]}"; do QEMU+=(-drive "file=$d,if=virtio,format=raw"); done

TIMEOUT=${LAB_TIMEOUT:-1200}
[ "$INTERACTIVE" = 1 ] && [ -z "${LAB_TIMEOUT:-}" ] && TIMEOUT=0
# --foreground keeps QEMU in our process group so that ^C reaches it.
set +e
if [ "$INTERACTIVE" = 1 ]; then
    timeout --foreground "$TIMEOUT" "${QEMU[@]}" | tee "$WORK/console"
else
    timeout --foreground "$TIMEOUT" "${QEMU[@]}" </dev/null | tee "$WORK/console"
fi
qemu_status=${PIPESTATUS[0]}
set -e

status=$(tr -d '\r' <"$WORK/console" | sed -n 's/^LAB-EXIT \([0-9]\{1,3\}\)$/\1/p' | tail -n1)
if [ -n "$status" ]; then
    exit "$status"
elif [ "$qemu_status" = 124 ]; then
    echo "lab.sh: timed out after ${TIMEOUT}s (LAB_TIMEOUT)" >&2
    exit 124
else
    echo "lab.sh: the lab stopped without reporting LAB-EXIT (QEMU exit status $qemu_status)" >&2
    exit 125
fi
