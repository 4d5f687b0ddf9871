#!/usr/bin/env bash
# --xen on a host whose KVM cannot run Xen guests (this one: KVM's PVM module has no
# KVM_CAP_XEN_HVM) must stop before any guest runs: exit 2 and one stderr line naming the
# missing capability. Also the --xen-version values the CLI refuses. Where KVM does offer
# KVM_CAP_XEN_HVM (the lab), the first case is skipped: tests/integration/xen.sh boots there.
#
# Usage: AZOTE=build/azote tests/host/xen.sh   (tests/run.sh sets AZOTE)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/tap.sh"
. "$ROOT/tests/lib/expect-bad.sh"

AZOTE=$(realpath -m "${AZOTE:-$ROOT/build/azote}")
[ -x "$AZOTE" ] || { tap_result "azote is built" "$AZOTE missing: run make"; tap_done; }
ASSETS=$("$ROOT/scripts/guest-assets.sh" --print-dir) ||
    { tap_result "guest assets" "scripts/guest-assets.sh failed"; tap_done; }
W=$(mktemp -d "${TMPDIR:-/tmp}/azote-xen.XXXXXX")
trap 'rm -rf "$W"' EXIT
K=$ASSETS/vmlinuz

# Does this host's KVM have KVM_CAP_XEN_HVM (38)? Ask it the way azote does.
cat >"$W/cap.c" <<'C'
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <sys/ioctl.h>
int main(void)
{
	int fd = open("/dev/kvm", O_RDWR);
	printf("%d\n", fd < 0 ? -1 : ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_XEN_HVM));
	return 0;
}
C
caps=-1
cc -o "$W/cap" "$W/cap.c" 2>/dev/null && caps=$("$W/cap")
if [ "$caps" = -1 ]; then
    tap_skip "--xen without KVM_CAP_XEN_HVM: exit 2 naming it" "no usable /dev/kvm here"
elif [ "$caps" -gt 0 ]; then
    tap_skip "--xen without KVM_CAP_XEN_HVM: exit 2 naming it" "this KVM has it ($caps)"
else
    expect_bad_input "--xen without KVM_CAP_XEN_HVM: exit 2 naming it" 'KVM_CAP_XEN_HVM' \
        -- "$AZOTE" --xen --kernel "$K"
fi
for v in 4 4. .17 4.x 4.17.1 99999.1 -1.2 ""; do
    expect_bad_input "--xen-version '$v' refused" 'xen-version' -- \
        "$AZOTE" --xen --xen-version "$v" --kernel "$K"
done
tap_done
