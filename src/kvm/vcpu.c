#include "kvm/vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/seccomp.h"
#include "util/log.h"

/* SIGUSR1 interrupts KVM_RUN; its handler does nothing, the EINTR is the point. */
#define VCPU_KICK_SIGNAL SIGUSR1

static void vcpu_kick_handler(int sig)
{
	(void)sig;
}

int vcpu_signals_init(void)
{
	struct sigaction sa = {.sa_handler = vcpu_kick_handler};

	sigemptyset(&sa.sa_mask);
	return sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0 ? -errno : 0;
}

const char *vcpu_exit_name(unsigned reason)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "unknown", [KVM_EXIT_EXCEPTION] = "exception",
		[KVM_EXIT_IO] = "io", [KVM_EXIT_HYPERCALL] = "hypercall",
		[KVM_EXIT_DEBUG] = "debug", [KVM_EXIT_HLT] = "hlt", [KVM_EXIT_MMIO] = "mmio",
		[KVM_EXIT_IRQ_WINDOW_OPEN] = "irq_window_open", [KVM_EXIT_SHUTDOWN] = "shutdown",
		[KVM_EXIT_FAIL_ENTRY] = "fail_entry", [KVM_EXIT_INTR] = "intr",
		[KVM_EXIT_SET_TPR] = "set_tpr", [KVM_EXIT_TPR_ACCESS] = "tpr_access",
		[KVM_EXIT_NMI] = "nmi", [KVM_EXIT_INTERNAL_ERROR] = "internal_error",
		[KVM_EXIT_SYSTEM_EVENT] = "system_event", [KVM_EXIT_X86_RDMSR] = "rdmsr",
		[KVM_EXIT_X86_WRMSR] = "wrmsr", [KVM_EXIT_XEN] = "xen",
	};

	if (reason < sizeof(names) / sizeof(names[0]) && names[reason])
		return names[reason];
	return "other";
}

/* The pause handshake's lock and condition; the condition waits on CLOCK_MONOTONIC so that
 * a pause deadline does not move with the wall clock. */
static int vcpu_pause_sync_init(struct vcpu *vcpu)
{
	pthread_condattr_t attr;

	if (pthread_condattr_init(&attr))
		return -ENOMEM;
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (pthread_cond_init(&vcpu->wake, &attr)) {
		pthread_condattr_destroy(&attr);
		return -ENOMEM;
	}
	pthread_condattr_destroy(&attr);
	pthread_mutex_init(&vcpu->pause_lock, NULL);
	vcpu->pause_sync_ready = true;
	return 0;
}

int vcpu_prepare(struct vcpu *vcpu, unsigned index, const struct vcpu_env *env)
{
	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->index = index;
	vcpu->env = env;
	vcpu->fd = -1;
	return vcpu_pause_sync_init(vcpu);
}

int vcpu_init(struct vcpu *vcpu, int vm_fd, unsigned index, const struct vcpu_env *env)
{
	int rc;

	rc = vcpu_prepare(vcpu, index, env);
	if (rc)
		return rc;
	vcpu->fd = ioctl(vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (vcpu->fd < 0) {
		rc = -errno;
		vcpu->fd = -1;
		return rc;
	}
	vcpu->run = mmap(NULL, (size_t)env->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd,
			 0);
	if (vcpu->run == MAP_FAILED) {
		rc = -errno;
		vcpu->run = NULL;
		close(vcpu->fd);
		vcpu->fd = -1;
		return rc;
	}
	coalesced_attach(env->coalesced, vcpu->run);
	return 0;
}

static void vcpu_exit_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool write = run->io.direction == KVM_EXIT_IO_OUT;

	/* String instructions (rep outsb...) arrive as `count` back-to-back accesses. */
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
		iobus_dispatch(vcpu->env->pio, run->io.port, data, run->io.size, write);
}

static bool vcpu_stop(struct vcpu *vcpu, enum vcpu_stop_reason reason, const char *why)
{
	vcpu->env->stop(vcpu->env->stop_ctx, reason, why);
	return false;
}

/* Handle one exit. Returns false when this vCPU must stop running. */
static bool vcpu_handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	char why[128];

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_exit_io(vcpu);
		return true;
	case KVM_EXIT_MMIO:
		iobus_dispatch(vcpu->env->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
			       run->mmio.is_write);
		return true;
	case KVM_EXIT_HLT:
	case KVM_EXIT_INTR:
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		return true;
	case KVM_EXIT_XEN:
		if (vcpu->env->xen_exit)
			return vcpu->env->xen_exit(vcpu->env->xen_ctx, vcpu);
		snprintf(why, sizeof(why), "vCPU %u: Xen hypercall exit without --xen", vcpu->index);
		return vcpu_stop(vcpu, VCPU_STOP_FATAL, why);
	case KVM_EXIT_SHUTDOWN:
		/* A triple fault: Linux's last-resort reboot method, or a crashed guest. */
		return vcpu_stop(vcpu, VCPU_STOP_REBOOT, "triple fault (shutdown)");
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN)
			return vcpu_stop(vcpu, VCPU_STOP_POWEROFF, "system event shutdown");
		if (run->system_event.type == KVM_SYSTEM_EVENT_CRASH)
			return vcpu_stop(vcpu, VCPU_STOP_PANIC, "system event crash");
		return vcpu_stop(vcpu, VCPU_STOP_REBOOT, "system event reset");
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(why, sizeof(why), "vCPU %u: KVM could not enter the guest (reason %#llx)",
			 vcpu->index,
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return vcpu_stop(vcpu, VCPU_STOP_FATAL, why);
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(why, sizeof(why), "vCPU %u: KVM internal error (suberror %u)", vcpu->index,
			 run->internal.suberror);
		return vcpu_stop(vcpu, VCPU_STOP_FATAL, why);
	default:
		snprintf(why, sizeof(why), "vCPU %u: unexpected KVM exit %u (%s)", vcpu->index,
			 run->exit_reason, vcpu_exit_name(run->exit_reason));
		return vcpu_stop(vcpu, VCPU_STOP_FATAL, why);
	}
}

static bool vcpu_stopping(struct vcpu *vcpu)
{
	return __atomic_load_n(&vcpu->stopping, __ATOMIC_ACQUIRE);
}

/* Out of KVM_RUN with a pause requested: say so, then sleep until resumed or stopped. */
static void vcpu_park(struct vcpu *vcpu)
{
	/* Tell a kvmclock guest that it was stopped by the host, so that its soft-lockup and
	 * RCU-stall detectors do not blame the gap on the guest (EINVAL without kvmclock). */
	ioctl(vcpu->fd, KVM_KVMCLOCK_CTRL, 0);
	pthread_mutex_lock(&vcpu->pause_lock);
	vcpu->parked = true;
	pthread_cond_broadcast(&vcpu->wake);
	while (vcpu->pause_req && !vcpu_stopping(vcpu))
		pthread_cond_wait(&vcpu->wake, &vcpu->pause_lock);
	vcpu->parked = false;
	pthread_mutex_unlock(&vcpu->pause_lock);
}

static void vcpu_ended(struct vcpu *vcpu)
{
	pthread_mutex_lock(&vcpu->pause_lock);
	vcpu->ended = true;
	pthread_cond_broadcast(&vcpu->wake);
	pthread_mutex_unlock(&vcpu->pause_lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct timespec ts;
	char why[128];

	/* Before the guest can make this thread do anything. */
	if (seccomp_install(SECCOMP_ROLE_VCPU, vcpu->env->seccomp_level)) {
		snprintf(why, sizeof(why), "vCPU %u: cannot install its seccomp filter",
			 vcpu->index);
		vcpu_stop(vcpu, VCPU_STOP_FATAL, why);
		vcpu_ended(vcpu);
		return NULL;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	vcpu->first_run_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;

	while (!vcpu_stopping(vcpu)) {
		/* Checked after immediate_exit was cleared below: a pause requested since then
		 * either is seen here or makes the next KVM_RUN return at once. */
		if (__atomic_load_n(&vcpu->pause_req, __ATOMIC_ACQUIRE)) {
			vcpu_park(vcpu);
			continue;
		}
		if (vcpu->env->pre_run)
			vcpu->env->pre_run(vcpu->env->xen_ctx, vcpu);
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				vcpu->run->immediate_exit = 0;
				continue;
			}
			snprintf(why, sizeof(why), "vCPU %u: KVM_RUN failed: %s", vcpu->index,
				 strerror(errno));
			vcpu_stop(vcpu, VCPU_STOP_FATAL, why);
			break;
		}
		vcpu->exits[vcpu->run->exit_reason < VCPU_EXIT_REASONS ? vcpu->run->exit_reason
								       : VCPU_EXIT_REASONS - 1]++;
		/* Queued writes happened before this exit: the device must see them first. */
		coalesced_drain(vcpu->env->coalesced, vcpu->env->pio, vcpu->env->mmio);
		if (!vcpu_handle_exit(vcpu))
			break;
	}
	vcpu_ended(vcpu);
	return NULL;
}

int vcpu_start(struct vcpu *vcpu)
{
	char name[16];
	int rc;

	vcpu->ended = false;
	rc = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);
	if (rc)
		return -rc;
	vcpu->thread_started = true;
	snprintf(name, sizeof(name), "vcpu%u", vcpu->index);
	pthread_setname_np(vcpu->thread, name);
	return 0;
}

/* Make the thread leave KVM_RUN soon: immediate_exit covers the window between its flag checks
 * and KVM_RUN; the signal interrupts a KVM_RUN already in progress. */
static void vcpu_interrupt(struct vcpu *vcpu)
{
	vcpu->run->immediate_exit = 1;
	pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
}

void vcpu_poke(struct vcpu *vcpu)
{
	if (vcpu->thread_started)
		vcpu_interrupt(vcpu);
}

void vcpu_kick(struct vcpu *vcpu)
{
	if (!vcpu->thread_started)
		return;
	__atomic_store_n(&vcpu->stopping, true, __ATOMIC_RELEASE);
	vcpu_interrupt(vcpu);
	/* A parked thread sleeps on the condition, not in KVM_RUN. */
	pthread_mutex_lock(&vcpu->pause_lock);
	pthread_cond_broadcast(&vcpu->wake);
	pthread_mutex_unlock(&vcpu->pause_lock);
}

void vcpu_pause(struct vcpu *vcpu)
{
	bool asked;

	pthread_mutex_lock(&vcpu->pause_lock);
	asked = vcpu->pause_req;
	__atomic_store_n(&vcpu->pause_req, true, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&vcpu->pause_lock);
	if (!asked && vcpu->thread_started)
		vcpu_interrupt(vcpu);
}

int vcpu_wait_parked(struct vcpu *vcpu, const struct timespec *deadline)
{
	int rc = 0;

	pthread_mutex_lock(&vcpu->pause_lock);
	while (vcpu->thread_started && !vcpu->parked && !vcpu->ended && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&vcpu->wake, &vcpu->pause_lock, deadline);
	rc = vcpu->thread_started && !vcpu->parked && !vcpu->ended ? -ETIMEDOUT : 0;
	pthread_mutex_unlock(&vcpu->pause_lock);
	return rc;
}

void vcpu_resume(struct vcpu *vcpu)
{
	pthread_mutex_lock(&vcpu->pause_lock);
	__atomic_store_n(&vcpu->pause_req, false, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&vcpu->wake);
	pthread_mutex_unlock(&vcpu->pause_lock);
}

bool vcpu_pause_requested(struct vcpu *vcpu)
{
	return __atomic_load_n(&vcpu->pause_req, __ATOMIC_ACQUIRE);
}

void vcpu_join(struct vcpu *vcpu)
{
	if (!vcpu->thread_started)
		return;
	vcpu_kick(vcpu);
	pthread_join(vcpu->thread, NULL);
	vcpu->thread_started = false;
}

void vcpu_fini(struct vcpu *vcpu)
{
	vcpu_join(vcpu);
	if (vcpu->run)
		munmap(vcpu->run, (size_t)vcpu->env->run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
	if (vcpu->pause_sync_ready) {
		pthread_cond_destroy(&vcpu->wake);
		pthread_mutex_destroy(&vcpu->pause_lock);
		vcpu->pause_sync_ready = false;
	}
}
