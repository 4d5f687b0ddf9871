/* bzImage header validation, e820 layout, CPUID shaping, guest memory accessors, I/O bus. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/cpuid.h"
#include "arch/x86/e820.h"
#include "arch/x86/layout.h"
#include "boot/bzimage.h"
#include "kvm/guest_mem.h"
#include "kvm/iobus.h"

#define IMG_LEN (64 * 1024)

static void put(uint8_t *img, size_t off, uint64_t v, unsigned size)
{
	for (unsigned i = 0; i < size; i++)
		img[off + i] = (uint8_t)(v >> (8 * i));
}

/* A synthetic image with a valid 2.15 header: 4 setup sectors + 60 KiB of "kernel". */
static uint8_t *fake_bzimage(void)
{
	uint8_t *img = calloc(1, IMG_LEN);
	put(img, 0x1f1, 4, 1);                       /* setup_sects */
	put(img, 0x1f4, (IMG_LEN - 5 * 512) / 16, 4); /* syssize */
	put(img, 0x1fe, 0xaa55, 2);
	put(img, 0x200, 0x66eb, 2); /* jmp; header length byte 0x66 */
	memcpy(img + 0x202, "HdrS", 4);
	put(img, 0x206, 0x020f, 2);
	put(img, 0x211, 0x01, 1); /* LOADED_HIGH */
	put(img, 0x22c, 0x7fffffff, 4);
	put(img, 0x230, 0x200000, 4);
	put(img, 0x234, 1, 1);
	put(img, 0x236, 0x1, 2); /* XLF_KERNEL_64 */
	put(img, 0x238, 2047, 4);
	put(img, 0x258, 0x1000000, 8);
	put(img, 0x260, 0x800000, 4);
	return img;
}

static void test_bzimage_ok(void **state)
{
	struct bzimage_info info;
	struct bzimage_error err;
	uint8_t *img = fake_bzimage();
	(void)state;
	assert_int_equal(bzimage_parse(img, IMG_LEN, IMG_LEN, 128 << 20, &info, &err), 0);
	assert_int_equal(info.setup_size, 5 * 512);
	assert_int_equal(info.kernel_size, IMG_LEN - 5 * 512);
	assert_int_equal(info.load_addr, 0x1000000);
	assert_int_equal(info.cmdline_max, 2047);
	assert_int_equal(info.version, 0x020f);
	assert_int_equal(info.header_end, 0x202 + 0x66);
	free(img);
}

static void expect_refused(uint8_t *img, size_t len, const char *words)
{
	struct bzimage_info info;
	struct bzimage_error err;
	assert_int_equal(bzimage_parse(img, len, len, 128 << 20, &info, &err), -ENOEXEC);
	if (!strstr(err.msg, words))
		fail_msg("'%s' does not mention '%s'", err.msg, words);
}

static void test_bzimage_refusals(void **state)
{
	uint8_t *img = fake_bzimage();
	(void)state;
	expect_refused(img, 100, "too short");
	expect_refused(img, 4096, "truncated");
	img[0x202] = 'X';
	expect_refused(img, IMG_LEN, "not a bzImage");
	img[0x202] = 'H';
	put(img, 0x206, 0x0204, 2);
	expect_refused(img, IMG_LEN, "too old");
	put(img, 0x206, 0x020f, 2);
	put(img, 0x236, 0, 2);
	expect_refused(img, IMG_LEN, "64-bit");
	put(img, 0x236, 1, 2);
	put(img, 0x201, 0xff, 1); /* header claims to run past the 5 setup sectors? no: 0x301 */
	put(img, 0x1f1, 0, 1);   /* 0 means 4 */
	memcpy(img, "\177ELF", 4);
	expect_refused(img, IMG_LEN, "ELF");
	free(img);
}

static void test_bzimage_needs_ram(void **state)
{
	struct bzimage_info info;
	struct bzimage_error err;
	uint8_t *img = fake_bzimage();
	(void)state;
	assert_int_equal(bzimage_parse(img, IMG_LEN, IMG_LEN, 20 << 20, &info, &err), -ENOEXEC);
	assert_non_null(strstr(err.msg, "--mem"));
	free(img);
}

static void test_bzimage_random_bytes(void **state)
{
	struct bzimage_info info;
	struct bzimage_error err;
	uint8_t *img = malloc(IMG_LEN);
	(void)state;
	srand(1);
	for (int round = 0; round < 200; round++) {
		for (size_t i = 0; i < IMG_LEN; i++)
			img[i] = (uint8_t)rand();
		assert_int_equal(bzimage_parse(img, IMG_LEN, IMG_LEN, 1ull << 30, &info, &err), -ENOEXEC);
	}
	free(img);
}

static void test_e820_small_and_large(void **state)
{
	struct boot_e820_entry e[8];
	(void)state;
	int n = e820_build(e, 8, 128ull << 20);
	assert_int_equal(n, 5);
	assert_int_equal(e[0].addr, 0);
	assert_int_equal(e[0].type, E820_RAM);
	assert_int_equal(e[3].addr, 0x100000);
	assert_int_equal(e[3].addr + e[3].size, 128ull << 20);
	/* The PCI ECAM is reserved; the BAR window above low RAM is left out. */
	assert_int_equal(e[4].addr, LAYOUT_PCI_ECAM);
	assert_int_equal(e[4].size, LAYOUT_PCI_ECAM_SIZE);
	assert_int_equal(e[4].type, E820_RESERVED);
	n = e820_build(e, 8, 4ull << 30);
	assert_int_equal(n, 6);
	assert_int_equal(e[3].addr + e[3].size, LAYOUT_LOWMEM_TOP);
	assert_int_equal(e[5].addr, 1ull << 32);
	assert_int_equal(e[5].size, (4ull << 30) - LAYOUT_LOWMEM_TOP);
	for (int i = 0; i < n; i++)
		assert_false(e[i].type == E820_RAM && e[i].addr < LAYOUT_PCI_MMIO + LAYOUT_PCI_MMIO_SIZE &&
			     e[i].addr + e[i].size > LAYOUT_PCI_MMIO);
	for (int i = 1; i < n; i++)
		assert_true(e[i - 1].addr + e[i - 1].size <= e[i].addr);
	assert_int_equal(e820_build(e, 2, 128ull << 20), -ENOSPC);
}

static struct kvm_cpuid_entry2 *find(struct kvm_cpuid_entry2 *e, unsigned n, uint32_t fn,
				     uint32_t idx)
{
	for (unsigned i = 0; i < n; i++)
		if (e[i].function == fn && e[i].index == idx)
			return &e[i];
	return NULL;
}

static void test_cpuid_shape(void **state)
{
	struct kvm_cpuid_entry2 e[] = {
		{.function = 1, .ebx = 0xff00abcd, .ecx = 0, .edx = 0},
		{.function = 0xa, .eax = 0x07300805, .ebx = 1},
		{.function = 0xb, .index = 0},
		{.function = 0xb, .index = 1},
		{.function = 0xb, .index = 2},
		{.function = 0x80000008, .ecx = 0x0000f0ff},
		{.function = 0x8000001e, .eax = 99},
	};
	unsigned n = sizeof(e) / sizeof(e[0]);
	(void)state;
	struct cpuid_host host = {.tsc_deadline = true};
	cpuid_shape(e, n, 3, 4, &host);
	assert_true(find(e, n, 1, 0)->ecx & (1u << 24));
	assert_int_equal(find(e, n, 1, 0)->ebx, (3u << 24) | (4u << 16) | 0xabcd);
	assert_true(find(e, n, 1, 0)->ecx & (1u << 31));
	assert_int_equal(find(e, n, 0xa, 0)->eax, 0);
	assert_int_equal(find(e, n, 0xb, 0)->edx, 3);
	assert_int_equal(find(e, n, 0xb, 0)->ebx, 1);
	assert_int_equal(find(e, n, 0xb, 1)->eax, 2); /* 4 CPUs: 2 bits of APIC ID */
	assert_int_equal(find(e, n, 0xb, 1)->ebx, 4);
	assert_int_equal(find(e, n, 0xb, 1)->ecx, 0x201);
	assert_int_equal(find(e, n, 0xb, 2)->ecx & 0xff00, 0);
	assert_int_equal(find(e, n, 0x80000008, 0)->ecx, (2u << 12) | 3);
	assert_int_equal(find(e, n, 0x8000001e, 0)->eax, 3);
}

static void test_guest_mem_bounds(void **state)
{
	struct guest_mem mem;
	uint8_t b[16] = {0};
	(void)state;
	assert_int_equal(guest_mem_init(&mem, 64ull << 20, 32ull << 20), 0);
	assert_int_equal(mem.nregions, 2);
	assert_non_null(guest_mem_ptr(&mem, 0, 16));
	assert_non_null(guest_mem_ptr(&mem, (32 << 20) - 16, 16));
	assert_null(guest_mem_ptr(&mem, (32 << 20) - 15, 16)); /* straddles the end of region 0 */
	assert_null(guest_mem_ptr(&mem, 32 << 20, 1));        /* the hole */
	assert_non_null(guest_mem_ptr(&mem, 1ull << 32, 32 << 20));
	assert_null(guest_mem_ptr(&mem, 1ull << 32, (32 << 20) + 1));
	assert_null(guest_mem_ptr(&mem, UINT64_MAX, 2));
	assert_null(guest_mem_ptr(&mem, 16, UINT64_MAX));
	assert_int_equal(guest_mem_write(&mem, UINT64_MAX - 4, b, 16), -EFAULT);
	assert_int_equal(guest_mem_write(&mem, 100, b, 16), 0);
	assert_int_equal(guest_mem_read(&mem, 100, b, 16), 0);
	guest_mem_fini(&mem);
	guest_mem_fini(&mem); /* idempotent */
}

static unsigned hits;
static uint64_t last_off;
static void handler(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque; (void)is_write;
	hits++;
	last_off = off;
	memset(data, 0x5a, len);
}

static void test_iobus(void **state)
{
	struct iobus bus = {0};
	uint8_t d[8];
	(void)state;
	assert_int_equal(iobus_register(&bus, 0x3f8, 8, handler, NULL), 0);
	assert_int_equal(iobus_register(&bus, 0x60, 1, handler, NULL), 0);
	assert_int_equal(iobus_register(&bus, 0x3fc, 8, handler, NULL), -EEXIST);
	assert_int_equal(iobus_register(&bus, 0x3f0, 9, handler, NULL), -EEXIST);
	assert_int_equal(iobus_register(&bus, 0, 0, handler, NULL), -EINVAL);
	assert_int_equal(iobus_register(&bus, UINT64_MAX, 2, handler, NULL), -EINVAL);
	assert_true(iobus_dispatch(&bus, 0x3fd, d, 1, false));
	assert_int_equal(last_off, 5);
	assert_true(iobus_dispatch(&bus, 0x60, d, 1, false));
	assert_false(iobus_dispatch(&bus, 0x3f7, d, 4, false));
	assert_int_equal(d[0], 0xff);
	assert_int_equal(d[3], 0xff);
	assert_false(iobus_dispatch(&bus, 0x400, d, 1, true));
	assert_int_equal(hits, 2);
	assert_int_equal(bus.unhandled, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bzimage_ok),        cmocka_unit_test(test_bzimage_refusals),
		cmocka_unit_test(test_bzimage_needs_ram), cmocka_unit_test(test_bzimage_random_bytes),
		cmocka_unit_test(test_e820_small_and_large), cmocka_unit_test(test_cpuid_shape),
		cmocka_unit_test(test_guest_mem_bounds),  cmocka_unit_test(test_iobus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
