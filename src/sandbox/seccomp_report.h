/* Reporting a forbidden syscall: a SIGSYS handler that writes one line naming the syscall and
 * the role, then lets the process die by SIGSYS. Internal to src/sandbox. */
#ifndef AZOTE_SANDBOX_SECCOMP_REPORT_H
#define AZOTE_SANDBOX_SECCOMP_REPORT_H

#include <seccomp.h>

#include "sandbox/seccomp.h"

/* Resolve every syscall name once and install the SIGSYS handler (idempotent, thread-safe).
 * Must run before a filter is loaded: it allocates and calls sigaction. 0 or -errno. */
__attribute__((warn_unused_result)) int seccomp_report_init(void);

/* Record the calling thread's role for the report (threads it starts report the process's
 * last installed role). */
void seccomp_report_set_role(enum seccomp_role role);

/* Build role's filter at level 1 or 2, not loaded. 0 or -errno; seccomp_release() it. */
__attribute__((warn_unused_result)) int seccomp_build(enum seccomp_role role, int level,
						      scmp_filter_ctx *out);

/* "vmm", "vcpu", "blk", "net" ("?" if out of range). */
const char *seccomp_role_name(enum seccomp_role role);

#endif
