#include "cards/card_stats.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "util/evloop.h"

struct card_stats_page *card_stats_map(int fd)
{
	void *p = mmap(NULL, CARD_STATS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

void card_stats_set(struct card_stats_page *page, const char *name, uint64_t value)
{
	uint32_t i, n;

	if (!page)
		return;
	n = page->count < CARD_STATS_MAX ? page->count : CARD_STATS_MAX;
	for (i = 0; i < n && strncmp(page->stats[i].name, name, CARD_STATS_NAME); i++)
		;
	if (i == n) {
		if (n == CARD_STATS_MAX)
			return;
		strncpy(page->stats[i].name, name, CARD_STATS_NAME - 1);
		__atomic_store_n(&page->count, n + 1, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&page->stats[i].value, value, __ATOMIC_RELAXED);
}

int card_stats_create(struct card_stats_page **page)
{
	int fd = memfd_create("azote-card-stats", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	void *p;

	if (fd < 0)
		return -errno;
	/* Sealed at its size: a card that shrank it would make azote's reads fault (SIGBUS). */
	if (ftruncate(fd, CARD_STATS_SIZE) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0 ||
	    (p = mmap(NULL, CARD_STATS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) ==
		MAP_FAILED) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	*page = p;
	(*page)->magic = CARD_STATS_MAGIC;
	return fd;
}

void card_stats_unmap(struct card_stats_page *page)
{
	if (page)
		munmap(page, CARD_STATS_SIZE);
}

static void card_stats_on_timer(void *opaque, int fd, uint32_t events)
{
	struct card_stats_pub *pub = opaque;
	uint64_t ticks;

	if (read(fd, &ticks, sizeof(ticks)) < 0)
		return;
	pub->fill(pub->ctx, pub->page);
}

int card_stats_start(struct card_stats_pub *pub, struct evloop *loop, int fd,
		     void (*fill)(void *, struct card_stats_page *), void *ctx)
{
	struct itimerspec every = {
	    .it_interval = {.tv_nsec = CARD_STATS_PERIOD_MS * 1000000L % 1000000000L,
			    .tv_sec = CARD_STATS_PERIOD_MS / 1000},
	    .it_value = {.tv_nsec = CARD_STATS_PERIOD_MS * 1000000L % 1000000000L,
			 .tv_sec = CARD_STATS_PERIOD_MS / 1000}};
	int rc;

	*pub = (struct card_stats_pub){.tfd = -1, .loop = loop, .fill = fill, .ctx = ctx};
	pub->page = card_stats_map(fd);
	close(fd);
	if (!pub->page)
		return -errno;
	pub->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (pub->tfd < 0 || timerfd_settime(pub->tfd, 0, &every, NULL) < 0)
		rc = -errno;
	else
		rc = evloop_add(loop, pub->tfd, EPOLLIN, card_stats_on_timer, pub);
	if (rc) {
		card_stats_stop(pub);
		return rc;
	}
	fill(ctx, pub->page);
	return 0;
}

void card_stats_stop(struct card_stats_pub *pub)
{
	if (pub->tfd >= 0) {
		evloop_del(pub->loop, pub->tfd);
		close(pub->tfd);
	}
	if (pub->page && pub->fill)
		pub->fill(pub->ctx, pub->page);
	card_stats_unmap(pub->page);
	*pub = (struct card_stats_pub){.tfd = -1};
}
