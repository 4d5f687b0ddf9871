/* azote's main thread once the machine is built: the event loop (console, signals, stop
 * requests, serial output, coalesced-write drain), the management API's connections, the
 * device processes' sockets and their reaping, interrupts delivered from the loop, pause and
 * resume, and the teardown at exit (vCPU threads kicked and joined, cards told to exit). */
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

#include "sandbox/seccomp_rules.h"

static const struct seccomp_rule vmm[] = {
    SC_ALLOW(epoll_wait),
    SC_ALLOW(epoll_pwait),
    SC_ALLOW(epoll_ctl),
    /* The API: connections on the listening socket made before the filter. */
    SC_ALLOW(accept4),
    SC_ALLOW(recvfrom),
    SC_ALLOW(sendto),
    SC_ALLOW(timerfd_settime), /* the API's idle and request deadlines */
    SC_ALLOW(unlink),	       /* the API's socket file, removed at exit */
    /* vhost-user messages to the cards (device reset, teardown). */
    SC_ALLOW(sendmsg),
    SC_ALLOW(recvmsg),
    SC_ALLOW(poll),
    /* --exit-stats reads /proc/self/status; nothing is opened for writing after boot. */
    SC_ARGS1(openat, SC_CLEAR(2, O_ACCMODE | O_CREAT | O_TRUNC)),
    SC_ALLOW(newfstatat),
    SC_ALLOW(lseek),
    /* Interrupts from the loop (serial and keyboard lines, masked MSI-X vectors), and the
     * routes and eventfds a device reset or the teardown takes down. */
    SC_IOCTL(KVM_IRQ_LINE),
    SC_IOCTL(KVM_SIGNAL_MSI),
    SC_IOCTL(KVM_IRQFD),
    SC_IOCTL(KVM_IOEVENTFD),
    SC_IOCTL(KVM_SET_GSI_ROUTING),
    SC_IOCTL(KVM_XEN_HVM_EVTCHN_SEND), /* --xen: xenstore and console events to the guest */
    /* --xen disks: a PV frontend's event channel, bound (routed to the device process's
     * eventfd) and unbound when the xenbus handshake says so, from the loop. */
    SC_IOCTL(KVM_XEN_HVM_SET_ATTR),
    /* --exit-stats: where each vCPU stood. */
    SC_IOCTL(KVM_GET_REGS),
    SC_IOCTL(KVM_GET_MP_STATE),
    /* The console terminal, put back in its old mode at exit. */
    SC_IOCTL(TCGETS),
    SC_IOCTL(TCSETS),
    /* vCPU threads are kicked out of KVM_RUN (pause, exit) and joined; a card that does not
     * exit is killed; ended cards are reaped (SIGCHLD on the signalfd). */
    SC_ALLOW(tgkill),
    SC_ALLOW(kill),
    SC_ALLOW(wait4),
    SC_ALLOW(clock_nanosleep),
};

const struct seccomp_rules seccomp_rules_vmm = SECCOMP_RULES(vmm);
