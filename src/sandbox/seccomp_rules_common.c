/* The syscalls every role makes: glibc's allocator and locks, thread exit, signal return,
 * clocks (the vDSO falls back to the syscall on hosts whose clocksource it cannot read, such
 * as the lab's), and log lines (one write() each). */
#include <sys/mman.h>

#include "sandbox/seccomp_rules.h"

static const struct seccomp_rule common[] = {
    SC_ALLOW(read),
    SC_ALLOW(write),
    SC_ALLOW(close),
    SC_ALLOW(futex),
    SC_ALLOW(brk),
    /* Memory is never made executable after start: no code is loaded later. */
    SC_ARGS1(mmap, SC_CLEAR(2, PROT_EXEC)),
    SC_ARGS1(mprotect, SC_CLEAR(2, PROT_EXEC)),
    SC_ALLOW(munmap),
    SC_ALLOW(mremap),
    SC_ALLOW(madvise),
    SC_ALLOW(clock_gettime),
    SC_ALLOW(getpid), /* timestamped log lines carry the pid */
    SC_ALLOW(gettid),
    SC_ALLOW(rt_sigreturn),
    SC_ALLOW(rt_sigprocmask), /* a thread's exit */
    SC_ALLOW(restart_syscall),
    SC_ALLOW(exit),
    SC_ALLOW(exit_group),
};

const struct seccomp_rules seccomp_rules_common = SECCOMP_RULES(common);
