/* One epoll event loop per process: fds with callbacks, run until asked to stop. */
#ifndef AZOTE_UTIL_EVLOOP_H
#define AZOTE_UTIL_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>

/* Called on the loop's thread with the epoll events that fired for fd. */
typedef void (*evloop_fn)(void *opaque, int fd, uint32_t events);

#define EVLOOP_MAX_FDS 32

struct evloop_entry {
	int fd;
	evloop_fn fn;
	void *opaque;
};

struct evloop {
	int epfd;
	bool stop;
	struct evloop_entry entries[EVLOOP_MAX_FDS];
};

/* Create the epoll instance. Returns 0 or -errno. */
__attribute__((warn_unused_result)) int evloop_init(struct evloop *loop);
/* Close the epoll instance (not the watched fds, which their owners close). Accepts a zeroed loop. */
void evloop_fini(struct evloop *loop);
/* Watch fd for events (EPOLLIN...). Returns 0 or -errno. */
__attribute__((warn_unused_result)) int evloop_add(struct evloop *loop, int fd, uint32_t events,
						   evloop_fn fn, void *opaque);
/* Change the events watched on fd (0 pauses it). Returns 0 or -errno. */
__attribute__((warn_unused_result)) int evloop_mod(struct evloop *loop, int fd, uint32_t events);
/* Stop watching fd. */
void evloop_del(struct evloop *loop, int fd);
/* Dispatch events until evloop_stop() is called from a callback. Returns 0 or -errno. */
__attribute__((warn_unused_result)) int evloop_run(struct evloop *loop);
/* Make evloop_run() return after the current dispatch round. */
void evloop_stop(struct evloop *loop);

#endif
