/* The device processes' sandbox: once a card holds every fd it needs (its socket, its image or
 * TAP queues, its counters page, its event fds), it leaves the host behind: new mount, IPC,
 * network, UTS and cgroup namespaces (inside a user namespace of its own when it is not
 * privileged), an empty read-only tmpfs as its root so that no host file is reachable by path,
 * no new privileges, no capability in any set, and resource limits sized for one card. */
#ifndef AZOTE_SANDBOX_CARD_SANDBOX_H
#define AZOTE_SANDBOX_CARD_SANDBOX_H

struct card_sandbox {
	unsigned max_fds;	   /* RLIMIT_NOFILE: what the card needs at most */
	const char *selftest_path; /* a host file the card must no longer reach (self-test) */
};

/* Enter the sandbox. The caller must be single-threaded (namespaces and capabilities are per
 * thread; the threads started later inherit them). A kernel that refuses namespaces costs one
 * warning line, not the card. 0, or -errno (logged) when privileges cannot be dropped. */
__attribute__((warn_unused_result)) int card_sandbox_enter(const struct card_sandbox *sb);

/* With AZOTE_SANDBOX_SELFTEST=1 in the environment: try to open /dev/kvm and
 * sb->selftest_path and log what happened ("sandbox self-test: /dev/kvm: <error>"). Run after
 * every restriction is in place (seccomp included: it may kill the card instead). */
void card_sandbox_selftest(const struct card_sandbox *sb);

#endif
