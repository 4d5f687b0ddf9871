/* KVM's coalesced I/O ring: writes to registered ports/addresses are queued by KVM in a page
 * shared with userspace instead of exiting; the VMM replays them, in order, before it handles
 * any other exit, so a device sees its accesses in the order the guest made them. */
#ifndef AZOTE_KVM_COALESCED_H
#define AZOTE_KVM_COALESCED_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvm/iobus.h"

struct coalesced {
	bool supported;     /* KVM_CAP_COALESCED_MMIO and KVM_CAP_COALESCED_PIO */
	unsigned page;      /* the ring's page offset in every vCPU's kvm_run mapping */
	struct kvm_coalesced_mmio_ring *ring; /* one per VM; NULL until a vCPU is mapped */
	unsigned max;       /* entries in the ring */
	pthread_mutex_t lock; /* one consumer at a time: vCPU threads and the event loop */
	uint64_t replayed;  /* accesses that did not cost a VM exit */
};

/* Probe the capabilities on the KVM system fd. Never fails: unsupported means "exit as usual". */
void coalesced_init(struct coalesced *c, int kvm_fd, int run_size);
void coalesced_fini(struct coalesced *c);
/* Queue guest writes to ports [port, port+len) instead of exiting. 0, or -errno (not fatal:
 * the writes then exit normally). */
__attribute__((warn_unused_result)) int coalesced_add_pio(struct coalesced *c, int vm_fd,
							  uint16_t port, uint16_t len);
/* Find the ring in a vCPU's kvm_run mapping (all vCPUs of a VM share it). */
void coalesced_attach(struct coalesced *c, struct kvm_run *run);
/* Replay every queued write through the bus. Safe from any thread. */
void coalesced_drain(struct coalesced *c, struct iobus *pio, struct iobus *mmio);

#endif
