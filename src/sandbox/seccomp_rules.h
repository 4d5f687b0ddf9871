/* The allowlists as reviewed data: one table of rules per role, plus the rules every role
 * shares. At level 1 only the syscall numbers of the tables count; at level 2 a rule's
 * argument comparisons must hold too (several rules for one syscall are alternatives). */
#ifndef AZOTE_SANDBOX_SECCOMP_RULES_H
#define AZOTE_SANDBOX_SECCOMP_RULES_H

#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>

#include "sandbox/seccomp.h"

#define SECCOMP_RULE_MAX_ARGS 2

struct seccomp_rule {
	int nr;
	unsigned ncmp;
	struct scmp_arg_cmp cmp[SECCOMP_RULE_MAX_ARGS];
	/* At level 2 the syscall fails with ENOSYS instead of being allowed: for clone3, whose
	 * flags sit in memory the filter cannot read, so that glibc falls back to clone. */
	bool enosys;
};

struct seccomp_rules {
	const struct seccomp_rule *rule;
	size_t n;
};

#define SECCOMP_RULES(table)                                                                       \
	{                                                                                          \
		.rule = (table), .n = sizeof(table) / sizeof((table)[0])                           \
	}

/* Argument comparisons. Request numbers and flags are compared on their low 32 bits, as the
 * kernel reads them (an int widened by a caller must not slip through or be refused). */
#define SC_EQ32(i, v)                                                                              \
	{                                                                                          \
		.arg = (i), .op = SCMP_CMP_MASKED_EQ, .datum_a = 0xffffffffu, .datum_b = (v)       \
	}
#define SC_EQ(i, v)                                                                                \
	{                                                                                          \
		.arg = (i), .op = SCMP_CMP_EQ, .datum_a = (v)                                      \
	}
#define SC_CLEAR(i, bits)                                                                          \
	{                                                                                          \
		.arg = (i), .op = SCMP_CMP_MASKED_EQ, .datum_a = (bits), .datum_b = 0              \
	}
#define SC_SET(i, bits)                                                                            \
	{                                                                                          \
		.arg = (i), .op = SCMP_CMP_MASKED_EQ, .datum_a = (bits), .datum_b = (bits)         \
	}

#define SC_ALLOW(name)                                                                             \
	{                                                                                          \
		.nr = SCMP_SYS(name)                                                               \
	}
#define SC_ARGS1(name, c0)                                                                         \
	{                                                                                          \
		.nr = SCMP_SYS(name), .ncmp = 1, .cmp = { c0 }                                     \
	}
#define SC_ARGS2(name, c0, c1)                                                                     \
	{                                                                                          \
		.nr = SCMP_SYS(name), .ncmp = 2, .cmp = { c0, c1 }                                 \
	}
#define SC_IOCTL(request) SC_ARGS1(ioctl, SC_EQ32(1, request))
#define SC_FCNTL(cmd)	  SC_ARGS1(fcntl, SC_EQ32(1, cmd))

/* What every role does: memory, threads' locks, exit, signal return, clocks, logging. */
extern const struct seccomp_rules seccomp_rules_common;

/* Built with AddressSanitizer or UndefinedBehaviorSanitizer (`make asan`)? */
#if defined(__SANITIZE_ADDRESS__)
#define SECCOMP_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SECCOMP_SANITIZED 1
#endif
#endif
#ifndef SECCOMP_SANITIZED
#define SECCOMP_SANITIZED 0
#endif
/* Built with AddressSanitizer, whose LeakSanitizer runs at exit. */
#if defined(__SANITIZE_ADDRESS__)
#define SECCOMP_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SECCOMP_LSAN 1
#endif
#endif
#ifndef SECCOMP_LSAN
#define SECCOMP_LSAN 0
#endif
extern const struct seccomp_rules seccomp_rules_sanitizer;
extern const struct seccomp_rules seccomp_rules_vmm;
extern const struct seccomp_rules seccomp_rules_vcpu;
extern const struct seccomp_rules seccomp_rules_blk;
extern const struct seccomp_rules seccomp_rules_net;

/* The thread rules the device processes share (their queue threads start after the filter). */
extern const struct seccomp_rules seccomp_rules_card;

#endif
