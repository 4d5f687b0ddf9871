/* A device process's counters, shared with azote through a small memfd page azote creates and
 * passes to the card (`--stats-fd N`): the card publishes named 64-bit counters, azote reads
 * them for its metrics without asking the card anything. The card is not trusted: azote bounds
 * the count, forces names to be NUL-terminated and only ever reads numbers from the page. */
#ifndef AZOTE_CARDS_CARD_STATS_H
#define AZOTE_CARDS_CARD_STATS_H

#include <stdint.h>

#define CARD_STATS_MAGIC 0x7473617aU /* "azst" */
#define CARD_STATS_MAX	 32
#define CARD_STATS_NAME	 32

struct card_stat {
	char name[CARD_STATS_NAME]; /* "rx_packets": lowercase, digits and '_' */
	uint64_t value;		    /* written with relaxed atomic stores by the card */
};

struct card_stats_page {
	uint32_t magic;
	uint32_t count; /* stats[0..count) are valid */
	struct card_stat stats[CARD_STATS_MAX];
};

#define CARD_STATS_SIZE 4096
_Static_assert(sizeof(struct card_stats_page) <= CARD_STATS_SIZE, "stats page fits one page");

/* Card side: map the page behind fd (azote's memfd, CARD_STATS_SIZE bytes). NULL on failure. */
struct card_stats_page *card_stats_map(int fd);
/* Card side: set counter `name` (added on first use; ignored when the page is full). */
void card_stats_set(struct card_stats_page *page, const char *name, uint64_t value);

/* Card side: every CARD_STATS_PERIOD_MS on loop (and once at once), fill(ctx, page) sets the
 * counters from the device's own. Readers see values at most one period old. */
#define CARD_STATS_PERIOD_MS 1000
struct evloop;
struct card_stats_pub {
	struct card_stats_page *page;
	int tfd;
	struct evloop *loop;
	void (*fill)(void *ctx, struct card_stats_page *page);
	void *ctx;
};
/* Map fd and start publishing. 0 or -errno (the card then runs without publishing). */
__attribute__((warn_unused_result)) int card_stats_start(struct card_stats_pub *pub,
							  struct evloop *loop, int fd,
							  void (*fill)(void *, struct card_stats_page *),
							  void *ctx);
/* Publish one last time and stop. Accepts a zeroed pub. */
void card_stats_stop(struct card_stats_pub *pub);

/* azote side: a memfd of CARD_STATS_SIZE bytes mapped at *page; returns the fd or -errno. */
int card_stats_create(struct card_stats_page **page);
void card_stats_unmap(struct card_stats_page *page);

#endif
