/* A stand-in for the KVM interrupt ioctls (struct kvm_irq_ops) that records what a device asked
 * KVM to do: the last routing table, attached irqfds and ioeventfds, injected MSIs. Tests look at
 * the effect (what is attached now), not at call sequences. Included by the unit tests. */
#ifndef AZOTE_TESTS_KVM_IRQ_FAKE_H
#define AZOTE_TESTS_KVM_IRQ_FAKE_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvm/irq.h"

#define FAKE_MAX 512

struct fake_kvm {
	pthread_mutex_t lock;
	struct kvm_irq_routing_entry routes[KVM_IRQ_PINS + KVM_IRQ_PIC_PINS + KVM_IRQ_MAX_MSI];
	unsigned nroutes, commits;
	struct {
		int fd;
		uint32_t gsi;
	} irqfds[FAKE_MAX];
	unsigned nirqfds;
	struct {
		int fd;
		uint64_t addr;
		uint32_t len;
	} ioeventfds[FAKE_MAX];
	unsigned nioeventfds;
	struct {
		uint64_t addr;
		uint32_t data;
	} msis[FAKE_MAX];
	unsigned nmsis;
	int irqfd_error;     /* returned by every irqfd assign when set */
	int ioeventfd_error; /* returned by every ioeventfd assign when set */
	bool any_len_unsupported;
	unsigned bad_deassigns; /* deassigns of something never assigned */
};

static int fake_set_routing(void *ctx, const struct kvm_irq_routing *t)
{
	struct fake_kvm *f = ctx;

	pthread_mutex_lock(&f->lock);
	f->nroutes = t->nr;
	memcpy(f->routes, t->entries, t->nr * sizeof(t->entries[0]));
	f->commits++;
	pthread_mutex_unlock(&f->lock);
	return 0;
}

static int fake_irqfd(void *ctx, int fd, uint32_t gsi, bool assign)
{
	struct fake_kvm *f = ctx;
	int rc = 0;

	pthread_mutex_lock(&f->lock);
	if (assign) {
		for (unsigned i = 0; i < f->nirqfds; i++)
			if (f->irqfds[i].fd == fd)
				rc = -EBUSY; /* KVM refuses an eventfd twice */
		if (!rc && f->irqfd_error)
			rc = f->irqfd_error;
		if (!rc) {
			f->irqfds[f->nirqfds].fd = fd;
			f->irqfds[f->nirqfds++].gsi = gsi;
		}
	} else {
		unsigned i;
		for (i = 0; i < f->nirqfds; i++)
			if (f->irqfds[i].fd == fd && f->irqfds[i].gsi == gsi)
				break;
		if (i == f->nirqfds) {
			f->bad_deassigns++;
			rc = -ENOENT;
		} else {
			f->irqfds[i] = f->irqfds[--f->nirqfds];
		}
	}
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static int fake_ioeventfd(void *ctx, uint64_t addr, uint32_t len, int fd, bool assign)
{
	struct fake_kvm *f = ctx;
	int rc = 0;

	pthread_mutex_lock(&f->lock);
	if (assign) {
		if (len == 0 && f->any_len_unsupported)
			rc = -EINVAL;
		else if (f->ioeventfd_error)
			rc = f->ioeventfd_error;
		for (unsigned i = 0; !rc && i < f->nioeventfds; i++)
			if (f->ioeventfds[i].addr == addr)
				rc = -EEXIST;
		if (!rc) {
			f->ioeventfds[f->nioeventfds].fd = fd;
			f->ioeventfds[f->nioeventfds].addr = addr;
			f->ioeventfds[f->nioeventfds++].len = len;
		}
	} else {
		unsigned i;
		for (i = 0; i < f->nioeventfds; i++)
			if (f->ioeventfds[i].fd == fd && f->ioeventfds[i].addr == addr &&
			    f->ioeventfds[i].len == len)
				break;
		if (i == f->nioeventfds) {
			f->bad_deassigns++;
			rc = -ENOENT;
		} else {
			f->ioeventfds[i] = f->ioeventfds[--f->nioeventfds];
		}
	}
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static int fake_signal_msi(void *ctx, uint64_t addr, uint32_t data)
{
	struct fake_kvm *f = ctx;

	pthread_mutex_lock(&f->lock);
	if (f->nmsis < FAKE_MAX) {
		f->msis[f->nmsis].addr = addr;
		f->msis[f->nmsis++].data = data;
	}
	pthread_mutex_unlock(&f->lock);
	return 1;
}

static const struct kvm_irq_ops fake_kvm_ops = {
    .set_routing = fake_set_routing,
    .irqfd = fake_irqfd,
    .ioeventfd = fake_ioeventfd,
    .signal_msi = fake_signal_msi,
};

static inline struct fake_kvm *fake_kvm_new(void)
{
	struct fake_kvm *f = calloc(1, sizeof(*f));

	if (f)
		pthread_mutex_init(&f->lock, NULL);
	return f;
}

/* The GSI fd is attached to as an irqfd, or -1. */
static inline int64_t fake_irqfd_gsi(struct fake_kvm *f, int fd)
{
	for (unsigned i = 0; i < f->nirqfds; i++)
		if (f->irqfds[i].fd == fd)
			return f->irqfds[i].gsi;
	return -1;
}

/* The ioeventfd at addr: its fd, or -1. */
static inline int fake_ioeventfd_at(struct fake_kvm *f, uint64_t addr)
{
	for (unsigned i = 0; i < f->nioeventfds; i++)
		if (f->ioeventfds[i].addr == addr)
			return f->ioeventfds[i].fd;
	return -1;
}

/* The route of gsi in the last committed table, or NULL. */
static inline const struct kvm_irq_routing_entry *fake_route(struct fake_kvm *f, uint32_t gsi,
							     uint32_t type)
{
	for (unsigned i = 0; i < f->nroutes; i++)
		if (f->routes[i].gsi == gsi && f->routes[i].type == type)
			return &f->routes[i];
	return NULL;
}

#endif
