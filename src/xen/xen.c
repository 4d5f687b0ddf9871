/* The Xen platform's owner: builds it, routes KVM exits and loop events to its parts. */
#include "xen/xen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kvm.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/x86/e820.h"
#include "pci/pci_host.h"
#include "util/log.h"
#include "xen/xen_console.h"
#include "xen/xen_cpuid.h"
#include "xen/xen_hv.h"
#include "xen/xen_kvm.h"
#include "xen/xen_platform.h"
#include "xen/xen_vbd.h"
#include "xen/xenstore.h"
#include "xen/xs_ring.h"

#define XEN_DOM0_STORE	 1
#define XEN_DOM0_CONSOLE 2
#define XEN_DOM0_VBD	 3 /* vbd i uses XEN_DOM0_VBD + i */
_Static_assert(XEN_DOM0_VBD + XEN_MAX_VBDS <= XEN_DOM0_PORTS, "a dom0 port per vbd");
#define XEN_HCALL_STATS	 64
#define XEN_GNT_SLOT_BASE 32 /* KVM memory slots of the grant frames (RAM uses the first ones) */
#define XEN_GNT_BYTES	 ((size_t)XEN_GNTTAB_MAX_FRAMES * XEN_PAGE_SIZE)

struct xen {
	struct xen_config c;
	struct xen_kvm kvm;
	bool kvm_ready;
	struct xen_hv hv;
	bool hv_ready;
	struct xen_platform *platform;
	struct xenstore *store;
	struct xs_ring ring;
	struct xen_console console;
	int store_efd, console_efd;
	int gnt_memfd; /* the grant frames: shareable with device processes (backends) */
	uint8_t *gnt_mem;
	uint64_t hcalls[XEN_HCALL_STATS]; /* by hypercall number (relaxed atomics) */
	struct xen_vbd *vbds[XEN_MAX_VBDS];
	unsigned nvbds;
};

static int xen_op_vm_attr(void *ctx, const struct kvm_xen_hvm_attr *a)
{
	return xen_kvm_vm_attr(&((struct xen *)ctx)->kvm, a);
}

static int xen_op_vcpu_attr(void *ctx, unsigned self, unsigned target,
			    const struct kvm_xen_vcpu_attr *a)
{
	return xen_kvm_vcpu_attr(&((struct xen *)ctx)->kvm, self, target, a);
}

static int xen_op_send(void *ctx, uint32_t port, uint32_t vcpu)
{
	return xen_kvm_send(&((struct xen *)ctx)->kvm, port, vcpu);
}

static int xen_op_translate(void *ctx, unsigned self, uint64_t gva, uint64_t *gpa)
{
	return xen_kvm_translate(&((struct xen *)ctx)->kvm, self, gva, gpa);
}

static void xen_op_dom0_notify(void *ctx, unsigned dom0_port)
{
	struct xen *x = ctx;
	uint64_t one = 1;
	int fd = dom0_port == XEN_DOM0_STORE	 ? x->store_efd
		 : dom0_port == XEN_DOM0_CONSOLE ? x->console_efd
						 : -1;

	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0)
		log_debug("xen: eventfd write: %s", strerror(errno));
}

static void xen_op_shutdown(void *ctx, unsigned reason)
{
	struct xen *x = ctx;

	switch (reason) {
	case SHUTDOWN_poweroff:
		x->c.stop(x->c.stop_ctx, VCPU_STOP_POWEROFF, "guest powered off (Xen shutdown)");
		break;
	case SHUTDOWN_reboot:
		x->c.stop(x->c.stop_ctx, VCPU_STOP_REBOOT, "guest rebooted (Xen shutdown)");
		break;
	default:
		x->c.stop(x->c.stop_ctx, VCPU_STOP_PANIC, "guest kernel crashed (Xen shutdown)");
		break;
	}
}

static int xen_op_map_page(void *ctx, unsigned index, uint64_t gpa, void *host)
{
	struct xen *x = ctx;
	struct kvm_userspace_memory_region r = {
		.slot = XEN_GNT_SLOT_BASE + index,
		.guest_phys_addr = host ? gpa : 0,
		.memory_size = host ? XEN_PAGE_SIZE : 0,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};

	if (ioctl(x->c.vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
		log_warn("xen: grant frame %u at %#llx: KVM_SET_USER_MEMORY_REGION: %s", index,
			 (unsigned long long)gpa, strerror(errno));
		return -errno;
	}
	return 0;
}

static const struct xen_hv_ops xen_kvm_ops = {
	.vm_attr = xen_op_vm_attr,
	.vcpu_attr = xen_op_vcpu_attr,
	.send = xen_op_send,
	.translate = xen_op_translate,
	.dom0_notify = xen_op_dom0_notify,
	.shutdown = xen_op_shutdown,
	.map_page = xen_op_map_page,
};

int xen_check(int kvm_fd)
{
	return xen_kvm_check(kvm_fd);
}

static void xen_store_send(void *ctx, uint32_t type, uint32_t req_id, uint32_t tx_id,
			   const void *payload, uint32_t len)
{
	struct xen *x = ctx;

	if (xs_ring_queue(&x->ring, type, req_id, tx_id, payload, len))
		log_debug("xenstore: the guest does not read its replies; one dropped");
}

static void xen_hv_params_fill(struct xen_hv_params *p, const struct xen_config *c)
{
	struct boot_e820_entry e820[XEN_MAX_E820];
	int n = e820_build(e820, XEN_MAX_E820, c->mem->size);

	*p = (struct xen_hv_params){
		.major = c->major, .minor = c->minor, .ncpus = c->ncpus, .domid = XEN_GUEST_DOMID};
	for (int i = 0; i < n; i++)
		p->e820[i] = (struct xen_e820_entry){e820[i].addr, e820[i].size, e820[i].type};
	p->ne820 = n > 0 ? (unsigned)n : 0;
}

/* xenstore and the console: their pages, azote's ends of their event channels, the HVM
 * parameters that tell the guest where they are. */
static int xen_create_services(struct xen *x)
{
	uint8_t *store = guest_mem_ptr(x->c.mem, XEN_STORE_PFN << XEN_PAGE_SHIFT, XEN_PAGE_SIZE);
	uint8_t *cons = guest_mem_ptr(x->c.mem, XEN_CONSOLE_PFN << XEN_PAGE_SHIFT, XEN_PAGE_SIZE);
	uint32_t store_port, cons_port;
	int rc;

	if (!store || !cons)
		return -EFAULT;
	x->gnt_memfd = memfd_create("azote-xen-grant-table", MFD_CLOEXEC);
	if (x->gnt_memfd < 0 || ftruncate(x->gnt_memfd, (off_t)XEN_GNT_BYTES) < 0)
		return -errno;
	x->gnt_mem = mmap(NULL, XEN_GNT_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, x->gnt_memfd, 0);
	if (x->gnt_mem == MAP_FAILED) {
		x->gnt_mem = NULL;
		return -errno;
	}
	x->hv.gnt_mem = x->gnt_mem;
	memset(store, 0, XEN_PAGE_SIZE);
	memset(cons, 0, XEN_PAGE_SIZE);
	x->store_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	x->console_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (x->store_efd < 0 || x->console_efd < 0)
		return -errno;
	rc = xen_evtchn_bind_dom0(&x->hv, XEN_DOM0_STORE, x->store_efd, &store_port);
	if (!rc)
		rc = xen_evtchn_bind_dom0(&x->hv, XEN_DOM0_CONSOLE, x->console_efd, &cons_port);
	if (rc)
		return rc;
	xs_ring_init(&x->ring, store);
	xen_console_init(&x->console, cons, x->c.console_fd);
	rc = xenstore_create(&x->store, XEN_GUEST_DOMID, "azote-guest", xen_store_send, x);
	/* What Linux's Xen CPU hotplug code reads for each vCPU. */
	for (unsigned i = 0; !rc && i < x->c.ncpus; i++) {
		char path[64];

		snprintf(path, sizeof(path), "/local/domain/%u/cpu/%u/availability", XEN_GUEST_DOMID,
			 i);
		rc = xenstore_write(x->store, path, "online");
	}
	if (rc)
		return rc;
	x->hv.params[HVM_PARAM_STORE_PFN] = XEN_STORE_PFN;
	x->hv.params[HVM_PARAM_STORE_EVTCHN] = store_port;
	x->hv.params[HVM_PARAM_CONSOLE_PFN] = XEN_CONSOLE_PFN;
	x->hv.params[HVM_PARAM_CONSOLE_EVTCHN] = cons_port;
	x->hv.params[HVM_PARAM_PAE_ENABLED] = 1;
	return 0;
}

int xen_create(struct xen **out, const struct xen_config *c)
{
	struct xen_hv_params p;
	struct xen *x = calloc(1, sizeof(*x));
	int rc;

	if (!x)
		return -ENOMEM;
	x->c = *c;
	x->store_efd = x->console_efd = x->gnt_memfd = -1;
	rc = xen_kvm_init(&x->kvm, c->vm_fd, c->ncpus, c->major, c->minor);
	x->kvm_ready = true;
	if (!rc) {
		xen_hv_params_fill(&p, c);
		rc = xen_hv_init(&x->hv, &p, &xen_kvm_ops, x, c->mem);
		x->hv_ready = !rc;
	}
	if (!rc)
		rc = xen_create_services(x);
	if (!rc)
		rc = xen_platform_create(&x->platform);
	if (rc) {
		log_error("--xen: cannot set up the Xen platform: %s", strerror(-rc));
		xen_destroy(x);
		return rc;
	}
	*out = x;
	return 0;
}

int xen_add_devices(struct xen *x, struct pci_host *pci, struct iobus *pio)
{
	unsigned slot;
	int rc = pci_host_add(pci, &x->platform->pci, &slot);

	if (!rc)
		rc = iobus_register(pio, XEN_IOPORT_BASE, XEN_PLATFORM_NPORTS, xen_platform_io,
				    x->platform);
	if (!rc)
		iobus_set_name(pio, XEN_IOPORT_BASE, "xen-unplug");
	if (rc)
		log_error("--xen: platform device: %s", strerror(-rc));
	return rc;
}

int xen_cpuid(struct xen *x, struct kvm_cpuid2 **cpuid, unsigned index)
{
	return xen_cpuid_apply(cpuid, index, XEN_GUEST_DOMID, x->c.major, x->c.minor);
}

void xen_set_vcpus(struct xen *x, struct vcpu *vcpus, unsigned n)
{
	xen_kvm_set_vcpus(&x->kvm, vcpus, n);
}

void xen_set_running(struct xen *x)
{
	xen_kvm_set_running(&x->kvm);
}

bool xen_vcpu_exit(void *ctx, struct vcpu *vcpu)
{
	struct xen *x = ctx;
	struct kvm_run *run = vcpu->run;
	uint64_t nr = run->xen.u.hcall.input, args[6];

	if (run->xen.type != KVM_EXIT_XEN_HCALL)
		return true;
	__atomic_fetch_add(&x->hcalls[nr < XEN_HCALL_STATS ? nr : XEN_HCALL_STATS - 1], 1,
			   __ATOMIC_RELAXED);
	/* 32-bit guests pass other layouts: not offered. */
	if (!run->xen.u.hcall.longmode) {
		run->xen.u.hcall.result = (uint64_t)(int64_t)-ENOSYS;
		return true;
	}
	for (unsigned i = 0; i < 6; i++)
		args[i] = run->xen.u.hcall.params[i];
	run->xen.u.hcall.result = (uint64_t)xen_hcall_dispatch(&x->hv, vcpu->index, nr, args);
	return true;
}

void xen_vcpu_pre_run(void *ctx, struct vcpu *vcpu)
{
	xen_kvm_pre_run(&((struct xen *)ctx)->kvm, vcpu->index);
}

static void xen_drain_efd(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) == sizeof(v))
		;
}

static void xen_on_store_msg(void *ctx, uint32_t type, uint32_t req_id, uint32_t tx_id,
			     const uint8_t *payload, uint32_t len)
{
	struct xen *x = ctx;

	xenstore_request(x->store, XEN_GUEST_DOMID, type, req_id, tx_id, payload, len);
	xs_ring_flush(&x->ring);
}

static void xen_on_store(void *opaque, int fd, uint32_t events)
{
	struct xen *x = opaque;
	bool notify;

	xen_drain_efd(fd);
	notify = xs_ring_read(&x->ring, xen_on_store_msg, x);
	notify |= xs_ring_flush(&x->ring);
	if (notify)
		xen_evtchn_notify_guest(&x->hv, XEN_DOM0_STORE);
}

static void xen_on_console(void *opaque, int fd, uint32_t events)
{
	struct xen *x = opaque;

	xen_drain_efd(fd);
	if (xen_console_drain(&x->console))
		xen_evtchn_notify_guest(&x->hv, XEN_DOM0_CONSOLE);
}

int xen_attach_loop(struct xen *x, struct evloop *loop)
{
	int rc = evloop_add(loop, x->store_efd, EPOLLIN, xen_on_store, x);

	if (!rc)
		rc = evloop_add(loop, x->console_efd, EPOLLIN, xen_on_console, x);
	for (unsigned i = 0; !rc && i < x->nvbds; i++)
		rc = xen_vbd_attach(x->vbds[i], loop);
	return rc;
}

void xen_detach_loop(struct xen *x, struct evloop *loop)
{
	if (!x)
		return;
	evloop_del(loop, x->store_efd);
	evloop_del(loop, x->console_efd);
	for (unsigned i = 0; i < x->nvbds; i++)
		xen_vbd_detach(x->vbds[i], loop);
}

int xen_add_vbd(struct xen *x, const struct xen_vbd_config *c)
{
	int rc;

	if (x->nvbds == XEN_MAX_VBDS || c->index >= XEN_MAX_VBDS ||
	    c->dom0_port != xen_vbd_dom0_port(c->index)) {
		log_error("%s: at most %u Xen disks", c->name, XEN_MAX_VBDS);
		close(c->kick_efd);
		close(c->call_efd);
		return -ENOSPC;
	}
	rc = xen_vbd_create(&x->vbds[x->nvbds], &x->hv, x->store, XEN_GUEST_DOMID, c);
	if (rc)
		return rc;
	x->nvbds++;
	return 0;
}

int xen_gnttab_fd(const struct xen *x)
{
	return x->gnt_memfd;
}

unsigned xen_vbd_dom0_port(unsigned index)
{
	return XEN_DOM0_VBD + index;
}

static void xen_print_stats(struct xen *x)
{
	static const char *const names[XEN_HCALL_STATS] = {
		[XEN_HC_memory_op] = "memory_op", [XEN_HC_xen_version] = "xen_version",
		[XEN_HC_console_io] = "console_io", [XEN_HC_grant_table_op] = "grant_table_op",
		[XEN_HC_vcpu_op] = "vcpu_op", [XEN_HC_sched_op] = "sched_op",
		[XEN_HC_event_channel_op] = "event_channel_op", [XEN_HC_hvm_op] = "hvm_op",
		[XEN_HC_physdev_op] = "physdev_op", [XEN_HC_set_timer_op] = "set_timer_op",
	};
	char buf[512];
	size_t len = 0;

	for (unsigned i = 0; i < XEN_HCALL_STATS && len < sizeof(buf); i++)
		if (x->hcalls[i])
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, " %s=%llu",
						names[i] ? names[i] : "other",
						(unsigned long long)x->hcalls[i]);
	fprintf(stderr, "xen hypercalls handled by azote:%s\n", len ? buf : " none");
}

void xen_destroy(struct xen *x)
{
	if (!x)
		return;
	if (x->c.stats)
		xen_print_stats(x);
	xen_platform_destroy(x->platform);
	xenstore_destroy(x->store);
	for (unsigned i = 0; i < x->nvbds; i++)
		xen_vbd_destroy(x->vbds[i]); /* after the store: its watches name them */
	xs_ring_fini(&x->ring);
	if (x->hv_ready)
		xen_hv_fini(&x->hv);
	if (x->kvm_ready)
		xen_kvm_fini(&x->kvm);
	if (x->store_efd >= 0)
		close(x->store_efd);
	if (x->console_efd >= 0)
		close(x->console_efd);
	if (x->gnt_mem)
		munmap(x->gnt_mem, XEN_GNT_BYTES);
	if (x->gnt_memfd >= 0)
		close(x->gnt_memfd);
	free(x);
}
