/* The VMM's event loop: console input, signals, stop requests and batched serial output. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kvm.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "devices/serial.h"
#include "util/log.h"
#include "vmm/vmm.h"
#include "vmm/vmm_loop.h"

void vmm_request_stop(struct vmm *vmm, int status, const char *msg)
{
	uint64_t one = 1;
	int expected = 0;

	if (!__atomic_compare_exchange_n(&vmm->stop_claimed, &expected, 1, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return;
	vmm->exit_status = status;
	snprintf(vmm->stop_msg, sizeof(vmm->stop_msg), "%s", msg);
	if (write(vmm->stop_efd, &one, sizeof(one)) < 0)
		return; /* cannot fail for a fresh eventfd; nothing better to do on a vCPU thread */
}

void vmm_restore_terminal(struct vmm *vmm)
{
	term_restore(&vmm->term);
}

static void vmm_on_stop(void *opaque, int fd, uint32_t events)
{
	struct vmm *vmm = opaque;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("stop eventfd: %s", strerror(errno));
	evloop_stop(&vmm->loop);
}

static void vmm_on_signal(void *opaque, int fd, uint32_t events)
{
	struct vmm *vmm = opaque;
	struct signalfd_siginfo si;
	char msg[64];

	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGCHLD) {
		vmm_cards_reap(vmm);
		return;
	}
	snprintf(msg, sizeof(msg), "stopped by SIG%s", sigabbrev_np((int)si.ssi_signo) ?: "?");
	vmm_request_stop(vmm, VMM_EXIT_OK, msg);
}

/* Offer pending console input to the guest; pause stdin while the RX FIFO is full (the serial
 * notifies once when the guest makes room). */
static void vmm_console_push(struct vmm *vmm)
{
	vmm->console_off += serial_receive(vmm->serial, vmm->console_pending + vmm->console_off,
					   vmm->console_len - vmm->console_off);
	if (vmm->console_off < vmm->console_len) {
		if (!vmm->stdin_paused && !evloop_mod(&vmm->loop, STDIN_FILENO, 0))
			vmm->stdin_paused = true;
		return;
	}
	vmm->console_off = vmm->console_len = 0;
	if (vmm->stdin_paused && vmm->stdin_watched && serial_rx_space(vmm->serial) &&
	    !evloop_mod(&vmm->loop, STDIN_FILENO, EPOLLIN))
		vmm->stdin_paused = false;
}

static void vmm_on_stdin(void *opaque, int fd, uint32_t events)
{
	struct vmm *vmm = opaque;
	uint8_t in[32];
	unsigned actions = 0;
	ssize_t n = read(fd, in, sizeof(in));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* End of input (a pipe or /dev/null): the guest keeps running without a console. */
		evloop_del(&vmm->loop, fd);
		vmm->stdin_watched = false;
		return;
	}
	vmm->console_len = escape_feed(&vmm->escape, in, (size_t)n, vmm->console_pending, &actions);
	vmm->console_off = 0;
	if ((actions & ESCAPE_HELP) &&
	    write(STDERR_FILENO, escape_help(), strlen(escape_help())) < 0)
		log_warn("console: cannot print the escape help");
	if (actions & ESCAPE_QUIT) {
		vmm_request_stop(vmm, VMM_EXIT_OK, "console escape: quit");
		return;
	}
	vmm_console_push(vmm);
}

static void vmm_on_serial(void *opaque, int fd, uint32_t events)
{
	struct vmm *vmm = opaque;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	serial_flush(vmm->serial);
	vmm_console_push(vmm);
}

/* A guest that writes its last bytes and halts makes no exit that would replay them. */
static void vmm_on_drain_timer(void *opaque, int fd, uint32_t events)
{
	struct vmm *vmm = opaque;
	uint64_t ticks;

	if (read(fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	coalesced_drain(&vmm->coalesced, &vmm->pio, &vmm->mmio);
}

static int vmm_drain_timer_setup(struct vmm *vmm)
{
	struct itimerspec every = {.it_interval = {.tv_nsec = 50000000},
				   .it_value = {.tv_nsec = 50000000}};

	if (!vmm->coalesced.ring)
		return 0;
	vmm->drain_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (vmm->drain_tfd < 0 || timerfd_settime(vmm->drain_tfd, 0, &every, NULL) < 0)
		return -errno;
	return evloop_add(&vmm->loop, vmm->drain_tfd, EPOLLIN, vmm_on_drain_timer, vmm);
}

int vmm_loop_open(struct vmm *vmm)
{
	sigset_t set;
	int rc;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGCHLD); /* a device process ended */
	/* Blocked before the vCPU threads start, so they inherit the mask and only the loop
	 * receives these, through the signalfd. */
	rc = pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (rc)
		return -rc;
	vmm->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	vmm->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vmm->signal_fd < 0 || vmm->stop_efd < 0)
		return -errno;
	rc = evloop_init(&vmm->loop);
	if (!rc)
		rc = evloop_add(&vmm->loop, vmm->stop_efd, EPOLLIN, vmm_on_stop, vmm);
	if (!rc)
		rc = evloop_add(&vmm->loop, vmm->signal_fd, EPOLLIN, vmm_on_signal, vmm);
	return rc;
}

int vmm_loop_attach(struct vmm *vmm)
{
	int rc = evloop_add(&vmm->loop, vmm->serial_efd, EPOLLIN, vmm_on_serial, vmm);

	if (!rc)
		rc = vmm_drain_timer_setup(vmm);
	if (!rc)
		rc = vmm_cards_watch(vmm);
	/* Eventfds of masked MSI-X vectors: the loop records them as pending. */
	if (!rc && vmm->irq_ready)
		rc = evloop_add(&vmm->loop, kvm_irq_watch_fd(&vmm->irq), EPOLLIN, kvm_irq_on_watch,
				&vmm->irq);
	if (rc)
		return rc;
	/* stdin may be a file or closed (epoll refuses those): then there is no console input. */
	vmm->stdin_watched =
		!evloop_add(&vmm->loop, STDIN_FILENO, EPOLLIN, vmm_on_stdin, vmm);
	if (vmm->stdin_watched && isatty(STDIN_FILENO) &&
	    term_raw_enter(&vmm->term, STDIN_FILENO) == 0)
		log_info("console on this terminal; Ctrl-A x quits");
	return vcpu_signals_init();
}

void vmm_loop_detach(struct vmm *vmm)
{
	evloop_del(&vmm->loop, vmm->serial_efd);
	if (vmm->drain_tfd >= 0) {
		evloop_del(&vmm->loop, vmm->drain_tfd);
		close(vmm->drain_tfd);
		vmm->drain_tfd = -1;
	}
	if (vmm->irq_ready)
		evloop_del(&vmm->loop, kvm_irq_watch_fd(&vmm->irq));
	if (vmm->stdin_watched)
		evloop_del(&vmm->loop, STDIN_FILENO);
	vmm->stdin_watched = false;
	term_restore(&vmm->term);
}

/* VmHWM and the split of resident memory: RssShmem is the guest's RAM (memfd) that the guest
 * touched; RssAnon + RssFile is the VMM's own footprint. */
static void vmm_print_memory_stats(void)
{
	static const char *const keys[] = {"VmHWM:", "RssAnon:", "RssFile:", "RssShmem:"};
	unsigned long kib[4] = {0};
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		for (unsigned i = 0; i < 4; i++)
			if (!strncmp(line, keys[i], strlen(keys[i])))
				kib[i] = strtoul(line + strlen(keys[i]), NULL, 10);
	fclose(f);
	log_info("memory: peak_rss=%lu KiB own_rss=%lu KiB (anon=%lu file=%lu) guest_ram_touched=%lu KiB",
		 kib[0], kib[1] + kib[2], kib[1], kib[2], kib[3]);
}

static void vmm_print_exit_stats(struct vmm *vmm)
{
	uint64_t total[VCPU_EXIT_REASONS] = {0}, all = 0;
	char line[768] = "";
	int n = 0;
	const char *t0 = getenv("AZOTE_T0");

	for (unsigned i = 0; i < vmm->nvcpus_ready; i++)
		for (unsigned r = 0; r < VCPU_EXIT_REASONS; r++)
			total[r] += vmm->vcpus[i].exits[r];
	for (unsigned r = 0; r < VCPU_EXIT_REASONS; r++) {
		all += total[r];
		if (total[r] && n < (int)sizeof(line) - 64)
			n += snprintf(line + n, sizeof(line) - (size_t)n, " %s=%llu",
				      vcpu_exit_name(r), (unsigned long long)total[r]);
	}
	log_info("exits: total=%llu%s; coalesced writes (no exit): %llu", (unsigned long long)all,
		 line, (unsigned long long)vmm->coalesced.replayed);
	line[0] = '\0';
	iobus_format_stats(&vmm->pio, line, sizeof(line));
	log_info("port I/O by device:%s", line);
	/* Where each vCPU stood: for a guest that hung, the first clue. */
	for (unsigned i = 0; i < vmm->nvcpus_ready; i++) {
		struct kvm_regs regs;
		struct kvm_mp_state mp;
		if (ioctl(vmm->vcpus[i].fd, KVM_GET_REGS, &regs) == 0 &&
		    ioctl(vmm->vcpus[i].fd, KVM_GET_MP_STATE, &mp) == 0)
			log_info("vcpu%u: rip=%#llx rflags=%#llx mp_state=%u", i,
				 (unsigned long long)regs.rip, (unsigned long long)regs.rflags,
				 mp.mp_state);
	}
	/* AZOTE_T0 is the launcher's $EPOCHREALTIME just before exec (bench/ sets it). */
	if (t0 && vmm->nvcpus_ready) {
		double exec_s = strtod(t0, NULL);
		double run_s = (double)vmm->vcpus[0].first_run_ns / 1e9;
		log_info("exec to first KVM_RUN: %.3f ms", (run_s - exec_s) * 1e3);
	}
	vmm_print_memory_stats();
}

int vmm_run(struct vmm *vmm)
{
	int rc = evloop_run(&vmm->loop);

	if (rc)
		vmm_request_stop(vmm, VMM_EXIT_RUNTIME, strerror(-rc));
	if (!vmm->booted) {
		log_info("%s before the guest started", vmm->stop_msg);
		return vmm->exit_status;
	}
	for (unsigned i = 0; i < vmm->nvcpus_ready; i++)
		vcpu_kick(&vmm->vcpus[i]);
	for (unsigned i = 0; i < vmm->nvcpus_ready; i++)
		vcpu_join(&vmm->vcpus[i]);
	coalesced_drain(&vmm->coalesced, &vmm->pio, &vmm->mmio);
	serial_flush(vmm->serial);
	term_restore(&vmm->term);
	if (vmm->exit_status == VMM_EXIT_OK)
		log_info("%s", vmm->stop_msg);
	else
		log_error("%s", vmm->stop_msg);
	if (vmm->cfg->exit_stats)
		vmm_print_exit_stats(vmm);
	return vmm->exit_status;
}

void vmm_loop_close(struct vmm *vmm)
{
	evloop_fini(&vmm->loop);
	if (vmm->signal_fd >= 0)
		close(vmm->signal_fd);
	if (vmm->stop_efd >= 0)
		close(vmm->stop_efd);
	vmm->signal_fd = vmm->stop_efd = -1;
}
