#!/usr/bin/env bash
# Fetch the guest kernels azote's tests boot and build the test-guest initramfs.
#
# Usage: scripts/guest-assets.sh [--print-dir]
#
# Downloads (apt-get download + dpkg-deb -x, never installed on the host) Debian's
# stock 6.1 kernel, its 6.1 cloud kernel, the 6.12 cloud kernel that runs the KVM
# lab (scripts/lab.sh), and busybox-static, into a cache outside the repository:
# ${AZOTE_CACHE:-~/.cache/azote}. The download happens once; AZOTE_REFRESH=1 asks
# apt (its current lists) again and re-fetches if a kernel changed. Derived files are rebuilt whenever this script or the
# fetched packages change. The cache then holds:
#   vmlinuz              stock Debian 6.1 kernel (linux-image-amd64's dependency)
#   vmlinuz-cloud        Debian 6.1 cloud kernel (linux-image-cloud-amd64's)
#   vmlinuz-lab          Debian 6.12 cloud kernel, the lab's own kernel
#   initramfs.cpio.gz    busybox test guest, /init described below
#   lab-modules/*.ko     the lab kernel's modules, uncompressed; lab-modules/load
#                        lists them in load order
#   busybox              static busybox (also used as the lab's userland)
# With --print-dir the only thing written to stdout is the cache directory.
#
# The guest's /init mounts proc/sys/dev, loads the modules below (dependencies
# first), prints AZOTE-GUEST-READY, then:
#   azote_run="cmds"  runs `sh -c "cmds"`, prints `AZOTE-RUN-EXIT <status>`, powers off;
#   azote_shell=1     gives an interactive busybox shell, powers off when it exits;
#   neither           powers off at once.
# Linux hands unknown `name=value` boot parameters (no dot in the name) to init as
# environment variables, with the surrounding double quotes removed, so the value
# may hold spaces, `;` and `>` but no double quote.
set -euo pipefail

CACHE=${AZOTE_CACHE:-$HOME/.cache/azote}
SELF=$(readlink -f "${BASH_SOURCE[0]}")

# Guest-side drivers later tests need; missing ones are skipped (e.g. built in).
GUEST_MODULES=(
    virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
    virtio_blk failover net_failover virtio_net # virtio-pci disks and NICs
    nvme-core nvme                               # NVMe-presented disks
    vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport # virtio-vsock
    pvpanic-mmio # ACPI QEMU0001 device: how the guest reports a panic to azote
    crc32c_generic ext4 # file systems on guest disks (ext4 needs the crc32c driver; modules in Debian)
    xen-evtchn xenfs xen-blkfront xen-netfront # --xen guests (xenbus, grant tables, hvc0: built in)
)
# Lab-host modules; all must exist. Loaded by the lab's init in this order (deps first).
LAB_MODULES=(
    irqbypass kvm kvm-amd # /dev/kvm on the lab's emulated SVM
    tun veth bridge       # TAP devices and namespaced networks for net tests
    virtio_blk loop       # lab disks (lab.sh -d) and loop-mounted images
    vhost_vsock           # host side of virtio-vsock
)

log() { echo "guest-assets: $*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# The versioned kernel package a Debian meta-package currently depends on.
kernel_package() {
    apt-cache depends "$1" 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}

fetch_packages() {
    if [ -f "$CACHE/packages" ] && [ -z "${AZOTE_REFRESH:-}" ]; then
        return 0
    fi
    # A fresh machine (or container) may have no package lists yet.
    if [ -z "$(kernel_package linux-image-amd64)" ]; then
        log "apt-get update"
        as_root apt-get update -qq
    fi
    local stock cloud lab
    stock=$(kernel_package linux-image-amd64)
    cloud=$(kernel_package linux-image-cloud-amd64)
    lab=$(kernel_package linux-image-6.12-cloud-amd64)
    if [ -z "$stock" ] || [ -z "$cloud" ] || [ -z "$lab" ]; then
        die "apt does not know linux-image-amd64, linux-image-cloud-amd64 and linux-image-6.12-cloud-amd64 (Debian 12 sources needed)"
    fi

    # AZOTE_REFRESH=1 with nothing new: keep what we have.
    if [ -f "$CACHE/packages" ] && [ -d "$CACHE/root" ] &&
        [ "$(printf 'stock=%s\ncloud=%s\nlab=%s' "${stock#linux-image-}" "${cloud#linux-image-}" "${lab#linux-image-}")" = "$(cat "$CACHE/packages")" ]; then
        return 0
    fi
    local tmp
    tmp=$(mktemp -d "$CACHE/.fetch.XXXXXX")
    log "downloading $stock $cloud $lab busybox-static"
    # As root, apt drops to the _apt user, which cannot write into a private cache.
    local sandbox=()
    [ "$(id -u)" -eq 0 ] && sandbox=(-o APT::Sandbox::User=root)
    (cd "$tmp" && apt-get download -qq "${sandbox[@]}" "$stock" "$cloud" "$lab" busybox-static) ||
        die "apt-get download failed"
    log "unpacking"
    local deb
    for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$tmp/root"; done
    rm -rf "$CACHE/root"
    mv "$tmp/root" "$CACHE/root"
    rm -rf "$tmp"
    printf 'stock=%s\ncloud=%s\nlab=%s\n' \
        "${stock#linux-image-}" "${cloud#linux-image-}" "${lab#linux-image-}" >"$CACHE/packages.new"
    mv "$CACHE/packages.new" "$CACHE/packages"
}

# Print a module file's contents, uncompressed.
ko_cat() {
    case $1 in
        *.ko) cat "$1" ;;
        *.ko.xz) xz -dc "$1" ;;
        *.ko.zst) zstd -qdc "$1" ;;
        *) die "unknown module format: $1" ;;
    esac
}

# The modules a module needs, read from its .modinfo section (no kmod needed).
ko_depends() {
    ko_cat "$1" | LC_ALL=C tr '\0' '\n' | LC_ALL=C sed -n 's/^depends=//p' | head -n1 | tr ',' ' '
}

# resolve_modules MODDIR strict|lenient NAME...: set RESOLVED to the module files for
# NAMEs plus everything they depend on, each after its dependencies. Built-in modules
# are skipped; absent ones are an error when strict, skipped with a note otherwise.
resolve_modules() {
    local dir=$1 mode=$2 f n
    shift 2
    declare -gA KO=() BUILTIN=() SEEN=()
    RESOLVED=()
    # Kernel module names treat '-' and '_' alike, file names do not: key on '_'.
    while IFS= read -r f; do
        n=${f##*/}
        n=${n%%.ko*}
        KO[${n//-/_}]=$f
    done < <(find "$dir/kernel" -name '*.ko*')
    while IFS= read -r f; do
        n=${f##*/}
        n=${n%.ko}
        BUILTIN[${n//-/_}]=1
    done <"$dir/modules.builtin"
    for n in "$@"; do visit_module "$n" "$mode"; done
}

visit_module() {
    local key=${1//-/_} mode=$2 f d
    [ -n "${SEEN[$key]:-}" ] && return 0
    SEEN[$key]=1
    f=${KO[$key]:-}
    if [ -z "$f" ]; then
        [ -n "${BUILTIN[$key]:-}" ] && return 0
        [ "$mode" = strict ] && die "module $1 not found in ${dir:-kernel}"
        log "note: module $1 not available, skipped"
        return 0
    fi
    for d in $(ko_depends "$f"); do visit_module "$d" "$mode"; done
    RESOLVED+=("$f")
}

# install_modules DESTDIR FILE...: uncompressed copies plus a `load` file in order.
install_modules() {
    local dest=$1 f n
    shift
    mkdir -p "$dest"
    : >"$dest/load"
    for f in "$@"; do
        n=${f##*/}
        n=${n%%.ko*}
        ko_cat "$f" >"$dest/$n.ko"
        echo "$n" >>"$dest/load"
    done
}

write_guest_init() {
    cat >"$1" <<'EOF'
#!/bin/busybox sh
# azote test-guest init, generated by scripts/guest-assets.sh (see its header).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mods=/lib/modules/$(uname -r)
if [ -f "$mods/load" ]; then
    while read -r m; do
        # Xen drivers refuse to load off Xen; /sys/hypervisor/type exists on Xen only.
        case $m in xen*) [ -e /sys/hypervisor/type ] || continue ;; esac
        insmod "$mods/$m.ko"
    done <"$mods/load"
fi
echo AZOTE-GUEST-READY
if [ -n "${azote_run+set}" ]; then
    run=$azote_run
    unset azote_run azote_shell
    sh -c "$run"
    echo "AZOTE-RUN-EXIT $?"
elif [ "${azote_shell:-}" = 1 ]; then
    unset azote_shell
    # cttyhack opens the real console device, so the shell gets job control and ^C.
    setsid cttyhack sh -l
fi
poweroff -f
# Still here: power-off is not implemented by the machine. Do not exit (that panics).
echo "azote-init: poweroff -f returned"
while :; do sleep 3600; done
EOF
    chmod 755 "$1"
}

build_derived() {
    # shellcheck disable=SC1091
    . "$CACHE/packages" # stock= cloud= lab=
    local root=$CACHE/root
    for v in "$stock" "$cloud" "$lab"; do
        [ -f "$root/boot/vmlinuz-$v" ] || die "$root/boot/vmlinuz-$v missing (AZOTE_REFRESH=1 to re-fetch)"
    done
    ln -sfn "root/boot/vmlinuz-$stock" "$CACHE/vmlinuz"
    ln -sfn "root/boot/vmlinuz-$cloud" "$CACHE/vmlinuz-cloud"
    ln -sfn "root/boot/vmlinuz-$lab" "$CACHE/vmlinuz-lab"
    ln -sfn root/bin/busybox "$CACHE/busybox"

    log "lab modules for $lab"
    resolve_modules "$root/lib/modules/$lab" strict "${LAB_MODULES[@]}"
    rm -rf "$CACHE/lab-modules"
    install_modules "$CACHE/lab-modules" "${RESOLVED[@]}"

    log "guest initramfs"
    local stage v
    stage=$(mktemp -d "$CACHE/.initramfs.XXXXXX")
    mkdir -p "$stage"/{bin,proc,sys,dev,tmp,root}
    cp "$root/bin/busybox" "$stage/bin/busybox"
    write_guest_init "$stage/init"
    for v in "$stock" "$cloud"; do
        resolve_modules "$root/lib/modules/$v" lenient "${GUEST_MODULES[@]}"
        install_modules "$stage/lib/modules/$v" "${RESOLVED[@]}"
    done
    (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) |
        gzip -9 >"$CACHE/initramfs.cpio.gz.new"
    mv "$CACHE/initramfs.cpio.gz.new" "$CACHE/initramfs.cpio.gz"
    rm -rf "$stage"
}

main() {
    case "${1:-}" in
        --print-dir | "") ;;
        -h | --help) sed -n '2,/^set -e/p' "$SELF" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "usage: $0 [--print-dir]" >&2; exit 2 ;;
    esac
    mkdir -p "$CACHE"
    CACHE=$(cd "$CACHE" && pwd)
    # Concurrent runs (make test and make run) share one cache.
    exec 9>"$CACHE/.lock"
    flock 9

    fetch_packages
    # Derived files depend only on this script and the fetched packages.
    local recipe
    recipe=$(cat "$SELF" "$CACHE/packages" | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$CACHE/.recipe" 2>/dev/null)" != "$recipe" ] || [ ! -f "$CACHE/initramfs.cpio.gz" ]; then
        build_derived
        echo "$recipe" >"$CACHE/.recipe"
    fi

    if [ "${1:-}" = --print-dir ]; then
        echo "$CACHE"
    else
        log "assets in $CACHE:"
        (cd "$CACHE" && ls -lL vmlinuz vmlinuz-cloud vmlinuz-lab initramfs.cpio.gz busybox && ls lab-modules) >&2
    fi
}

main "$@"
