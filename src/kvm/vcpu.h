/* vCPU threads: each runs KVM_RUN and forwards exits to the I/O buses. */
#ifndef AZOTE_KVM_VCPU_H
#define AZOTE_KVM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "kvm/coalesced.h"
#include "kvm/iobus.h"

/* KVM exit reasons are small integers; larger ones are counted in the last slot. */
#define VCPU_EXIT_REASONS 64

/* Why a vCPU asks the VMM to end the VM. */
enum vcpu_stop_reason {
	VCPU_STOP_POWEROFF, /* the guest's own request to power off */
	VCPU_STOP_REBOOT,   /* triple fault or KVM reset event */
	VCPU_STOP_PANIC,    /* KVM crash event */
	VCPU_STOP_FATAL,    /* KVM could not run the guest */
};

/* Called on the vCPU thread; must record the request and wake the VMM, never block. */
typedef void (*vcpu_stop_fn)(void *ctx, enum vcpu_stop_reason reason, const char *why);

struct vcpu;
/* Xen HVM hooks (--xen), called on the vCPU's thread: a KVM_EXIT_XEN exit (returns false when
 * the vCPU must stop), and work queued for this vCPU, before each KVM_RUN. */
typedef bool (*vcpu_xen_exit_fn)(void *ctx, struct vcpu *vcpu);
typedef void (*vcpu_pre_run_fn)(void *ctx, struct vcpu *vcpu);

/* What every vCPU of a VM shares; owned by the VMM, read-only once threads run. */
struct vcpu_env {
	struct iobus *pio;
	struct iobus *mmio;
	struct coalesced *coalesced; /* replayed before every exit is handled */
	vcpu_stop_fn stop;
	void *stop_ctx;
	int run_size;
	int seccomp_level; /* each thread installs the vcpu filter before its first KVM_RUN */
	vcpu_xen_exit_fn xen_exit; /* NULL without --xen */
	vcpu_pre_run_fn pre_run;   /* NULL or called before each KVM_RUN */
	void *xen_ctx;
};

struct vcpu {
	unsigned index;
	int fd;
	struct kvm_run *run;
	const struct vcpu_env *env;
	pthread_t thread;
	bool thread_started;
	bool stopping; /* set by vcpu_kick(); read by the vCPU thread */
	/* Pause: the requester sets pause_req and kicks; the thread parks on `wake` and says so
	 * with `parked`; `ended` once the thread has returned. All under pause_lock (pause_req
	 * is also read atomically by the run loop without it). */
	pthread_mutex_t pause_lock;
	pthread_cond_t wake;
	bool pause_sync_ready;
	bool pause_req;
	bool parked;
	bool ended;
	uint64_t exits[VCPU_EXIT_REASONS]; /* by KVM exit reason, written by its own thread */
	uint64_t first_run_ns;             /* CLOCK_REALTIME just before the first KVM_RUN */
};

/* The KVM-free part of vcpu_init(): zero the vcpu, set index and env (fd -1, no kvm_run), set up
 * the pause handshake. 0 or -ENOMEM. Unit tests drive the thread logic with it alone. */
__attribute__((warn_unused_result)) int vcpu_prepare(struct vcpu *vcpu, unsigned index,
						     const struct vcpu_env *env);
/* Create vCPU `index` on vm_fd and map its kvm_run. 0 or -errno. */
__attribute__((warn_unused_result)) int vcpu_init(struct vcpu *vcpu, int vm_fd, unsigned index,
						  const struct vcpu_env *env);
/* Start the thread that runs the vCPU until it is kicked or the VM asks to stop. */
__attribute__((warn_unused_result)) int vcpu_start(struct vcpu *vcpu);
/* Make the vCPU leave KVM_RUN once and go on running (its pre_run hook then runs). Async. */
void vcpu_poke(struct vcpu *vcpu);
/* Make the vCPU leave KVM_RUN and its thread end (async; vcpu_fini joins). */
void vcpu_kick(struct vcpu *vcpu);
/* Ask the vCPU to leave KVM_RUN and park (async; a no-op if already asked). A vCPU started
 * while a pause is requested parks before its first KVM_RUN. */
void vcpu_pause(struct vcpu *vcpu);
/* Wait until the vCPU is parked, or its thread has ended or never started: it runs no guest
 * code then. 0, or -ETIMEDOUT at deadline (CLOCK_MONOTONIC). */
__attribute__((warn_unused_result)) int vcpu_wait_parked(struct vcpu *vcpu,
							 const struct timespec *deadline);
/* Withdraw the pause request and wake the parked thread (a no-op if none). */
void vcpu_resume(struct vcpu *vcpu);
/* Whether a pause is requested (the vCPU is parked or about to be). */
bool vcpu_pause_requested(struct vcpu *vcpu);
/* Wait for the thread of a kicked vCPU to end (no-op if it never started). */
void vcpu_join(struct vcpu *vcpu);
/* Join the thread (if started), unmap and close. Accepts a zeroed or failed vcpu. */
void vcpu_fini(struct vcpu *vcpu);
/* Install the (empty) signal handler that kicks vCPUs out of KVM_RUN. Once per process. */
__attribute__((warn_unused_result)) int vcpu_signals_init(void);
/* Human name of a KVM exit reason ("io", "mmio", "hlt"...). */
const char *vcpu_exit_name(unsigned reason);

#endif
