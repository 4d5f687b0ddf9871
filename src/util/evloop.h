/* One epoll event loop per process: fds with callbacks, run until asked to stop. */
#ifndef AZOTE_UTIL_EVLOOP_H
#define AZOTE_UTIL_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>

/* Called on the loop's thread with the epoll events that fired for fd. */
typedef void (*evloop_fn)(void *opaque, int fd, uint32_t events);

/* Room for the API's connections, the device processes' sockets and eventfds, and timers. */
#define EVLOOP_MAX_FDS 256

struct evloop_entry {
	int fd;
	/* Bumped each time the slot is reused: events fetched for the slot's previous fd are
	 * recognised and dropped. */
	uint32_t gen;
	evloop_fn fn;
	void *opaque;
};

struct evloop {
	int epfd;
	bool stop;
	/* Slots at or above this index are all free: lookups stop there. */
	unsigned used;
	struct evloop_entry entries[EVLOOP_MAX_FDS];
};

/* Create the epoll instance. Returns 0 or -errno. */
__attribute__((warn_unused_result)) int evloop_init(struct evloop *loop);
/* Close the epoll instance (not the watched fds, which their owners close). Accepts a zeroed loop.
 */
void evloop_fini(struct evloop *loop);
/* Watch fd for events (EPOLLIN...). Returns 0 or -errno (-ENOSPC when the table is full). */
__attribute__((warn_unused_result)) int evloop_add(struct evloop *loop, int fd, uint32_t events,
						   evloop_fn fn, void *opaque);
/* Change the events watched on fd (0 pauses it). Returns 0 or -errno. */
__attribute__((warn_unused_result)) int evloop_mod(struct evloop *loop, int fd, uint32_t events);
/* Stop watching fd; events already fetched for it in this round are not delivered. */
void evloop_del(struct evloop *loop, int fd);
/* Wait at most timeout_ms (-1: forever) and dispatch one round of events. Returns the number of
 * events delivered or -errno. */
__attribute__((warn_unused_result)) int evloop_poll(struct evloop *loop, int timeout_ms);
/* Dispatch events until evloop_stop() is called from a callback. Returns 0 or -errno. */
__attribute__((warn_unused_result)) int evloop_run(struct evloop *loop);
/* Make evloop_run() return after the current dispatch round. */
void evloop_stop(struct evloop *loop);

#endif
