/* azote-jail's command line: parsed into struct jail_args without touching the system, so that
 * every check here is a pure function the unit tests run. */
#ifndef AZOTE_JAIL_JAIL_ARGS_H
#define AZOTE_JAIL_JAIL_ARGS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define JAIL_ID_MAX		 64
#define JAIL_CGROUPS_MAX	 32
#define JAIL_CGROUP_VALUE_MAX	 256
#define JAIL_NOFILE_DEFAULT	 2048
#define JAIL_CHROOT_BASE_DEFAULT "/srv/jailer"

/* One --cgroup key=value: the file name in the jail's cgroup and what is written into it. */
struct jail_cgroup_setting {
	char key[NAME_MAX + 1];
	const char *value;
};

struct jail_args {
	const char *id;
	const char *exec_file;
	uid_t uid;
	gid_t gid;
	const char *chroot_base;
	const char *netns; /* NULL: stay in the caller's network namespace */
	bool daemonize;
	struct jail_cgroup_setting cgroups[JAIL_CGROUPS_MAX];
	unsigned ncgroups;
	uint64_t nofile;
	bool has_fsize;
	uint64_t fsize;
	char **exec_argv; /* azote's arguments (after "--"), NULL-terminated */
};

struct jail_error {
	char msg[256];
};

enum jail_parse_result { JAIL_PARSE_OK, JAIL_PARSE_HELP, JAIL_PARSE_ERROR };

/* Parse argv (argv[argc] must be NULL) into a; on JAIL_PARSE_ERROR err says why in one line.
 * Strings in a point into argv. */
enum jail_parse_result jail_args_parse(int argc, char **argv, struct jail_args *a,
				       struct jail_error *err);

/* True when id is 1 to JAIL_ID_MAX characters of [A-Za-z0-9-]. */
bool jail_id_valid(const char *id);

/* Parse "key=value" (a --cgroup value) into s. 0 or -EINVAL with err. */
__attribute__((warn_unused_result)) int
jail_cgroup_setting_parse(const char *text, struct jail_cgroup_setting *s, struct jail_error *err);

/* "<base>/<exec file's name>/<id>/root" into buf (a trailing '/' of base is dropped).
 * 0, -EINVAL when exec_file has no file name, or -ENAMETOOLONG. */
__attribute__((warn_unused_result)) int jail_chroot_path(const char *base, const char *exec_file,
							 const char *id, char *buf, size_t len);

/* The file-name part of path ("build/azote" -> "azote"); "" for "dir/". */
const char *jail_file_name(const char *path);

#endif
