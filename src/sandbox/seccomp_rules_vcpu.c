/* azote's vCPU threads. Besides KVM_RUN they run the devices' register handlers: virtio-pci
 * status and queue writes drive the vhost-user frontend (messages with fds on the card's
 * socket, a reply awaited with poll), MSI-X table writes move interrupts between irqfds and the
 * loop's epoll set, and the legacy devices raise their IRQ lines and wake the loop (eventfd). */
#include <linux/kvm.h>
#include <signal.h>
#include <sys/ioctl.h>

#include "sandbox/seccomp_rules.h"

static const struct seccomp_rule vcpu[] = {
    SC_IOCTL(KVM_RUN),
    SC_IOCTL(KVM_KVMCLOCK_CTRL), /* parked by a pause: tell the guest's clock */
    SC_IOCTL(KVM_IRQ_LINE),
    SC_IOCTL(KVM_SIGNAL_MSI),
    SC_IOCTL(KVM_IRQFD),
    SC_IOCTL(KVM_IOEVENTFD),
    SC_IOCTL(KVM_SET_GSI_ROUTING),
    /* --xen hypercalls: guest pointers, Xen attributes, events, the platform BAR's memory. */
    SC_IOCTL(KVM_TRANSLATE),
    SC_IOCTL(KVM_XEN_HVM_SET_ATTR),
    SC_IOCTL(KVM_XEN_VCPU_SET_ATTR),
    SC_IOCTL(KVM_XEN_HVM_EVTCHN_SEND),
    SC_IOCTL(KVM_SET_USER_MEMORY_REGION),
    /* The SIGSYS reporter puts the console terminal (stdin) back before the process dies. */
    SC_ARGS2(ioctl, SC_EQ(0, 0), SC_EQ32(1, TCSETS)),
    /* --xen: a vCPU pokes another out of KVM_RUN (SIGUSR1) to apply settings queued for it. */
    SC_ARGS1(tgkill, SC_EQ32(2, SIGUSR1)),
    SC_ALLOW(sendmsg),
    SC_ALLOW(recvmsg),
    SC_ALLOW(poll),
    SC_ALLOW(epoll_ctl),
};

const struct seccomp_rules seccomp_rules_vcpu = SECCOMP_RULES(vcpu);
