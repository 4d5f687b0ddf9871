/* MSI-X for one PCI function (PCI Local Bus 3.0 section 6.8.2): the capability in config space,
 * the vector table and pending-bit array (PBA) the device maps in one of its BARs, and the path
 * each interrupt source takes to the guest.
 *
 * Every vector owns a GSI (struct kvm_irq). A source is an eventfd that something outside the
 * VMM signals (a vhost-user backend's call fd) for one vector:
 *   - vector deliverable (MSI-X enabled, function and vector unmasked): the eventfd is a KVM
 *     irqfd on the vector's GSI, whose MSI route follows the table entry. The VMM is not involved.
 *   - vector masked: the irqfd is detached and the event loop watches the eventfd instead
 *     (kvm_irq_watch); a signal then sets the vector's PBA bit. Unmasking a vector with its bit
 *     set clears it and injects the message once (KVM_SIGNAL_MSI) before the irqfd comes back.
 *   - an irqfd KVM refuses also falls back to the watch, which then injects directly.
 * Interrupts the VMM raises itself (virtio configuration changes) use msix_notify().
 *
 * Every call may come from any thread (vCPUs, the event loop); a mutex per function guards the
 * state. Guest-controlled input never fails: out-of-range accesses read zeros and are dropped.
 */
#ifndef AZOTE_DEVICES_MSIX_H
#define AZOTE_DEVICES_MSIX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/ratelimit.h"
#include "kvm/irq.h"
#include "pci/pci_dev.h"

#define MSIX_NO_VECTOR	  0xffff /* virtio's "no vector" */
#define MSIX_MAX_VECTORS  2048	 /* the table size field has 11 bits */
#define MSIX_ENTRY_SIZE	  16
#define MSIX_CAP_LEN	  12
#define MSIX_CTRL_ENABLE  0x8000
#define MSIX_CTRL_MASKALL 0x4000
#define MSIX_ENTRY_MASKED 0x1

/* How a source's signals reach the guest right now. */
enum msix_path {
	MSIX_PATH_NONE,	 /* no vector: signals are dropped (virtio's NO_VECTOR) */
	MSIX_PATH_IRQFD, /* KVM injects on its own */
	MSIX_PATH_WATCH, /* the event loop reads the eventfd */
};

struct msix;

struct msix_source {
	struct kvm_irq_watch watch; /* watch.fd is the source's eventfd, -1 when unused */
	struct msix *msix;
	uint16_t vector;
	enum msix_path path;
	uint32_t irqfd_gsi; /* the GSI the irqfd is attached to while path == IRQFD */
	bool moving;	    /* msix_update() scratch: changing path */
};

struct msix {
	pthread_mutex_t lock;
	struct kvm_irq *irq;
	unsigned nvec, nsrc;
	uint8_t *table; /* nvec entries as the guest sees them (little-endian) */
	uint64_t *pba;
	uint32_t *gsi; /* per vector */
	struct msix_source *src;
	bool enabled, maskall;
	uint16_t cap;	   /* capability offset in config space, 0 before msix_add_cap() */
	uint64_t injected; /* KVM_SIGNAL_MSI calls (statistics) */
	struct ratelimit warn_limit;
};

/* Table and PBA sizes in bytes for nvec vectors (the PBA in whole qwords). */
uint32_t msix_table_bytes(unsigned nvec);
uint32_t msix_pba_bytes(unsigned nvec);

/* nvec vectors (1..MSIX_MAX_VECTORS), each with a GSI from irq, all masked; nsrc sources.
 * 0 or -errno. */
__attribute__((warn_unused_result)) int msix_init(struct msix *m, struct kvm_irq *irq,
						  unsigned nvec, unsigned nsrc);
/* Detach every source (irqfds, watches) and free. Accepts a zeroed or failed msix. */
void msix_fini(struct msix *m);

/* Add the capability to dev: table at table_off and PBA at pba_off (8-byte aligned) in BAR bar.
 * 0 or -errno. */
__attribute__((warn_unused_result)) int msix_add_cap(struct msix *m, struct pci_dev *dev,
						     unsigned bar, uint32_t table_off,
						     uint32_t pba_off);
/* Config bytes [offset, offset+len) of dev were written: pick up enable and function mask. */
void msix_config_written(struct msix *m, const struct pci_dev *dev, uint32_t offset, uint32_t len);

/* Guest accesses inside the table and PBA regions (offsets from their starts, any length). */
void msix_table_access(struct msix *m, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
void msix_pba_access(struct msix *m, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

/* Source idx is eventfd fd for vector (MSIX_NO_VECTOR: none); fd -1 detaches it. The caller keeps
 * the fd open until the source is detached. */
void msix_source_set(struct msix *m, unsigned idx, int fd, uint16_t vector);
/* Raise vector once: injected now, or left pending while masked. */
void msix_notify(struct msix *m, uint16_t vector);
/* True when vector names an entry of the table. */
bool msix_vector_valid(const struct msix *m, uint16_t vector);

#endif
