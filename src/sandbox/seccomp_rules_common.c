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

/* What the sanitizer runtimes call (see SECCOMP_SANITIZED); unused in normal builds. */
static const struct seccomp_rule sanitizer[] = {
    SC_ALLOW(sigaltstack),  SC_ALLOW(sched_getaffinity), SC_ALLOW(sched_yield),
    SC_ALLOW(prlimit64),    SC_ALLOW(getrlimit),	 SC_ALLOW(readlink),
    SC_ALLOW(readlinkat),   SC_ALLOW(openat),		 SC_ALLOW(open),
    SC_ALLOW(fstat),	    SC_ALLOW(newfstatat),	 SC_ALLOW(lseek),
    SC_ALLOW(pread64),	    SC_ALLOW(prctl),		 SC_ALLOW(ptrace),
    SC_ALLOW(clone),	    SC_ALLOW(wait4),		 SC_ALLOW(waitid),
    SC_ALLOW(kill),	    SC_ALLOW(tgkill),		 SC_ALLOW(rt_sigaction),
    SC_ALLOW(mmap),	    SC_ALLOW(mprotect),		 SC_ALLOW(getppid),
    SC_ALLOW(uname),	    SC_ALLOW(getrusage),	 SC_ALLOW(nanosleep),
    SC_ALLOW(clock_nanosleep), SC_ALLOW(sched_setaffinity), SC_ALLOW(dup2),
    SC_ALLOW(pipe2),	    SC_ALLOW(getdents64),	 SC_ALLOW(process_vm_readv),
};

const struct seccomp_rules seccomp_rules_sanitizer = SECCOMP_RULES(sanitizer);
