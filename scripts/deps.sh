#!/usr/bin/env bash
# Install the Debian packages that building and testing azote need.
#
# Idempotent and fast: one dpkg-query call decides what is missing, and apt runs
# (`apt-get update` once, then `apt-get install`) only when something is. Guest
# kernels and busybox are *not* installed here: scripts/guest-assets.sh downloads
# and unpacks them into a cache without touching the host system.
set -euo pipefail

# The one list of host packages, each with why we need it.
PACKAGES=(
    gcc               # builds azote and the unit tests
    make              # drives the build (Makefile)
    clang             # `make asan` (ASan+UBSan) and fuzz targets
    libclang-rt-14-dev # the sanitizer and libFuzzer runtimes clang links
    libcmocka-dev     # unit-test framework linked by tests/unit/test_*
    libjansson-dev    # JSON for the management API and the config file (strict parsing, clear errors)
    liburing-dev      # io_uring for azote-blk's disk I/O (many requests in flight per queue)
    libhttp-parser-dev # the management API's HTTP/1.1 parser: small, callback-driven, no threads (fits the epoll loop)
    libseccomp-dev    # per-role seccomp filters with argument checks (BPF built from our tables), syscall names
    qemu-system-x86   # the KVM lab: a TCG machine with emulated SVM (scripts/lab.sh)
    qemu-system-data  # QEMU firmware (bios, qboot.rom for -M microvm)
    qemu-system-common # qemu-storage-daemon: a third-party vhost-user-blk backend for interop tests
    seabios           # the PC BIOS QEMU's q35 machine needs in the azote-blk interop test
    python3           # the API host test pipelines raw HTTP bytes (a 1000-request burst, junk)
    curl              # drives the management API over its Unix socket in the API tests
    iproute2          # ip tuntap: multi-queue TAP devices for the network tests (in the lab)
    iperf3            # the network benchmark (bench/net.sh), in the guest and on the lab side
    e2fsprogs         # debugfs: the storage test reads the guest's ext2 file on the host
    cpio              # packs guest and lab initramfs archives
    xz-utils          # unpacks the lab kernel's .ko.xz modules
    gzip              # compresses the guest initramfs
    util-linux        # setpriv/unshare/flock used by tests and scripts
    ca-certificates   # lets apt verify https mirrors when fetching guest kernels
)

missing=()
# Installed packages print "<name> ii"; absent ones are not listed at all.
installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${PACKAGES[@]}" 2>/dev/null |
    awk '$2 == "ii" { print $1 }') || true
for p in "${PACKAGES[@]}"; do
    grep -qxF "$p" <<<"$installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
