/* The API's resource model: Firecracker's JSON sections into a struct vm_config. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "api/vm_resources.h"

static char img[64];

static json_t *J(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	json_error_t e;
	json_t *j;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	j = json_loads(buf, 0, &e);
	assert_non_null(j);
	return j;
}

static int apply_drive(struct vm_resources *r, const char *id, bool root, char *err)
{
	json_t *b = J("{\"drive_id\": \"%s\", \"path_on_host\": \"%s\", \"is_root_device\": %s}", id,
		      img, root ? "true" : "false");
	int rc = vm_resources_drive(r, id, b, false, err, 256);

	json_decref(b);
	return rc;
}

static int setup(void **state)
{
	int fd;

	snprintf(img, sizeof(img), "/tmp/azote-vmres-XXXXXX");
	fd = mkstemp(img);
	assert_true(fd >= 0);
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	unlink(img);
	return 0;
}

static void test_root_drive_goes_first(void **state)
{
	struct vm_resources r;
	char err[256];

	vm_resources_init(&r);
	assert_int_equal(apply_drive(&r, "data1", false, err), 0);
	assert_int_equal(apply_drive(&r, "data2", false, err), 0);
	assert_int_equal(apply_drive(&r, "rootfs", true, err), 0);
	assert_int_equal(r.cfg.ndisks, 3);
	assert_string_equal(r.cfg.disks[0].id, "rootfs");
	assert_string_equal(r.cfg.disks[1].id, "data1");
	assert_string_equal(r.cfg.disks[2].id, "data2");
	/* Moved entries still point into their own storage. */
	for (unsigned i = 0; i < 3; i++)
		assert_ptr_equal(r.cfg.disks[i].path, r.cfg.disks[i].spec);
	assert_string_equal(r.cfg.disks[2].path, img);
	assert_int_equal(apply_drive(&r, "other", true, err), -1);
	assert_non_null(strstr(err, "root block device already exists"));
	/* Replacing the root drive itself is fine. */
	assert_int_equal(apply_drive(&r, "rootfs", true, err), 0);
	assert_int_equal(r.cfg.ndisks, 3);
	vm_resources_fini(&r);
}

static void test_seal_cmdline(void **state)
{
	struct vm_resources r;
	char err[256];
	json_t *boot = J("{\"kernel_image_path\": \"%s\", \"boot_args\": \"console=ttyS0 pci=off "
			 "reboot=k xpci=off\"}",
			 img);

	vm_resources_init(&r);
	assert_int_equal(vm_resources_seal(&r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "boot source"));
	assert_int_equal(vm_resources_boot_source(&r, boot, err, sizeof(err)), 0);
	assert_int_equal(vm_resources_seal(&r, err, sizeof(err)), 0);
	assert_string_equal(r.cfg.cmdline, "console=ttyS0 pci=off reboot=k xpci=off");
	assert_int_equal(apply_drive(&r, "rootfs", true, err), 0);
	assert_int_equal(vm_resources_seal(&r, err, sizeof(err)), 0);
	assert_string_equal(r.cfg.cmdline, "console=ttyS0 reboot=k xpci=off root=/dev/vda rw");
	json_decref(boot);
	vm_resources_fini(&r);
}

static void test_machine_patch_and_put(void **state)
{
	struct vm_resources r;
	char err[256];
	json_t *put = J("{\"vcpu_count\": 4, \"mem_size_mib\": 512}");
	json_t *patch = J("{\"mem_size_mib\": 64}");
	json_t *bad = J("{\"vcpu_count\": 4}");
	json_t *tiny = J("{\"mem_size_mib\": 1}");

	vm_resources_init(&r);
	assert_int_equal(vm_resources_machine(&r, put, false, err, sizeof(err)), 0);
	assert_int_equal(vm_resources_machine(&r, patch, true, err, sizeof(err)), 0);
	assert_int_equal(r.cfg.cpus, 4);
	assert_int_equal(r.cfg.mem_bytes, 64ull << 20);
	assert_int_equal(vm_resources_machine(&r, bad, false, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "missing field `mem_size_mib`"));
	assert_int_equal(vm_resources_machine(&r, tiny, true, err, sizeof(err)), -1);
	assert_int_equal(r.cfg.mem_bytes, 64ull << 20); /* unchanged on failure */
	json_decref(put);
	json_decref(patch);
	json_decref(bad);
	json_decref(tiny);
	vm_resources_fini(&r);
}

static void test_load_and_dump(void **state)
{
	struct vm_resources r, r2;
	char err[256];
	json_t *cfg = J("{\"boot-source\": {\"kernel_image_path\": \"%s\"}, "
			"\"drives\": [{\"drive_id\": \"d\", \"path_on_host\": \"%s\", "
			"\"is_root_device\": false, \"is_read_only\": true}], "
			"\"network-interfaces\": [{\"iface_id\": \"n\", \"host_dev_name\": \"tap9\", "
			"\"guest_mac\": \"06:00:00:00:00:01\"}], \"vsock\": null}",
			img, img);
	json_t *dump;

	vm_resources_init(&r);
	assert_int_equal(vm_resources_load(&r, cfg, err, sizeof(err)), 0);
	assert_true(r.cfg.disks[0].read_only);
	assert_string_equal(r.cfg.nets[0].tap, "tap9");
	/* GET /vm/config is itself a valid config file. */
	dump = vm_resources_json(&r);
	vm_resources_init(&r2);
	assert_int_equal(vm_resources_load(&r2, dump, err, sizeof(err)), 0);
	assert_int_equal(r2.cfg.ndisks, 1);
	assert_int_equal(r2.cfg.nnets, 1);
	assert_memory_equal(r2.cfg.nets[0].mac, r.cfg.nets[0].mac, 6);
	json_decref(dump);
	json_decref(cfg);
	vm_resources_fini(&r);
	vm_resources_fini(&r2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root_drive_goes_first),
		cmocka_unit_test(test_seal_cmdline),
		cmocka_unit_test(test_machine_patch_and_put),
		cmocka_unit_test(test_load_and_dump),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
