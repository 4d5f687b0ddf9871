#include "util/evloop.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

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

int evloop_add(struct evloop *loop, int fd, uint32_t events, evloop_fn fn, void *opaque)
{
	struct epoll_event ev = {.events = events};
	unsigned i;

	for (i = 0; i < EVLOOP_MAX_FDS && loop->entries[i].fd >= 0; i++)
		;
	if (i == EVLOOP_MAX_FDS)
		return -ENOSPC;
	/* The slot index, not a pointer, travels through epoll: a slot freed by evloop_del() in
	 * the same round is then recognised and skipped. */
	ev.data.u32 = i;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	loop->entries[i] = (struct evloop_entry){.fd = fd, .fn = fn, .opaque = opaque};
	return 0;
}

static int evloop_slot(const struct evloop *loop, int fd)
{
	for (unsigned i = 0; i < EVLOOP_MAX_FDS; i++)
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
	ev.data.u32 = (uint32_t)slot;
	return epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

void evloop_del(struct evloop *loop, int fd)
{
	int slot = evloop_slot(loop, fd);

	if (slot < 0)
		return;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	loop->entries[slot].fd = -1;
}

int evloop_run(struct evloop *loop)
{
	struct epoll_event evs[16];

	while (!loop->stop) {
		int n = epoll_wait(loop->epfd, evs, 16, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n && !loop->stop; i++) {
			struct evloop_entry *e = &loop->entries[evs[i].data.u32];
			if (e->fd >= 0)
				e->fn(e->opaque, e->fd, evs[i].events);
		}
	}
	return 0;
}

void evloop_stop(struct evloop *loop)
{
	loop->stop = true;
}
