/* seccomp allowlists: every role's filter builds and exports at levels 1 and 2; a forbidden
 * syscall kills the whole process by SIGSYS after one line naming it; level 2 checks arguments
 * (mmap without PROT_EXEC, clone for threads only); role and level parsing. Filters are only
 * ever loaded in fork()ed children. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox/seccomp.h"
#include "sandbox/seccomp_rules.h"
#include "sandbox/seccomp_report.h"

struct child {
	int status;
	char err[1024];
};

/* Run fn in a fork()ed child with stderr captured and no core dump; _exit(0) if fn returns. */
static void run_child(void (*fn)(void *arg), void *arg, struct child *out)
{
	struct rlimit no_core = {0, 0};
	size_t len = 0;
	ssize_t n;
	int p[2];
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setrlimit(RLIMIT_CORE, &no_core);
		dup2(p[1], STDERR_FILENO);
		close(p[0]);
		fn(arg);
		_exit(0);
	}
	close(p[1]);
	while ((n = read(p[0], out->err + len, sizeof(out->err) - 1 - len)) > 0)
		len += (size_t)n;
	out->err[len] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &out->status, 0), pid);
}

static void assert_killed_by_sigsys(const struct child *c, const char *line)
{
	if (!WIFSIGNALED(c->status) || WTERMSIG(c->status) != SIGSYS)
		fail_msg("child status %#x, expected death by SIGSYS; stderr: %s", c->status,
			 c->err);
	if (!strstr(c->err, line))
		fail_msg("stderr lacks \"%s\": %s", line, c->err);
	/* One line, the last one, ending the way log lines on a raw terminal do. */
	const char *end = strstr(c->err, "; killing the process\r\n");

	assert_non_null(end);
	assert_ptr_equal(end + strlen("; killing the process\r\n"), c->err + strlen(c->err));
	/* Reported once: the handler never runs twice. */
	assert_null(strstr(strstr(c->err, "forbidden syscall") + 1, "forbidden syscall"));
}

static void assert_exited_0(const struct child *c)
{
	if (!WIFEXITED(c->status) || WEXITSTATUS(c->status))
		fail_msg("child status %#x, expected exit 0; stderr: %s", c->status, c->err);
}

static void test_roles_and_levels_parse(void **state)
{
	assert_int_equal(seccomp_role_parse("vmm"), SECCOMP_ROLE_VMM);
	assert_int_equal(seccomp_role_parse("vcpu"), SECCOMP_ROLE_VCPU);
	assert_int_equal(seccomp_role_parse("blk"), SECCOMP_ROLE_BLK);
	assert_int_equal(seccomp_role_parse("net"), SECCOMP_ROLE_NET);
	assert_int_equal(seccomp_role_parse("api"), -1);
	assert_int_equal(seccomp_role_parse(""), -1);
	assert_int_equal(seccomp_role_parse("VCPU"), -1);
	for (int r = 0; r < SECCOMP_ROLES; r++)
		assert_int_equal(seccomp_role_parse(seccomp_role_name(r)), r);
	assert_int_equal(seccomp_level_parse("0"), 0);
	assert_int_equal(seccomp_level_parse("1"), 1);
	assert_int_equal(seccomp_level_parse("2"), 2);
	assert_int_equal(seccomp_level_parse("3"), -1);
	assert_int_equal(seccomp_level_parse("02"), -1);
	assert_int_equal(seccomp_level_parse("-1"), -1);
	assert_int_equal(seccomp_level_parse(""), -1);
}

/* Bytes of role's filter at level exported as BPF, or as PFC text into pfc. */
static long export_size(enum seccomp_role role, int level, char *pfc, size_t pfc_len)
{
	scmp_filter_ctx ctx;
	FILE *f = tmpfile();
	long size;

	assert_non_null(f);
	assert_int_equal(seccomp_build(role, level, &ctx), 0);
	if (pfc)
		assert_int_equal(seccomp_export_pfc(ctx, fileno(f)), 0);
	else
		assert_int_equal(seccomp_export_bpf(ctx, fileno(f)), 0);
	seccomp_release(ctx);
	size = lseek(fileno(f), 0, SEEK_END);
	if (pfc) {
		size_t n = pread(fileno(f), pfc, pfc_len - 1, 0);

		pfc[n] = '\0';
	}
	fclose(f);
	return size;
}

static void test_every_role_builds_and_exports(void **state)
{
	static char pfc[1 << 16];

	for (int r = 0; r < SECCOMP_ROLES; r++) {
		long l1 = export_size(r, 1, NULL, 0), l2 = export_size(r, 2, NULL, 0);

		/* A BPF program is 8-byte instructions; level 2 adds the argument checks. */
		assert_true(l1 > 0 && l1 % 8 == 0);
		assert_true(l2 > l1);
		export_size(r, 2, pfc, sizeof(pfc));
		assert_non_null(strstr(pfc, "action TRAP"));
		assert_non_null(strstr(pfc, "exit_group"));
		/* No role may make sockets of any family, nor start programs. */
		assert_null(strstr(pfc, "socket "));
		assert_null(strstr(pfc, "execve"));
	}
	export_size(SECCOMP_ROLE_VCPU, 2, pfc, sizeof(pfc));
	assert_non_null(strstr(pfc, "ioctl"));
	if (!SECCOMP_SANITIZED) /* the sanitizer runtime's clone is allowed in such builds */
		assert_null(strstr(pfc, "clone")); /* vCPU threads start nothing */
	export_size(SECCOMP_ROLE_BLK, 2, pfc, sizeof(pfc));
	assert_non_null(strstr(pfc, "io_uring_enter"));
	assert_int_equal(seccomp_print(SECCOMP_ROLE_VMM, 3, STDOUT_FILENO), -EINVAL);
}

static void violate_socket(void *arg)
{
	if (seccomp_install(*(enum seccomp_role *)arg, 2))
		_exit(10);
	socket(AF_INET, SOCK_STREAM, 0);
	_exit(11); /* not reached */
}

static void test_forbidden_syscall_kills_with_its_name(void **state)
{
	enum seccomp_role role = SECCOMP_ROLE_VCPU;
	struct child c;

	run_child(violate_socket, &role, &c);
	assert_killed_by_sigsys(&c,
				": error: seccomp: vcpu thread made forbidden syscall socket (41)");
}

static void *thread_violates(void *arg)
{
	violate_socket(arg);
	return NULL;
}

/* The thread that traps is not alone: the whole process must go. */
static void violate_in_a_thread(void *arg)
{
	pthread_t t;

	if (pthread_create(&t, NULL, thread_violates, arg))
		_exit(12);
	for (;;)
		pause();
}

static void test_violation_in_a_thread_kills_the_process(void **state)
{
	enum seccomp_role role = SECCOMP_ROLE_VMM;
	struct child c;

	run_child(violate_in_a_thread, &role, &c);
	assert_killed_by_sigsys(&c, "vmm thread made forbidden syscall socket (41)");
}

static void selftest_hook(void *arg)
{
	setenv(SECCOMP_SELFTEST_ENV, arg, 1);
	if (seccomp_install(SECCOMP_ROLE_NET, 2))
		_exit(10);
}

static void test_selftest_hook(void **state)
{
	struct child c;

	run_child(selftest_hook, "net", &c);
	assert_killed_by_sigsys(&c, "net device process made forbidden syscall socket (41)");
	run_child(selftest_hook, "blk", &c); /* another role's name: no effect */
	assert_exited_0(&c);
}

static void mmap_exec(void *arg)
{
	void *p;

	if (seccomp_install(SECCOMP_ROLE_BLK, *(int *)arg))
		_exit(10);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		_exit(13);
	mprotect(p, 4096, PROT_READ | PROT_EXEC);
	_exit(0);
}

static void test_level2_refuses_executable_memory(void **state)
{
	int level = 2;
	struct child c;

	if (SECCOMP_SANITIZED) /* the sanitizer runtime needs mprotect and mmap unchecked */
		skip();
	run_child(mmap_exec, &level, &c);
	assert_killed_by_sigsys(&c, "made forbidden syscall mprotect (10)");
	level = 1; /* numbers only */
	run_child(mmap_exec, &level, &c);
	assert_exited_0(&c);
}

static void *nothing(void *arg)
{
	return arg;
}

/* A card starts threads under its filter; a new process it may not. */
static void thread_then_fork(void *arg)
{
	pthread_t t;

	if (seccomp_install(SECCOMP_ROLE_NET, 2))
		_exit(10);
	if (pthread_create(&t, NULL, nothing, NULL) || pthread_join(t, NULL))
		_exit(14);
	if (fork() == 0)
		_exit(0);
	_exit(15); /* not reached */
}

static void test_level2_threads_not_processes(void **state)
{
	struct child c;

	if (SECCOMP_SANITIZED) /* LeakSanitizer's tracer is a clone() without thread flags */
		skip();
	run_child(thread_then_fork, NULL, &c);
	assert_killed_by_sigsys(&c, "net device process made forbidden syscall clone (56)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roles_and_levels_parse),
	    cmocka_unit_test(test_every_role_builds_and_exports),
	    cmocka_unit_test(test_forbidden_syscall_kills_with_its_name),
	    cmocka_unit_test(test_violation_in_a_thread_kills_the_process),
	    cmocka_unit_test(test_selftest_hook),
	    cmocka_unit_test(test_level2_refuses_executable_memory),
	    cmocka_unit_test(test_level2_threads_not_processes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
