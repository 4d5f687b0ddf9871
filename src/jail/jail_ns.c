#include "jail/jail_ns.h"

#include <errno.h>
#include <limits.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/log.h"

/* Log "what: strerror" for the errno of the call that just failed and return -errno. */
static int ns_fail(const char *what, const char *arg)
{
	int rc = -errno;

	log_error("%s%s%s: %s", what, arg ? " " : "", arg ? arg : "", strerror(-rc));
	return rc;
}

pid_t jail_ns_fork(void)
{
	pid_t pid;

	/* The caller stays where it is; its next child is the new namespace's init. */
	if (unshare(CLONE_NEWPID) < 0)
		return ns_fail("new PID namespace (unshare CLONE_NEWPID)", NULL);
	pid = fork();
	if (pid < 0)
		return ns_fail("fork", NULL);
	return pid;
}

int jail_ns_check_net(int fd, const char *path)
{
	int type = ioctl(fd, NS_GET_NSTYPE);

	if (type < 0 && errno != ENOTTY)
		return ns_fail("--netns", path);
	if (type != CLONE_NEWNET) {
		log_error("--netns %s: not a network namespace (e.g. /var/run/netns/NAME from "
			  "`ip netns add NAME`)",
			  path);
		return -EINVAL;
	}
	return 0;
}

int jail_ns_join_net(int fd, const char *path)
{
	return setns(fd, CLONE_NEWNET) < 0 ? ns_fail("joining the network namespace", path) : 0;
}

static int ns_pivot(void)
{
	/* pivot_root(".", "."): the old root ends up stacked on the new one, then goes. */
	if (syscall(SYS_pivot_root, ".", ".") == 0) {
		if (umount2(".", MNT_DETACH) < 0)
			return ns_fail("detaching the old root", NULL);
		return 0;
	}
	if (errno != EINVAL)
		return ns_fail("pivot_root into", "the jail");
	/* The initramfs cannot be pivoted away from: cover it with the jail and chroot. The
	 * jailed process has no capability that could get back under it. */
	if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
		return ns_fail("moving the jail over the initramfs root", NULL);
	if (chroot(".") < 0)
		return ns_fail("chroot into", "the jail");
	return 0;
}

int jail_ns_enter_root(const char *root)
{
	char proc[PATH_MAX];
	int rc;

	snprintf(proc, sizeof(proc), "%s/proc", root);
	if (unshare(CLONE_NEWNS) < 0)
		return ns_fail("new mount namespace (unshare CLONE_NEWNS)", NULL);
	/* Nothing done here may propagate back to the host's mounts. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return ns_fail("making / private", NULL);
	/* pivot_root wants a mount point. */
	if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0)
		return ns_fail("bind-mounting", root);
	if (mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return ns_fail("mounting proc on", proc);
	if (chdir(root) < 0)
		return ns_fail("chdir", root);
	rc = ns_pivot();
	if (rc)
		return rc;
	return chdir("/") < 0 ? ns_fail("chdir", "/") : 0;
}
