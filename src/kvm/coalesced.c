#include "kvm/coalesced.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

void coalesced_init(struct coalesced *c, int kvm_fd, int run_size)
{
	long page_size = sysconf(_SC_PAGESIZE);
	int page = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO);

	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	/* The capability's value is the ring's page offset in the vCPU mapping. */
	c->supported = page > 0 && ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO) > 0 &&
		       (long)(page + 1) * page_size <= run_size;
	c->page = c->supported ? (unsigned)page : 0;
	c->max = (unsigned)((page_size - sizeof(struct kvm_coalesced_mmio_ring)) /
			    sizeof(struct kvm_coalesced_mmio));
}

void coalesced_fini(struct coalesced *c)
{
	pthread_mutex_destroy(&c->lock);
	c->ring = NULL;
}

int coalesced_add_pio(struct coalesced *c, int vm_fd, uint16_t port, uint16_t len)
{
	struct kvm_coalesced_mmio_zone zone = {.addr = port, .size = len, .pio = 1};

	if (!c->supported)
		return -ENOTSUP;
	return ioctl(vm_fd, KVM_REGISTER_COALESCED_MMIO, &zone) < 0 ? -errno : 0;
}

void coalesced_attach(struct coalesced *c, struct kvm_run *run)
{
	long page_size = sysconf(_SC_PAGESIZE);

	if (c->supported && !c->ring)
		c->ring = (struct kvm_coalesced_mmio_ring *)((uint8_t *)run +
							     (size_t)c->page * (size_t)page_size);
}

void coalesced_drain(struct coalesced *c, struct iobus *pio, struct iobus *mmio)
{
	struct kvm_coalesced_mmio_ring *ring = c->ring;

	/* The unlocked peek keeps the common case (nothing queued) to two loads. */
	if (!ring || __atomic_load_n(&ring->first, __ATOMIC_ACQUIRE) ==
			     __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&c->lock);
	for (;;) {
		uint32_t first = __atomic_load_n(&ring->first, __ATOMIC_ACQUIRE);
		struct kvm_coalesced_mmio e;

		if (first == __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE) || first >= c->max)
			break;
		e = ring->coalesced_mmio[first];
		if (e.len <= sizeof(e.data))
			iobus_dispatch(e.pio ? pio : mmio, e.phys_addr, e.data, e.len, true);
		c->replayed++;
		/* Publish the free slot only after the entry was consumed. */
		__atomic_store_n(&ring->first, (first + 1) % c->max, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&c->lock);
}
