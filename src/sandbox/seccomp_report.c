/* The SIGSYS reporter. A filter's default action is SCMP_ACT_TRAP: the kernel stops the
 * forbidden syscall and sends SIGSYS to the thread that made it. The handler writes one line
 * (role, syscall name and number) with nothing but write(), runs the fatal hook (the VMM puts
 * the terminal back), then makes the process die by SIGSYS. */
#include "sandbox/seccomp_report.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

/* si_code of a SIGSYS from a filter (SYS_SECCOMP in the kernel's headers, not glibc's). */
#define SECCOMP_SI_CODE 1
/* x86_64's syscall numbers stay below this (about 460 in 2025). */
#define SECCOMP_NAMES_MAX 640

/* Written once before any filter is loaded, then only read, by the signal handler: names it
 * cannot resolve itself (libseccomp allocates), and the hook main() chose. */
static const char *seccomp_names[SECCOMP_NAMES_MAX];
static pthread_once_t seccomp_names_once = PTHREAD_ONCE_INIT;
static int seccomp_sigaction_rc;
static void (*volatile seccomp_hook)(void *ctx);
static void *volatile seccomp_hook_ctx;
/* The role of the thread that installed a filter, and of the process for the threads a
 * filtered thread starts later (they inherit its filter, not its thread-local variable). */
static _Thread_local int seccomp_thread_role = -1;
static volatile int seccomp_process_role = -1;
/* Set by the first thread that reports: any other that traps meanwhile waits to be killed. */
static atomic_flag seccomp_reporting = ATOMIC_FLAG_INIT;

static const char *const seccomp_role_what[SECCOMP_ROLES] = {
    [SECCOMP_ROLE_VMM] = "vmm thread",
    [SECCOMP_ROLE_VCPU] = "vcpu thread",
    [SECCOMP_ROLE_BLK] = "blk device process",
    [SECCOMP_ROLE_NET] = "net device process",
};

void seccomp_set_fatal_hook(void (*fn)(void *ctx), void *ctx)
{
	seccomp_hook = NULL;
	seccomp_hook_ctx = ctx;
	seccomp_hook = fn;
}

void seccomp_report_set_role(enum seccomp_role role)
{
	seccomp_thread_role = (int)role;
	seccomp_process_role = (int)role;
}

static size_t put_str(char *buf, size_t at, size_t len, const char *s)
{
	while (*s && at < len)
		buf[at++] = *s++;
	return at;
}

static size_t put_uint(char *buf, size_t at, size_t len, unsigned long v)
{
	char digits[24];
	size_t n = 0;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < sizeof(digits));
	while (n && at < len)
		buf[at++] = digits[--n];
	return at;
}

static void seccomp_on_sigsys(int sig, siginfo_t *si, void *ucv)
{
	const greg_t *g = ((ucontext_t *)ucv)->uc_mcontext.gregs;
	int nr = si->si_syscall, role = seccomp_thread_role;
	const char *name =
	    nr >= 0 && nr < SECCOMP_NAMES_MAX && seccomp_names[nr] ? seccomp_names[nr] : "unknown";
	void (*hook)(void *) = seccomp_hook;
	char line[256];
	size_t n = 0;

	/* Not from a filter (kill -SYS): no syscall to repeat; die as SIGSYS would have made us
	 * (a filtered thread's sigaction traps, which kills just the same). */
	if (si->si_code != SECCOMP_SI_CODE) {
		signal(SIGSYS, SIG_DFL);
		raise(SIGSYS); /* delivered once the handler returns and unblocks it */
		return;
	}
	/* A second line would race with the first, and the process is going anyway. */
	if (atomic_flag_test_and_set(&seccomp_reporting))
		for (;;)
			__builtin_ia32_pause();
	if (role < 0)
		role = seccomp_process_role;
	n = put_str(line, n, sizeof(line), program_invocation_short_name);
	n = put_str(line, n, sizeof(line), ": error: seccomp: ");
	n = put_str(line, n, sizeof(line),
		    role >= 0 && role < SECCOMP_ROLES ? seccomp_role_what[role] : "thread");
	n = put_str(line, n, sizeof(line), " made forbidden syscall ");
	n = put_str(line, n, sizeof(line), name);
	n = put_str(line, n, sizeof(line), " (");
	n = put_uint(line, n, sizeof(line), (unsigned long)nr);
	/* "\r\n": the console terminal may be raw (see util/log.c). */
	n = put_str(line, n, sizeof(line), "); killing the process\r\n");
	ssize_t written = write(STDERR_FILENO, line, n);

	(void)written; /* nowhere else to say it */
	if (hook)
		hook(seccomp_hook_ctx);
	/* SIGSYS is blocked while this handler runs: the same syscall traps again, the kernel
	 * finds the signal blocked, puts back its default action, unblocks and delivers it, and
	 * the whole process (every thread) dies by SIGSYS. No sigaction() or kill() needed, which
	 * the filters would have to allow. */
	syscall(nr, g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10], g[REG_R8], g[REG_R9]);
	_exit(128 + SIGSYS); /* not reached: a forbidden syscall never passes */
}

static void seccomp_report_setup(void)
{
	struct sigaction sa = {.sa_sigaction = seccomp_on_sigsys, .sa_flags = SA_SIGINFO};

	for (int nr = 0; nr < SECCOMP_NAMES_MAX; nr++)
		seccomp_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	sigemptyset(&sa.sa_mask);
	seccomp_sigaction_rc = sigaction(SIGSYS, &sa, NULL) < 0 ? -errno : 0;
}

int seccomp_report_init(void)
{
	sigset_t sys;

	pthread_once(&seccomp_names_once, seccomp_report_setup);
	if (seccomp_sigaction_rc)
		return seccomp_sigaction_rc;
	/* A thread that blocked SIGSYS would not run the handler: make sure this one does not. */
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	return -pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
}
