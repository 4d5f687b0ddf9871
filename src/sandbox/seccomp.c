/* Turning a role's rule tables into a libseccomp filter: built, then loaded on the calling
 * thread or printed. */
#include "sandbox/seccomp.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/seccomp_report.h"
#include "sandbox/seccomp_rules.h"
#include "util/log.h"

static const char *const seccomp_role_names[SECCOMP_ROLES] = {
    [SECCOMP_ROLE_VMM] = "vmm",
    [SECCOMP_ROLE_VCPU] = "vcpu",
    [SECCOMP_ROLE_BLK] = "blk",
    [SECCOMP_ROLE_NET] = "net",
};

int seccomp_role_parse(const char *name)
{
	for (int r = 0; r < SECCOMP_ROLES; r++)
		if (!strcmp(name, seccomp_role_names[r]))
			return r;
	return -1;
}

int seccomp_level_parse(const char *text)
{
	if (text[0] >= '0' && text[0] <= '0' + SECCOMP_LEVEL_MAX && !text[1])
		return text[0] - '0';
	return -1;
}

const char *seccomp_role_name(enum seccomp_role role)
{
	return role < SECCOMP_ROLES ? seccomp_role_names[role] : "?";
}

/* The tables that make up a role: the shared rules first. */
static void seccomp_role_tables(enum seccomp_role role, const struct seccomp_rules *out[3])
{
	out[0] = &seccomp_rules_common;
	out[1] = out[2] = NULL;
	switch (role) {
	case SECCOMP_ROLE_VMM:
		out[1] = &seccomp_rules_vmm;
		break;
	case SECCOMP_ROLE_VCPU:
		out[1] = &seccomp_rules_vcpu;
		break;
	case SECCOMP_ROLE_BLK:
		out[1] = &seccomp_rules_card;
		out[2] = &seccomp_rules_blk;
		break;
	case SECCOMP_ROLE_NET:
		out[1] = &seccomp_rules_card;
		out[2] = &seccomp_rules_net;
		break;
	case SECCOMP_ROLES:
		break;
	}
}

/* Level 1: one unconditional rule per syscall number, however many the tables hold. */
static int seccomp_add_number(scmp_filter_ctx ctx, int nr)
{
	int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);

	return rc == -EEXIST ? 0 : rc;
}

static int seccomp_add_rule(scmp_filter_ctx ctx, const struct seccomp_rule *r, int level)
{
	if (level < 2)
		return seccomp_add_number(ctx, r->nr);
	if (r->enosys)
		return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), r->nr, 0);
	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, r->nr, r->ncmp, r->cmp);
}

int seccomp_build(enum seccomp_role role, int level, scmp_filter_ctx *out)
{
	const struct seccomp_rules *tables[3];
	scmp_filter_ctx ctx;
	int rc = 0;

	if (role >= SECCOMP_ROLES || level < 1 || level > SECCOMP_LEVEL_MAX)
		return -EINVAL;
	/* Anything else traps: the SIGSYS handler names the syscall, then the process dies. */
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx)
		return -ENOMEM;
	/* A syscall of another ABI (i386, x32) is no mistake of ours: kill at once. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	/* A binary tree of syscall numbers instead of a linear list: every syscall of a card's
	 * hot path is checked in a handful of BPF instructions rather than dozens. */
	if (!rc)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	seccomp_role_tables(role, tables);
	for (unsigned t = 0; !rc && t < 3 && tables[t]; t++)
		for (size_t i = 0; !rc && i < tables[t]->n; i++)
			rc = seccomp_add_rule(ctx, &tables[t]->rule[i], level);
#if SECCOMP_SANITIZED
	/* A sanitizer build's runtime (ASan's alternate signal stack, LeakSanitizer's tracer at
	 * exit...) makes syscalls azote never does: allowed without conditions, in such builds
	 * only, so that `make asan` runs the same code under the filters. */
	for (size_t i = 0; !rc && i < seccomp_rules_sanitizer.n; i++)
		rc = seccomp_add_number(ctx, seccomp_rules_sanitizer.rule[i].nr);
#endif
	if (rc) {
		seccomp_release(ctx);
		return rc;
	}
	*out = ctx;
	return 0;
}

/* The test hook: a syscall no role allows, made on purpose once the filter is in. */
static void seccomp_selftest(enum seccomp_role role)
{
	static atomic_flag done = ATOMIC_FLAG_INIT; /* one thread of the role is enough */
	const char *want = getenv(SECCOMP_SELFTEST_ENV);

	if (!want || strcmp(want, seccomp_role_names[role]) || atomic_flag_test_and_set(&done))
		return;
	log_warn("seccomp: %s=%s: testing the filter with a syscall it refuses",
		 SECCOMP_SELFTEST_ENV, want);
	syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
}

/* LeakSanitizer checks at exit from a tracer process it clones, which no filter can let run:
 * in ASan builds the check runs once, now, before the filter (later exits skip it). */
#if SECCOMP_LSAN
#include <sanitizer/lsan_interface.h>
static void seccomp_sanitizer_leak_check(void)
{
	__lsan_do_leak_check();
}
#else
static void seccomp_sanitizer_leak_check(void)
{
}
#endif

int seccomp_install(enum seccomp_role role, int level)
{
	scmp_filter_ctx ctx;
	int rc;

	if (level == 0)
		return 0;
	rc = seccomp_report_init();
	if (!rc)
		rc = seccomp_build(role, level, &ctx);
	if (rc) {
		log_error("seccomp: cannot build the %s filter: %s", seccomp_role_name(role),
			  strerror(-rc));
		return rc;
	}
	seccomp_report_set_role(role);
	seccomp_sanitizer_leak_check();
	rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc) {
		log_error("seccomp: cannot load the %s filter: %s", seccomp_role_name(role),
			  strerror(-rc));
		return rc;
	}
	seccomp_selftest(role);
	return 0;
}

int seccomp_print(enum seccomp_role role, int level, int fd)
{
	static const char none[] = "# seccomp level 0: no filter\n";
	scmp_filter_ctx ctx;
	int rc;

	if (level == 0)
		return write(fd, none, sizeof(none) - 1) < 0 ? -errno : 0;
	rc = seccomp_build(role, level, &ctx);
	if (rc)
		return rc;
	rc = seccomp_export_pfc(ctx, fd);
	seccomp_release(ctx);
	return rc;
}
