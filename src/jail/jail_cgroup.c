#include "jail/jail_cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

/* Files the jailer writes itself: a setting must not move processes or change the tree. */
static const char *const jail_cgroup_managed[] = {
    "cgroup.procs",
    "cgroup.threads",
    "cgroup.subtree_control",
    "cgroup.type",
};

bool jail_cgroup_key_valid(const char *key)
{
	size_t n = strlen(key);
	const char *dot = strchr(key, '.');

	if (n == 0 || n > NAME_MAX || !dot || dot == key || !dot[1] || strstr(key, ".."))
		return false;
	if (strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != n)
		return false;
	for (size_t i = 0; i < sizeof(jail_cgroup_managed) / sizeof(jail_cgroup_managed[0]); i++)
		if (!strcmp(key, jail_cgroup_managed[i]))
			return false;
	return true;
}

int jail_cgroup_controller(const char *key, char *buf, size_t len)
{
	const char *dot = strchr(key, '.');
	size_t n = dot ? (size_t)(dot - key) : strlen(key);

	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(buf, key, n);
	buf[n] = '\0';
	if (!strcmp(buf, "cgroup"))
		buf[0] = '\0';
	return 0;
}

int jail_cgroup_dir(const char *mount, const char *id, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s/%s", mount, JAIL_CGROUP_PARENT, id);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int jail_cgroup_check_v2(const char *mount)
{
	struct statfs sfs;

	if (statfs(mount, &sfs) < 0) {
		log_error("cgroups v2: %s: %s (the unified hierarchy must be mounted there)", mount,
			  strerror(errno));
		return -ENOTSUP;
	}
	if (sfs.f_type != CGROUP2_SUPER_MAGIC) {
		log_error("cgroups v2: %s is not a cgroup2 mount (the jailer needs the unified "
			  "hierarchy: mount -t cgroup2 none %s)",
			  mount, mount);
		return -ENOTSUP;
	}
	return 0;
}

/* "<dir>/<file>" into buf (PATH_MAX). 0 or -ENAMETOOLONG. */
static int cg_path(char *buf, const char *dir, const char *file)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s", dir, file);

	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/* Write text into an existing file (cgroup files are never created). 0 or -errno. */
static int cg_write(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW), rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Up to len-1 bytes of a file into buf (NUL-terminated). 0 or -errno. */
static int cg_read(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	return 0;
}

/* True when the space-separated list has word. */
static bool list_has(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = strstr(list, word); p; p = strstr(p + 1, word))
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || !p[n]))
			return true;
	return false;
}

/* Make ctl available in <parent>'s children: enabled in the mount's and the parent's
 * cgroup.subtree_control. */
static int cg_enable(const char *mount, const char *parent, const char *ctl)
{
	char path[PATH_MAX], list[1024], plus[NAME_MAX + 2];
	const char *levels[] = {mount, parent};
	int rc = cg_path(path, mount, "cgroup.controllers");

	if (!rc)
		rc = cg_read(path, list, sizeof(list));
	if (rc || !list_has(list, ctl)) {
		log_error("cgroups v2: the %s controller is not available (%s: %s)", ctl, path,
			  rc ? strerror(-rc) : "not listed");
		return -ENOTSUP;
	}
	snprintf(plus, sizeof(plus), "+%s", ctl);
	for (int i = 0; i < 2; i++) {
		rc = cg_path(path, levels[i], "cgroup.subtree_control");
		if (!rc)
			rc = cg_write(path, plus);
		if (rc) {
			log_error("cgroups v2: cannot enable %s in %s: %s", ctl, path,
				  strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* An existing dir with processes is a running jail; an empty one is a leftover. */
static int cg_replace_leftover(const char *dir)
{
	char path[PATH_MAX], procs[16];
	int rc;

	rc = cg_path(path, dir, "cgroup.procs");
	if (!rc)
		rc = cg_read(path, procs, sizeof(procs));
	if (rc == -ENOENT)
		return 0;
	if (rc) {
		log_error("cgroups v2: %s: %s", path, strerror(-rc));
		return rc;
	}
	if (procs[0]) {
		log_error("jail %s is already running (its cgroup %s has processes)",
			  jail_file_name(dir), dir);
		return -EBUSY;
	}
	if (rmdir(dir) < 0) {
		rc = -errno;
		log_error("cgroups v2: cannot remove the leftover %s: %s", dir, strerror(-rc));
		return rc;
	}
	return 0;
}

static int cg_write_settings(const char *dir, const struct jail_cgroup_setting *s, unsigned n)
{
	char path[PATH_MAX];
	int rc;

	for (unsigned i = 0; i < n; i++) {
		rc = cg_path(path, dir, s[i].key);
		if (!rc)
			rc = cg_write(path, s[i].value);
		if (rc == -ENOENT) {
			log_error("--cgroup %s: no such file in %s", s[i].key, dir);
			return rc;
		}
		if (rc) {
			log_error("--cgroup %s=%s: writing %s: %s", s[i].key, s[i].value, path,
				  strerror(-rc));
			return rc;
		}
	}
	return 0;
}

int jail_cgroup_create(const char *dir, const struct jail_cgroup_setting *settings, unsigned n)
{
	char parent[PATH_MAX], mount[PATH_MAX], ctl[NAME_MAX + 1];
	int rc;

	snprintf(parent, sizeof(parent), "%s", dir);
	dirname(parent);
	snprintf(mount, sizeof(mount), "%s", parent);
	dirname(mount);
	if (mkdir(parent, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		log_error("cgroups v2: cannot create %s: %s", parent, strerror(-rc));
		return rc;
	}
	rc = cg_replace_leftover(dir);
	for (unsigned i = 0; !rc && i < n; i++) {
		rc = jail_cgroup_controller(settings[i].key, ctl, sizeof(ctl));
		if (!rc && ctl[0])
			rc = cg_enable(mount, parent, ctl);
	}
	if (rc)
		return rc;
	if (mkdir(dir, 0755) < 0) {
		rc = -errno;
		log_error("cgroups v2: cannot create %s: %s", dir, strerror(-rc));
		return rc;
	}
	rc = cg_write_settings(dir, settings, n);
	if (rc)
		rmdir(dir);
	return rc;
}

int jail_cgroup_join(const char *dir)
{
	char path[PATH_MAX];
	int rc;

	rc = cg_path(path, dir, "cgroup.procs");
	if (!rc)
		rc = cg_write(path, "0"); /* "0" is the writer itself, whatever its PID namespace */
	if (rc)
		log_error("cgroups v2: cannot move the jail into %s: %s", path, strerror(-rc));
	return rc;
}

int jail_cgroup_remove(const char *dir)
{
	const struct timespec pause = {.tv_nsec = 20 * 1000 * 1000};
	int rc = 0;

	/* The processes of a PID namespace are released just after its init is reaped. */
	for (int i = 0; i < 100; i++) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		rc = -errno;
		if (rc != -EBUSY)
			break;
		nanosleep(&pause, NULL);
	}
	log_error("cgroups v2: cannot remove %s: %s", dir, strerror(-rc));
	return rc;
}
