/* The epoll event loop: dispatch, pause/resume, capacity, and slots reused within one round. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/evloop.h"

struct probe {
	struct evloop *loop;
	unsigned calls;
	uint32_t events;
	int *victim;	  /* closed and unwatched by the first probe called */
	int *replacement; /* then watched in its place, reusing its slot */
	struct probe *replacement_probe;
};

static void on_probe(void *opaque, int fd, uint32_t events);

static int readable_efd(void)
{
	int fd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

static void on_probe(void *opaque, int fd, uint32_t events)
{
	struct probe *p = opaque;

	p->calls++;
	p->events = events;
	if (p->victim && *p->victim >= 0) {
		evloop_del(p->loop, *p->victim);
		close(*p->victim);
		*p->victim = -1;
		*p->replacement = readable_efd();
		assert_int_equal(
		    evloop_add(p->loop, *p->replacement, EPOLLIN, on_probe, p->replacement_probe),
		    0);
	}
}

static void test_dispatch_and_pause(void **state)
{
	struct evloop loop;
	struct probe p = {.loop = &loop};
	int fd = readable_efd();

	assert_int_equal(evloop_init(&loop), 0);
	assert_int_equal(evloop_add(&loop, fd, EPOLLIN, on_probe, &p), 0);
	assert_int_equal(evloop_poll(&loop, 100), 1);
	assert_int_equal(p.calls, 1);
	assert_true(p.events & EPOLLIN);

	/* Paused: still readable, not delivered. */
	assert_int_equal(evloop_mod(&loop, fd, 0), 0);
	assert_int_equal(evloop_poll(&loop, 10), 0);
	assert_int_equal(evloop_mod(&loop, fd, EPOLLIN), 0);
	assert_int_equal(evloop_poll(&loop, 10), 1);

	evloop_del(&loop, fd);
	assert_int_equal(evloop_poll(&loop, 10), 0);
	assert_int_equal(evloop_mod(&loop, fd, EPOLLIN), -ENOENT);
	assert_int_equal(p.calls, 2);
	close(fd);
	evloop_fini(&loop);
}

/* Two fds ready in one round; the first callback drops the other and watches a new fd in the
 * freed slot (often with the same fd number). The dropped fd's event, already fetched, must
 * not reach the newcomer. */
static void test_slot_reuse_in_one_round(void **state)
{
	struct evloop loop;
	int a = readable_efd(), b = readable_efd(), c = -1;
	struct probe pc = {.loop = &loop};
	struct probe pa = {.loop = &loop, .replacement = &c, .replacement_probe = &pc};
	struct probe pb = pa;

	pa.victim = &b;
	pb.victim = &a;
	assert_int_equal(evloop_init(&loop), 0);
	assert_int_equal(evloop_add(&loop, a, EPOLLIN, on_probe, &pa), 0);
	assert_int_equal(evloop_add(&loop, b, EPOLLIN, on_probe, &pb), 0);
	assert_int_equal(evloop_poll(&loop, 100), 1);
	assert_int_equal(pa.calls + pb.calls, 1);
	assert_int_equal(pc.calls, 0);
	/* The newcomer gets its own events from the next round on. */
	assert_int_equal(evloop_poll(&loop, 100), 2);
	assert_int_equal(pc.calls, 1);
	close(a >= 0 ? a : b);
	close(c);
	evloop_fini(&loop);
}

static void test_capacity(void **state)
{
	struct evloop loop;
	struct probe p = {.loop = &loop};
	int fds[EVLOOP_MAX_FDS + 1];

	assert_int_equal(evloop_init(&loop), 0);
	for (int i = 0; i <= EVLOOP_MAX_FDS; i++)
		fds[i] = readable_efd();
	for (int i = 0; i < EVLOOP_MAX_FDS; i++)
		assert_int_equal(evloop_add(&loop, fds[i], EPOLLIN, on_probe, &p), 0);
	assert_int_equal(evloop_add(&loop, fds[EVLOOP_MAX_FDS], EPOLLIN, on_probe, &p), -ENOSPC);
	/* Every watched fd is delivered, over as many rounds as it takes. */
	while (p.calls < EVLOOP_MAX_FDS * 2)
		assert_true(evloop_poll(&loop, 100) > 0);
	/* A freed slot in the middle is found again. */
	evloop_del(&loop, fds[100]);
	assert_int_equal(evloop_add(&loop, fds[EVLOOP_MAX_FDS], EPOLLIN, on_probe, &p), 0);
	assert_int_equal(evloop_mod(&loop, fds[EVLOOP_MAX_FDS], 0), 0);
	for (int i = 0; i <= EVLOOP_MAX_FDS; i++) {
		evloop_del(&loop, fds[i]);
		close(fds[i]);
	}
	assert_int_equal(loop.used, 0);
	evloop_fini(&loop);
}

static void on_stop(void *opaque, int fd, uint32_t events)
{
	evloop_stop(opaque);
}

static void test_run_until_stopped(void **state)
{
	struct evloop loop;
	int fd = readable_efd();

	assert_int_equal(evloop_init(&loop), 0);
	assert_int_equal(evloop_add(&loop, fd, EPOLLIN, on_stop, &loop), 0);
	assert_int_equal(evloop_run(&loop), 0);
	close(fd);
	evloop_fini(&loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dispatch_and_pause),
	    cmocka_unit_test(test_slot_reuse_in_one_round),
	    cmocka_unit_test(test_capacity),
	    cmocka_unit_test(test_run_until_stopped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
