/* The hypervisor side of azote's Xen HVM emulation: the state that hypercalls act on (HVM
 * parameters, shared_info, event channels, grant table) and the handlers of each hypercall
 * family. KVM runs the fast paths in the kernel (the hypercall page, event delivery, the VIRQ
 * timer, SCHEDOP_poll, EVTCHNOP_send on routed ports); the rest exits to userspace as
 * KVM_EXIT_XEN and lands in xen_hcall_dispatch().
 *
 * Everything the guest passes is untrusted: pointers are guest virtual addresses translated page
 * by page and bounds-checked against guest memory; indices, ports and counts are checked before
 * use. A bad request gets a Xen error code (-EFAULT, -EINVAL, -ENOSYS...), never a crash.
 *
 * Threads: handlers run on vCPU threads and the event loop's notifications on the loop thread;
 * all of them hold hv->lock. KVM and the VMM are reached through xen_hv_ops (faked by tests). */
#ifndef AZOTE_XEN_XEN_HV_H
#define AZOTE_XEN_XEN_HV_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvm/guest_mem.h"
#include "xen/xen_abi.h"

#define XEN_EVTCHN_PORTS      1024 /* 2-level ports a guest may use (of 4096) */
#define XEN_DOM0_PORTS	      16   /* azote's own ends of interdomain channels */
#define XEN_GNTTAB_MAX_FRAMES 64
#define XEN_MAX_E820	      16

/* What the handlers need from KVM and the VMM. */
struct xen_hv_ops {
	/* KVM_XEN_HVM_SET_ATTR. 0 or -errno. */
	int (*vm_attr)(void *ctx, const struct kvm_xen_hvm_attr *a);
	/* KVM_XEN_VCPU_SET_ATTR on vCPU target, asked by vCPU self (applied later, on target's
	 * own thread, when they differ). 0 or -errno. */
	int (*vcpu_attr)(void *ctx, unsigned self, unsigned target,
			 const struct kvm_xen_vcpu_attr *a);
	/* Raise guest port on vcpu (KVM_XEN_HVM_EVTCHN_SEND). 0 or -errno. */
	int (*send)(void *ctx, uint32_t port, uint32_t vcpu);
	/* Guest virtual to guest physical address on vCPU self (KVM_TRANSLATE). 0 or -EFAULT. */
	int (*translate)(void *ctx, unsigned self, uint64_t gva, uint64_t *gpa);
	/* The guest signalled azote's port dom0_port. */
	void (*dom0_notify)(void *ctx, unsigned dom0_port);
	/* SCHEDOP_shutdown with reason (SHUTDOWN_*). */
	void (*shutdown)(void *ctx, unsigned reason);
	/* Make host page `host` guest page gpa (grant frame index), or undo it (host NULL).
	 * 0 or -errno. */
	int (*map_page)(void *ctx, unsigned index, uint64_t gpa, void *host);
};

struct xen_e820_entry {
	uint64_t addr, size;
	uint32_t type;
};

struct xen_hv_params {
	unsigned major, minor; /* the version the guest sees */
	unsigned ncpus;
	uint16_t domid; /* the guest's own domain id (DOMID_SELF means it too) */
	struct xen_e820_entry e820[XEN_MAX_E820]; /* for XENMEM_memory_map */
	unsigned ne820;
};

struct xen_port {
	uint8_t state; /* EVTCHNSTAT_* */
	uint8_t virq;
	bool routed;   /* KVM delivers EVTCHNOP_send on this port itself */
	uint16_t remote_dom;
	uint32_t remote_port;
	uint32_t vcpu; /* where the guest wants this port's events */
};

struct xen_hv {
	pthread_mutex_t lock;
	struct xen_hv_params p;
	const struct xen_hv_ops *ops;
	void *ctx;
	const struct guest_mem *mem;
	/* The grant table's frames (XEN_GNTTAB_MAX_FRAMES pages, azote's memory), mapped into
	 * the guest where it asks (outside RAM: Linux uses the platform BAR or unpopulated
	 * space); NULL in tests that need no grant table. */
	uint8_t *gnt_mem;

	uint64_t params[HVM_NR_PARAMS];
	uint64_t shinfo_gfn;
	bool shinfo_mapped;
	bool *vcpu_info_placed; /* [ncpus]: the guest registered its own vcpu_info */

	struct xen_port ports[XEN_EVTCHN_PORTS];
	uint32_t dom0_peer[XEN_DOM0_PORTS]; /* guest port bound to each dom0 port, 0: none */
	uint64_t gnt_frame_gfn[XEN_GNTTAB_MAX_FRAMES];
	bool gnt_frame_mapped[XEN_GNTTAB_MAX_FRAMES];
	bool gnt_frame_slot[XEN_GNTTAB_MAX_FRAMES]; /* mapped by ops->map_page (not a RAM page) */
	unsigned gnt_nr_frames; /* frames mapped so far (highest index + 1) */
};

/* Set up the state for a guest; ops/ctx are the KVM side. 0 or -ENOMEM. */
__attribute__((warn_unused_result)) int xen_hv_init(struct xen_hv *hv, const struct xen_hv_params *p,
						    const struct xen_hv_ops *ops, void *ctx,
						    const struct guest_mem *mem);
void xen_hv_fini(struct xen_hv *hv);

/* Handle one hypercall from vCPU self: nr and its up to 6 arguments. Returns what the guest
 * gets in rax (0, a value, or -errno). */
int64_t xen_hcall_dispatch(struct xen_hv *hv, unsigned self, uint64_t nr, const uint64_t args[6]);

/* Hypercall families (hv->lock held). */
int64_t xen_version_op(struct xen_hv *hv, unsigned self, uint64_t cmd, uint64_t arg);
int64_t xen_memory_op(struct xen_hv *hv, unsigned self, uint64_t cmd, uint64_t arg);
int64_t xen_hvm_op(struct xen_hv *hv, unsigned self, uint64_t cmd, uint64_t arg);
int64_t xen_evtchn_op(struct xen_hv *hv, unsigned self, uint64_t cmd, uint64_t arg);
int64_t xen_gnttab_op(struct xen_hv *hv, unsigned self, uint64_t cmd, uint64_t arg,
		      uint64_t count);
int64_t xen_vcpu_op(struct xen_hv *hv, unsigned self, uint64_t cmd, uint64_t vcpu, uint64_t arg);
int64_t xen_sched_op(struct xen_hv *hv, unsigned self, uint64_t cmd, uint64_t arg);

/* Guest memory for the handlers. Copy len bytes from/to guest virtual address gva as seen by
 * vCPU self, page by page. 0 or -EFAULT. */
__attribute__((warn_unused_result)) int xen_guest_read(struct xen_hv *hv, unsigned self,
						       uint64_t gva, void *buf, uint64_t len);
__attribute__((warn_unused_result)) int xen_guest_write(struct xen_hv *hv, unsigned self,
							uint64_t gva, const void *buf, uint64_t len);
/* Host pointer for guest-physical [gpa, gpa+len) in RAM or a mapped grant frame, or NULL. */
void *xen_gpa_ptr(struct xen_hv *hv, uint64_t gpa, uint64_t len);

/* Map the shared_info page at gfn (XENMAPSPACE_shared_info): tell KVM, and place every vCPU's
 * vcpu_info in it unless the guest registered its own. 0 or -errno. */
int xen_shinfo_map(struct xen_hv *hv, unsigned self, uint64_t gfn);

/* Event channels: bind azote's port dom0_port to a fresh guest port (interdomain, as a
 * toolstack does for xenstore and the console). Guest sends reach efd through KVM when efd >=
 * 0, else ops->dom0_notify. 0 or -errno; *guest_port is the guest's end. Lock not held. */
__attribute__((warn_unused_result)) int xen_evtchn_bind_dom0(struct xen_hv *hv, unsigned dom0_port,
							     int efd, uint32_t *guest_port);
/* Bind azote's port dom0_port to guest_port, a port the guest allocated unbound for domain 0
 * (a PV frontend's channel): EVTCHNOP_bind_interdomain from azote's side. Guest sends reach efd
 * through KVM. 0, -EBUSY (dom0_port bound) or -EINVAL (guest_port is not waiting for domain
 * 0). Lock not held. */
__attribute__((warn_unused_result)) int xen_evtchn_bind_guest(struct xen_hv *hv, unsigned dom0_port,
							      uint32_t guest_port, int efd);
/* Undo it: the guest's port (if still bound to dom0_port) is unbound again, as in Xen when the
 * remote end closes. Lock not held. */
void xen_evtchn_unbind_dom0(struct xen_hv *hv, unsigned dom0_port);
/* Signal the guest's end of dom0_port (from the event loop). 0 or -errno. Lock not held. */
int xen_evtchn_notify_guest(struct xen_hv *hv, unsigned dom0_port);

/* Grant table: put frame idx at gfn (XENMAPSPACE_grant_table): outside RAM, azote's frame is
 * mapped there; a RAM page becomes the frame. 0 or -EINVAL. */
int xen_gnttab_map_frame(struct xen_hv *hv, uint64_t idx, uint64_t gfn);
/* For backends: check grant ref (the guest granted access to domid 0, writable if asked) and
 * return the granted gfn. 0, -ENOENT (bad ref or frame not mapped) or -EACCES. Lock not held. */
int xen_gnttab_lookup(struct xen_hv *hv, uint32_t ref, bool writable, uint64_t *gfn);

#endif
