/* seccomp allowlists (libseccomp), one per thread role of azote and one per device process.
 * A filter is installed on the calling thread (and inherited by the threads it starts later)
 * before any guest-controlled input is handled: azote's vCPU threads before their first
 * KVM_RUN, azote's main thread once the machine is built, a card once its device is set up.
 * A forbidden syscall kills the whole process (SIGSYS), after one log line naming it. */
#ifndef AZOTE_SANDBOX_SECCOMP_H
#define AZOTE_SANDBOX_SECCOMP_H

enum seccomp_role {
	SECCOMP_ROLE_VMM,  /* azote's event-loop thread: API, console, device sockets, signals */
	SECCOMP_ROLE_VCPU, /* azote's vCPU threads */
	SECCOMP_ROLE_BLK,  /* azote-blk: every thread */
	SECCOMP_ROLE_NET,  /* azote-net: every thread */
	SECCOMP_ROLES,
};

/* Firecracker's levels: 0 no filter, 1 syscall numbers only, 2 (default) numbers and, where it
 * matters, arguments (ioctl numbers, socket families, mmap/mprotect flags...). */
#define SECCOMP_LEVEL_DEFAULT 2
#define SECCOMP_LEVEL_MAX     2

/* Test hook: when this variable names the role being installed ("vcpu", "vmm", "blk", "net"),
 * the thread makes a forbidden syscall right after its filter is loaded. */
#define SECCOMP_SELFTEST_ENV "AZOTE_SECCOMP_SELFTEST"

/* Install role's filter at level on the calling thread (level 0: nothing). The first call also
 * sets up the SIGSYS reporter. 0 or -errno (logged). */
__attribute__((warn_unused_result)) int seccomp_install(enum seccomp_role role, int level);

/* Write role's filter at level to fd in libseccomp's readable (PFC) form. 0 or -errno. */
int seccomp_print(enum seccomp_role role, int level, int fd);

/* "vmm", "vcpu", "blk", "net" -> role; -1 if unknown. */
int seccomp_role_parse(const char *name);

/* "0", "1", "2" -> level; -1 otherwise. */
int seccomp_level_parse(const char *text);

/* Called from the SIGSYS handler before the process dies (e.g. restore the terminal): it must
 * be async-signal-safe and make only syscalls every installed filter allows. NULL removes it. */
void seccomp_set_fatal_hook(void (*fn)(void *ctx), void *ctx);

#endif
