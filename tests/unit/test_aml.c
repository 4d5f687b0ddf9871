/* AML encoder: exact byte encodings from the ACPI 6.5 grammar (section 20.2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/aml.h"

#include <errno.h>

#define EXPECT_BYTES(a, ...)                                                                       \
	do {                                                                                       \
		const uint8_t want_[] = {__VA_ARGS__};                                             \
		assert_int_equal(aml_error(a), 0);                                                 \
		assert_int_equal((a)->len, sizeof(want_));                                         \
		assert_memory_equal((a)->buf, want_, sizeof(want_));                               \
	} while (0)

static uint8_t buf[16384];

static struct aml fresh(void)
{
	struct aml a;

	memset(buf, 0xcc, sizeof(buf));
	aml_init(&a, buf, sizeof(buf));
	return a;
}

static void test_integers(void **state)
{
	struct aml a = fresh();

	aml_integer(&a, 0);
	aml_integer(&a, 1);
	aml_integer(&a, 2);
	aml_integer(&a, 0xff);
	aml_integer(&a, 0x100);
	aml_integer(&a, 0x10000);
	aml_integer(&a, 0x100000000ull);
	EXPECT_BYTES(&a, 0x00, 0x01, 0x0a, 0x02, 0x0a, 0xff, 0x0b, 0x00, 0x01, 0x0c, 0x00, 0x00,
		     0x01, 0x00, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00);
}

static void test_namestrings(void **state)
{
	struct aml a = fresh();

	aml_namestring(&a, "_S5");
	aml_namestring(&a, "\\_SB.PCI0");
	aml_namestring(&a, "^^AB");
	aml_namestring(&a, "A.B.C");
	aml_namestring(&a, "\\");
	EXPECT_BYTES(&a, '_', 'S', '5', '_',						     /* */
		     0x5c, 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0',		     /* */
		     0x5e, 0x5e, 'A', 'B', '_', '_',					     /* */
		     0x2f, 0x03, 'A', '_', '_', '_', 'B', '_', '_', '_', 'C', '_', '_', '_', /* */
		     0x5c, 0x00);
}

static void test_bad_names(void **state)
{
	const char *bad[] = {"", "abc", "TOOLONG", "1ABC", "A..B", "A.", "\\^A", "A-B"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct aml a = fresh();
		aml_namestring(&a, bad[i]);
		assert_int_equal(aml_error(&a), -EINVAL);
	}
}

static void test_strings_and_eisaid(void **state)
{
	struct aml a = fresh();

	aml_string(&a, "QEMU0001");
	aml_eisaid(&a, "PNP0501");
	aml_eisaid(&a, "PNP0A03");
	EXPECT_BYTES(&a, 0x0d, 'Q', 'E', 'M', 'U', '0', '0', '0', '1', 0x00, /* */
		     0x0c, 0x41, 0xd0, 0x05, 0x01,			     /* 0x0105d041 */
		     0x0c, 0x41, 0xd0, 0x0a, 0x03);			     /* 0x030ad041 */

	a = fresh();
	aml_eisaid(&a, "pnp0501");
	assert_int_equal(aml_error(&a), -EINVAL);
	a = fresh();
	aml_string(&a, "bad\n");
	assert_int_equal(aml_error(&a), -EINVAL);
}

static void test_package_and_name(void **state)
{
	struct aml a = fresh();
	size_t pkg;

	aml_name(&a, "_S5");
	pkg = aml_package_begin(&a, 4);
	aml_integer(&a, 5);
	aml_integer(&a, 5);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_end(&a, pkg);
	EXPECT_BYTES(&a, 0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00,
		     0x00);
}

static void test_device_method_scope(void **state)
{
	struct aml a = fresh();
	size_t scope = aml_scope_begin(&a, "\\_SB");
	size_t dev = aml_device_begin(&a, "DEV0");
	size_t m = aml_method_begin(&a, "_STA", 0, false);

	aml_return(&a);
	aml_integer(&a, 0x0f);
	aml_end(&a, m);
	aml_end(&a, dev);
	aml_end(&a, scope);
	EXPECT_BYTES(&a, 0x10, 0x17, 0x5c, '_', 'S', 'B', '_', /* Scope, PkgLength 23 */
		     0x5b, 0x82, 0x0f, 'D', 'E', 'V', '0',     /* Device, PkgLength 15 */
		     0x14, 0x09, '_', 'S', 'T', 'A', 0x00,     /* Method, PkgLength 9 */
		     0xa4, 0x0a, 0x0f);			       /* Return (0x0F) */
}

static void test_method_flags(void **state)
{
	struct aml a = fresh();
	size_t m = aml_method_begin(&a, "_OSC", 4, true);

	aml_end(&a, m);
	EXPECT_BYTES(&a, 0x14, 0x06, '_', 'O', 'S', 'C', 0x0c);
	a = fresh();
	aml_method_begin(&a, "BAD_", 8, false);
	assert_int_equal(aml_error(&a), -EINVAL);
}

/* PkgLength switches from 1 to 2 bytes at 64 and from 2 to 3 bytes at 4096 (own bytes
 * included). */
static void check_pkglength(size_t content, const uint8_t *want, size_t want_len)
{
	struct aml a = fresh();
	size_t mark = a.len;

	for (size_t i = 0; i < content; i++)
		aml_byte(&a, 0x55);
	aml_end(&a, mark);
	assert_int_equal(aml_error(&a), 0);
	assert_int_equal(a.len, content + want_len);
	assert_memory_equal(a.buf, want, want_len);
	if (content) {
		assert_int_equal(a.buf[want_len], 0x55);
		assert_int_equal(a.buf[a.len - 1], 0x55);
	}
}

static void test_pkglength(void **state)
{
	check_pkglength(0, (const uint8_t[]){0x01}, 1);
	check_pkglength(62, (const uint8_t[]){0x3f}, 1);
	check_pkglength(63, (const uint8_t[]){0x41, 0x04}, 2);	       /* 65 */
	check_pkglength(4093, (const uint8_t[]){0x4f, 0xff}, 2);       /* 4095 */
	check_pkglength(4094, (const uint8_t[]){0x81, 0x00, 0x01}, 3); /* 4097 */
}

static void test_resource_template(void **state)
{
	struct aml a = fresh();
	size_t b = aml_buffer_begin(&a);

	aml_res_io(&a, 0x3f8, 8);
	aml_res_irq(&a, 4);
	aml_res_end(&a);
	aml_buffer_end(&a, b);
	EXPECT_BYTES(&a, 0x11, 0x10, 0x0a, 0x0d,		     /* Buffer(13) */
		     0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08, /* IO */
		     0x22, 0x10, 0x00,				     /* IRQNoFlags {4} */
		     0x79, 0x00);

	a = fresh();
	aml_res_memory32_fixed(&a, 0xfed00000, 0x400, true);
	EXPECT_BYTES(&a, 0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0xd0, 0xfe, 0x00, 0x04, 0x00, 0x00);
	aml_res_irq(&a, 16);
	assert_int_equal(aml_error(&a), -EINVAL);
}

/* Running out of room at every possible point: no byte past size changes, error sticks. */
static void test_overflow(void **state)
{
	for (size_t size = 0; size < 40; size++) {
		struct aml a;
		size_t sb, dev, crs;

		memset(buf, 0xcc, sizeof(buf));
		aml_init(&a, buf, size);
		sb = aml_scope_begin(&a, "\\_SB");
		dev = aml_device_begin(&a, "COM1");
		aml_name_eisaid(&a, "_HID", "PNP0501");
		aml_name(&a, "_CRS");
		crs = aml_buffer_begin(&a);
		aml_res_io(&a, 0x3f8, 8);
		aml_res_end(&a);
		aml_buffer_end(&a, crs);
		aml_end(&a, dev);
		aml_end(&a, sb);
		assert_int_equal(aml_error(&a), -ENOSPC);
		assert_true(a.len <= size);
		for (size_t i = size; i < sizeof(buf); i++)
			assert_int_equal(buf[i], 0xcc);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_integers),	      cmocka_unit_test(test_namestrings),
	    cmocka_unit_test(test_bad_names),	      cmocka_unit_test(test_strings_and_eisaid),
	    cmocka_unit_test(test_package_and_name),  cmocka_unit_test(test_device_method_scope),
	    cmocka_unit_test(test_method_flags),      cmocka_unit_test(test_pkglength),
	    cmocka_unit_test(test_resource_template), cmocka_unit_test(test_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
