#include "util/evloop.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

/* Events fetched per epoll_wait(): enough that a busy loop rarely needs a second call. */
#define EVLOOP_BATCH 64

int evloop_init(struct evloop *loop)
{
	memset(loop, 0, sizeof(*loop));
	for (unsigned i = 0; i < EVLOOP_MAX_FDS; i++)
		loop->entries[i].fd = -1;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	return loop->epfd < 0 ? -errno : 0;
}

void evloop_fini(struct evloop *loop)
{
	if (loop->epfd > 0)
		close(loop->epfd);
	loop->epfd = -1;
}

/* What travels through epoll: the slot (dispatch is one array index, no search) and its
 * generation (a slot freed and reused within one round does not get its old fd's events). */
static uint64_t evloop_tag(const struct evloop *loop, unsigned slot)
{
	return (uint64_t)loop->entries[slot].gen << 32 | slot;
}

int evloop_add(struct evloop *loop, int fd, uint32_t events, evloop_fn fn, void *opaque)
{
	struct epoll_event ev = {.events = events};
	unsigned i;

	for (i = 0; i < loop->used && loop->entries[i].fd >= 0; i++)
		;
	if (i == EVLOOP_MAX_FDS)
		return -ENOSPC;
	loop->entries[i].gen++;
	ev.data.u64 = evloop_tag(loop, i);
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	loop->entries[i].fd = fd;
	loop->entries[i].fn = fn;
	loop->entries[i].opaque = opaque;
	if (i == loop->used)
		loop->used++;
	return 0;
}

/* A linear search, bounded by the highest slot in use: a few hundred int compares at worst,
 * far cheaper than the epoll_ctl() each caller makes next; dispatch never searches. */
static int evloop_slot(const struct evloop *loop, int fd)
{
	for (unsigned i = 0; i < loop->used; i++)
		if (loop->entries[i].fd == fd)
			return (int)i;
	return -1;
}

int evloop_mod(struct evloop *loop, int fd, uint32_t events)
{
	int slot = evloop_slot(loop, fd);
	struct epoll_event ev = {.events = events};

	if (slot < 0)
		return -ENOENT;
	ev.data.u64 = evloop_tag(loop, (unsigned)slot);
	return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

void evloop_del(struct evloop *loop, int fd)
{
	int slot = evloop_slot(loop, fd);

	if (slot < 0)
		return;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	loop->entries[slot].fd = -1;
	while (loop->used > 0 && loop->entries[loop->used - 1].fd < 0)
		loop->used--;
}

int evloop_poll(struct evloop *loop, int timeout_ms)
{
	struct epoll_event evs[EVLOOP_BATCH];
	int n = epoll_wait(loop->epfd, evs, EVLOOP_BATCH, timeout_ms);
	int delivered = 0;

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n && !loop->stop; i++) {
		unsigned slot = (uint32_t)evs[i].data.u64;
		struct evloop_entry *e;

		if (slot >= EVLOOP_MAX_FDS || evs[i].data.u64 != evloop_tag(loop, slot))
			continue;
		e = &loop->entries[slot];
		if (e->fd < 0)
			continue;
		e->fn(e->opaque, e->fd, evs[i].events);
		delivered++;
	}
	return delivered;
}

int evloop_run(struct evloop *loop)
{
	while (!loop->stop) {
		int rc = evloop_poll(loop, -1);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void evloop_stop(struct evloop *loop)
{
	loop->stop = true;
}
