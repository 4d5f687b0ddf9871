/* The VM's message-signalled interrupt plumbing: KVM's GSI routing table (one per VM, always
 * committed whole), irqfds, ioeventfds, direct MSI injection, and a watcher for eventfds whose
 * interrupts cannot take the irqfd path right now (a masked MSI-X vector).
 *
 * Routing: KVM_SET_GSI_ROUTING replaces the whole table, including the routes KVM created for
 * the PIC and IOAPIC at KVM_CREATE_IRQCHIP. So the table always starts with those, exactly as
 * KVM's own default: GSI 0..15 -> IOAPIC pin n and PIC pin n % 8 (master below 8, slave from 8),
 * GSI 16..23 -> IOAPIC pin n. GSIs from 24 up are handed out one per MSI-X vector and carry an
 * MSI route once the guest programmed the vector. The serial (IRQ 4) and the ACPI SCI (IRQ 9)
 * therefore keep working with KVM_IRQ_LINE, and an irqfd bound to a vector's GSI follows every
 * reprogramming of the vector without being re-attached.
 *
 * The KVM ioctls go through struct kvm_irq_ops so that tests can observe them without /dev/kvm.
 */
#ifndef AZOTE_KVM_IRQ_H
#define AZOTE_KVM_IRQ_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* The ioctls, each returning 0 (signal_msi: >= 0) or -errno. */
struct kvm_irq_ops {
	/* KVM_SET_GSI_ROUTING with the whole table. */
	int (*set_routing)(void *ctx, const struct kvm_irq_routing *table);
	/* KVM_IRQFD: writes to fd raise gsi (assign), or stop doing so (!assign). */
	int (*irqfd)(void *ctx, int fd, uint32_t gsi, bool assign);
	/* KVM_IOEVENTFD: a guest write of len bytes (0: any length) at MMIO addr signals fd. */
	int (*ioeventfd)(void *ctx, uint64_t addr, uint32_t len, int fd, bool assign);
	/* KVM_SIGNAL_MSI: inject one message now; 0 when the guest blocked it, 1 when delivered. */
	int (*signal_msi)(void *ctx, uint64_t addr, uint32_t data);
};

/* The real ioctls; their ctx is a pointer to the VM fd (int *). */
extern const struct kvm_irq_ops kvm_irq_vm_ops;

#define KVM_IRQ_PINS	 24 /* IOAPIC pins: GSI 0..23 keep their irqchip routes */
#define KVM_IRQ_PIC_PINS 16 /* GSI 0..15 also reach the 8259 pair */
/* The whole table stays within 1024 entries, the smallest KVM_MAX_IRQ_ROUTES KVM has had. */
#define KVM_IRQ_MAX_MSI (1024 - KVM_IRQ_PINS - KVM_IRQ_PIC_PINS)
#define KVM_IRQ_MAX_GSI (KVM_IRQ_PINS + KVM_IRQ_MAX_MSI)

/* An eventfd watched for the event loop; fn runs on the loop's thread when fd is readable and
 * must read fd itself (the watch is level-triggered). Owned by the caller; embed it. */
struct kvm_irq_watch;
typedef void (*kvm_irq_watch_fn)(struct kvm_irq_watch *w);
struct kvm_irq_watch {
	kvm_irq_watch_fn fn;
	int fd;
};

struct kvm_irq_msi_route {
	bool used;  /* the GSI was handed out */
	bool valid; /* it carries a route */
	uint64_t addr;
	uint32_t data;
};

struct kvm_irq {
	const struct kvm_irq_ops *ops;
	void *ctx;
	pthread_mutex_t lock; /* the route table; vCPU threads reprogram vectors concurrently */
	struct kvm_irq_msi_route msi[KVM_IRQ_MAX_MSI]; /* GSI KVM_IRQ_PINS + i */
	unsigned msi_used;
	struct kvm_irq_routing *table; /* scratch the commits build, sized for every GSI */
	int epfd;		       /* the watched eventfds (epoll_ctl is thread-safe) */
	uint64_t commits;	       /* KVM_SET_GSI_ROUTING calls (statistics) */
};

/* Set up and commit the base routing table (irqchip routes only). 0 or -errno. */
__attribute__((warn_unused_result)) int kvm_irq_init(struct kvm_irq *k,
						     const struct kvm_irq_ops *ops, void *ctx);
/* Close the watcher and free the table. Accepts a zeroed or failed kvm_irq. */
void kvm_irq_fini(struct kvm_irq *k);

/* Hand out an unused GSI for an MSI vector (no route yet). 0 or -ENOSPC. */
__attribute__((warn_unused_result)) int kvm_irq_alloc_gsi(struct kvm_irq *k, uint32_t *gsi);
/* Point gsi at the MSI (addr, data) and commit the table if that changed anything. 0 or -errno
 * (-EINVAL: not a GSI from kvm_irq_alloc_gsi). */
__attribute__((warn_unused_result)) int kvm_irq_set_msi_route(struct kvm_irq *k, uint32_t gsi,
							      uint64_t addr, uint32_t data);

/* The ioctls, for devices that must not see the ops. */
__attribute__((warn_unused_result)) int kvm_irq_irqfd(struct kvm_irq *k, int fd, uint32_t gsi,
						      bool assign);
__attribute__((warn_unused_result)) int kvm_irq_ioeventfd(struct kvm_irq *k, uint64_t addr,
							  uint32_t len, int fd, bool assign);
__attribute__((warn_unused_result)) int kvm_irq_signal_msi(struct kvm_irq *k, uint64_t addr,
							   uint32_t data);

/* Start or stop watching w->fd (from any thread). 0 or -errno. After kvm_irq_unwatch() a call to
 * w->fn that the loop had already collected may still come: fn must check its own state. */
__attribute__((warn_unused_result)) int kvm_irq_watch(struct kvm_irq *k, struct kvm_irq_watch *w);
void kvm_irq_unwatch(struct kvm_irq *k, struct kvm_irq_watch *w);

/* The fd the event loop polls for EPOLLIN on behalf of every watch. */
int kvm_irq_watch_fd(const struct kvm_irq *k);
/* Run the callbacks of the watched eventfds that are readable. An evloop_fn: opaque is the
 * struct kvm_irq; register it with evloop_add(loop, kvm_irq_watch_fd(k), EPOLLIN, this, k). */
void kvm_irq_on_watch(void *opaque, int fd, uint32_t events);

#endif
