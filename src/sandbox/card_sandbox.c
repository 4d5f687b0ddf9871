#include "sandbox/card_sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/log.h"

/* No PID namespace: unshare(CLONE_NEWPID) moves only future children, and once a process's
 * children would live in another PID namespace than itself the kernel refuses it new threads
 * (CLONE_THREAD), which the queue threads and io_uring's workers are. Cards never fork. */
#define SANDBOX_NS_FLAGS                                                                           \
	(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWCGROUP)

/* Defined only in LeakSanitizer builds (make asan), whose leak check at exit reads /proc. */
extern void __lsan_do_leak_check(void) __attribute__((weak));

/* What was applied, for the debug line. */
struct sandbox_report {
	bool ns, userns, bounding;
	const char *root; /* "pivot_root", "chroot", or NULL */
	unsigned long nofile;
};

static int sandbox_fail(const char *what, int rc)
{
	log_error("sandbox: cannot %s: %s", what, strerror(-rc));
	return rc;
}

/* Namespaces and capabilities belong to threads: a thread already running would keep the
 * host's. */
static unsigned sandbox_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	unsigned n = 0;

	if (!d)
		return 1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static int sandbox_cap_last(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int last = 63; /* PR_CAPBSET_DROP says EINVAL past the last one */

	if (f) {
		if (fscanf(f, "%d", &last) != 1 || last < 0 || last > 63)
			last = 63;
		fclose(f);
	}
	return last;
}

static int sandbox_write(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : (n < 0 ? -errno : -EIO);
}

/* Unprivileged (or without CAP_SYS_ADMIN): a user namespace of our own, in which we map our
 * uid and gid to themselves, gives the rights to make the other namespaces. */
static int sandbox_unshare_user(void)
{
	char map[64];
	uid_t uid = geteuid();
	gid_t gid = getegid();
	int rc;

	if (unshare(SANDBOX_NS_FLAGS | CLONE_NEWUSER) < 0)
		return -errno;
	rc = sandbox_write("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "%u %u 1", (unsigned)uid, (unsigned)uid);
	if (!rc)
		rc = sandbox_write("/proc/self/uid_map", map);
	snprintf(map, sizeof(map), "%u %u 1", (unsigned)gid, (unsigned)gid);
	if (!rc)
		rc = sandbox_write("/proc/self/gid_map", map);
	return rc ? sandbox_fail("map our uid in the user namespace", rc) : 0;
}

/* 1 with namespaces, 0 without (warned once: the card still drops its privileges), -errno. */
static int sandbox_unshare(struct sandbox_report *r)
{
	int rc;

	if (unshare(SANDBOX_NS_FLAGS) == 0)
		return r->ns = true;
	if (errno != EPERM) {
		rc = -errno;
	} else {
		rc = sandbox_unshare_user();
		if (!rc)
			return r->ns = r->userns = true;
		if (rc != -EPERM && rc != -EINVAL && rc != -ENOSPC && rc != -EUSERS)
			return rc; /* logged */
	}
	log_warn("sandbox: no namespaces (the kernel refuses %s namespaces: %s): this card can "
		 "still reach the host's files and network by name",
		 rc == -EINVAL ? "mount/net/IPC" : "user", strerror(-rc));
	return 0;
}

/* Make an empty tmpfs the root, so that no host file has a path any more. */
static int sandbox_root(struct sandbox_report *r)
{
	struct stat host_root, here;

	if (stat("/", &host_root) < 0)
		return sandbox_fail("stat /", -errno);
	/* Nothing we do below may reach the host's mount tree (shared propagation). */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return sandbox_fail("make the mounts private", -errno);
	if (mount("tmpfs", "/", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555") < 0)
		return sandbox_fail("mount an empty tmpfs", -errno);
	/* "/.." crosses into the mount just stacked on the root; "/" would stay below it. */
	if (chdir("/..") < 0 || stat(".", &here) < 0)
		return sandbox_fail("enter the new root", -errno);
	if (here.st_dev == host_root.st_dev)
		return sandbox_fail("enter the new root", -EXDEV);
	/* Test builds only: without /proc the leak check at exit would fail the card. */
	if (__lsan_do_leak_check &&
	    (mkdir("proc", 0555) < 0 || mount("/proc", "proc", NULL, MS_BIND | MS_REC, NULL) < 0))
		return sandbox_fail("keep /proc for LeakSanitizer", -errno);
	if (syscall(SYS_pivot_root, ".", ".") == 0) {
		/* The old root is now stacked on ".": detaching it leaves no host mount here. */
		if (umount2(".", MNT_DETACH) < 0)
			return sandbox_fail("detach the host's mounts", -errno);
		r->root = "pivot_root";
	} else if (errno == EINVAL && chroot(".") == 0) {
		/* The initramfs (rootfs) cannot be pivoted away. A chroot is final once
		 * CAP_SYS_CHROOT is gone, and no fd of ours points outside. */
		r->root = "chroot";
	} else {
		return sandbox_fail("switch to the new root", -errno);
	}
	if (chdir("/") < 0)
		return sandbox_fail("enter the new root", -errno);
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) < 0)
		return sandbox_fail("make the new root read-only", -errno);
	return 0;
}

/* RLIMIT_NOFILE to what the card needs; no core dumps (they would hold guest memory).
 * RLIMIT_NPROC stays: it counts every thread of the uid on the host (root is exempt) and sizes
 * io_uring's worker pool, so no value is right for one card. */
static int sandbox_limits(unsigned max_fds, struct sandbox_report *r)
{
	struct rlimit core = {0, 0}, nofile;

	if (getrlimit(RLIMIT_NOFILE, &nofile) < 0)
		return sandbox_fail("read RLIMIT_NOFILE", -errno);
	if (nofile.rlim_max > max_fds)
		nofile.rlim_max = max_fds;
	nofile.rlim_cur = nofile.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &nofile) < 0)
		return sandbox_fail("set RLIMIT_NOFILE", -errno);
	if (setrlimit(RLIMIT_CORE, &core) < 0)
		return sandbox_fail("set RLIMIT_CORE", -errno);
	r->nofile = (unsigned long)nofile.rlim_cur;
	return 0;
}

static int sandbox_drop_caps(struct sandbox_report *r)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {{0}};
	int last = sandbox_cap_last();

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return sandbox_fail("set no_new_privs", -errno);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return sandbox_fail("clear the ambient capabilities", -errno);
	/* Needs CAP_SETPCAP: without it (unprivileged, no user namespace) the bounding set
	 * stays, harmless with no_new_privs and empty permitted and inheritable sets. */
	r->bounding = true;
	for (int cap = 0; cap <= last; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0 || errno == EINVAL)
			continue;
		if (errno != EPERM)
			return sandbox_fail("clear the bounding set", -errno);
		r->bounding = false;
		break;
	}
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return sandbox_fail("clear keep-capabilities", -errno);
	if (syscall(SYS_capset, &hdr, data) < 0)
		return sandbox_fail("drop the capabilities", -errno);
	if (syscall(SYS_capget, &hdr, data) < 0 || data[0].effective || data[0].permitted ||
	    data[1].effective || data[1].permitted)
		return sandbox_fail("drop the capabilities", -EPERM);
	return 0;
}

int card_sandbox_enter(const struct card_sandbox *sb)
{
	struct sandbox_report r = {0};
	unsigned threads = sandbox_threads();
	int rc;

	if (threads != 1) {
		log_error("sandbox: %u threads already run (it must come before any thread)",
			  threads);
		return -EBUSY;
	}
	rc = sandbox_unshare(&r);
	if (rc > 0)
		rc = sandbox_root(&r);
	if (!rc)
		rc = sandbox_limits(sb->max_fds, &r);
	if (!rc)
		rc = sandbox_drop_caps(&r);
	if (rc)
		return rc;
	log_debug(
	    "sandbox: %s; root: %s; no_new_privs; capabilities: none%s; RLIMIT_NOFILE %lu, "
	    "RLIMIT_CORE 0",
	    !r.ns      ? "no namespaces"
	    : r.userns ? "new user (uid mapped to itself), mount, IPC, net, UTS, cgroup namespaces"
		       : "new mount, IPC, net, UTS, cgroup namespaces",
	    r.root ? r.root : "the host's", r.bounding ? " (bounding set cleared)" : "", r.nofile);
	return 0;
}

void card_sandbox_selftest(const struct card_sandbox *sb)
{
	const char *paths[] = {"/dev/kvm", sb->selftest_path};
	const char *on = getenv("AZOTE_SANDBOX_SELFTEST");

	if (!on || strcmp(on, "1"))
		return;
	for (unsigned i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		int fd;

		if (!paths[i])
			continue;
		fd = open(paths[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			log_info("sandbox self-test: %s: %s", paths[i], strerror(errno));
			continue;
		}
		log_warn("sandbox self-test: %s: opened (the sandbox does not hide it)", paths[i]);
		close(fd);
	}
}
