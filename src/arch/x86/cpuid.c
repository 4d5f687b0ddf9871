#include "arch/x86/cpuid.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID_1_EDX_HTT        (1u << 28)
#define CPUID_EXT1_ECX_CMPLEGACY (1u << 1)
#define TOPO_LEVEL_SMT  1
#define TOPO_LEVEL_CORE 2

/* Bits needed to number n items (APIC ID field width). */
static unsigned cpuid_bits(unsigned n)
{
	unsigned b = 0;

	while ((1u << b) < n)
		b++;
	return b;
}

/* Leaves 0xB and 0x1F: level 0 is SMT (1 thread per core), level 1 the cores of the package. */
static void cpuid_shape_topology(struct kvm_cpuid_entry2 *e, unsigned index, unsigned ncpus)
{
	e->edx = index; /* x2APIC ID */
	switch (e->index) {
	case 0:
		e->eax = 0;
		e->ebx = 1;
		e->ecx = (TOPO_LEVEL_SMT << 8) | e->index;
		break;
	case 1:
		e->eax = cpuid_bits(ncpus);
		e->ebx = ncpus;
		e->ecx = (TOPO_LEVEL_CORE << 8) | e->index;
		break;
	default:
		e->eax = 0;
		e->ebx = 0;
		e->ecx = e->index;
		break;
	}
}

static void cpuid_shape_entry(struct kvm_cpuid_entry2 *e, unsigned index, unsigned ncpus,
			      const struct cpuid_host *host)
{
	switch (e->function) {
	case 1:
		e->ebx = (e->ebx & 0x0000ffffu) | (index << 24) | ((ncpus & 0xff) << 16);
		e->ecx |= CPUID_1_ECX_HYPERVISOR;
		/* With a TSC-deadline LAPIC timer Linux needs no timer calibration loop, which
		 * is slow and, on a loaded or emulated host, fails and disables the LAPIC timer. */
		if (host->tsc_deadline)
			e->ecx |= CPUID_1_ECX_TSC_DEADLINE;
		e->edx |= CPUID_1_EDX_HTT; /* the logical-count field above is valid */
		break;
	case 4:
		/* Deterministic cache parameters: cores per package in 31:26, sharing in 25:14.
		 * L1/L2 are per core; the last level is shared by the whole package. */
		if ((e->eax & 0x1f) == 0)
			break;
		e->eax &= 0x3fffu;
		e->eax |= (ncpus - 1) << 26;
		if (((e->eax >> 5) & 7) >= 3)
			e->eax |= (ncpus - 1) << 14;
		break;
	case 0xa:
		/* No architectural PMU: counters would be another surface and another cost. */
		e->eax = e->ebx = e->ecx = e->edx = 0;
		break;
	case 0xb:
	case 0x1f:
		cpuid_shape_topology(e, index, ncpus);
		break;
	case 0x80000001:
		if (ncpus > 1)
			e->ecx |= CPUID_EXT1_ECX_CMPLEGACY;
		else
			e->ecx &= ~CPUID_EXT1_ECX_CMPLEGACY;
		break;
	case 0x80000008:
		/* AMD: NC = cores - 1 in 7:0, APIC ID width in 15:12. */
		e->ecx = (e->ecx & ~0xf0ffu) | (cpuid_bits(ncpus) << 12) | ((ncpus - 1) & 0xff);
		break;
	case 0x8000001e:
		/* AMD extended APIC ID, core ID, one thread per core, node 0. */
		e->eax = index;
		e->ebx = index & 0xff;
		e->ecx = 0;
		break;
	}
}

void cpuid_shape(struct kvm_cpuid_entry2 *entries, unsigned n, unsigned index, unsigned ncpus,
		 const struct cpuid_host *host)
{
	for (unsigned i = 0; i < n; i++)
		cpuid_shape_entry(&entries[i], index, ncpus, host);
}

int cpuid_supported(int kvm_fd, struct kvm_cpuid2 **out)
{
	unsigned nent = 128;

	/* KVM says E2BIG until the buffer holds every leaf; grow until it fits. */
	for (;;) {
		struct kvm_cpuid2 *c =
			calloc(1, sizeof(*c) + nent * sizeof(struct kvm_cpuid_entry2));
		if (!c)
			return -ENOMEM;
		c->nent = nent;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			*out = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG || nent >= 4096)
			return -errno;
		nent *= 2;
	}
}
