/* Rate limit for log lines a guest can trigger at will: at most one per interval. */
#ifndef AZOTE_DEVICES_RATELIMIT_H
#define AZOTE_DEVICES_RATELIMIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define RATELIMIT_INTERVAL_NS 1000000000ull

struct ratelimit {
	_Atomic uint64_t next_ns; /* zero-initialised: the first message always passes */
};

/* True when a message may be logged now; safe to call from several vCPU threads at once. */
static inline bool ratelimit_allow(struct ratelimit *rl)
{
	struct timespec ts;
	uint64_t now, next;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	next = atomic_load_explicit(&rl->next_ns, memory_order_relaxed);
	if (now < next)
		return false;
	/* Only the thread that moves the deadline gets to log. */
	return atomic_compare_exchange_strong_explicit(&rl->next_ns, &next,
						       now + RATELIMIT_INTERVAL_NS,
						       memory_order_relaxed, memory_order_relaxed);
}

#endif
