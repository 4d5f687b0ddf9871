/* ACPI for PCI: the MCFG table, the \_SB.PCI0 host bridge and the ECAM's motherboard
 * reservation in the DSDT, parsed back from the bytes; and their absence without PCI. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/acpi.h"
#include "arch/x86/aml.h"
#include "arch/x86/layout.h"

#include <errno.h>
#include <stdbool.h>

#define WINDOW 0x20000
#define GPA    0xe0000ull

static uint8_t win[WINDOW];

static uint32_t rd32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static uint8_t *at(uint64_t gpa)
{
	assert_true(gpa >= GPA && gpa - GPA < WINDOW);
	return win + (gpa - GPA);
}

static struct acpi_params params(bool pci)
{
	struct acpi_params p = {
	    .ncpus = 2, .lapic_addr = ACPI_LAPIC_ADDR, .ioapic_addr = ACPI_IOAPIC_ADDR};

	if (pci) {
		p.pci_ecam_base = LAYOUT_PCI_ECAM;
		p.pci_ecam_size = LAYOUT_PCI_ECAM_SIZE;
		p.pci_mmio_base = LAYOUT_PCI_MMIO;
		p.pci_mmio_size = LAYOUT_PCI_MMIO_SIZE;
	}
	return p;
}

/* Build and return the table with signature sig from the XSDT (NULL if absent); *n gets the
 * number of XSDT entries. */
static uint8_t *build_find(const struct acpi_params *p, const char *sig, unsigned *n)
{
	uint64_t rsdp;
	uint8_t *xsdt, *found = NULL;

	memset(win, 0, sizeof(win));
	assert_int_equal(acpi_build(win, WINDOW, GPA, p, &rsdp), 0);
	xsdt = at(rd64(at(rsdp) + 24));
	*n = (rd32(xsdt + 4) - 36) / 8;
	for (unsigned i = 0; i < *n; i++) {
		uint8_t *t = at(rd64(xsdt + 36 + 8 * i));
		uint8_t sum = 0;
		for (uint32_t j = 0; j < rd32(t + 4); j++)
			sum = (uint8_t)(sum + t[j]);
		assert_int_equal(sum, 0);
		if (!memcmp(t, sig, 4))
			found = t;
	}
	return found;
}

static bool contains(const uint8_t *t, const uint8_t *needle, size_t m)
{
	for (size_t i = 0; i + m <= rd32(t + 4); i++)
		if (!memcmp(t + i, needle, m))
			return true;
	return false;
}

#define ASSERT_CONTAINS(t, ...)                                                                    \
	do {                                                                                       \
		const uint8_t n_[] = {__VA_ARGS__};                                                \
		assert_true(contains((t), n_, sizeof(n_)));                                        \
	} while (0)
#define ASSERT_LACKS(t, ...)                                                                       \
	do {                                                                                       \
		const uint8_t n_[] = {__VA_ARGS__};                                                \
		assert_false(contains((t), n_, sizeof(n_)));                                       \
	} while (0)

static void test_mcfg(void **state)
{
	struct acpi_params p = params(true);
	unsigned n;
	uint8_t *m = build_find(&p, "MCFG", &n);

	assert_int_equal(n, 3);
	assert_non_null(m);
	assert_int_equal(rd32(m + 4), 60);
	assert_int_equal(m[8], 1);
	assert_int_equal(rd64(m + 36), 0); /* reserved */
	assert_int_equal(rd64(m + 44), LAYOUT_PCI_ECAM);
	assert_int_equal(m[52] | m[53] << 8, 0); /* segment */
	assert_int_equal(m[54], 0);		 /* first bus */
	assert_int_equal(m[55], 0);		 /* last bus: 1 MiB of ECAM */
	p.pci_ecam_size = 16 << 20;
	m = build_find(&p, "MCFG", &n);
	assert_int_equal(m[55], 15);
}

static void test_no_pci(void **state)
{
	struct acpi_params p = params(false);
	unsigned n;
	uint8_t *f;

	assert_null(build_find(&p, "MCFG", &n));
	assert_int_equal(n, 2);
	f = build_find(&p, "FACP", &n);
	ASSERT_LACKS(at(rd64(f + 140)), 'P', 'C', 'I', '0');
}

static uint8_t *dsdt(void)
{
	struct acpi_params p = params(true);
	unsigned n;
	uint8_t *f = build_find(&p, "FACP", &n);

	/* MSI stays allowed (IA-PC boot flag "MSI not supported", bit 3, clear). */
	assert_int_equal((f[109] | f[110] << 8) & (1u << 3), 0);
	return at(rd64(f + 140));
}

static void test_pci0(void **state)
{
	uint8_t *d = dsdt();

	/* Device (PCI0), _HID PNP0A08, _CID PNP0A03, _SEG/_BBN/_UID zero. */
	ASSERT_CONTAINS(d, 'P', 'C', 'I', '0', 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a,
			0x08, 0x08, '_', 'C', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0a, 0x03);
	ASSERT_CONTAINS(d, 0x08, '_', 'S', 'E', 'G', 0x00, 0x08, '_', 'B', 'B', 'N', 0x00, 0x08,
			'_', 'U', 'I', 'D', 0x00);
	/* _CRS: WordBusNumber 0..0, IO 0xCF8/8, DWordMemory over the window. */
	ASSERT_CONTAINS(d, 0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
			0x00, 0x00, 0x01, 0x00);
	ASSERT_CONTAINS(d, 0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08);
	ASSERT_CONTAINS(d, 0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
			0x00, 0xc0, 0xff, 0xff, 0xff, 0xdf, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
			0x00, 0x20);
	/* No _PRT: no INTx routing, devices use MSI-X. */
	ASSERT_LACKS(d, '_', 'P', 'R', 'T');
	/* The ECAM as a PNP0C02 motherboard resource. */
	ASSERT_CONTAINS(d, 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0c, 0x02);
	ASSERT_CONTAINS(d, 0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xe0, 0x00, 0x00, 0x10, 0x00);
}

static void test_bad_pci_params(void **state)
{
	struct acpi_params p;
	uint64_t rsdp;

	p = params(true);
	p.pci_ecam_base += 0x1000;
	assert_int_equal(acpi_build(win, WINDOW, GPA, &p, &rsdp), -EINVAL);
	p = params(true);
	p.pci_ecam_size = 0x180000;
	assert_int_equal(acpi_build(win, WINDOW, GPA, &p, &rsdp), -EINVAL);
	p = params(true);
	p.pci_ecam_size = 257ull << 20;
	assert_int_equal(acpi_build(win, WINDOW, GPA, &p, &rsdp), -EINVAL);
	p = params(true);
	p.pci_ecam_base = 0x100000000ull;
	assert_int_equal(acpi_build(win, WINDOW, GPA, &p, &rsdp), -EINVAL);
	p = params(true);
	p.pci_mmio_size = 0;
	assert_int_equal(acpi_build(win, WINDOW, GPA, &p, &rsdp), -EINVAL);
	p = params(true);
	p.pci_mmio_base = 0xf0000000;
	p.pci_mmio_size = 0x20000000; /* crosses 4 GiB */
	assert_int_equal(acpi_build(win, WINDOW, GPA, &p, &rsdp), -EINVAL);
}

static void test_enospc_with_pci(void **state)
{
	struct acpi_params p = params(true);
	uint64_t rsdp;
	size_t size;
	int ret = -ENOSPC;

	for (size = 0; size <= 4096 && ret; size++) {
		ret = acpi_build(win, size, GPA, &p, &rsdp);
		if (ret)
			assert_int_equal(ret, -ENOSPC);
	}
	assert_int_equal(ret, 0);
}

static void test_aml_descriptors(void **state)
{
	uint8_t buf[64];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_res_word_bus(&a, 0, 255);
	assert_int_equal(aml_error(&a), 0);
	assert_int_equal(a.len, 16);
	assert_int_equal(buf[10] | buf[11] << 8, 255); /* max */
	assert_int_equal(buf[14] | buf[15] << 8, 256); /* length */
	aml_res_word_bus(&a, 2, 1);
	assert_int_equal(aml_error(&a), -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_res_dword_memory(&a, 0, 0xffffffffu); /* length would not fit */
	assert_int_equal(aml_error(&a), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mcfg),
	    cmocka_unit_test(test_no_pci),
	    cmocka_unit_test(test_pci0),
	    cmocka_unit_test(test_bad_pci_params),
	    cmocka_unit_test(test_enospc_with_pci),
	    cmocka_unit_test(test_aml_descriptors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
