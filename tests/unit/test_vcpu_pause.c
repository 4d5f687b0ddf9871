/* The vCPU pause handshake and vmm_pause()/vmm_resume(), without /dev/kvm: vCPUs get fd -1, so
 * a thread that really reaches KVM_RUN fails at once (EBADF) and reports a fatal stop — which is
 * how these tests see that a vCPU ran. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kvm/vcpu.h"
#include "vmm/vmm.h"
#include "vmm/vmm_pause.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define NVCPUS 3

struct rig {
	struct vmm vmm;
	struct vcpu vcpus[NVCPUS];
	struct kvm_run runs[NVCPUS]; /* only immediate_exit is touched */
	struct vcpu_env env;
	unsigned fatal_stops; /* atomically incremented */
};

static void on_stop(void *ctx, enum vcpu_stop_reason reason, const char *why)
{
	struct rig *r = ctx;

	if (reason == VCPU_STOP_FATAL)
		__atomic_add_fetch(&r->fatal_stops, 1, __ATOMIC_RELAXED);
}

static int setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	assert_int_equal(vcpu_signals_init(), 0);
	r->env = (struct vcpu_env){.stop = on_stop, .stop_ctx = r};
	for (unsigned i = 0; i < NVCPUS; i++) {
		assert_int_equal(vcpu_prepare(&r->vcpus[i], i, &r->env), 0);
		r->vcpus[i].run = &r->runs[i];
	}
	r->vmm.vcpus = r->vcpus;
	r->vmm.nvcpus_ready = NVCPUS;
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;

	for (unsigned i = 0; i < NVCPUS; i++) {
		vcpu_join(&r->vcpus[i]);
		r->vcpus[i].run = NULL; /* not an mmap */
		vcpu_fini(&r->vcpus[i]);
	}
	free(r);
	return 0;
}

static unsigned fatal_stops(struct rig *r)
{
	return __atomic_load_n(&r->fatal_stops, __ATOMIC_RELAXED);
}

static void wait_fatal_stops(struct rig *r, unsigned n)
{
	for (int i = 0; i < 2000 && fatal_stops(r) < n; i++)
		usleep(1000);
	assert_int_equal(fatal_stops(r), n);
}

static bool all_parked(struct rig *r)
{
	bool parked = true;

	for (unsigned i = 0; i < NVCPUS; i++) {
		pthread_mutex_lock(&r->vcpus[i].pause_lock);
		parked = parked && r->vcpus[i].parked;
		pthread_mutex_unlock(&r->vcpus[i].pause_lock);
	}
	return parked;
}

/* Threads not started yet: nothing runs, so pausing succeeds at once; twice is the same. */
static void test_pause_before_start(void **state)
{
	struct rig *r = *state;

	assert_false(vmm_is_paused(&r->vmm));
	assert_int_equal(vmm_resume(&r->vmm), 0); /* resuming a running VM: no-op */
	assert_int_equal(vmm_pause(&r->vmm), 0);
	assert_true(vmm_is_paused(&r->vmm));
	assert_int_equal(vmm_pause(&r->vmm), 0);
	assert_true(vmm_is_paused(&r->vmm));
	assert_int_equal(vmm_resume(&r->vmm), 0);
	assert_false(vmm_is_paused(&r->vmm));
	assert_int_equal(fatal_stops(r), 0);
}

/* Started while paused: each thread parks before its first KVM_RUN, stays parked (nobody
 * reaches KVM_RUN), and runs once resumed. */
static void test_start_paused_then_resume(void **state)
{
	struct rig *r = *state;

	assert_int_equal(vmm_pause(&r->vmm), 0);
	for (unsigned i = 0; i < NVCPUS; i++)
		assert_int_equal(vcpu_start(&r->vcpus[i]), 0);
	assert_int_equal(vmm_pause(&r->vmm), 0); /* waits until every thread is parked */
	assert_true(all_parked(r));
	usleep(20000);
	assert_int_equal(fatal_stops(r), 0);
	assert_true(all_parked(r));
	assert_int_equal(vmm_resume(&r->vmm), 0);
	wait_fatal_stops(r, NVCPUS);
	assert_false(vmm_is_paused(&r->vmm));
}

/* Stopping a paused VM (SIGTERM, guest power-off from another vCPU): the kick wakes parked
 * threads and they end; pausing again then returns at once. */
static void test_stop_while_paused(void **state)
{
	struct rig *r = *state;

	assert_int_equal(vmm_pause(&r->vmm), 0);
	for (unsigned i = 0; i < NVCPUS; i++)
		assert_int_equal(vcpu_start(&r->vcpus[i]), 0);
	assert_int_equal(vmm_pause(&r->vmm), 0);
	for (unsigned i = 0; i < NVCPUS; i++)
		vcpu_kick(&r->vcpus[i]);
	assert_int_equal(vmm_pause(&r->vmm), 0);
	for (unsigned i = 0; i < NVCPUS; i++)
		vcpu_join(&r->vcpus[i]);
	assert_int_equal(fatal_stops(r), 0); /* stopped, never ran */
	assert_int_equal(vmm_resume(&r->vmm), 0);
}

/* Threads that ended by themselves (the guest stopped) count as parked: no deadlock. */
static void test_pause_after_threads_ended(void **state)
{
	struct rig *r = *state;

	for (unsigned i = 0; i < NVCPUS; i++)
		assert_int_equal(vcpu_start(&r->vcpus[i]), 0);
	wait_fatal_stops(r, NVCPUS);
	assert_int_equal(vmm_pause(&r->vmm), 0);
	assert_int_equal(vmm_resume(&r->vmm), 0);
}

static void *busy_thread(void *arg)
{
	int *stop = arg;

	while (!__atomic_load_n(stop, __ATOMIC_ACQUIRE))
		usleep(1000);
	return NULL;
}

/* A vCPU that never parks (stuck in a device handler, say): the wait is bounded, the error
 * says so, and the VM is left running, not half-paused. */
static void test_pause_timeout(void **state)
{
	struct rig *r = *state;
	struct vcpu *v = &r->vcpus[1];
	int stop = 0;
	struct timespec t0, t1;

	assert_int_equal(pthread_create(&v->thread, NULL, busy_thread, &stop), 0);
	v->thread_started = true;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(vmm_pause(&r->vmm), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	assert_true(ms >= VMM_PAUSE_TIMEOUT_MS - 10 && ms < VMM_PAUSE_TIMEOUT_MS + 1000);
	assert_false(vmm_is_paused(&r->vmm));
	for (unsigned i = 0; i < NVCPUS; i++)
		assert_false(vcpu_pause_requested(&r->vcpus[i]));
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(v->thread, NULL), 0);
	v->thread_started = false;
}

/* Pausing a paused VM again and again (each call re-checks every vCPU) never lets a thread
 * reach KVM_RUN, and stopping still works afterwards. */
static void test_pause_resume_cycles(void **state)
{
	struct rig *r = *state;

	assert_int_equal(vmm_pause(&r->vmm), 0);
	for (unsigned i = 0; i < NVCPUS; i++)
		assert_int_equal(vcpu_start(&r->vcpus[i]), 0);
	for (int c = 0; c < 200; c++) {
		assert_int_equal(vmm_pause(&r->vmm), 0);
		assert_true(all_parked(r));
		assert_int_equal(fatal_stops(r), 0);
	}
	for (unsigned i = 0; i < NVCPUS; i++)
		vcpu_kick(&r->vcpus[i]);
	for (unsigned i = 0; i < NVCPUS; i++)
		vcpu_join(&r->vcpus[i]);
	assert_int_equal(fatal_stops(r), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_pause_before_start), T(test_start_paused_then_resume),
	    T(test_stop_while_paused),	T(test_pause_after_threads_ended),
	    T(test_pause_timeout),	T(test_pause_resume_cycles),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
