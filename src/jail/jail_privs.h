/* The last steps before azote runs: no inherited descriptors, resource limits, and the
 * unprivileged user and group with no way back to privileges. */
#ifndef AZOTE_JAIL_JAIL_PRIVS_H
#define AZOTE_JAIL_JAIL_PRIVS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Close every descriptor above 2 except the n in keep. 0 or -errno (logged). */
__attribute__((warn_unused_result)) int jail_privs_close_fds(const int *keep, unsigned n);

/* RLIMIT_NOFILE to nofile and, when has_fsize, RLIMIT_FSIZE to fsize (soft = hard).
 * 0 or -errno (logged). */
__attribute__((warn_unused_result)) int jail_privs_set_limits(uint64_t nofile, bool has_fsize,
							      uint64_t fsize);

/* Drop every supplementary group, become gid and uid (real, effective and saved), and set
 * no_new_privs so that no exec can gain privileges again. 0 or -errno (logged). */
__attribute__((warn_unused_result)) int jail_privs_drop(uid_t uid, gid_t gid);

#endif
