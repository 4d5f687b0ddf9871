#include "kvm/irq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* KVM's irqchip numbers for a routing entry (KVM API, KVM_SET_GSI_ROUTING). */
#define IRQCHIP_PIC_MASTER 0
#define IRQCHIP_PIC_SLAVE  1
#define IRQCHIP_IOAPIC	   2
#define IRQ_TABLE_MAX	   (KVM_IRQ_PINS + KVM_IRQ_PIC_PINS + KVM_IRQ_MAX_MSI)

static int vm_fd_of(void *ctx)
{
	return *(const int *)ctx;
}

static int kvm_ioctl_set_routing(void *ctx, const struct kvm_irq_routing *table)
{
	return ioctl(vm_fd_of(ctx), KVM_SET_GSI_ROUTING, table) < 0 ? -errno : 0;
}

static int kvm_ioctl_irqfd(void *ctx, int fd, uint32_t gsi, bool assign)
{
	struct kvm_irqfd req = {
	    .fd = (uint32_t)fd, .gsi = gsi, .flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN};

	return ioctl(vm_fd_of(ctx), KVM_IRQFD, &req) < 0 ? -errno : 0;
}

static int kvm_ioctl_ioeventfd(void *ctx, uint64_t addr, uint32_t len, int fd, bool assign)
{
	/* No datamatch: every queue has its own notify address. MMIO, not port I/O. */
	struct kvm_ioeventfd req = {
	    .addr = addr, .len = len, .fd = fd, .flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN};

	return ioctl(vm_fd_of(ctx), KVM_IOEVENTFD, &req) < 0 ? -errno : 0;
}

static int kvm_ioctl_signal_msi(void *ctx, uint64_t addr, uint32_t data)
{
	struct kvm_msi msi = {
	    .address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32), .data = data};
	int rc = ioctl(vm_fd_of(ctx), KVM_SIGNAL_MSI, &msi);

	return rc < 0 ? -errno : rc;
}

const struct kvm_irq_ops kvm_irq_vm_ops = {
    .set_routing = kvm_ioctl_set_routing,
    .irqfd = kvm_ioctl_irqfd,
    .ioeventfd = kvm_ioctl_ioeventfd,
    .signal_msi = kvm_ioctl_signal_msi,
};

static void irq_add_irqchip(struct kvm_irq_routing *t, uint32_t gsi, uint32_t chip, uint32_t pin)
{
	struct kvm_irq_routing_entry *e = &t->entries[t->nr++];

	memset(e, 0, sizeof(*e));
	e->gsi = gsi;
	e->type = KVM_IRQ_ROUTING_IRQCHIP;
	e->u.irqchip.irqchip = chip;
	e->u.irqchip.pin = pin;
}

/* Rebuild the whole table (irqchip routes as KVM's default, then every valid MSI route) and hand
 * it to KVM. Called with the lock held. */
static int irq_commit(struct kvm_irq *k)
{
	struct kvm_irq_routing *t = k->table;

	t->nr = 0;
	t->flags = 0;
	for (uint32_t gsi = 0; gsi < KVM_IRQ_PINS; gsi++) {
		irq_add_irqchip(t, gsi, IRQCHIP_IOAPIC, gsi);
		if (gsi < KVM_IRQ_PIC_PINS)
			irq_add_irqchip(t, gsi, gsi < 8 ? IRQCHIP_PIC_MASTER : IRQCHIP_PIC_SLAVE,
					gsi % 8);
	}
	for (unsigned i = 0; i < k->msi_used; i++) {
		struct kvm_irq_routing_entry *e;

		if (!k->msi[i].valid)
			continue;
		e = &t->entries[t->nr++];
		memset(e, 0, sizeof(*e));
		e->gsi = KVM_IRQ_PINS + i;
		e->type = KVM_IRQ_ROUTING_MSI;
		e->u.msi.address_lo = (uint32_t)k->msi[i].addr;
		e->u.msi.address_hi = (uint32_t)(k->msi[i].addr >> 32);
		e->u.msi.data = k->msi[i].data;
	}
	k->commits++;
	return k->ops->set_routing(k->ctx, t);
}

int kvm_irq_init(struct kvm_irq *k, const struct kvm_irq_ops *ops, void *ctx)
{
	int rc;

	memset(k, 0, sizeof(*k));
	k->epfd = -1;
	if (!ops)
		return -EINVAL;
	k->ops = ops;
	k->ctx = ctx;
	k->table = calloc(1, sizeof(*k->table) + IRQ_TABLE_MAX * sizeof(k->table->entries[0]));
	if (!k->table)
		return -ENOMEM;
	pthread_mutex_init(&k->lock, NULL);
	k->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (k->epfd < 0)
		return -errno;
	/* Committed now, so that a table KVM refuses shows at start and not at the first MSI. */
	pthread_mutex_lock(&k->lock);
	rc = irq_commit(k);
	pthread_mutex_unlock(&k->lock);
	return rc;
}

void kvm_irq_fini(struct kvm_irq *k)
{
	if (!k->table)
		return;
	if (k->epfd >= 0)
		close(k->epfd);
	k->epfd = -1;
	pthread_mutex_destroy(&k->lock);
	free(k->table);
	k->table = NULL;
}

int kvm_irq_alloc_gsi(struct kvm_irq *k, uint32_t *gsi)
{
	int rc = -ENOSPC;

	pthread_mutex_lock(&k->lock);
	if (k->msi_used < KVM_IRQ_MAX_MSI) {
		k->msi[k->msi_used].used = true;
		*gsi = KVM_IRQ_PINS + k->msi_used++;
		rc = 0;
	}
	pthread_mutex_unlock(&k->lock);
	return rc;
}

int kvm_irq_set_msi_route(struct kvm_irq *k, uint32_t gsi, uint64_t addr, uint32_t data)
{
	struct kvm_irq_msi_route *r;
	int rc = 0;

	if (gsi < KVM_IRQ_PINS || gsi - KVM_IRQ_PINS >= KVM_IRQ_MAX_MSI)
		return -EINVAL;
	pthread_mutex_lock(&k->lock);
	r = &k->msi[gsi - KVM_IRQ_PINS];
	if (!r->used) {
		rc = -EINVAL;
	} else if (!r->valid || r->addr != addr || r->data != data) {
		/* Each commit costs KVM an RCU grace period: only real changes go through. */
		*r = (struct kvm_irq_msi_route){
		    .used = true, .valid = true, .addr = addr, .data = data};
		rc = irq_commit(k);
		if (rc)
			r->valid = false; /* KVM kept its old table: do not pretend otherwise */
	}
	pthread_mutex_unlock(&k->lock);
	return rc;
}

int kvm_irq_irqfd(struct kvm_irq *k, int fd, uint32_t gsi, bool assign)
{
	return k->ops->irqfd(k->ctx, fd, gsi, assign);
}

int kvm_irq_ioeventfd(struct kvm_irq *k, uint64_t addr, uint32_t len, int fd, bool assign)
{
	return k->ops->ioeventfd(k->ctx, addr, len, fd, assign);
}

int kvm_irq_signal_msi(struct kvm_irq *k, uint64_t addr, uint32_t data)
{
	return k->ops->signal_msi(k->ctx, addr, data);
}

int kvm_irq_watch(struct kvm_irq *k, struct kvm_irq_watch *w)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};

	return epoll_ctl(k->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0 ? -errno : 0;
}

void kvm_irq_unwatch(struct kvm_irq *k, struct kvm_irq_watch *w)
{
	/* ENOENT (never watched) is fine: the caller's state says what it wanted. */
	epoll_ctl(k->epfd, EPOLL_CTL_DEL, w->fd, NULL);
}

int kvm_irq_watch_fd(const struct kvm_irq *k)
{
	return k->epfd;
}

void kvm_irq_on_watch(void *opaque, int fd, uint32_t events)
{
	struct kvm_irq *k = opaque;
	struct epoll_event evs[16];
	int n = epoll_wait(k->epfd, evs, 16, 0);

	/* More than 16 ready: the outer loop sees the epoll fd readable again and calls back. */
	for (int i = 0; i < n; i++) {
		struct kvm_irq_watch *w = evs[i].data.ptr;
		w->fn(w);
	}
}
