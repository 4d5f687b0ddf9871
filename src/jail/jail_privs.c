#include "jail/jail_privs.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "util/log.h"

static int privs_fail(const char *what)
{
	int rc = -errno;

	log_error("%s: %s", what, strerror(-rc));
	return rc;
}

int jail_privs_close_fds(const int *keep, unsigned n)
{
	unsigned lo = 3;

	/* keep is tiny: visit it in ascending order without sorting it. */
	for (;;) {
		unsigned next = ~0U;

		for (unsigned i = 0; i < n; i++)
			if (keep[i] >= (int)lo && (unsigned)keep[i] < next)
				next = (unsigned)keep[i];
		if (next > lo && close_range(lo, next == ~0U ? ~0U : next - 1, 0) < 0)
			return privs_fail("closing inherited descriptors (close_range)");
		if (next == ~0U)
			return 0;
		lo = next + 1;
	}
}

static int set_limit(int resource, uint64_t value, const char *name)
{
	struct rlimit rl = {.rlim_cur = value, .rlim_max = value};
	char what[64];

	if (setrlimit(resource, &rl) == 0)
		return 0;
	snprintf(what, sizeof(what), "setrlimit %s=%llu", name, (unsigned long long)value);
	return privs_fail(what);
}

int jail_privs_set_limits(uint64_t nofile, bool has_fsize, uint64_t fsize)
{
	int rc = set_limit(RLIMIT_NOFILE, nofile, "no-file");

	if (!rc && has_fsize)
		rc = set_limit(RLIMIT_FSIZE, fsize, "fsize");
	return rc;
}

int jail_privs_drop(uid_t uid, gid_t gid)
{
	if (setgroups(0, NULL) < 0)
		return privs_fail("setgroups(0)");
	if (setresgid(gid, gid, gid) < 0)
		return privs_fail("setresgid");
	if (setresuid(uid, uid, uid) < 0)
		return privs_fail("setresuid");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return privs_fail("prctl(PR_SET_NO_NEW_PRIVS)");
	return 0;
}
