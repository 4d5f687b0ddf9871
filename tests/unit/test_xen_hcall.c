/* Xen hypercall handlers with a fake guest (1 MiB of "RAM" at GPA 0, identity-mapped below
 * 0x80000 and unmapped above) and fake KVM ops that record what they are asked: correct guests,
 * hostile pointers, unknown operations, exhausted and invalid ports, grant entries. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs <setjmp.h>, <stdarg.h> and <stddef.h> first. */
#include <cmocka.h>

#include "xen/xen_hv.h"

#define RAM_SIZE   (1u << 20)
#define MAPPED_TOP 0x80000ull /* guest virtual addresses from here on do not translate */
#define ARG	   0x10000ull /* where tests put hypercall arguments */

struct fake {
	uint8_t *ram;
	struct guest_mem mem;
	struct xen_hv hv;
	struct kvm_xen_hvm_attr vm_attrs[64];
	unsigned nvm;
	struct {
		unsigned target;
		struct kvm_xen_vcpu_attr a;
	} vcpu_attrs[64];
	unsigned nvcpu;
	uint32_t sent_port[64];
	unsigned nsent;
	unsigned dom0_notified;
	int shutdown_reason;
	uint8_t *gnt;
	uint64_t mapped_gpa[XEN_GNTTAB_MAX_FRAMES];
	int map_fail; /* the next map_page fails with this */
};

static int f_vm_attr(void *ctx, const struct kvm_xen_hvm_attr *a)
{
	struct fake *f = ctx;

	if (f->nvm < 64)
		f->vm_attrs[f->nvm++] = *a;
	return 0;
}

static int f_vcpu_attr(void *ctx, unsigned self, unsigned target, const struct kvm_xen_vcpu_attr *a)
{
	struct fake *f = ctx;

	if (f->nvcpu < 64) {
		f->vcpu_attrs[f->nvcpu].target = target;
		f->vcpu_attrs[f->nvcpu++].a = *a;
	}
	return 0;
}

static int f_send(void *ctx, uint32_t port, uint32_t vcpu)
{
	struct fake *f = ctx;

	if (f->nsent < 64)
		f->sent_port[f->nsent++] = port;
	return 0;
}

static int f_translate(void *ctx, unsigned self, uint64_t gva, uint64_t *gpa)
{
	if (gva >= MAPPED_TOP)
		return -EFAULT;
	*gpa = gva;
	return 0;
}

static void f_dom0(void *ctx, unsigned port)
{
	((struct fake *)ctx)->dom0_notified++;
}

static void f_shutdown(void *ctx, unsigned reason)
{
	((struct fake *)ctx)->shutdown_reason = (int)reason;
}

static int f_map_page(void *ctx, unsigned index, uint64_t gpa, void *host)
{
	struct fake *f = ctx;
	int rc = f->map_fail;

	f->map_fail = 0;
	if (!rc)
		f->mapped_gpa[index] = host ? gpa : 0;
	return rc;
}

static const struct xen_hv_ops fake_ops = {f_vm_attr, f_vcpu_attr, f_send,     f_translate,
					   f_dom0,    f_shutdown,  f_map_page};

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct xen_hv_params p = {.major = 4, .minor = 17, .ncpus = 2, .domid = 1, .ne820 = 2};

	assert_non_null(f);
	f->ram = calloc(1, RAM_SIZE);
	assert_non_null(f->ram);
	f->mem.size = RAM_SIZE;
	f->mem.nregions = 1;
	f->mem.regions[0] = (struct guest_region){.gpa = 0, .size = RAM_SIZE, .host = f->ram};
	p.e820[0] = (struct xen_e820_entry){0, 0x9fc00, 1};
	p.e820[1] = (struct xen_e820_entry){0x100000, 0x100000, 1};
	f->shutdown_reason = -1;
	assert_int_equal(xen_hv_init(&f->hv, &p, &fake_ops, f, &f->mem), 0);
	f->gnt = calloc(XEN_GNTTAB_MAX_FRAMES, 4096);
	assert_non_null(f->gnt);
	f->hv.gnt_mem = f->gnt;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;

	xen_hv_fini(&f->hv);
	free(f->gnt);
	free(f->ram);
	free(f);
	return 0;
}

static int64_t hc(struct fake *f, uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
	uint64_t a[6] = {a0, a1, a2, 0, 0, 0};

	return xen_hcall_dispatch(&f->hv, 0, nr, a);
}

static void put(struct fake *f, uint64_t gpa, const void *v, size_t n)
{
	memcpy(f->ram + gpa, v, n);
}

static void test_unknown(void **state)
{
	struct fake *f = *state;

	assert_int_equal(hc(f, 0, 0, 0, 0), -ENOSYS);
	assert_int_equal(hc(f, 999, 0, 0, 0), -ENOSYS);
	assert_int_equal(hc(f, UINT64_MAX, 0, 0, 0), -ENOSYS);
	assert_int_equal(hc(f, XEN_HC_physdev_op, 1, ARG, 0), -ENOSYS);
	assert_int_equal(hc(f, XEN_HC_xen_version, 77, ARG, 0), -ENOSYS);
	assert_int_equal(hc(f, XEN_HC_memory_op, 63, ARG, 0), -ENOSYS);
	assert_int_equal(hc(f, XEN_HC_hvm_op, 9, ARG, 0), -ENOSYS); /* pagetable_dying */
	assert_int_equal(hc(f, XEN_HC_event_channel_op, EVTCHNOP_init_control, ARG, 0), -ENOSYS);
	assert_int_equal(hc(f, XEN_HC_grant_table_op, 0, ARG, 1), -ENOSYS);
	assert_int_equal(hc(f, XEN_HC_sched_op, 99, ARG, 0), -ENOSYS);
}

static void test_version(void **state)
{
	struct fake *f = *state;
	uint32_t fi[2] = {0, 0};
	char caps[1024];

	assert_int_equal(hc(f, XEN_HC_xen_version, XENVER_version, 0, 0), (4 << 16) | 17);
	put(f, ARG, fi, sizeof(fi));
	assert_int_equal(hc(f, XEN_HC_xen_version, XENVER_get_features, ARG, 0), 0);
	memcpy(fi, f->ram + ARG, sizeof(fi));
	assert_true(fi[1] & (1u << XENFEAT_hvm_callback_vector));
	assert_true(fi[1] & (1u << XENFEAT_hvm_safe_pvclock));
	fi[0] = 7; /* a submap that does not exist: no features */
	put(f, ARG, fi, sizeof(fi));
	assert_int_equal(hc(f, XEN_HC_xen_version, XENVER_get_features, ARG, 0), 0);
	memcpy(fi, f->ram + ARG, sizeof(fi));
	assert_int_equal(fi[1], 0);
	assert_int_equal(hc(f, XEN_HC_xen_version, XENVER_capabilities, ARG, 0), 0);
	memcpy(caps, f->ram + ARG, sizeof(caps));
	assert_non_null(strstr(caps, "hvm-3.0-x86_64"));
	assert_int_equal(caps[1023], 0);
	/* Hostile pointers: unmapped, straddling the end of what maps, wrapping. */
	assert_int_equal(hc(f, XEN_HC_xen_version, XENVER_capabilities, MAPPED_TOP, 0), -EFAULT);
	assert_int_equal(hc(f, XEN_HC_xen_version, XENVER_capabilities, MAPPED_TOP - 100, 0),
			 -EFAULT);
	assert_int_equal(hc(f, XEN_HC_xen_version, XENVER_get_features, UINT64_MAX - 3, 0), -EFAULT);
	assert_int_equal(hc(f, XEN_HC_xen_version, XENVER_pagesize, 0, 0), 4096);
}

static void test_shared_info(void **state)
{
	struct fake *f = *state;
	uint8_t atp[XEN_ATP_SIZE] = {0};
	uint16_t domid = XEN_DOMID_SELF;
	uint32_t space = XENMAPSPACE_shared_info;
	uint64_t gpfn = 0x20;

	memcpy(atp, &domid, 2);
	memcpy(atp + 4, &space, 4);
	memcpy(atp + 16, &gpfn, 8);
	put(f, ARG, atp, sizeof(atp));
	assert_int_equal(hc(f, XEN_HC_memory_op, XENMEM_add_to_physmap, ARG, 0), 0);
	assert_int_equal(f->vm_attrs[0].type, KVM_XEN_ATTR_TYPE_SHARED_INFO);
	assert_int_equal(f->vm_attrs[0].u.shared_info.gfn, 0x20);
	/* Both vCPUs get their vcpu_info in shared_info. */
	assert_int_equal(f->nvcpu, 2);
	assert_int_equal(f->vcpu_attrs[1].target, 1);
	assert_int_equal(f->vcpu_attrs[1].a.u.gpa, 0x20000 + 64);
	/* Outside RAM, a foreign domain, a nonzero index: refused. */
	gpfn = 0x100000;
	memcpy(atp + 16, &gpfn, 8);
	put(f, ARG, atp, sizeof(atp));
	assert_int_equal(hc(f, XEN_HC_memory_op, XENMEM_add_to_physmap, ARG, 0), -EINVAL);
	gpfn = UINT64_MAX;
	memcpy(atp + 16, &gpfn, 8);
	put(f, ARG, atp, sizeof(atp));
	assert_int_equal(hc(f, XEN_HC_memory_op, XENMEM_add_to_physmap, ARG, 0), -EINVAL);
	domid = 5;
	memcpy(atp, &domid, 2);
	put(f, ARG, atp, sizeof(atp));
	assert_int_equal(hc(f, XEN_HC_memory_op, XENMEM_add_to_physmap, ARG, 0), -EPERM);
}

static void test_memory_map(void **state)
{
	struct fake *f = *state;
	uint8_t mm[XEN_MEMMAP_SIZE] = {0};
	uint32_t room = 1, n;
	uint64_t buf = ARG + 0x100, addr;

	memcpy(mm, &room, 4);
	memcpy(mm + 8, &buf, 8);
	put(f, ARG, mm, sizeof(mm));
	assert_int_equal(hc(f, XEN_HC_memory_op, XENMEM_memory_map, ARG, 0), 0);
	memcpy(&n, f->ram + ARG, 4);
	assert_int_equal(n, 1); /* no more than the guest has room for */
	room = 1000;
	memcpy(mm, &room, 4);
	put(f, ARG, mm, sizeof(mm));
	assert_int_equal(hc(f, XEN_HC_memory_op, XENMEM_memory_map, ARG, 0), 0);
	memcpy(&n, f->ram + ARG, 4);
	assert_int_equal(n, 2);
	memcpy(&addr, f->ram + buf + 20, 8);
	assert_int_equal(addr, 0x100000);
	/* A buffer that runs into unmapped space. */
	buf = MAPPED_TOP - 30;
	memcpy(mm + 8, &buf, 8);
	put(f, ARG, mm, sizeof(mm));
	assert_int_equal(hc(f, XEN_HC_memory_op, XENMEM_memory_map, ARG, 0), -EFAULT);
	{
		uint16_t d = XEN_DOMID_SELF;

		put(f, ARG, &d, 2);
		assert_int_equal(hc(f, XEN_HC_memory_op, XENMEM_current_reservation, ARG, 0),
				 RAM_SIZE / 4096);
		d = 3;
		put(f, ARG, &d, 2);
		assert_int_equal(hc(f, XEN_HC_memory_op, XENMEM_maximum_reservation, ARG, 0), -EPERM);
	}
}

static void test_hvm_params(void **state)
{
	struct fake *f = *state;
	uint8_t p[XEN_HVM_PARAM_SIZE] = {0};
	uint16_t domid = XEN_DOMID_SELF;
	uint32_t index = HVM_PARAM_STORE_PFN;
	uint64_t value;

	f->hv.params[HVM_PARAM_STORE_PFN] = 0xde;
	memcpy(p, &domid, 2);
	memcpy(p + 4, &index, 4);
	put(f, ARG, p, sizeof(p));
	assert_int_equal(hc(f, XEN_HC_hvm_op, HVMOP_get_param, ARG, 0), 0);
	memcpy(&value, f->ram + ARG + 8, 8);
	assert_int_equal(value, 0xde);
	/* The guest may not move its xenstore page. */
	assert_int_equal(hc(f, XEN_HC_hvm_op, HVMOP_set_param, ARG, 0), -EPERM);
	index = HVM_NR_PARAMS;
	memcpy(p + 4, &index, 4);
	put(f, ARG, p, sizeof(p));
	assert_int_equal(hc(f, XEN_HC_hvm_op, HVMOP_get_param, ARG, 0), -EINVAL);
	index = UINT32_MAX;
	memcpy(p + 4, &index, 4);
	put(f, ARG, p, sizeof(p));
	assert_int_equal(hc(f, XEN_HC_hvm_op, HVMOP_get_param, ARG, 0), -EINVAL);
	/* The vector callback. */
	index = HVM_PARAM_CALLBACK_IRQ;
	value = (2ull << 56) | 0xf3;
	memcpy(p + 4, &index, 4);
	memcpy(p + 8, &value, 8);
	put(f, ARG, p, sizeof(p));
	assert_int_equal(hc(f, XEN_HC_hvm_op, HVMOP_set_param, ARG, 0), 0);
	assert_int_equal(f->vm_attrs[f->nvm - 1].type, KVM_XEN_ATTR_TYPE_UPCALL_VECTOR);
	assert_int_equal(f->vm_attrs[f->nvm - 1].u.vector, 0xf3);
	value = 5; /* a GSI callback: not offered */
	memcpy(p + 8, &value, 8);
	put(f, ARG, p, sizeof(p));
	assert_int_equal(hc(f, XEN_HC_hvm_op, HVMOP_set_param, ARG, 0), -ENOSYS);
	value = (2ull << 56) | 3; /* an exception vector */
	memcpy(p + 8, &value, 8);
	put(f, ARG, p, sizeof(p));
	assert_int_equal(hc(f, XEN_HC_hvm_op, HVMOP_set_param, ARG, 0), -EINVAL);
}

static int64_t ev(struct fake *f, unsigned cmd, const void *arg, size_t n)
{
	put(f, ARG, arg, n);
	return hc(f, XEN_HC_event_channel_op, cmd, ARG, 0);
}

static uint32_t out32(struct fake *f, unsigned off)
{
	uint32_t v;

	memcpy(&v, f->ram + ARG + off, 4);
	return v;
}

static void test_evtchn(void **state)
{
	struct fake *f = *state;
	uint32_t virq[3] = {XEN_VIRQ_TIMER, 1, 0}, ipi[2] = {0, 0}, port, a, b;
	uint16_t unbound[4] = {XEN_DOMID_SELF, XEN_DOMID_SELF, 0, 0};
	uint8_t inter[12] = {0};
	uint16_t self = XEN_DOMID_SELF;

	/* azote's xenstore end. */
	assert_int_equal(xen_evtchn_bind_dom0(&f->hv, 1, -1, &port), 0);
	assert_int_equal(port, 1);
	assert_int_equal(xen_evtchn_bind_dom0(&f->hv, 1, -1, &port), -EBUSY);
	assert_int_equal(xen_evtchn_bind_dom0(&f->hv, XEN_DOM0_PORTS, -1, &port), -EINVAL);
	assert_int_equal(ev(f, EVTCHNOP_send, &(uint32_t){1}, 4), 0);
	assert_int_equal(f->dom0_notified, 1);
	assert_int_equal(xen_evtchn_notify_guest(&f->hv, 1), 0);
	assert_int_equal(f->sent_port[f->nsent - 1], 1);
	/* The VIRQ timer goes to KVM on the right vCPU; twice is refused. */
	assert_int_equal(ev(f, EVTCHNOP_bind_virq, virq, sizeof(virq)), 0);
	port = out32(f, 8);
	assert_int_equal(f->vcpu_attrs[f->nvcpu - 1].a.type, KVM_XEN_VCPU_ATTR_TYPE_TIMER);
	assert_int_equal(f->vcpu_attrs[f->nvcpu - 1].a.u.timer.port, port);
	assert_int_equal(f->vcpu_attrs[f->nvcpu - 1].target, 1);
	assert_int_equal(ev(f, EVTCHNOP_bind_virq, virq, sizeof(virq)), -EEXIST);
	virq[0] = XEN_NR_VIRQS;
	assert_int_equal(ev(f, EVTCHNOP_bind_virq, virq, sizeof(virq)), -EINVAL);
	virq[0] = 1;
	virq[1] = 2; /* no such vCPU */
	assert_int_equal(ev(f, EVTCHNOP_bind_virq, virq, sizeof(virq)), -ENOENT);
	/* An IPI, sent when KVM did not take it. */
	assert_int_equal(ev(f, EVTCHNOP_bind_ipi, ipi, sizeof(ipi)), 0);
	port = out32(f, 4);
	assert_int_equal(ev(f, EVTCHNOP_send, &port, 4), 0);
	assert_int_equal(f->sent_port[f->nsent - 1], port);
	/* Loopback: alloc_unbound for ourselves, then bind to it. */
	assert_int_equal(ev(f, EVTCHNOP_alloc_unbound, unbound, 8), 0);
	a = out32(f, 4);
	memcpy(inter, &self, 2);
	memcpy(inter + 4, &a, 4);
	assert_int_equal(ev(f, EVTCHNOP_bind_interdomain, inter, sizeof(inter)), 0);
	b = out32(f, 8);
	assert_int_equal(ev(f, EVTCHNOP_send, &b, 4), 0);
	assert_int_equal(f->sent_port[f->nsent - 1], a);
	/* Binding to it again: it is no longer unbound. */
	put(f, ARG, inter, sizeof(inter));
	assert_int_equal(ev(f, EVTCHNOP_bind_interdomain, inter, sizeof(inter)), -EINVAL);
	/* Bad ports, for every operation that takes one. */
	for (uint32_t bad = 0; bad < 3; bad++) {
		uint32_t p = bad == 0 ? 0 : bad == 1 ? XEN_EVTCHN_PORTS : UINT32_MAX;

		assert_int_equal(ev(f, EVTCHNOP_close, &p, 4), -EINVAL);
		assert_int_equal(ev(f, EVTCHNOP_send, &p, 4), -EINVAL);
		assert_int_equal(ev(f, EVTCHNOP_unmask, &p, 4), -EINVAL);
	}
	assert_int_equal(hc(f, XEN_HC_event_channel_op, EVTCHNOP_send, MAPPED_TOP, 0), -EFAULT);
	/* Status of the loopback port, then close: its peer is unbound again. */
	{
		uint8_t st[24] = {0};

		memcpy(st, &self, 2);
		memcpy(st + 4, &b, 4);
		assert_int_equal(ev(f, EVTCHNOP_status, st, sizeof(st)), 0);
		assert_int_equal(out32(f, 8), EVTCHNSTAT_interdomain);
		assert_int_equal(ev(f, EVTCHNOP_close, &b, 4), 0);
		memcpy(st + 4, &a, 4);
		assert_int_equal(ev(f, EVTCHNOP_status, st, sizeof(st)), 0);
		assert_int_equal(out32(f, 8), EVTCHNSTAT_unbound);
		assert_int_equal(ev(f, EVTCHNOP_close, &b, 4), -EINVAL); /* closed already */
	}
	/* Run out of ports. */
	{
		int64_t rc = 0;
		unsigned n = 0;

		while (!rc && n < 2 * XEN_EVTCHN_PORTS) {
			rc = ev(f, EVTCHNOP_alloc_unbound, unbound, 8);
			n++;
		}
		assert_int_equal(rc, -ENOSPC);
		assert_true(n < XEN_EVTCHN_PORTS);
	}
	/* A foreign domain. */
	unbound[1] = 9;
	assert_int_equal(ev(f, EVTCHNOP_alloc_unbound, unbound, 8), -ESRCH);
}

static void test_gnttab(void **state)
{
	struct fake *f = *state;
	uint8_t q[16] = {0};
	uint16_t self = XEN_DOMID_SELF, flags;
	uint32_t v = 2, frame;
	uint64_t gfn;
	uint8_t *entry;

	put(f, ARG, &self, 2);
	assert_int_equal(hc(f, XEN_HC_grant_table_op, GNTTABOP_query_size, ARG, 1), 0);
	memcpy(&v, f->ram + ARG + 8, 4);
	assert_int_equal(v, XEN_GNTTAB_MAX_FRAMES);
	assert_int_equal(hc(f, XEN_HC_grant_table_op, GNTTABOP_query_size, ARG, 1000), -EINVAL);
	v = 2;
	put(f, ARG, &v, 4);
	assert_int_equal(hc(f, XEN_HC_grant_table_op, GNTTABOP_set_version, ARG, 1), -ENOSYS);
	v = 1;
	put(f, ARG, &v, 4);
	assert_int_equal(hc(f, XEN_HC_grant_table_op, GNTTABOP_set_version, ARG, 1), 0);
	/* Frames: a RAM page, or azote's frame mapped outside RAM; within the table's size. */
	assert_int_equal(xen_gnttab_map_frame(&f->hv, 0, 0x40), 0);
	assert_int_equal(f->mapped_gpa[0], 0);
	assert_int_equal(xen_gnttab_map_frame(&f->hv, XEN_GNTTAB_MAX_FRAMES, 0x41), -EINVAL);
	assert_int_equal(xen_gnttab_map_frame(&f->hv, UINT64_MAX, 0x41), -EINVAL);
	assert_int_equal(xen_gnttab_map_frame(&f->hv, 1 | XENMAPIDX_grant_table_status, 0x41),
			 -EINVAL);
	assert_int_equal(xen_gnttab_map_frame(&f->hv, 1, UINT64_MAX >> 12), -EINVAL);
	assert_int_equal(xen_gnttab_map_frame(&f->hv, 1, 0x40), -EBUSY); /* frame 0 is there */
	f->map_fail = -EEXIST;
	assert_int_equal(xen_gnttab_map_frame(&f->hv, 1, 0xc0001), -EEXIST);
	assert_int_equal(xen_gnttab_map_frame(&f->hv, 1, 0xc0001), 0);
	assert_int_equal(f->mapped_gpa[1], 0xc0001000ull);
	assert_non_null(xen_gpa_ptr(&f->hv, 0xc0001ff8ull, 8));
	assert_null(xen_gpa_ptr(&f->hv, 0xc0001ff8ull, 9)); /* runs off the frame */
	assert_null(xen_gpa_ptr(&f->hv, 0xc0002000ull, 1));
	/* Entries: granted to domain 0, writable or not, naming RAM. */
	entry = f->ram + 0x40000 + 5 * XEN_GNT_V1_SIZE;
	flags = GTF_permit_access;
	frame = 0x50;
	memcpy(entry, &flags, 2);
	memcpy(entry + 4, &frame, 4);
	assert_int_equal(xen_gnttab_lookup(&f->hv, 5, true, &gfn), 0);
	assert_int_equal(gfn, 0x50);
	flags |= GTF_readonly;
	memcpy(entry, &flags, 2);
	assert_int_equal(xen_gnttab_lookup(&f->hv, 5, true, &gfn), -EACCES);
	assert_int_equal(xen_gnttab_lookup(&f->hv, 5, false, &gfn), 0);
	entry[2] = 7; /* granted to domain 7, not azote */
	assert_int_equal(xen_gnttab_lookup(&f->hv, 5, false, &gfn), -EACCES);
	entry[2] = 0;
	frame = 0x7fffffff; /* beyond RAM */
	memcpy(entry + 4, &frame, 4);
	assert_int_equal(xen_gnttab_lookup(&f->hv, 5, false, &gfn), -EACCES);
	assert_int_equal(xen_gnttab_lookup(&f->hv, 6, false, &gfn), -EACCES); /* never granted */
	/* Frame 1 outside RAM (azote's memory); frame 3 never mapped; refs far beyond. */
	f->gnt[4096 + 8] = GTF_permit_access;
	f->gnt[4096 + 12] = 0x51;
	assert_int_equal(xen_gnttab_lookup(&f->hv, XEN_GNT_PER_FRAME + 1, true, &gfn), 0);
	assert_int_equal(gfn, 0x51);
	assert_int_equal(xen_gnttab_lookup(&f->hv, 3 * XEN_GNT_PER_FRAME, false, &gfn), -ENOENT);
	assert_int_equal(xen_gnttab_lookup(&f->hv, UINT32_MAX, false, &gfn), -ENOENT);
	/* Frame 1 moved: the old place is no longer the table. */
	assert_int_equal(xen_gnttab_map_frame(&f->hv, 1, 0xc0005), 0);
	assert_null(xen_gpa_ptr(&f->hv, 0xc0001000ull, 8));
	assert_int_equal(xen_gnttab_lookup(&f->hv, XEN_GNT_PER_FRAME + 1, true, &gfn), 0);
	memset(q, 0, sizeof(q));
}

static void test_sched_vcpu(void **state)
{
	struct fake *f = *state;
	uint32_t reason = SHUTDOWN_suspend;
	uint8_t info[16] = {0};
	uint64_t mfn = 0x30;
	uint32_t off = 4096 - 32;

	put(f, ARG, &reason, 4);
	assert_int_equal(hc(f, XEN_HC_sched_op, SCHEDOP_shutdown, ARG, 0), -EINVAL);
	assert_int_equal(f->shutdown_reason, -1);
	reason = SHUTDOWN_poweroff;
	put(f, ARG, &reason, 4);
	assert_int_equal(hc(f, XEN_HC_sched_op, SCHEDOP_shutdown, ARG, 0), 0);
	assert_int_equal(f->shutdown_reason, SHUTDOWN_poweroff);
	assert_int_equal(hc(f, XEN_HC_sched_op, SCHEDOP_shutdown, MAPPED_TOP, 0), -EFAULT);
	assert_int_equal(hc(f, XEN_HC_sched_op, SCHEDOP_yield, 0, 0), 0);
	/* vcpu_op: vCPU numbers, vcpu_info placement. */
	assert_int_equal(hc(f, XEN_HC_vcpu_op, VCPUOP_is_up, 2, 0), -ENOENT);
	assert_int_equal(hc(f, XEN_HC_vcpu_op, VCPUOP_is_up, UINT64_MAX, 0), -ENOENT);
	assert_int_equal(hc(f, XEN_HC_vcpu_op, VCPUOP_is_up, 1, 0), 1);
	memcpy(info, &mfn, 8);
	memcpy(info + 8, &off, 4); /* vcpu_info would run past the page */
	put(f, ARG, info, sizeof(info));
	assert_int_equal(hc(f, XEN_HC_vcpu_op, VCPUOP_register_vcpu_info, 1, ARG), -EINVAL);
	off = 64;
	memcpy(info + 8, &off, 4);
	put(f, ARG, info, sizeof(info));
	assert_int_equal(hc(f, XEN_HC_vcpu_op, VCPUOP_register_vcpu_info, 1, ARG), 0);
	assert_int_equal(f->vcpu_attrs[f->nvcpu - 1].a.u.gpa, 0x30040);
	assert_int_equal(f->vcpu_attrs[f->nvcpu - 1].target, 1);
	/* Once only. */
	assert_int_equal(hc(f, XEN_HC_vcpu_op, VCPUOP_register_vcpu_info, 1, ARG), -EINVAL);
	mfn = 0x1000; /* outside RAM */
	memcpy(info, &mfn, 8);
	put(f, ARG, info, sizeof(info));
	assert_int_equal(hc(f, XEN_HC_vcpu_op, VCPUOP_register_vcpu_info, 0, ARG), -EINVAL);
	/* The runstate area: a guest virtual address that must translate to RAM. */
	mfn = MAPPED_TOP + 8;
	put(f, ARG, &mfn, 8);
	assert_int_equal(hc(f, XEN_HC_vcpu_op, VCPUOP_register_runstate_memory_area, 0, ARG),
			 -EFAULT);
	mfn = 0x2000;
	put(f, ARG, &mfn, 8);
	assert_int_equal(hc(f, XEN_HC_vcpu_op, VCPUOP_register_runstate_memory_area, 0, ARG), 0);
	assert_int_equal(f->vcpu_attrs[f->nvcpu - 1].a.type, KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_memory_map, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hvm_params, setup, teardown),
		cmocka_unit_test_setup_teardown(test_evtchn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gnttab, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sched_vcpu, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
