/* The jail's cgroup (v2): <root>/azote/<id>, with the controllers its settings need enabled
 * on the way down, each --cgroup key=value written into it, and the jailed process moved in. */
#ifndef AZOTE_JAIL_JAIL_CGROUP_H
#define AZOTE_JAIL_JAIL_CGROUP_H

#include <stdbool.h>
#include <stddef.h>

#include "jail/jail_args.h"

#define JAIL_CGROUP_MOUNT  "/sys/fs/cgroup"
#define JAIL_CGROUP_PARENT "azote"

/* True when key names a plain file the jail may write in its own cgroup directory: letters,
 * digits, '.', '_' and '-', a controller prefix ("memory.max"), no '/', not "." or "..", and
 * not one of the files the jailer manages itself (cgroup.procs, cgroup.threads,
 * cgroup.subtree_control, cgroup.type). */
bool jail_cgroup_key_valid(const char *key);

/* The controller a key belongs to ("memory.max" -> "memory") into buf; "" for the core
 * "cgroup.*" files, which need none. 0 or -ENAMETOOLONG. */
__attribute__((warn_unused_result)) int jail_cgroup_controller(const char *key, char *buf,
							       size_t len);

/* "<mount>/azote/<id>" into buf. 0 or -ENAMETOOLONG. */
__attribute__((warn_unused_result)) int jail_cgroup_dir(const char *mount, const char *id,
							char *buf, size_t len);

/* 0 when mount is a cgroup2 (unified hierarchy) mount; otherwise logs why and -ENOTSUP. */
__attribute__((warn_unused_result)) int jail_cgroup_check_v2(const char *mount);

/* Create the jail's cgroup dir (refused with -EBUSY when one with processes exists: the jail
 * is running; an empty one left over is replaced), enable the controllers the settings need
 * and write every setting. Logs and returns -errno on failure, leaving no new directory. */
__attribute__((warn_unused_result)) int
jail_cgroup_create(const char *dir, const struct jail_cgroup_setting *settings, unsigned n);

/* Move the calling process into dir (its cgroup.procs). 0 or -errno (logged). */
__attribute__((warn_unused_result)) int jail_cgroup_join(const char *dir);

/* Remove dir once the processes in it have gone (retries briefly while the kernel finishes
 * releasing them). 0 or -errno (logged). */
__attribute__((warn_unused_result)) int jail_cgroup_remove(const char *dir);

#endif
