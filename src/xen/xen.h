/* --xen: the Xen HVM platform a guest sees instead of KVM's (CPUID leaves, hypercalls, event
 * channels, grant table, the platform PCI device, xenstore and the PV console), built from the
 * files of src/xen/. The VMM calls, in its boot sequence: xen_check (with /dev/kvm),
 * xen_create (after RAM), xen_add_devices (after the PCI host), the vCPU hooks, then
 * xen_attach_loop; xen_destroy at the end. */
#ifndef AZOTE_XEN_XEN_H
#define AZOTE_XEN_XEN_H

#include <stdbool.h>
#include <stdint.h>

#include "kvm/guest_mem.h"
#include "kvm/iobus.h"
#include "kvm/vcpu.h"
#include "util/evloop.h"

struct xen;
struct pci_host;
struct kvm_cpuid2;

#define XEN_GUEST_DOMID 1
/* Pages of the BIOS hole (RAM to azote, not in the e820 map) that hold the rings. */
#define XEN_STORE_PFN	0xdeull
#define XEN_CONSOLE_PFN 0xdfull

struct xen_config {
	int vm_fd;
	unsigned ncpus;
	unsigned major, minor;
	const struct guest_mem *mem;
	int console_fd;	 /* where hvc0 output goes */
	vcpu_stop_fn stop; /* how a guest's SCHEDOP_shutdown ends the VM */
	void *stop_ctx;
	bool stats; /* print hypercall counts when destroyed */
};

/* Whether /dev/kvm (kvm_fd) can run Xen guests; logs the missing capability. 0 or -ENOTSUP. */
__attribute__((warn_unused_result)) int xen_check(int kvm_fd);
/* Configure KVM for Xen and build the platform's state. 0 or -errno (logged). */
__attribute__((warn_unused_result)) int xen_create(struct xen **out, const struct xen_config *c);
/* Put the platform PCI device on pci and claim the unplug ports on pio. 0 or -errno. */
__attribute__((warn_unused_result)) int xen_add_devices(struct xen *x, struct pci_host *pci,
							struct iobus *pio);
/* Replace KVM's CPUID leaves with Xen's for vCPU index. 0 or -ENOMEM. */
__attribute__((warn_unused_result)) int xen_cpuid(struct xen *x, struct kvm_cpuid2 **cpuid,
						  unsigned index);
/* The vCPUs exist / their threads are about to start. */
void xen_set_vcpus(struct xen *x, struct vcpu *vcpus, unsigned n);
void xen_set_running(struct xen *x);
/* The vcpu_env hooks (ctx is the struct xen). */
bool xen_vcpu_exit(void *ctx, struct vcpu *vcpu);
void xen_vcpu_pre_run(void *ctx, struct vcpu *vcpu);
/* Serve xenstore and the console on loop / stop. 0 or -errno. */
__attribute__((warn_unused_result)) int xen_attach_loop(struct xen *x, struct evloop *loop);
void xen_detach_loop(struct xen *x, struct evloop *loop);
/* A disk for the guest as a Xen vbd (xvda, xvdb... by index) whose ring a device process
 * serves: the xenstore nodes, the xenbus handshake, the event channel (kick_efd: KVM signals
 * it on the guest's notifications; call_efd: the device process signals it to notify the
 * guest). The eventfds become the platform's; sock stays the caller's, open until
 * xen_detach_loop. 0 or -errno (logged). */
#define XEN_MAX_VBDS 8
struct xen_vbd_config;
__attribute__((warn_unused_result)) int xen_add_vbd(struct xen *x, const struct xen_vbd_config *c);
/* The grant table's frames (a memfd of XEN_GNTTAB_MAX_FRAMES pages) for a backend process. */
int xen_gnttab_fd(const struct xen *x);
/* azote's event-channel port for vbd index (xen_vbd_config.dom0_port). */
unsigned xen_vbd_dom0_port(unsigned index);
/* Free everything. Accepts NULL. The vCPUs must be gone. */
void xen_destroy(struct xen *x);

#endif
