#include "jail/jail_chroot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "jail/jail_args.h"
#include "jail/jail_elf.h"
#include "util/log.h"

struct jail_device {
	const char *host; /* where the host has it; the jail gets it at the same path */
	mode_t mode;
	bool optional; /* skipped when the host lacks it */
};

/* /dev/net/tun only matters to azote-net: a host without it can still jail disk-only VMs. */
static const struct jail_device jail_devices[] = {
    {"/dev/kvm", 0600, false},
    {"/dev/net/tun", 0600, true},
    {"/dev/urandom", 0644, false},
};

int jail_exec_check(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		int rc = -errno;

		log_error("exec file %s: %s", path, strerror(-rc));
		return rc;
	}
	if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111)) {
		log_error("exec file %s: not an executable regular file", path);
		return -EINVAL;
	}
	return 0;
}

/* mkdir -p for the directories above and at path, mode 0755. */
static int mkdir_parents(const char *path)
{
	char buf[PATH_MAX];
	int rc;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1;; p++) {
		if (*p && *p != '/')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST) {
			rc = -errno;
			log_error("chroot: cannot create %s: %s", buf, strerror(-rc));
			return rc;
		}
		if (!c)
			return 0;
		*p = c;
	}
}

/* A root another user could write to would let that user swap the files the jailer installs. */
static int open_root(const char *root)
{
	struct stat st;
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), rc;

	if (fd < 0) {
		rc = -errno;
		log_error("chroot %s: %s", root, rc == -ELOOP ? "a symbolic link" : strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0 || st.st_uid != 0 || (st.st_mode & 022)) {
		log_error("chroot %s: must be owned by root and writable by root only", root);
		close(fd);
		return -EPERM;
	}
	if (fchmod(fd, 0755) < 0) {
		rc = -errno;
		log_error("chroot %s: chmod: %s", root, strerror(-rc));
		close(fd);
		return rc;
	}
	return fd;
}

/* Copy src to <rootfd>/name as root:root 0755, replacing any older copy atomically (a copy
 * still running from the old file keeps it). */
static int install_file(int rootfd, const char *src, const char *name)
{
	char tmp[NAME_MAX + 1], buf[1 << 16];
	int in, out, rc = 0;
	ssize_t n;

	snprintf(tmp, sizeof(tmp), ".%s.jail-new", name);
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		rc = -errno;
		log_error("copying %s into the jail: %s", src, strerror(-rc));
		return rc;
	}
	unlinkat(rootfd, tmp, 0);
	out = openat(rootfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0700);
	if (out < 0)
		rc = -errno;
	while (!rc && (n = read(in, buf, sizeof(buf))) != 0) {
		ssize_t w = n < 0 ? -1 : write(out, buf, (size_t)n);

		if (w < 0)
			rc = -errno;
		else if (w != n)
			rc = -ENOSPC; /* a regular file takes all of it unless the disk is full */
	}
	if (!rc && (fchown(out, 0, 0) < 0 || fchmod(out, 0755) < 0))
		rc = -errno;
	if (out >= 0 && close(out) < 0 && !rc)
		rc = -errno;
	close(in);
	if (!rc && renameat(rootfd, tmp, rootfd, name) < 0)
		rc = -errno;
	if (rc) {
		unlinkat(rootfd, tmp, 0);
		log_error("copying %s into the jail as /%s: %s", src, name, strerror(-rc));
	}
	return rc;
}

/* A dynamically linked program starts only if its loader is inside the jail. */
static int check_loader(int rootfd, const char *src, const char *name)
{
	struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT};
	char interp[PATH_MAX];
	int fd = openat(rootfd, name, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	rc = jail_elf_interp(fd, interp, sizeof(interp));
	close(fd);
	if (rc || !interp[0])
		return 0; /* static, or not ELF: execve will say what it thinks */
	fd = (int)syscall(SYS_openat2, rootfd, interp, &how, sizeof(how));
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	log_error(
	    "%s is dynamically linked and the jail has no %s: link it statically (make "
	    "LDFLAGS=-static) or copy in the libraries `%s --list %s` names, at the same paths",
	    src, interp, interp, src);
	return -ENOENT;
}

/* The exec file, then each card found next to it: next to the file a symbolic link names, as
 * azote looks for them next to /proc/self/exe. */
static int install_programs(int rootfd, const char *exec_file)
{
	static const char *const cards[] = JAIL_CARDS;
	char dir[PATH_MAX], card[PATH_MAX];
	int rc = install_file(rootfd, exec_file, jail_file_name(exec_file));

	if (!rc)
		rc = check_loader(rootfd, exec_file, jail_file_name(exec_file));
	if (!rc && !realpath(exec_file, dir))
		rc = -errno;
	if (!rc)
		dirname(dir);
	for (unsigned i = 0; !rc && i < sizeof(cards) / sizeof(cards[0]); i++) {
		int n = snprintf(card, sizeof(card), "%s/%s", dir, cards[i]);

		if (n < 0 || (size_t)n >= sizeof(card))
			return -ENAMETOOLONG;
		if (access(card, F_OK) < 0 && errno == ENOENT)
			continue;
		rc = jail_exec_check(card);
		if (!rc)
			rc = install_file(rootfd, card, cards[i]);
		if (!rc)
			rc = check_loader(rootfd, card, cards[i]);
	}
	return rc;
}

/* name (relative to rootfd) as a real directory with this owner and mode. */
static int ensure_dir(int rootfd, const char *name, mode_t mode, uid_t uid, gid_t gid)
{
	struct stat st;
	int rc = 0;

	if (mkdirat(rootfd, name, mode) < 0 && errno != EEXIST)
		rc = -errno;
	else if (fstatat(rootfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	else if (!S_ISDIR(st.st_mode))
		rc = -ENOTDIR;
	else if (fchownat(rootfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
		 fchmodat(rootfd, name, mode, 0) < 0)
		rc = -errno;
	if (rc)
		log_error("chroot: /%s: %s", name, strerror(-rc));
	return rc;
}

/* A fresh node with the host's device number: nothing a previous jail left is reused. */
static int make_node(int rootfd, const struct jail_device *d, uid_t uid, gid_t gid)
{
	const char *name = d->host + 1;
	struct stat st;
	int rc = 0;

	if (stat(d->host, &st) < 0) {
		if (errno == ENOENT && d->optional)
			return 0;
		rc = -errno;
		log_error("host device %s: %s", d->host, strerror(-rc));
		return rc;
	}
	if (!S_ISCHR(st.st_mode)) {
		log_error("host device %s: not a character device", d->host);
		return -ENODEV;
	}
	if (unlinkat(rootfd, name, 0) < 0 && errno != ENOENT)
		rc = -errno;
	else if (mknodat(rootfd, name, S_IFCHR | d->mode, st.st_rdev) < 0)
		rc = -errno;
	else if (fchownat(rootfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
		 fchmodat(rootfd, name, d->mode, 0) < 0)
		rc = -errno;
	if (rc)
		log_error("chroot: making /%s (%u:%u): %s", name, major(st.st_rdev),
			  minor(st.st_rdev), strerror(-rc));
	return rc;
}

/* run/ belongs to the jailed user, who may have left sockets or files there: remove them
 * (never following a link); a directory left there is refused rather than walked as root. */
static int empty_run(int rootfd)
{
	int fd = openat(rootfd, "run", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), rc = 0;
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *e;

	if (!d) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		log_error("chroot: /run: %s", strerror(-rc));
		return rc;
	}
	while (!rc && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(fd, e->d_name, 0) < 0) {
			rc = -errno;
			log_error("chroot: /run/%s left by an earlier run: %s (remove it)",
				  e->d_name, strerror(-rc));
		}
	}
	closedir(d);
	return rc;
}

static int make_tree(int rootfd, uid_t uid, gid_t gid)
{
	int rc = ensure_dir(rootfd, "dev", 0755, 0, 0);

	if (!rc)
		rc = ensure_dir(rootfd, "dev/net", 0755, 0, 0);
	for (unsigned i = 0; !rc && i < sizeof(jail_devices) / sizeof(jail_devices[0]); i++)
		rc = make_node(rootfd, &jail_devices[i], uid, gid);
	if (!rc)
		rc = ensure_dir(rootfd, "run", 0700, 0, 0);
	if (!rc)
		rc = empty_run(rootfd);
	if (!rc)
		rc = ensure_dir(rootfd, "run", 0700, uid, gid);
	if (!rc)
		rc = ensure_dir(rootfd, "proc", 0555, 0, 0);
	return rc;
}

int jail_chroot_build(const char *root, const char *exec_file, uid_t uid, gid_t gid)
{
	int rootfd, rc = mkdir_parents(root);

	if (rc)
		return rc;
	rootfd = open_root(root);
	if (rootfd < 0)
		return rootfd;
	rc = install_programs(rootfd, exec_file);
	if (!rc)
		rc = make_tree(rootfd, uid, gid);
	close(rootfd);
	return rc;
}

int jail_chroot_write_pid(const char *root, const char *name, pid_t pid)
{
	char path[PATH_MAX], text[32];
	int fd, rc = 0, n = snprintf(text, sizeof(text), "%d\n", (int)pid);

	snprintf(path, sizeof(path), "%s/%s.pid", root, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		rc = -errno;
	else if (write(fd, text, (size_t)n) != n)
		rc = -EIO;
	if (fd >= 0 && close(fd) < 0 && !rc)
		rc = -errno;
	if (rc)
		log_error("pid file %s: %s", path, strerror(-rc));
	return rc;
}
