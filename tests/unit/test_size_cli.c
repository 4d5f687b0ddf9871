/* Size parsing, CLI parsing and configuration checks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "config/vm_config.h"
#include "util/size.h"

static void test_size_units(void **state)
{
	uint64_t v;
	(void)state;
	assert_int_equal(size_parse("256M", &v), 0);
	assert_int_equal(v, 256ull << 20);
	assert_int_equal(size_parse("2G", &v), 0);
	assert_int_equal(v, 2ull << 30);
	assert_int_equal(size_parse("2GiB", &v), 0);
	assert_int_equal(v, 2ull << 30);
	assert_int_equal(size_parse("512k", &v), 0);
	assert_int_equal(v, 512ull << 10);
	assert_int_equal(size_parse("1T", &v), 0);
	assert_int_equal(v, 1ull << 40);
	assert_int_equal(size_parse("128", &v), 0); /* no unit: MiB */
	assert_int_equal(v, 128ull << 20);
}

static void test_size_rejects(void **state)
{
	uint64_t v;
	(void)state;
	const char *bad[] = {"", "M", "-1M", " 1M", "1 M", "1X", "1MM", "0x10", "1.5G", "+1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(size_parse(bad[i], &v), -EINVAL);
	assert_int_equal(size_parse(NULL, &v), -EINVAL);
	assert_int_equal(size_parse("99999999999999999999", &v), -ERANGE);
	assert_int_equal(size_parse("17179869184T", &v), -ERANGE);
}

static void test_uint_parse(void **state)
{
	uint64_t v;
	(void)state;
	assert_int_equal(uint_parse("4", 1, 8, &v), 0);
	assert_int_equal(v, 4);
	assert_int_equal(uint_parse("0", 1, 8, &v), -ERANGE);
	assert_int_equal(uint_parse("9", 1, 8, &v), -ERANGE);
	assert_int_equal(uint_parse("4x", 1, 8, &v), -EINVAL);
	assert_int_equal(uint_parse("", 1, 8, &v), -EINVAL);
}

static enum cli_result parse(struct vm_config *cfg, struct config_error *err, int argc,
			     char **argv)
{
	return cli_parse(argc, argv, cfg, err);
}

static void test_cli_defaults(void **state)
{
	struct vm_config cfg;
	struct config_error err;
	char *argv[] = {"azote", "--kernel", "/k", NULL};
	(void)state;
	assert_int_equal(parse(&cfg, &err, 3, argv), CLI_OK);
	assert_string_equal(cfg.kernel_path, "/k");
	assert_null(cfg.initrd_path);
	assert_int_equal(cfg.cpus, 1);
	assert_int_equal(cfg.mem_bytes, 128ull << 20);
	assert_non_null(strstr(cfg.cmdline, "console=ttyS0"));
}

static void test_cli_full(void **state)
{
	struct vm_config cfg;
	struct config_error err;
	char *argv[] = {"azote", "--kernel", "/k", "--initrd", "/i", "--cmdline", "quiet",
			"--cpus", "2", "--mem=256M", NULL};
	(void)state;
	assert_int_equal(parse(&cfg, &err, 10, argv), CLI_OK);
	assert_string_equal(cfg.initrd_path, "/i");
	assert_string_equal(cfg.cmdline, "quiet");
	assert_int_equal(cfg.cpus, 2);
	assert_int_equal(cfg.mem_bytes, 256ull << 20);
}

static void expect_error(char **argv, int argc, const char *words)
{
	struct vm_config cfg;
	struct config_error err;
	assert_int_equal(parse(&cfg, &err, argc, argv), CLI_ERROR);
	if (!strstr(err.msg, words))
		fail_msg("error '%s' does not mention '%s'", err.msg, words);
}

static void test_cli_errors(void **state)
{
	(void)state;
	char *a1[] = {"azote", NULL};
	expect_error(a1, 1, "--kernel");
	char *a2[] = {"azote", "--kernel", "/k", "--cpus", "0", NULL};
	expect_error(a2, 5, "--cpus 0");
	char *a3[] = {"azote", "--kernel", "/k", "--cpus", "x", NULL};
	expect_error(a3, 5, "--cpus x");
	char *a4[] = {"azote", "--kernel", "/k", "--mem", "0", NULL};
	expect_error(a4, 5, "--mem");
	char *a5[] = {"azote", "--kernel", "/k", "--bogus", NULL};
	expect_error(a5, 4, "unknown option '--bogus'");
	char *a6[] = {"azote", "--kernel", NULL};
	expect_error(a6, 2, "--kernel needs a value");
	char *a7[] = {"azote", "--kernel", "/k", "extra", NULL};
	expect_error(a7, 4, "unexpected argument 'extra'");
	char *a8[] = {"azote", "--kernel", "/k", "--cpus", "300", NULL};
	expect_error(a8, 5, "at most");
	char *a9[] = {"azote", "--kernel", "/k", "--mem", "lots", NULL};
	expect_error(a9, 5, "not a size");
}

static void test_check_host(void **state)
{
	struct vm_config cfg = {.kernel_path = "/k", .cpus = 4, .mem_bytes = 1ull << 40};
	struct config_error err;
	(void)state;
	assert_int_equal(vm_config_check_host(&cfg, 2, 24ull << 30, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "at most 2"));
	cfg.cpus = 2;
	assert_int_equal(vm_config_check_host(&cfg, 2, 24ull << 30, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "1024 GiB"));
	cfg.mem_bytes = 1ull << 30;
	assert_int_equal(vm_config_check_host(&cfg, 2, 24ull << 30, &err), 0);
}

static void test_cli_disks(void **state)
{
	struct vm_config cfg;
	struct config_error err;
	char *argv[] = {"azote", "--kernel", "/k", "--disk", "path=/a.img", "--disk",
			"path=/b.img,ro,id=data", "--disk", "socket=/run/blk.sock", NULL};
	(void)state;
	assert_int_equal(parse(&cfg, &err, 9, argv), CLI_OK);
	assert_int_equal(cfg.ndisks, 3);
	assert_string_equal(cfg.disks[0].path, "/a.img");
	assert_string_equal(cfg.disks[0].id, "vda");
	assert_false(cfg.disks[0].read_only);
	assert_string_equal(cfg.disks[1].id, "data");
	assert_true(cfg.disks[1].read_only);
	assert_string_equal(cfg.disks[2].socket, "/run/blk.sock");
	assert_null(cfg.disks[2].path);
	assert_string_equal(argv[6], "path=/b.img,ro,id=data"); /* argv left intact */
}

static void test_cli_disk_errors(void **state)
{
	(void)state;
	char *a1[] = {"azote", "--kernel", "/k", "--disk", "ro", NULL};
	expect_error(a1, 5, "exactly one of");
	char *a2[] = {"azote", "--kernel", "/k", "--disk", "path=/a,socket=/s", NULL};
	expect_error(a2, 5, "exactly one of");
	char *a3[] = {"azote", "--kernel", "/k", "--disk", "path=/a,size=3", NULL};
	expect_error(a3, 5, "unknown or repeated key 'size'");
	char *a4[] = {"azote", "--kernel", "/k", "--disk", "path=/a,id=x y", NULL};
	expect_error(a4, 5, "id 'x y'");
	char *a5[] = {"azote", "--kernel", "/k", "--disk", "path=/a,id=d", "--disk", "path=/b,id=d", NULL};
	expect_error(a5, 7, "used twice");
	char *a6[] = {"azote", "--kernel", "/k", "--disk", "socket=/s,ro", NULL};
	expect_error(a6, 5, "ro applies");
	char *a7[] = {"azote", "--kernel", "/k", "--disk", "path=", NULL};
	expect_error(a7, 5, "not key=value");
}

static void test_cli_nets(void **state)
{
	struct vm_config cfg;
	struct config_error err;
	char *argv[] = {"azote", "--kernel", "/k", "--net", "tap=tap0", "--net",
			"tap=tap1,mac=02:AB:cd:00:00:01,id=wan", "--net", "socket=/run/net.sock", NULL};
	const uint8_t mac[6] = {0x02, 0xab, 0xcd, 0, 0, 1};
	(void)state;
	assert_int_equal(parse(&cfg, &err, 9, argv), CLI_OK);
	assert_int_equal(cfg.nnets, 3);
	assert_string_equal(cfg.nets[0].tap, "tap0");
	assert_string_equal(cfg.nets[0].id, "eth0");
	assert_false(cfg.nets[0].mac_set);
	assert_string_equal(cfg.nets[1].id, "wan");
	assert_true(cfg.nets[1].mac_set);
	assert_memory_equal(cfg.nets[1].mac, mac, 6);
	assert_string_equal(cfg.nets[2].socket, "/run/net.sock");
	assert_string_equal(cfg.nets[2].id, "eth2");
	assert_null(cfg.nets[2].tap);
}

static void test_cli_net_errors(void **state)
{
	(void)state;
	char *a1[] = {"azote", "--kernel", "/k", "--net", "id=x", NULL};
	expect_error(a1, 5, "exactly one of");
	char *a2[] = {"azote", "--kernel", "/k", "--net", "tap=t,socket=/s", NULL};
	expect_error(a2, 5, "exactly one of");
	char *a3[] = {"azote", "--kernel", "/k", "--net", "tap=t,mac=01:00:00:00:00:01", NULL};
	expect_error(a3, 5, "not a unicast address");
	char *a4[] = {"azote", "--kernel", "/k", "--net", "tap=t,mac=00:00:00:00:00:00", NULL};
	expect_error(a4, 5, "not a unicast address");
	char *a5[] = {"azote", "--kernel", "/k", "--net", "tap=t,mac=02:00:00:00:00", NULL};
	expect_error(a5, 5, "not a unicast address");
	char *a6[] = {"azote", "--kernel", "/k", "--net", "tap=t,mac=02:00:00:00:00:0g", NULL};
	expect_error(a6, 5, "not a unicast address");
	char *a7[] = {"azote", "--kernel", "/k", "--net", "tap=a", "--net", "tap=a", NULL};
	expect_error(a7, 7, "tap 'a' used twice");
	char *a8[] = {"azote", "--kernel", "/k", "--net", "tap=a,id=n", "--net", "tap=b,id=n", NULL};
	expect_error(a8, 7, "id 'n' used twice");
	char *a9[] = {"azote", "--kernel", "/k", "--net", "socket=/s,mac=02:00:00:00:00:01", NULL};
	expect_error(a9, 5, "mac applies");
	char *a10[] = {"azote", "--kernel", "/k", "--net", "tap=abcdefghijklmnopq", NULL};
	expect_error(a10, 5, "longer than 15");
	char *a11[] = {"azote", "--kernel", "/k", "--net", "tap=t,vhost=on", NULL};
	expect_error(a11, 5, "unknown or repeated key 'vhost'");
	char *a12[] = {"azote", "--kernel", "/k", "--net", "tap=a,mac=02:00:00:00:00:01", "--net",
		       "tap=b,mac=02:00:00:00:00:01", NULL};
	expect_error(a12, 7, "same mac");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_units),   cmocka_unit_test(test_size_rejects),
		cmocka_unit_test(test_uint_parse),   cmocka_unit_test(test_cli_defaults),
		cmocka_unit_test(test_cli_full),     cmocka_unit_test(test_cli_errors),
		cmocka_unit_test(test_check_host),   cmocka_unit_test(test_cli_disks),
		cmocka_unit_test(test_cli_disk_errors), cmocka_unit_test(test_cli_nets),
		cmocka_unit_test(test_cli_net_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
