/* azote-jail's pure parts: the command line, the jail's paths, cgroup keys, ELF loader lookup. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka.h needs the headers above. */
#include <cmocka.h>

#include "jail/jail_args.h"
#include "jail/jail_cgroup.h"
#include "jail/jail_elf.h"
#include "util/log.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])) - 1)

static enum jail_parse_result parse(char **argv, int argc, struct jail_args *a,
				    struct jail_error *err)
{
	err->msg[0] = '\0';
	return jail_args_parse(argc, argv, a, err);
}

static void test_args_minimal(void **state)
{
	char *argv[] = {"azote-jail", "--id", "vm-1",  "--exec-file", "/usr/bin/azote",
			"--uid",      "1000", "--gid", "1001",	      NULL};
	struct jail_args a;
	struct jail_error err;
	(void)state;
	assert_int_equal(parse(argv, ARGC(argv), &a, &err), JAIL_PARSE_OK);
	assert_string_equal(a.id, "vm-1");
	assert_string_equal(a.exec_file, "/usr/bin/azote");
	assert_int_equal(a.uid, 1000);
	assert_int_equal(a.gid, 1001);
	assert_string_equal(a.chroot_base, "/srv/jailer");
	assert_null(a.netns);
	assert_false(a.daemonize);
	assert_int_equal(a.ncgroups, 0);
	assert_int_equal(a.nofile, 2048);
	assert_false(a.has_fsize);
	assert_null(a.exec_argv[0]);
}

static void test_args_full(void **state)
{
	char *argv[] = {"azote-jail",
			"--id=a",
			"--exec-file",
			"azote",
			"--uid",
			"1",
			"--gid=2",
			"--chroot-base",
			"/var/jail/",
			"--cgroup",
			"cpu.max=50000 100000",
			"--cgroup=memory.max=512M",
			"--netns",
			"/var/run/netns/n",
			"--daemonize",
			"--resource-limit",
			"fsize=4096",
			"--resource-limit",
			"no-file=64",
			"--",
			"--kernel",
			"/vmlinuz",
			"--",
			NULL};
	struct jail_args a;
	struct jail_error err;
	(void)state;
	assert_int_equal(parse(argv, ARGC(argv), &a, &err), JAIL_PARSE_OK);
	assert_string_equal(a.chroot_base, "/var/jail/");
	assert_int_equal(a.ncgroups, 2);
	assert_string_equal(a.cgroups[0].key, "cpu.max");
	assert_string_equal(a.cgroups[0].value, "50000 100000");
	assert_string_equal(a.cgroups[1].key, "memory.max");
	assert_string_equal(a.cgroups[1].value, "512M");
	assert_string_equal(a.netns, "/var/run/netns/n");
	assert_true(a.daemonize);
	assert_true(a.has_fsize);
	assert_int_equal(a.fsize, 4096);
	assert_int_equal(a.nofile, 64);
	/* Everything after the first "--" is azote's, a second "--" included. */
	assert_string_equal(a.exec_argv[0], "--kernel");
	assert_string_equal(a.exec_argv[1], "/vmlinuz");
	assert_string_equal(a.exec_argv[2], "--");
	assert_null(a.exec_argv[3]);
}

/* Each case: one bad argument list and a word its message must contain. */
static void expect_error(const char *want, int argc, char **argv)
{
	struct jail_args a;
	struct jail_error err;

	assert_int_equal(parse(argv, argc, &a, &err), JAIL_PARSE_ERROR);
	if (!strstr(err.msg, want))
		fail_msg("message '%s' lacks '%s'", err.msg, want);
	assert_null(strchr(err.msg, '\n'));
}

#define BAD(want, ...)                                                                             \
	do {                                                                                       \
		char *v[] = {"azote-jail", __VA_ARGS__, NULL};                                     \
		expect_error(want, ARGC(v), v);                                                    \
	} while (0)
#define OK_ARGS "--id", "x", "--exec-file", "/a", "--uid", "5", "--gid", "5"

static void test_args_errors(void **state)
{
	(void)state;
	BAD("--id is required", "--exec-file", "/a", "--uid", "5", "--gid", "5");
	BAD("--exec-file is required", "--id", "x", "--uid", "5", "--gid", "5");
	BAD("--uid and --gid", "--id", "x", "--exec-file", "/a", "--uid", "5");
	BAD("--id a_b", OK_ARGS, "--id", "a_b");
	BAD("--id", OK_ARGS, "--id", "");
	BAD("--id", OK_ARGS, "--id",
	    "01234567890123456789012345678901234567890123456789012345678901234");
	BAD("--exec-file", OK_ARGS, "--exec-file", "/usr/bin/");
	BAD("--uid x", OK_ARGS, "--uid", "x");
	BAD("--uid -1", OK_ARGS, "--uid", "-1");
	BAD("--gid 4294967295", OK_ARGS, "--gid", "4294967295");
	BAD("--uid 0", OK_ARGS, "--uid", "0");
	BAD("absolute", OK_ARGS, "--chroot-base", "srv/jailer");
	BAD("..", OK_ARGS, "--chroot-base", "/srv/../etc");
	BAD("key=value", OK_ARGS, "--cgroup", "memory.max");
	BAD("memory/../x", OK_ARGS, "--cgroup", "memory/../x=1");
	BAD("cgroup.procs", OK_ARGS, "--cgroup", "cgroup.procs=1");
	BAD("one line", OK_ARGS, "--cgroup", "pids.max=");
	BAD("set twice", OK_ARGS, "--cgroup", "pids.max=1", "--cgroup", "pids.max=2");
	BAD("fsize=BYTES or no-file=N", OK_ARGS, "--resource-limit", "cpu=1");
	BAD("no-file", OK_ARGS, "--resource-limit", "no-file=0");
	BAD("fsize", OK_ARGS, "--resource-limit", "fsize=1k");
	BAD("takes no value", OK_ARGS, "--daemonize=yes");
	BAD("needs a value", OK_ARGS, "--netns");
	BAD("unknown option --bogus", OK_ARGS, "--bogus");
	BAD("unexpected argument 'kernel'", OK_ARGS, "kernel");
}

static void test_args_help(void **state)
{
	char *argv[] = {"azote-jail", "--id", "x", "--help", NULL};
	struct jail_args a;
	struct jail_error err;
	(void)state;
	assert_int_equal(parse(argv, ARGC(argv), &a, &err), JAIL_PARSE_HELP);
}

static void test_id_valid(void **state)
{
	char id64[65];
	(void)state;
	memset(id64, 'a', 64);
	id64[64] = '\0';
	assert_true(jail_id_valid("vm-0A"));
	assert_true(jail_id_valid(id64));
	assert_false(jail_id_valid(""));
	assert_false(jail_id_valid("a.b"));
	assert_false(jail_id_valid("a b"));
	assert_false(jail_id_valid("../x"));
	assert_false(jail_id_valid("a\n"));
}

static void test_chroot_path(void **state)
{
	char buf[PATH_MAX], small[16];
	(void)state;
	assert_int_equal(
	    jail_chroot_path("/srv/jailer", "/opt/azote/azote", "vm1", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/srv/jailer/azote/vm1/root");
	assert_int_equal(jail_chroot_path("/srv/jailer//", "azote", "a", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/srv/jailer/azote/a/root");
	assert_int_equal(jail_chroot_path("/", "bin/azote-2", "a", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/azote-2/a/root");
	assert_int_equal(jail_chroot_path("/srv", "/opt/", "a", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(jail_chroot_path("/srv/jailer", "azote", "vm1", small, sizeof(small)),
			 -ENAMETOOLONG);
	assert_string_equal(jail_file_name("a/b/c"), "c");
	assert_string_equal(jail_file_name("c"), "c");
}

static void test_cgroup_keys(void **state)
{
	char ctl[NAME_MAX + 1], dir[PATH_MAX];
	(void)state;
	assert_true(jail_cgroup_key_valid("memory.max"));
	assert_true(jail_cgroup_key_valid("cpu.max"));
	assert_true(jail_cgroup_key_valid("memory.swap.max"));
	assert_true(jail_cgroup_key_valid("cgroup.max.depth"));
	assert_true(jail_cgroup_key_valid("io.bfq-weight"));
	assert_false(jail_cgroup_key_valid(""));
	assert_false(jail_cgroup_key_valid("max"));
	assert_false(jail_cgroup_key_valid(".max"));
	assert_false(jail_cgroup_key_valid("memory."));
	assert_false(jail_cgroup_key_valid(".."));
	assert_false(jail_cgroup_key_valid("memory..max"));
	assert_false(jail_cgroup_key_valid("../memory.max"));
	assert_false(jail_cgroup_key_valid("sub/memory.max"));
	assert_false(jail_cgroup_key_valid("memory.max "));
	assert_false(jail_cgroup_key_valid("cgroup.procs"));
	assert_false(jail_cgroup_key_valid("cgroup.threads"));
	assert_false(jail_cgroup_key_valid("cgroup.subtree_control"));
	assert_false(jail_cgroup_key_valid("cgroup.type"));

	assert_int_equal(jail_cgroup_controller("memory.swap.max", ctl, sizeof(ctl)), 0);
	assert_string_equal(ctl, "memory");
	assert_int_equal(jail_cgroup_controller("pids.max", ctl, sizeof(ctl)), 0);
	assert_string_equal(ctl, "pids");
	assert_int_equal(jail_cgroup_controller("cgroup.max.depth", ctl, sizeof(ctl)), 0);
	assert_string_equal(ctl, "");
	assert_int_equal(jail_cgroup_controller("memory.max", ctl, 6), -ENAMETOOLONG);

	assert_int_equal(jail_cgroup_dir("/sys/fs/cgroup", "vm1", dir, sizeof(dir)), 0);
	assert_string_equal(dir, "/sys/fs/cgroup/azote/vm1");
	assert_int_equal(jail_cgroup_dir("/sys/fs/cgroup", "vm1", dir, 10), -ENAMETOOLONG);
}

static void test_cgroup_not_v2(void **state)
{
	(void)state;
	log_set_level(LOG_OFF);
	assert_int_equal(jail_cgroup_check_v2("/"), -ENOTSUP);
	assert_int_equal(jail_cgroup_check_v2("/nonexistent-azote"), -ENOTSUP);
	log_set_level(LOG_INFO);
}

/* A file holding an ELF header with phnum program headers, the first of type first_type
 * pointing past the end of the file. */
static int fake_elf(unsigned phnum, uint32_t first_type)
{
	char path[] = "/tmp/azote-jail-test.XXXXXX";
	Elf64_Ehdr eh = {.e_phoff = sizeof(Elf64_Ehdr),
			 .e_phentsize = sizeof(Elf64_Phdr),
			 .e_phnum = (Elf64_Half)phnum};
	Elf64_Phdr ph = {.p_type = first_type, .p_offset = 1 << 20, .p_filesz = 28};
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	assert_int_equal(write(fd, &eh, sizeof(eh)), sizeof(eh));
	for (unsigned i = 0; i < phnum; i++)
		assert_int_equal(write(fd, &ph, sizeof(ph)), sizeof(ph));
	return fd;
}

static void test_elf_interp(void **state)
{
	char interp[PATH_MAX];
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	(void)state;
	/* This test program is linked dynamically like azote: it names its loader. */
	assert_true(fd >= 0);
	assert_int_equal(jail_elf_interp(fd, interp, sizeof(interp)), 0);
	assert_true(interp[0] == '/');
	assert_non_null(strstr(interp, "ld-"));
	assert_int_equal(jail_elf_interp(fd, interp, 4), -ENAMETOOLONG);
	close(fd);

	fd = fake_elf(1, PT_LOAD); /* no PT_INTERP: a static program */
	assert_int_equal(jail_elf_interp(fd, interp, sizeof(interp)), 0);
	assert_string_equal(interp, "");
	close(fd);
	fd = fake_elf(2, PT_INTERP); /* the loader's name lies beyond the file */
	assert_int_equal(jail_elf_interp(fd, interp, sizeof(interp)), -ENOEXEC);
	close(fd);
	fd = fake_elf(0, 0);
	assert_int_equal(pwrite(fd, "#!/bin/sh", 9, 0), 9); /* a script is not ELF */
	assert_int_equal(jail_elf_interp(fd, interp, sizeof(interp)), -ENOEXEC);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_args_minimal), cmocka_unit_test(test_args_full),
	    cmocka_unit_test(test_args_errors),	 cmocka_unit_test(test_args_help),
	    cmocka_unit_test(test_id_valid),	 cmocka_unit_test(test_chroot_path),
	    cmocka_unit_test(test_cgroup_keys),	 cmocka_unit_test(test_cgroup_not_v2),
	    cmocka_unit_test(test_elf_interp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
