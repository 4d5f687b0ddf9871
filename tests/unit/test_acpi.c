/* ACPI tables: layout, checksums and the values Linux reads, parsed back from the bytes.
 * With AZOTE_ACPI_DUMP_DIR set, test_dump also writes every table there (for iasl -d). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/acpi.h"
#include "devices/platform.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#define WINDOW	  0x20000 /* the 128 KiB BIOS area azote uses */
#define GUARD	  64
#define GPA	  0xe0000ull
#define GUARD_VAL 0xa5

static uint8_t mem[GUARD + WINDOW + GUARD];
static uint8_t *const win = mem + GUARD;

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return rd16(p) | (uint32_t)rd16(p + 2) << 16;
}

static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* Guest address -> pointer into the window, failing the test unless [gpa, gpa+len) is inside. */
static uint8_t *at(uint64_t gpa, uint64_t base, size_t len)
{
	assert_true(gpa >= base);
	assert_true(gpa - base + len <= WINDOW);
	return win + (gpa - base);
}

static uint8_t *build_at(uint64_t gpa, unsigned ncpus)
{
	struct acpi_params p = {
	    .ncpus = ncpus, .lapic_addr = ACPI_LAPIC_ADDR, .ioapic_addr = ACPI_IOAPIC_ADDR};
	uint64_t rsdp = 0;

	memset(mem, GUARD_VAL, sizeof(mem));
	assert_int_equal(acpi_build(win, WINDOW, gpa, &p, &rsdp), 0);
	assert_int_equal(rsdp % 16, 0);
	for (size_t i = 0; i < GUARD; i++) {
		assert_int_equal(mem[i], GUARD_VAL);
		assert_int_equal(mem[GUARD + WINDOW + i], GUARD_VAL);
	}
	return at(rsdp, gpa, 36);
}

static uint8_t *table(uint64_t gpa, const char *sig)
{
	uint8_t *t = at(gpa, GPA, 36);

	assert_memory_equal(t, sig, 4);
	t = at(gpa, GPA, rd32(t + 4));
	assert_int_equal(sum(t, rd32(t + 4)), 0);
	assert_memory_equal(t + 10, "AZOTE ", 6);
	assert_memory_equal(t + 16, "AZOTEVM ", 8);
	assert_memory_equal(t + 28, "AZOT", 4);
	return t;
}

/* The XSDT entry with this signature (there must be exactly one). */
static uint8_t *xsdt_find(const uint8_t *rsdp, const char *sig)
{
	uint8_t *xsdt = table(rd64(rsdp + 24), "XSDT"), *found = NULL;
	uint32_t n = (rd32(xsdt + 4) - 36) / 8;

	for (uint32_t i = 0; i < n; i++) {
		uint8_t *t = at(rd64(xsdt + 36 + 8 * i), GPA, 36);
		if (!memcmp(t, sig, 4)) {
			assert_null(found);
			found = table(rd64(xsdt + 36 + 8 * i), sig);
		}
	}
	assert_non_null(found);
	return found;
}

static void test_rsdp(void **state)
{
	uint8_t *r = build_at(GPA, 2);

	assert_memory_equal(r, "RSD PTR ", 8);
	assert_int_equal(sum(r, 20), 0);
	assert_int_equal(sum(r, 36), 0);
	assert_int_equal(r[15], 2);
	assert_int_equal(rd32(r + 16), 0);
	assert_int_equal(rd32(r + 20), 36);
	assert_memory_equal(r + 9, "AZOTE ", 6);
	(void)table(rd64(r + 24), "XSDT");
}

static void test_xsdt(void **state)
{
	uint8_t *r = build_at(GPA, 2);
	uint8_t *xsdt = table(rd64(r + 24), "XSDT");

	assert_int_equal(xsdt[8], 1);
	assert_int_equal(rd32(xsdt + 4), 36 + 2 * 8);
	(void)xsdt_find(r, "FACP");
	(void)xsdt_find(r, "APIC");
}

static void test_fadt(void **state)
{
	uint8_t *r = build_at(GPA, 2);
	uint8_t *f = xsdt_find(r, "FACP");
	uint16_t boot_arch = rd16(f + 109);
	uint32_t flags = rd32(f + 112);
	uint64_t dsdt = rd64(f + 140), facs = rd64(f + 132);

	assert_int_equal(rd32(f + 4), 276);
	assert_int_equal(f[8], 6);
	assert_int_equal(rd16(f + 46), IRQ_ACPI_SCI);
	assert_int_equal(rd32(f + 48), 0); /* SMI_CMD: already in ACPI mode */
	assert_int_equal(rd32(f + 56), PORT_ACPI_PM1A_EVT);
	assert_int_equal(rd32(f + 64), PORT_ACPI_PM1A_CNT);
	assert_int_equal(rd32(f + 60) | rd32(f + 68) | rd32(f + 72), 0); /* no PM1b, PM2 */
	assert_int_equal(rd32(f + 76), 0);				 /* no PM timer */
	assert_int_equal(f[88], 4);
	assert_int_equal(f[89], 2);
	assert_int_equal(f[91], 0);
	assert_int_equal(boot_arch & (1u << 1), 0);	/* no 8042 */
	assert_int_equal(boot_arch & (1u << 3), 0);	/* MSI supported */
	assert_int_not_equal(boot_arch & (1u << 2), 0); /* no VGA */
	assert_int_not_equal(boot_arch & (1u << 5), 0); /* no CMOS RTC */
	assert_int_not_equal(flags & (1u << 10), 0);	/* RESET_REG_SUP */
	assert_int_equal(flags & (1u << 20), 0);	/* not hardware-reduced */
	assert_int_equal(flags & (1u << 4), 0);		/* fixed power button */
	assert_int_equal(flags & (1u << 8), 0);		/* TMR_VAL_EXT: no timer */
	/* Reset register: system I/O, 8 bits at PORT_ACPI_RESET. */
	assert_int_equal(f[116], 1);
	assert_int_equal(f[117], 8);
	assert_int_equal(f[118], 0);
	assert_int_equal(rd64(f + 120), PORT_ACPI_RESET);
	assert_int_equal(f[128], ACPI_RESET_VALUE);
	/* X_PM1a blocks repeat the 32-bit ones with matching widths. */
	assert_int_equal(f[148], 1);
	assert_int_equal(f[149], 32);
	assert_int_equal(rd64(f + 152), PORT_ACPI_PM1A_EVT);
	assert_int_equal(f[172], 1);
	assert_int_equal(f[173], 16);
	assert_int_equal(rd64(f + 176), PORT_ACPI_PM1A_CNT);
	assert_int_equal(rd64(f + 208), 0); /* X_PM_TMR_BLK */
	/* DSDT in both fields, FACS only in the 64-bit one. */
	assert_int_equal(rd32(f + 40), dsdt);
	(void)table(dsdt, "DSDT");
	assert_int_equal(rd32(f + 36), 0);
	assert_int_equal(facs % 64, 0);
	assert_memory_equal(at(facs, GPA, 64), "FACS", 4);
	assert_int_equal(rd32(at(facs, GPA, 64) + 4), 64);
	assert_memory_equal(f + 268, "AZOTE\0\0\0", 8);
}

static void check_madt(unsigned ncpus)
{
	uint8_t *r = build_at(GPA, ncpus);
	uint8_t *m = xsdt_find(r, "APIC"), *e, *end;
	unsigned lapics = 0, ioapics = 0, nmis = 0;
	bool iso0 = false, iso9 = false;

	assert_int_equal(rd32(m + 36), ACPI_LAPIC_ADDR);
	assert_int_equal(rd32(m + 40) & 1, 1); /* PCAT_COMPAT */
	end = m + rd32(m + 4);
	for (e = m + 44; e < end; e += e[1]) {
		assert_true(e[1] >= 2 && e + e[1] <= end);
		switch (e[0]) {
		case 0:
			assert_int_equal(e[1], 8);
			assert_int_equal(e[3], lapics); /* APIC IDs 0..n-1 in order */
			assert_int_equal(rd32(e + 4) & 1, 1);
			lapics++;
			break;
		case 1:
			assert_int_equal(e[1], 12);
			assert_int_equal(e[2], ACPI_IOAPIC_ID);
			assert_int_equal(rd32(e + 4), ACPI_IOAPIC_ADDR);
			assert_int_equal(rd32(e + 8), 0);
			ioapics++;
			break;
		case 2:
			assert_int_equal(e[1], 10);
			assert_int_equal(e[2], 0);
			if (e[3] == 0) {
				assert_int_equal(rd32(e + 4), 2);
				assert_int_equal(rd16(e + 8), 0);
				iso0 = true;
			} else {
				assert_int_equal(e[3], IRQ_ACPI_SCI);
				assert_int_equal(rd32(e + 4), IRQ_ACPI_SCI);
				assert_int_equal(rd16(e + 8), 0x000d); /* level, active high */
				iso9 = true;
			}
			break;
		case 4:
			assert_int_equal(e[1], 6);
			assert_int_equal(e[2], 0xff);
			assert_int_equal(e[5], 1); /* LINT1 */
			nmis++;
			break;
		default:
			fail_msg("unexpected MADT entry type %u", e[0]);
		}
	}
	assert_ptr_equal(e, end);
	assert_int_equal(lapics, ncpus);
	assert_int_equal(ioapics, 1);
	assert_int_equal(nmis, 1);
	assert_true(iso0 && iso9);
}

static void test_madt(void **state)
{
	check_madt(1);
	check_madt(4);
	check_madt(ACPI_MAX_CPUS);
}

static uint8_t *dsdt(void)
{
	uint8_t *f = xsdt_find(build_at(GPA, 2), "FACP");
	uint8_t *d = table(rd64(f + 140), "DSDT");

	assert_int_equal(d[8], 2); /* 64-bit integers */
	return d;
}

static bool contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t m)
{
	for (size_t i = 0; i + m <= n; i++)
		if (!memcmp(hay + i, needle, m))
			return true;
	return false;
}

#define ASSERT_CONTAINS(t, ...)                                                                    \
	do {                                                                                       \
		const uint8_t n_[] = {__VA_ARGS__};                                                \
		assert_true(contains((t), rd32((t) + 4), n_, sizeof(n_)));                         \
	} while (0)

static void test_dsdt(void **state)
{
	uint8_t *d = dsdt();

	/* Name (_S5, Package (4) {5, 5, 0, 0}) */
	ASSERT_CONTAINS(d, 0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, ACPI_SLP_TYP_S5, 0x0a,
			ACPI_SLP_TYP_S5, 0x00, 0x00);
	/* Scope (\_SB) and the two devices */
	ASSERT_CONTAINS(d, 0x5c, '_', 'S', 'B', '_');
	ASSERT_CONTAINS(d, 0x5b, 0x82);
	ASSERT_CONTAINS(d, 'C', 'O', 'M', '1', 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05,
			0x01);
	ASSERT_CONTAINS(d, 0x08, '_', 'U', 'I', 'D', 0x01);
	ASSERT_CONTAINS(d, 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08, 0x22, 1 << IRQ_COM1,
			0x00, 0x79, 0x00);
	/* PS2K: _HID PNP0303, IO 0x60 and 0x64 (one port each), IRQNoFlags {1}. */
	ASSERT_CONTAINS(d, 'P', 'S', '2', 'K', 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x03,
			0x03);
	ASSERT_CONTAINS(d, 0x47, 0x01, PORT_I8042_DATA, 0x00, PORT_I8042_DATA, 0x00, 0x01, 0x01,
			0x47, 0x01, PORT_I8042_CMD, 0x00, PORT_I8042_CMD, 0x00, 0x01, 0x01, 0x22,
			1 << IRQ_I8042_KBD, 0x00, 0x79, 0x00);
	ASSERT_CONTAINS(d, 0x08, '_', 'H', 'I', 'D', 0x0d, 'Q', 'E', 'M', 'U', '0', '0', '0', '1',
			0x00);
	ASSERT_CONTAINS(d, 0x47, 0x01, PORT_PVPANIC & 0xff, PORT_PVPANIC >> 8, PORT_PVPANIC & 0xff,
			PORT_PVPANIC >> 8, 0x01, 0x01, 0x79, 0x00);
	ASSERT_CONTAINS(d, '_', 'S', 'T', 'A', 0x00, 0xa4, 0x0a, 0x0f);
}

/* Every size short of the need fails with -ENOSPC and leaves the guard bytes alone. */
static void test_enospc(void **state)
{
	struct acpi_params p = {
	    .ncpus = 8, .lapic_addr = ACPI_LAPIC_ADDR, .ioapic_addr = ACPI_IOAPIC_ADDR};
	uint64_t rsdp = 0;
	size_t size;
	int ret = -ENOSPC;

	for (size = 0; size <= 4096 && ret; size++) {
		memset(mem, GUARD_VAL, sizeof(mem));
		ret = acpi_build(win, size, GPA, &p, &rsdp);
		if (ret)
			assert_int_equal(ret, -ENOSPC);
		for (size_t i = size; i < WINDOW + GUARD; i++)
			assert_int_equal(win[i], GUARD_VAL);
		for (size_t i = 0; i < GUARD; i++)
			assert_int_equal(mem[i], GUARD_VAL);
	}
	assert_int_equal(ret, 0);
	assert_true(size > 500); /* a sane amount of tables was needed */
}

static void test_bad_params(void **state)
{
	struct acpi_params p = {
	    .ncpus = 0, .lapic_addr = ACPI_LAPIC_ADDR, .ioapic_addr = ACPI_IOAPIC_ADDR};
	uint64_t rsdp;

	assert_int_equal(acpi_build(win, WINDOW, GPA, &p, &rsdp), -EINVAL);
	p.ncpus = ACPI_MAX_CPUS + 1;
	assert_int_equal(acpi_build(win, WINDOW, GPA, &p, &rsdp), -EINVAL);
	p.ncpus = 1;
	p.lapic_addr = 1ull << 32;
	assert_int_equal(acpi_build(win, WINDOW, GPA, &p, &rsdp), -EINVAL);
	p.lapic_addr = ACPI_LAPIC_ADDR;
	assert_int_equal(acpi_build(win, WINDOW, UINT64_MAX - 16, &p, &rsdp), -EINVAL);
	assert_int_equal(acpi_build(win, WINDOW, GPA, NULL, &rsdp), -EINVAL);
}

/* A window at an odd guest address still gets an aligned RSDP and FACS. */
static void test_unaligned_window(void **state)
{
	const uint64_t gpa = GPA + 8;
	uint8_t *r = build_at(gpa, 1);
	uint8_t *xsdt = at(rd64(r + 24), gpa, 36);
	uint8_t *f = at(rd64(xsdt + 36), gpa, 276);

	assert_memory_equal(f, "FACP", 4);
	assert_int_equal(rd64(f + 132) % 64, 0);
	assert_int_equal(sum(f, 276), 0);
}

static void dump(const char *dir, const char *name, const uint8_t *t, size_t len)
{
	char path[4096];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s.dat", dir, name);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(t, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void test_dump(void **state)
{
	const char *dir = getenv("AZOTE_ACPI_DUMP_DIR");
	uint8_t *r, *f, *d, *facs;

	if (!dir)
		skip();
	r = build_at(GPA, 4);
	f = xsdt_find(r, "FACP");
	d = table(rd64(f + 140), "DSDT");
	facs = at(rd64(f + 132), GPA, 64);
	dump(dir, "rsdp", r, 36);
	dump(dir, "xsdt", table(rd64(r + 24), "XSDT"), 52);
	dump(dir, "facp", f, 276);
	dump(dir, "facs", facs, 64);
	dump(dir, "apic", xsdt_find(r, "APIC"), rd32(xsdt_find(r, "APIC") + 4));
	dump(dir, "dsdt", d, rd32(d + 4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rsdp),       cmocka_unit_test(test_xsdt),
	    cmocka_unit_test(test_fadt),       cmocka_unit_test(test_madt),
	    cmocka_unit_test(test_dsdt),       cmocka_unit_test(test_enospc),
	    cmocka_unit_test(test_bad_params), cmocka_unit_test(test_unaligned_window),
	    cmocka_unit_test(test_dump),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
