/* azote-jail: start azote in a jail (a chroot it pivots into, its own mount and PID
 * namespaces, a cgroup with the operator's limits, an unprivileged uid/gid and no inherited
 * descriptors), in the spirit of Firecracker's jailer. Run as root. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jail/jail_args.h"
#include "jail/jail_cgroup.h"
#include "jail/jail_chroot.h"
#include "jail/jail_ns.h"
#include "jail/jail_privs.h"
#include "util/log.h"

extern char **environ;

/* Where the jailed process is, for the signal forwarder; 0 until it exists. */
static volatile sig_atomic_t jail_child_pid;

struct jail {
	const struct jail_args *args;
	char root[PATH_MAX];   /* the chroot, on the host */
	char cgroup[PATH_MAX]; /* the jail's cgroup directory */
	int netns_fd;	       /* -1 without --netns */
};

static void jail_usage(void)
{
	printf("usage: azote-jail --id ID --exec-file PATH --uid UID --gid GID\n"
	       "                  [--chroot-base DIR] [--cgroup KEY=VALUE]... [--netns PATH]\n"
	       "                  [--daemonize] [--resource-limit fsize=N|no-file=N]...\n"
	       "                  -- AZOTE-ARGS...\n"
	       "\n"
	       "Run azote (PATH, with azote-blk and azote-net found next to it) jailed in\n"
	       "DIR/<name of PATH>/ID/root (DIR defaults to %s): own mount and PID\n"
	       "namespaces, cgroup %s/%s/ID, user UID:GID, no privileges.\n"
	       "  --id ID              1 to %d characters of A-Z a-z 0-9 -\n"
	       "  --cgroup KEY=VALUE   write VALUE to the jail's cgroup file KEY (memory.max,\n"
	       "                       pids.max, cpu.max=\"50000 100000\", ...)\n"
	       "  --netns PATH         join this network namespace (/var/run/netns/NAME)\n"
	       "  --daemonize          new session, stdio on /dev/null, return once azote runs\n"
	       "  --resource-limit     fsize=BYTES (RLIMIT_FSIZE) or no-file=N (RLIMIT_NOFILE,\n"
	       "                       default %d)\n"
	       "AZOTE-ARGS name files inside the jail (--kernel /vmlinuz); put them into the\n"
	       "jail's root first. Exit status: azote's (128+N if killed by signal N), 0 once\n"
	       "azote runs with --daemonize, 2 when the jail could not be set up (one line on\n"
	       "stderr says why).\n",
	       JAIL_CHROOT_BASE_DEFAULT, JAIL_CGROUP_MOUNT, JAIL_CGROUP_PARENT, JAIL_ID_MAX,
	       JAIL_NOFILE_DEFAULT);
}

/* Every check that needs no change to the system, so that bad input leaves nothing behind. */
static int jail_check(struct jail *j)
{
	const struct jail_args *a = j->args;

	if (jail_exec_check(a->exec_file))
		return -EINVAL;
	if (jail_chroot_path(a->chroot_base, a->exec_file, a->id, j->root, sizeof(j->root)) ||
	    jail_cgroup_dir(JAIL_CGROUP_MOUNT, a->id, j->cgroup, sizeof(j->cgroup))) {
		log_error("--chroot-base %s: the jail's path is too long", a->chroot_base);
		return -ENAMETOOLONG;
	}
	if (a->netns) {
		j->netns_fd = open(a->netns, O_RDONLY | O_CLOEXEC);
		if (j->netns_fd < 0) {
			log_error("--netns %s: %s", a->netns, strerror(errno));
			return -EINVAL;
		}
		if (jail_ns_check_net(j->netns_fd, a->netns))
			return -EINVAL;
	}
	if (geteuid() != 0) {
		log_error("azote-jail must run as root (it makes device nodes, namespaces and "
			  "cgroups, then drops to --uid/--gid)");
		return -EPERM;
	}
	return jail_cgroup_check_v2(JAIL_CGROUP_MOUNT);
}

/* What the child reports on the sync pipe before it exits instead of exec'ing azote:
 * 0 when it already said why on stderr, else execve's errno. */
static _Noreturn void child_fail(int sync_fd, int code)
{
	ssize_t n = write(sync_fd, &code, sizeof(code));

	(void)n;
	_exit(2);
}

/* The jailed process, PID 1 of its namespace: set up, then become azote. */
static _Noreturn void jail_child(const struct jail *j, int sync_fd)
{
	const struct jail_args *a = j->args;
	const char *name = jail_file_name(a->exec_file);
	char path[NAME_MAX + 2];
	int null_fd = -1, keep[2] = {sync_fd, -1}, argc = 0;
	char **argv;

	if (j->netns_fd >= 0 && jail_ns_join_net(j->netns_fd, a->netns))
		child_fail(sync_fd, 0);
	if (jail_cgroup_join(j->cgroup))
		child_fail(sync_fd, 0);
	if (a->daemonize && (keep[1] = null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
		log_error("/dev/null: %s", strerror(errno));
		child_fail(sync_fd, 0);
	}
	if (jail_privs_close_fds(keep, 2) || jail_ns_enter_root(j->root) ||
	    jail_privs_set_limits(a->nofile, a->has_fsize, a->fsize))
		child_fail(sync_fd, 0);
	if (a->daemonize && setsid() < 0) {
		log_error("setsid: %s", strerror(errno));
		child_fail(sync_fd, 0);
	}
	if (jail_privs_drop(a->uid, a->gid))
		child_fail(sync_fd, 0);
	while (a->exec_argv[argc])
		argc++;
	argv = calloc((size_t)argc + 2, sizeof(*argv));
	if (!argv)
		child_fail(sync_fd, ENOMEM);
	snprintf(path, sizeof(path), "/%s", name);
	argv[0] = path;
	memcpy(argv + 1, a->exec_argv, (size_t)argc * sizeof(*argv));
	if (a->daemonize && (dup2(null_fd, 0) < 0 || dup2(null_fd, 1) < 0 || dup2(null_fd, 2) < 0))
		child_fail(sync_fd, errno);
	execve(path, argv, environ);
	child_fail(sync_fd, errno);
}

static void forward_signal(int sig)
{
	if (jail_child_pid > 0)
		kill(jail_child_pid, sig);
}

/* In the foreground, the signals meant for the VM reach azote (PID 1 of its namespace takes
 * them because it handles them). */
static void forward_signals(void)
{
	struct sigaction sa = {.sa_handler = forward_signal, .sa_flags = SA_RESTART};
	const int sigs[] = {SIGTERM, SIGINT, SIGHUP};

	sigemptyset(&sa.sa_mask);
	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* 0 once azote runs (the pipe closed on exec), 2 when the child said it failed. */
static int wait_exec(const struct jail *j, int sync_fd)
{
	int code;
	ssize_t n;

	do
		n = read(sync_fd, &code, sizeof(code));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(code))
		return 0;
	if (code)
		log_error("starting /%s in the jail: %s", jail_file_name(j->args->exec_file),
			  strerror(code));
	return 2;
}

static int wait_child(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 2;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int jail_run(struct jail *j)
{
	const struct jail_args *a = j->args;
	int sync[2], rc;
	pid_t pid;

	if (pipe2(sync, O_CLOEXEC) < 0) {
		log_error("pipe: %s", strerror(errno));
		return 2;
	}
	if (!a->daemonize)
		forward_signals();
	pid = jail_ns_fork();
	if (pid == 0) {
		close(sync[0]);
		jail_child(j, sync[1]);
	}
	close(sync[1]);
	if (pid > 0) {
		jail_child_pid = pid;
		/* Like Firecracker's jailer: the pid, as the host sees it, next to the binary. */
		(void)!jail_chroot_write_pid(j->root, jail_file_name(a->exec_file), pid);
	}
	rc = pid < 0 ? 2 : wait_exec(j, sync[0]);
	close(sync[0]);
	if (pid > 0 && a->daemonize && rc == 0)
		return 0;
	if (pid > 0) {
		int status = wait_child(pid);

		rc = rc ? rc : status;
	}
	(void)!jail_cgroup_remove(j->cgroup); /* a failure is logged; azote's status stands */
	return rc;
}

int main(int argc, char **argv)
{
	struct jail_args args;
	struct jail_error err;
	struct jail j = {.args = &args, .netns_fd = -1};

	log_set_name("azote-jail");
	switch (jail_args_parse(argc, argv, &args, &err)) {
	case JAIL_PARSE_HELP:
		jail_usage();
		return 0;
	case JAIL_PARSE_ERROR:
		log_error("%s", err.msg);
		return 2;
	case JAIL_PARSE_OK:
		break;
	}
	if (jail_check(&j))
		return 2;
	if (jail_cgroup_create(j.cgroup, args.cgroups, args.ncgroups))
		return 2;
	if (jail_chroot_build(j.root, args.exec_file, args.uid, args.gid)) {
		(void)!jail_cgroup_remove(j.cgroup);
		return 2;
	}
	return jail_run(&j);
}
