#include "cards/card_stats.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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
