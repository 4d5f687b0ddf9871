/* The PCI host bridge and config space, driven through real I/O buses as the vCPU exit path
 * drives them: mechanism #1 at 0xCF8/0xCFC, ECAM, BAR sizing, placement and moves, the
 * capability chain, and hostile accesses of every size at every offset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/layout.h"
#include "kvm/iobus.h"
#include "pci/pci_dev.h"
#include "pci/pci_host.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#define ECAM	LAYOUT_PCI_ECAM
#define WIN	LAYOUT_PCI_MMIO
#define WIN_END (LAYOUT_PCI_MMIO + LAYOUT_PCI_MMIO_SIZE)

/* A device with a 64-bit 16 KiB BAR 0, a 32-bit 4 KiB BAR 2 and two capabilities. Its BARs
 * remember the last access; bar_moved calls are counted. */
struct fake_dev {
	struct pci_dev pci;
	unsigned moved;
	unsigned last_bar;
	uint64_t last_off;
	uint32_t last_len;
	bool last_write;
	uint8_t last_data[8];
};

static void fake_bar_access(struct pci_dev *dev, unsigned bar, uint64_t off, uint8_t *data,
			    uint32_t len, bool is_write)
{
	struct fake_dev *f = (struct fake_dev *)dev;

	f->last_bar = bar;
	f->last_off = off;
	f->last_len = len;
	f->last_write = is_write;
	if (is_write)
		memcpy(f->last_data, data, len < 8 ? len : 8);
	else
		for (uint32_t i = 0; i < len; i++)
			data[i] = (uint8_t)(0x40 + bar * 16 + (off + i) % 16);
}

static void fake_bar_moved(struct pci_dev *dev, unsigned bar)
{
	((struct fake_dev *)dev)->moved++;
}

static const struct pci_dev_ops fake_ops = {.bar_access = fake_bar_access,
					    .bar_moved = fake_bar_moved};

static void fake_init(struct fake_dev *f)
{
	struct pci_id id = {.vendor = 0x1af4,
			    .device = 0x1042,
			    .subsys_vendor = 0x1af4,
			    .subsys = 0x42,
			    .revision = 1,
			    .class_code = 0x018000};
	uint16_t at;

	memset(f, 0, sizeof(*f));
	pci_dev_init(&f->pci, &fake_ops, &id, "fake");
	assert_int_equal(pci_dev_add_bar(&f->pci, 0, 0x4000, PCI_BAR_MEM64), 0);
	assert_int_equal(pci_dev_add_bar(&f->pci, 2, 0x1000, 0), 0);
	assert_int_equal(pci_dev_add_cap(&f->pci, PCI_CAP_ID_MSIX, 12, &at), 0);
	assert_int_equal(at, 0x40);
	assert_int_equal(pci_dev_add_cap(&f->pci, PCI_CAP_ID_VNDR, 17, &at), 0);
	assert_int_equal(at, 0x4c);
}

struct rig {
	struct iobus pio, mmio;
	struct pci_host *host;
	struct fake_dev dev;
	unsigned slot;
};

static int setup(void **state)
{
	struct pci_host_params p = {ECAM, LAYOUT_PCI_ECAM_SIZE, WIN, LAYOUT_PCI_MMIO_SIZE};
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	assert_int_equal(pci_host_create(&r->host, &p, &r->pio, &r->mmio), 0);
	fake_init(&r->dev);
	assert_int_equal(pci_host_add(r->host, &r->dev.pci, &r->slot), 0);
	assert_int_equal(r->slot, 1);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;

	pci_host_destroy(r->host);
	free(r);
	return 0;
}

static uint64_t bus_read(struct iobus *bus, uint64_t addr, uint32_t len)
{
	uint8_t d[8];
	uint64_t v = 0;

	memset(d, 0xcc, sizeof(d));
	iobus_dispatch(bus, addr, d, len, false);
	for (uint32_t i = 0; i < len; i++)
		v |= (uint64_t)d[i] << (8 * i);
	return v;
}

static void bus_write(struct iobus *bus, uint64_t addr, uint32_t len, uint64_t v)
{
	uint8_t d[8];

	for (uint32_t i = 0; i < len; i++)
		d[i] = (uint8_t)(v >> (8 * i));
	iobus_dispatch(bus, addr, d, len, true);
}

static uint32_t cf8(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	return 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc);
}

static uint64_t conf1_read(struct rig *r, unsigned dev, unsigned fn, unsigned reg, uint32_t len)
{
	bus_write(&r->pio, 0xcf8, 4, cf8(0, dev, fn, reg));
	return bus_read(&r->pio, 0xcfc + (reg & 3), len);
}

static uint64_t ecam_addr(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	return ECAM + ((uint64_t)bus << 20 | dev << 15 | fn << 12 | reg);
}

static uint32_t cfg_read(struct rig *r, unsigned dev, unsigned reg, uint32_t len)
{
	return (uint32_t)bus_read(&r->mmio, ecam_addr(0, dev, 0, reg), len);
}

static void cfg_write(struct rig *r, unsigned dev, unsigned reg, uint32_t len, uint32_t v)
{
	bus_write(&r->mmio, ecam_addr(0, dev, 0, reg), len, v);
}

static void test_address_latch(void **state)
{
	struct rig *r = *state;

	bus_write(&r->pio, 0xcf8, 4, 0x80000000u);
	assert_int_equal(bus_read(&r->pio, 0xcf8, 4), 0x80000000u);
	/* Reserved bits and the low two bits do not stick. */
	bus_write(&r->pio, 0xcf8, 4, 0xffffffffu);
	assert_int_equal(bus_read(&r->pio, 0xcf8, 4), 0x80fffffcu);
	/* Byte and word accesses are not the address register (0xCF9 is a reset port on PCs). */
	bus_write(&r->pio, 0xcf9, 1, 0x06);
	bus_write(&r->pio, 0xcf8, 2, 0x1234);
	assert_int_equal(bus_read(&r->pio, 0xcf8, 4), 0x80fffffcu);
	assert_int_equal(bus_read(&r->pio, 0xcf9, 1), 0xff);
	assert_int_equal(bus_read(&r->pio, 0xcf8, 2), 0xffff);
}

static void test_conf1(void **state)
{
	struct rig *r = *state;

	/* The host bridge at 00:00.0 and the device at slot 1. */
	assert_int_equal(conf1_read(r, 0, 0, 0, 4), PCI_HOST_DEVICE << 16 | PCI_HOST_VENDOR);
	assert_int_equal(conf1_read(r, 0, 0, 0x0a, 2), 0x0600);
	assert_int_equal(conf1_read(r, 0, 0, 0x0e, 1), 0x00);
	assert_int_equal(conf1_read(r, 1, 0, 0, 4), 0x10421af4u);
	assert_int_equal(conf1_read(r, 1, 0, 2, 2), 0x1042);
	assert_int_equal(conf1_read(r, 1, 0, 3, 1), 0x10);
	assert_int_equal(conf1_read(r, 1, 0, 8, 4), 0x01800001u);
	/* Absent: other slots, other functions, other buses, and the enable bit clear. */
	assert_int_equal(conf1_read(r, 2, 0, 0, 4), 0xffffffffu);
	assert_int_equal(conf1_read(r, 31, 0, 0, 2), 0xffff);
	assert_int_equal(conf1_read(r, 1, 1, 0, 4), 0xffffffffu);
	bus_write(&r->pio, 0xcf8, 4, cf8(1, 1, 0, 0));
	assert_int_equal(bus_read(&r->pio, 0xcfc, 4), 0xffffffffu);
	bus_write(&r->pio, 0xcf8, 4, cf8(0, 1, 0, 0) & ~0x80000000u);
	assert_int_equal(bus_read(&r->pio, 0xcfc, 4), 0xffffffffu);
	/* Writes through the data port reach config space. */
	bus_write(&r->pio, 0xcf8, 4, cf8(0, 1, 0, 0x3c));
	bus_write(&r->pio, 0xcfc, 1, 0x0b);
	assert_int_equal(cfg_read(r, 1, 0x3c, 1), 0x0b);
	/* A wide access at 0xCFE only covers two config bytes. */
	bus_write(&r->pio, 0xcf8, 4, cf8(0, 1, 0, 0));
	assert_int_equal(bus_read(&r->pio, 0xcfe, 4), 0xffff1042u);
}

static void test_ecam(void **state)
{
	struct rig *r = *state;

	assert_int_equal(cfg_read(r, 0, 0, 4), PCI_HOST_DEVICE << 16 | PCI_HOST_VENDOR);
	assert_int_equal(cfg_read(r, 1, 0, 4), 0x10421af4u);
	assert_int_equal(bus_read(&r->mmio, ecam_addr(0, 1, 0, 0), 8),
			 (uint64_t)0x0010000010421af4ull); /* status has the capability bit */
	assert_int_equal(cfg_read(r, 5, 0, 4), 0xffffffffu);
	assert_int_equal(bus_read(&r->mmio, ecam_addr(0, 1, 3, 0), 4), 0xffffffffu);
	/* Extended config space exists (zeros) and a wide read at its end stops there. */
	assert_int_equal(cfg_read(r, 1, 0x100, 4), 0);
	assert_int_equal(bus_read(&r->mmio, ecam_addr(0, 1, 0, 0xffc), 8), 0xffffffff00000000ull);
	/* Right after the ECAM nothing answers. */
	assert_int_equal(bus_read(&r->mmio, ECAM + LAYOUT_PCI_ECAM_SIZE, 4), 0xffffffffu);
}

static void test_readonly_header(void **state)
{
	struct rig *r = *state;
	static const unsigned ro[] = {0x00, 0x02, 0x06, 0x08, 0x09, 0x0a, 0x0b, 0x0e,
				      0x2c, 0x2e, 0x30, 0x34, 0x3d, 0x40, 0x41, 0x42};

	for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
		uint32_t before = cfg_read(r, 1, ro[i], 1);
		cfg_write(r, 1, ro[i], 1, ~before & 0xff);
		assert_int_equal(cfg_read(r, 1, ro[i], 1), before);
	}
	/* Command: memory, bus master, parity, SERR, INTx disable; no I/O space (no I/O BARs). */
	cfg_write(r, 1, PCI_COMMAND, 2, 0xffff);
	assert_int_equal(cfg_read(r, 1, PCI_COMMAND, 2), 0x0546);
	cfg_write(r, 1, PCI_COMMAND, 2, 0);
	/* The interrupt pin says: no INTx. */
	assert_int_equal(cfg_read(r, 1, PCI_INTERRUPT_PIN, 1), 0);
}

static void test_bar_sizing(void **state)
{
	struct rig *r = *state;

	cfg_write(r, 1, 0x10, 4, 0xffffffffu);
	cfg_write(r, 1, 0x14, 4, 0xffffffffu);
	assert_int_equal(cfg_read(r, 1, 0x10, 4), 0xffffc004u); /* 16 KiB, 64-bit */
	assert_int_equal(cfg_read(r, 1, 0x14, 4), 0xffffffffu);
	cfg_write(r, 1, 0x18, 4, 0xffffffffu);
	assert_int_equal(cfg_read(r, 1, 0x18, 4), 0xfffff000u); /* 4 KiB, 32-bit */
	/* Unimplemented BARs and the expansion ROM read 0 whatever is written. */
	for (unsigned reg = 0x1c; reg <= 0x24; reg += 4) {
		cfg_write(r, 1, reg, 4, 0xffffffffu);
		assert_int_equal(cfg_read(r, 1, reg, 4), 0);
	}
	cfg_write(r, 1, PCI_ROM_ADDRESS, 4, 0xffffffffu);
	assert_int_equal(cfg_read(r, 1, PCI_ROM_ADDRESS, 4), 0);
	/* Byte-wise sizing works too. */
	cfg_write(r, 1, 0x18, 4, 0);
	cfg_write(r, 1, 0x19, 1, 0xff);
	assert_int_equal(cfg_read(r, 1, 0x18, 4), 0x0000f000u);
	/* Sizing with decoding on moves nothing into view outside the window. */
	cfg_write(r, 1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_false(r->dev.pci.bars[0].active);
	assert_false(r->dev.pci.bars[2].active);
}

static void test_bad_bars(void **state)
{
	struct fake_dev f;
	struct pci_id id = {.vendor = 1};

	pci_dev_init(&f.pci, &fake_ops, &id, "bad");
	assert_int_equal(pci_dev_add_bar(&f.pci, 5, 0x1000, PCI_BAR_MEM64), -EINVAL);
	assert_int_equal(pci_dev_add_bar(&f.pci, 6, 0x1000, 0), -EINVAL);
	assert_int_equal(pci_dev_add_bar(&f.pci, 0, 0x1800, 0), -EINVAL);
	assert_int_equal(pci_dev_add_bar(&f.pci, 0, 8, 0), -EINVAL);
	assert_int_equal(pci_dev_add_bar(&f.pci, 0, 0x1000, 0x1), -EINVAL);
	assert_int_equal(pci_dev_add_bar(&f.pci, 0, 0x1000, PCI_BAR_MEM64), 0);
	assert_int_equal(pci_dev_add_bar(&f.pci, 1, 0x1000, 0), -EINVAL); /* upper half of 0 */
	assert_int_equal(pci_dev_add_bar(&f.pci, 0, 0x1000, 0), -EINVAL);
	assert_int_equal(pci_dev_add_bar(&f.pci, 2, 0x1000, PCI_BAR_PREFETCH), 0);
}

static uint64_t bar_addr(struct rig *r, unsigned bar)
{
	uint64_t lo = cfg_read(r, 1, 0x10 + 4 * bar, 4) & ~0xfull;

	if (bar == 0)
		lo |= (uint64_t)cfg_read(r, 1, 0x14, 4) << 32;
	return lo;
}

static void test_bar_placement_and_decode(void **state)
{
	struct rig *r = *state;
	uint64_t b0 = bar_addr(r, 0), b2 = bar_addr(r, 2);

	/* Placed as firmware would: in the window, aligned, apart. */
	assert_true(b0 >= WIN && b0 + 0x4000 <= WIN_END && b0 % 0x4000 == 0);
	assert_true(b2 >= WIN && b2 + 0x1000 <= WIN_END && b2 % 0x1000 == 0);
	assert_true(b2 >= b0 + 0x4000 || b0 >= b2 + 0x1000);
	/* Nothing decodes until memory space is enabled. */
	assert_int_equal(bus_read(&r->mmio, b0, 4), 0xffffffffu);
	assert_int_equal(r->dev.moved, 0);
	cfg_write(r, 1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(r->dev.moved, 2);
	assert_int_equal(bus_read(&r->mmio, b0 + 0x123, 2), 0x4443);
	assert_int_equal(r->dev.last_bar, 0);
	assert_int_equal(r->dev.last_off, 0x123);
	bus_write(&r->mmio, b2 + 8, 8, 0x1122334455667788ull);
	assert_int_equal(r->dev.last_bar, 2);
	assert_int_equal(r->dev.last_off, 8);
	assert_int_equal(r->dev.last_len, 8);
	assert_true(r->dev.last_write);
	assert_int_equal(r->dev.last_data[0], 0x88);
	/* Between and beyond BARs: nothing. */
	assert_int_equal(bus_read(&r->mmio, WIN_END - 4, 4), 0xffffffffu);
	/* Disabling memory space stops decoding. */
	cfg_write(r, 1, PCI_COMMAND, 2, 0);
	assert_int_equal(r->dev.moved, 4);
	assert_int_equal(bus_read(&r->mmio, b0, 4), 0xffffffffu);
}

static void test_bar_move(void **state)
{
	struct rig *r = *state;
	uint64_t old = bar_addr(r, 0), to = WIN + 0x10000000;
	unsigned moved;

	cfg_write(r, 1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	moved = r->dev.moved;
	cfg_write(r, 1, 0x10, 4, (uint32_t)to);
	assert_int_equal(r->dev.moved, moved + 1);
	assert_int_equal(r->dev.pci.bars[0].addr, to);
	assert_true(r->dev.pci.bars[0].active);
	assert_int_equal(bus_read(&r->mmio, old, 1), 0xff);
	assert_int_equal(bus_read(&r->mmio, to + 1, 1), 0x41);
	assert_int_equal(r->dev.last_off, 1);
	/* Above 4 GiB, out of the window: no decoding; back below: decoding again. */
	cfg_write(r, 1, 0x14, 4, 1);
	assert_false(r->dev.pci.bars[0].active);
	assert_int_equal(bus_read(&r->mmio, to, 4), 0xffffffffu);
	cfg_write(r, 1, 0x14, 4, 0);
	assert_true(r->dev.pci.bars[0].active);
	/* Straddling the window's end: not decoded. */
	cfg_write(r, 1, 0x10, 4, (uint32_t)(WIN_END - 0x2000) & ~0x3fffu);
	assert_true(r->dev.pci.bars[0].active);
	cfg_write(r, 1, 0x10, 4, (uint32_t)WIN_END);
	assert_false(r->dev.pci.bars[0].active);
}

/* Walk the list from 0x34 as a guest does: every pointer in [0x40, 0x100), dword aligned, no
 * loops. Returns the number of capabilities; ids[] gets their IDs. */
static unsigned walk_caps(struct rig *r, unsigned dev, uint8_t *ids, unsigned max)
{
	unsigned n = 0, ptr;

	assert_true(cfg_read(r, dev, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	for (ptr = cfg_read(r, dev, PCI_CAP_PTR, 1); ptr; ptr = cfg_read(r, dev, ptr + 1, 1)) {
		assert_true(ptr >= 0x40 && ptr < 0x100 && ptr % 4 == 0);
		assert_true(n < max);
		ids[n++] = (uint8_t)cfg_read(r, dev, ptr, 1);
	}
	return n;
}

static void test_capability_chain(void **state)
{
	struct rig *r = *state;
	uint8_t ids[48];
	struct fake_dev f;
	uint16_t at;
	unsigned n;

	assert_int_equal(walk_caps(r, 1, ids, 48), 2);
	assert_int_equal(ids[0], PCI_CAP_ID_MSIX);
	assert_int_equal(ids[1], PCI_CAP_ID_VNDR);
	/* The host bridge has none. */
	assert_int_equal(cfg_read(r, 0, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, 0);
	/* Capabilities fill [0x40, 0x100) and no more; the chain stays walkable. */
	fake_init(&f);
	for (n = 2; pci_dev_add_cap(&f.pci, PCI_CAP_ID_VNDR, 16, &at) == 0; n++)
		assert_true(at + 16 <= 0x100);
	assert_int_equal(n, 2 + (0x100 - 0x60) / 16);
	r->dev.pci = f.pci;
	assert_int_equal(walk_caps(r, 1, ids, 48), n);
}

static void test_slots_fill_up(void **state)
{
	struct rig *r = *state;
	struct fake_dev *devs = calloc(31, sizeof(*devs));
	unsigned slot, i;

	assert_non_null(devs);
	for (i = 0; i < 30; i++) {
		fake_init(&devs[i]);
		assert_int_equal(pci_host_add(r->host, &devs[i].pci, &slot), 0);
		assert_int_equal(slot, i + 2);
	}
	fake_init(&devs[30]);
	assert_int_equal(pci_host_add(r->host, &devs[30].pci, &slot), -ENOSPC);
	/* Every BAR apart from every other. */
	for (i = 0; i < 30; i++)
		for (unsigned j = i + 1; j < 30; j++)
			for (unsigned bi = 0; bi <= 2; bi += 2)
				for (unsigned bj = 0; bj <= 2; bj += 2) {
					uint32_t ai = cfg_read(r, i + 2, 0x10 + 4 * bi, 4) & ~0xfu;
					uint32_t aj = cfg_read(r, j + 2, 0x10 + 4 * bj, 4) & ~0xfu;
					uint32_t si = bi ? 0x1000 : 0x4000,
						 sj = bj ? 0x1000 : 0x4000;
					assert_true(ai + si <= aj || aj + sj <= ai);
				}
	pci_host_destroy(r->host);
	r->host = NULL;
	free(devs);
}

static void test_window_full(void **state)
{
	struct pci_host_params p = {ECAM, LAYOUT_PCI_ECAM_SIZE, WIN, 0x5000};
	struct iobus pio = {0}, mmio = {0};
	struct pci_host *host;
	struct fake_dev a, b;
	unsigned slot;

	assert_int_equal(pci_host_create(&host, &p, &pio, &mmio), 0);
	fake_init(&a);
	fake_init(&b);
	assert_int_equal(pci_host_add(host, &a.pci, &slot), 0);
	assert_int_equal(pci_host_add(host, &b.pci, &slot), -ENOSPC);
	pci_host_destroy(host);
}

static void dummy_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
}

static void test_create_refuses(void **state)
{
	struct pci_host_params p = {ECAM, LAYOUT_PCI_ECAM_SIZE, WIN, LAYOUT_PCI_MMIO_SIZE};
	struct pci_host_params bad = p;
	struct iobus pio = {0}, mmio = {0};
	struct pci_host *host = NULL;

	bad.ecam_base += 0x1000;
	assert_int_equal(pci_host_create(&host, &bad, &pio, &mmio), -EINVAL);
	bad = p;
	bad.mmio_base = ECAM; /* overlaps the ECAM */
	assert_int_equal(pci_host_create(&host, &bad, &pio, &mmio), -EINVAL);
	/* A taken range fails the whole creation and leaves no half-registered bridge. */
	assert_int_equal(iobus_register(&mmio, ECAM + 0x1000, 4, dummy_io, NULL), 0);
	assert_int_equal(pci_host_create(&host, &p, &pio, &mmio), -EEXIST);
	assert_int_equal(pio.count, 0);
	assert_int_equal(mmio.count, 1);
}

/* Every length 1..8 at every offset of config space (and past it), through ECAM, mechanism #1
 * and the BAR window: reads never crash, writes of ones then zeros leave the IDs alone. */
static void test_hostile_accesses(void **state)
{
	struct rig *r = *state;

	for (uint32_t len = 1; len <= 8; len++) {
		for (uint32_t off = 0; off < PCI_CFG_SIZE + 8; off++) {
			for (unsigned dev = 0; dev < 3; dev++) {
				(void)bus_read(&r->mmio, ecam_addr(0, dev, 0, 0) + off, len);
				bus_write(&r->mmio, ecam_addr(0, dev, 0, 0) + off, len, ~0ull);
				bus_write(&r->mmio, ecam_addr(0, dev, 0, 0) + off, len, 0);
			}
		}
		for (uint32_t port = 0xcf8; port < 0xd00; port++) {
			bus_write(&r->pio, 0xcf8, 4, cf8(0, 1, 0, port * 4));
			(void)bus_read(&r->pio, port, len);
			bus_write(&r->pio, port, len, 0);
		}
	}
	assert_int_equal(cfg_read(r, 1, 0, 4), 0x10421af4u);
	assert_int_equal(cfg_read(r, 0, 0, 4), PCI_HOST_DEVICE << 16 | PCI_HOST_VENDOR);
	/* All-ones writes turned decoding on and moved the BARs: put them back and hammer them. */
	pci_dev_set_bar_addr(&r->dev.pci, 0, WIN);
	pci_dev_set_bar_addr(&r->dev.pci, 2, WIN + 0x4000);
	cfg_write(r, 1, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	for (uint32_t len = 1; len <= 8; len++)
		for (uint64_t off = 0; off < 0x6000; off++) {
			(void)bus_read(&r->mmio, WIN + off, len);
			bus_write(&r->mmio, WIN + off, len, 0x0102030405060708ull);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_address_latch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_conf1, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ecam, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readonly_header, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bar_sizing, setup, teardown),
	    cmocka_unit_test(test_bad_bars),
	    cmocka_unit_test_setup_teardown(test_bar_placement_and_decode, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bar_move, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_capability_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_slots_fill_up, setup, teardown),
	    cmocka_unit_test(test_window_full),
	    cmocka_unit_test(test_create_refuses),
	    cmocka_unit_test_setup_teardown(test_hostile_accesses, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
