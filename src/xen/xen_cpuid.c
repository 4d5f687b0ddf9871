#include "xen/xen_cpuid.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xen/xen_abi.h"

#define XEN_CPUID_LEAVES 5 /* 0x40000000..0x40000004 */

static uint32_t xen_sig(const char *s)
{
	uint32_t v;

	memcpy(&v, s, 4);
	return v;
}

int xen_cpuid_apply(struct kvm_cpuid2 **cpuid, unsigned index, unsigned domid, unsigned major,
		    unsigned minor)
{
	struct kvm_cpuid2 *c = *cpuid;
	struct kvm_cpuid_entry2 *e;
	unsigned n = 0;

	/* Drop every hypervisor leaf (KVM's signature and features). */
	for (unsigned i = 0; i < c->nent; i++)
		if ((c->entries[i].function & 0xf0000000u) != 0x40000000u)
			c->entries[n++] = c->entries[i];
	c = realloc(c, sizeof(*c) + (n + XEN_CPUID_LEAVES) * sizeof(c->entries[0]));
	if (!c)
		return -ENOMEM;
	*cpuid = c;
	e = &c->entries[n];
	memset(e, 0, XEN_CPUID_LEAVES * sizeof(*e));
	for (unsigned i = 0; i < XEN_CPUID_LEAVES; i++)
		e[i].function = XEN_CPUID_BASE + i;
	/* "XenVMMXenVMM" and the highest leaf. */
	e[0].eax = XEN_CPUID_BASE + XEN_CPUID_LEAVES - 1;
	e[0].ebx = xen_sig("XenV");
	e[0].ecx = xen_sig("MMXe");
	e[0].edx = xen_sig("nVMM");
	e[1].eax = (major << 16) | (minor & 0xffff);
	/* One hypercall page, asked for through MSR 0x40000000. */
	e[2].eax = 1;
	e[2].ebx = XEN_HCALL_MSR;
	/* Leaf 3 (time) stays zero. Leaf 4: HVM features, the vCPU and domain ids. */
	e[4].eax = XEN_HVM_CPUID_VCPU_ID_PRESENT | XEN_HVM_CPUID_DOMID_PRESENT;
	e[4].ebx = index;
	e[4].ecx = domid;
	c->nent = n + XEN_CPUID_LEAVES;
	return 0;
}
