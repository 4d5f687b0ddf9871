/* The virtio-pci transport as a guest driver sees it through the host bridge: IDs and
 * capabilities, feature negotiation, the status state machine, queue set-up, what DRIVER_OK and
 * reset do to the backend, notify ioeventfds that follow the BAR, ISR, device config, the PCI_CFG
 * window, and hostile accesses of every size at every offset. Backend and KVM are fakes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/layout.h"
#include "devices/virtio_pci.h"
#include "kvm/iobus.h"
#include "kvm_irq_fake.h"
#include "pci/pci_host.h"

#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define F_VERSION_1  (1ull << 32)
#define F_RING_RESET (1ull << 40)
#define F_PACKED     (1ull << 34)
#define OFFERED	     (F_VERSION_1 | F_PACKED | F_RING_RESET | (1ull << 6) | (1ull << 9))
#define NQ	     3
#define QMAX	     256
#define NO_VECTOR    0xffff

/* Common configuration offsets (virtio 1.2, 4.1.4.3). */
enum {
	DFSELECT = 0x00,
	DF = 0x04,
	GFSELECT = 0x08,
	GF = 0x0c,
	MSIX_CONFIG = 0x10,
	NUM_QUEUES = 0x12,
	STATUS = 0x14,
	CONFIG_GEN = 0x15,
	Q_SELECT = 0x16,
	Q_SIZE = 0x18,
	Q_VECTOR = 0x1a,
	Q_ENABLE = 0x1c,
	Q_NOTIFY_OFF = 0x1e,
	Q_DESC = 0x20,
	Q_DRIVER = 0x28,
	Q_DEVICE = 0x30,
};
enum { ACK = 1, DRIVER = 2, DRIVER_OK = 4, FEATURES_OK = 8, NEEDS_RESET = 0x40 };

struct fake_backend {
	uint64_t start_features;
	struct virtio_queue_setup setups[NQ];
	unsigned nsetups, starts, resets;
	int start_rc, config_rc;
	uint8_t config[64];
	uint32_t last_write_off, last_write_len;
	uint8_t last_write[8];
};

static uint64_t be_features(void *ctx)
{
	return OFFERED;
}

static uint16_t be_num_queues(void *ctx)
{
	return NQ;
}

static uint16_t be_queue_max(void *ctx)
{
	return QMAX;
}

static int be_config_read(void *ctx, uint32_t off, uint8_t *data, uint32_t len)
{
	struct fake_backend *b = ctx;

	for (uint32_t i = 0; i < len; i++)
		data[i] =
		    off < sizeof(b->config) && i < sizeof(b->config) - off ? b->config[off + i] : 0;
	return b->config_rc;
}

static int be_config_write(void *ctx, uint32_t off, const uint8_t *data, uint32_t len)
{
	struct fake_backend *b = ctx;

	b->last_write_off = off;
	b->last_write_len = len;
	memcpy(b->last_write, data, len < 8 ? len : 8);
	return b->config_rc;
}

static int be_start(void *ctx, uint64_t features, const struct virtio_queue_setup *q, unsigned n)
{
	struct fake_backend *b = ctx;

	assert_true(n <= NQ);
	b->starts++;
	b->start_features = features;
	b->nsetups = n;
	memcpy(b->setups, q, n * sizeof(*q));
	return b->start_rc;
}

static void be_reset(void *ctx)
{
	((struct fake_backend *)ctx)->resets++;
}

static const struct virtio_backend_ops be_ops = {
    .device_id = 2,
    .features = be_features,
    .num_queues = be_num_queues,
    .queue_max_size = be_queue_max,
    .config_read = be_config_read,
    .config_write = be_config_write,
    .start = be_start,
    .reset = be_reset,
};

struct rig {
	struct fake_kvm *kvm;
	struct kvm_irq irq;
	struct iobus pio, mmio;
	struct pci_host *host;
	struct virtio_pci *vp;
	struct fake_backend be;
	uint64_t bar;
};

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

static uint32_t cfg_read(struct rig *r, unsigned reg, uint32_t len)
{
	return (uint32_t)bus_read(&r->mmio, LAYOUT_PCI_ECAM + (1u << 15) + reg, len);
}

static void cfg_write(struct rig *r, unsigned reg, uint32_t len, uint32_t v)
{
	bus_write(&r->mmio, LAYOUT_PCI_ECAM + (1u << 15) + reg, len, v);
}

static uint64_t rd(struct rig *r, unsigned off, uint32_t len)
{
	return bus_read(&r->mmio, r->bar + off, len);
}

static void wr(struct rig *r, unsigned off, uint32_t len, uint64_t v)
{
	bus_write(&r->mmio, r->bar + off, len, v);
}

static int setup(void **state)
{
	struct pci_host_params p = {LAYOUT_PCI_ECAM, LAYOUT_PCI_ECAM_SIZE, LAYOUT_PCI_MMIO,
				    LAYOUT_PCI_MMIO_SIZE};
	struct rig *r = calloc(1, sizeof(*r));
	struct virtio_pci_params vpp = {.ops = &be_ops, .name = "virtio-blk test"};
	unsigned slot;

	assert_non_null(r);
	r->kvm = fake_kvm_new();
	assert_int_equal(kvm_irq_init(&r->irq, &fake_kvm_ops, r->kvm), 0);
	assert_int_equal(pci_host_create(&r->host, &p, &r->pio, &r->mmio), 0);
	for (unsigned i = 0; i < sizeof(r->be.config); i++)
		r->be.config[i] = (uint8_t)(0xa0 + i);
	vpp.ctx = &r->be;
	vpp.irq = &r->irq;
	assert_int_equal(virtio_pci_create(&r->vp, &vpp), 0);
	assert_int_equal(pci_host_add(r->host, virtio_pci_dev(r->vp), &slot), 0);
	assert_int_equal(slot, 1);
	r->bar = cfg_read(r, 0x10, 4) & ~0xfull;
	r->bar |= (uint64_t)cfg_read(r, 0x14, 4) << 32;
	cfg_write(r, 0x04, 2, 0x0006); /* memory space, bus master */
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;

	virtio_pci_destroy(r->vp);
	/* Everything handed to KVM came back. */
	assert_int_equal(r->kvm->nirqfds, 0);
	assert_int_equal(r->kvm->nioeventfds, 0);
	assert_int_equal(r->kvm->bad_deassigns, 0);
	pci_host_destroy(r->host);
	kvm_irq_fini(&r->irq);
	free(r->kvm);
	free(r);
	return 0;
}

/* Offset of the vendor capability with cfg_type type, or 0. */
static unsigned find_virtio_cap(struct rig *r, uint8_t type)
{
	for (unsigned p = cfg_read(r, 0x34, 1); p; p = cfg_read(r, p + 1, 1))
		if (cfg_read(r, p, 1) == 0x09 && cfg_read(r, p + 3, 1) == type)
			return p;
	return 0;
}

static void test_ids_and_bar(void **state)
{
	struct rig *r = *state;

	assert_int_equal(cfg_read(r, 0, 2), 0x1af4);
	assert_int_equal(cfg_read(r, 2, 2), 0x1042); /* 0x1040 + block */
	assert_int_equal(cfg_read(r, 8, 1), 1);	     /* revision 1: modern */
	assert_int_equal(cfg_read(r, 9, 3), 0x018000);
	assert_int_equal(cfg_read(r, 0x2c, 2), 0x1af4);
	assert_true(cfg_read(r, 0x2e, 2) >= 0x40);
	assert_int_equal(cfg_read(r, 0x3d, 1), 0); /* no INTx pin */
	/* BAR 0: 64-bit memory, 32 KiB; nothing else. */
	assert_int_equal(cfg_read(r, 0x10, 4) & 0xf, 0x4);
	assert_true(r->bar >= LAYOUT_PCI_MMIO && r->bar % 0x8000 == 0);
	cfg_write(r, 0x04, 2, 0);
	cfg_write(r, 0x10, 4, 0xffffffffu);
	cfg_write(r, 0x14, 4, 0xffffffffu);
	assert_int_equal(cfg_read(r, 0x10, 4), 0xffff8004u);
	for (unsigned reg = 0x18; reg <= 0x24; reg += 4)
		assert_int_equal(cfg_read(r, reg, 4), 0);
	cfg_write(r, 0x10, 4, (uint32_t)r->bar);
	cfg_write(r, 0x14, 4, 0);
	cfg_write(r, 0x04, 2, 0x0006);
	assert_int_equal(rd(r, NUM_QUEUES, 2), NQ);
}

static void test_capabilities(void **state)
{
	struct rig *r = *state;
	static const struct {
		uint8_t type;
		uint32_t offset, min_len;
	} want[] = {{1, 0x0000, 0x38}, {2, 0x3000, NQ * 4}, {3, 0x1000, 1}, {4, 0x2000, 0x100}};
	unsigned p, msix = 0;

	for (p = cfg_read(r, 0x34, 1); p; p = cfg_read(r, p + 1, 1))
		if (cfg_read(r, p, 1) == 0x11)
			msix = p;
	assert_true(msix);
	assert_int_equal(cfg_read(r, msix + 2, 2) & 0x7ff, NQ); /* NQ + 1 vectors */
	assert_int_equal(cfg_read(r, msix + 4, 4), 0x4000);	/* BAR 0 */
	assert_int_equal(cfg_read(r, msix + 8, 4), 0x5000);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		p = find_virtio_cap(r, want[i].type);
		assert_true(p);
		assert_true(cfg_read(r, p + 2, 1) >= 16);
		assert_int_equal(cfg_read(r, p + 4, 1), 0);
		assert_int_equal(cfg_read(r, p + 8, 4), want[i].offset);
		assert_true(cfg_read(r, p + 12, 4) >= want[i].min_len);
	}
	p = find_virtio_cap(r, 2);
	assert_int_equal(cfg_read(r, p + 2, 1), 20);
	assert_int_equal(cfg_read(r, p + 16, 4), 4); /* notify_off_multiplier */
	assert_true(find_virtio_cap(r, 5));
}

/* Steps 1-6 of the driver initialisation (virtio 1.2, 3.1.1) with the given features. */
static uint8_t negotiate(struct rig *r, uint64_t features)
{
	wr(r, STATUS, 1, ACK);
	wr(r, STATUS, 1, ACK | DRIVER);
	wr(r, GFSELECT, 4, 0);
	wr(r, GF, 4, (uint32_t)features);
	wr(r, GFSELECT, 4, 1);
	wr(r, GF, 4, (uint32_t)(features >> 32));
	wr(r, STATUS, 1, ACK | DRIVER | FEATURES_OK);
	return (uint8_t)rd(r, STATUS, 1);
}

static void test_features(void **state)
{
	struct rig *r = *state;
	uint64_t dev;

	wr(r, DFSELECT, 4, 0);
	dev = rd(r, DF, 4);
	wr(r, DFSELECT, 4, 1);
	dev |= rd(r, DF, 4) << 32;
	/* What the backend offers, minus what the transport cannot do. */
	assert_int_equal(dev, OFFERED & ~F_RING_RESET);
	wr(r, DFSELECT, 4, 2);
	assert_int_equal(rd(r, DF, 4), 0);
	/* Without VERSION_1: FEATURES_OK refused. */
	assert_int_equal(negotiate(r, 1ull << 6), ACK | DRIVER);
	wr(r, STATUS, 1, 0);
	/* More than offered: refused. */
	assert_int_equal(negotiate(r, F_VERSION_1 | F_RING_RESET), ACK | DRIVER);
	wr(r, STATUS, 1, 0);
	assert_int_equal(negotiate(r, F_VERSION_1 | (1ull << 5)), ACK | DRIVER);
	wr(r, STATUS, 1, 0);
	/* A subset with VERSION_1: accepted, and frozen from then on. */
	assert_int_equal(negotiate(r, F_VERSION_1 | (1ull << 9)), ACK | DRIVER | FEATURES_OK);
	wr(r, GFSELECT, 4, 0);
	wr(r, GF, 4, 0xffffffffu);
	assert_int_equal(rd(r, GF, 4), 1u << 9);
	/* The driver cannot clear bits, nor set NEEDS_RESET. */
	wr(r, STATUS, 1, ACK | NEEDS_RESET);
	assert_int_equal(rd(r, STATUS, 1), ACK | DRIVER | FEATURES_OK);
	/* DRIVER_OK without FEATURES_OK does nothing. */
	wr(r, STATUS, 1, 0);
	wr(r, STATUS, 1, ACK | DRIVER | DRIVER_OK);
	assert_int_equal(rd(r, STATUS, 1), ACK | DRIVER);
	assert_int_equal(r->be.starts, 0);
}

static void setup_queue(struct rig *r, uint16_t q, uint16_t size, uint16_t vector, uint64_t base)
{
	wr(r, Q_SELECT, 2, q);
	wr(r, Q_SIZE, 2, size);
	wr(r, Q_VECTOR, 2, vector);
	wr(r, Q_DESC, 4, (uint32_t)base);
	wr(r, Q_DESC + 4, 4, (uint32_t)(base >> 32));
	wr(r, Q_DRIVER, 8, base + 0x1000); /* one 64-bit write works too */
	wr(r, Q_DEVICE, 4, (uint32_t)(base + 0x2000));
	wr(r, Q_DEVICE + 4, 4, (uint32_t)((base + 0x2000) >> 32));
	wr(r, Q_ENABLE, 2, 1);
}

static void test_queue_registers(void **state)
{
	struct rig *r = *state;

	negotiate(r, F_VERSION_1);
	wr(r, Q_SELECT, 2, 1);
	assert_int_equal(rd(r, Q_SIZE, 2), QMAX);
	assert_int_equal(rd(r, Q_VECTOR, 2), NO_VECTOR);
	assert_int_equal(rd(r, Q_ENABLE, 2), 0);
	assert_int_equal(rd(r, Q_NOTIFY_OFF, 2), 1);
	/* Split rings: powers of two up to the maximum; anything else keeps the old size. */
	wr(r, Q_SIZE, 2, 100);
	assert_int_equal(rd(r, Q_SIZE, 2), QMAX);
	wr(r, Q_SIZE, 2, 512);
	assert_int_equal(rd(r, Q_SIZE, 2), QMAX);
	wr(r, Q_SIZE, 2, 0);
	assert_int_equal(rd(r, Q_SIZE, 2), QMAX);
	wr(r, Q_SIZE, 2, 64);
	assert_int_equal(rd(r, Q_SIZE, 2), 64);
	/* Vectors: the table has NQ + 1; others read back as NO_VECTOR. */
	wr(r, Q_VECTOR, 2, NQ);
	assert_int_equal(rd(r, Q_VECTOR, 2), NQ);
	wr(r, Q_VECTOR, 2, NQ + 1);
	assert_int_equal(rd(r, Q_VECTOR, 2), NO_VECTOR);
	wr(r, MSIX_CONFIG, 2, 0);
	assert_int_equal(rd(r, MSIX_CONFIG, 2), 0);
	wr(r, MSIX_CONFIG, 2, 0x800);
	assert_int_equal(rd(r, MSIX_CONFIG, 2), NO_VECTOR);
	/* 64-bit addresses as halves and whole. */
	wr(r, Q_DESC, 8, 0x123456789abcdef0ull);
	assert_int_equal(rd(r, Q_DESC, 8), 0x123456789abcdef0ull);
	wr(r, Q_DESC + 4, 4, 0x1);
	assert_int_equal(rd(r, Q_DESC, 8), 0x000000019abcdef0ull);
	/* Out-of-range select: queue registers read 0 (size 0 means "no such queue"). */
	wr(r, Q_SELECT, 2, NQ);
	assert_int_equal(rd(r, Q_SIZE, 2), 0);
	assert_int_equal(rd(r, Q_VECTOR, 2), NO_VECTOR);
	wr(r, Q_SIZE, 2, 16);
	wr(r, Q_ENABLE, 2, 1);
	wr(r, Q_DESC, 8, 0x5000);
	assert_int_equal(rd(r, Q_SIZE, 2), 0);
	assert_int_equal(rd(r, Q_ENABLE, 2), 0);
	assert_int_equal(rd(r, Q_DESC, 8), 0);
	wr(r, Q_SELECT, 2, 0xffff);
	assert_int_equal(rd(r, Q_SIZE, 2), 0);
	/* Once enabled, a queue's set-up is fixed; writing 0 to queue_enable does nothing. */
	wr(r, Q_SELECT, 2, 0);
	wr(r, Q_ENABLE, 2, 1);
	wr(r, Q_SIZE, 2, 32);
	wr(r, Q_ENABLE, 2, 0);
	assert_int_equal(rd(r, Q_SIZE, 2), QMAX);
	assert_int_equal(rd(r, Q_ENABLE, 2), 1);
}

static void test_packed_sizes(void **state)
{
	struct rig *r = *state;

	negotiate(r, F_VERSION_1 | F_PACKED);
	wr(r, Q_SIZE, 2, 100);
	assert_int_equal(rd(r, Q_SIZE, 2), 100);
}

static void test_driver_ok_starts(void **state)
{
	struct rig *r = *state;
	struct fake_kvm *f = r->kvm;

	assert_int_equal(negotiate(r, F_VERSION_1 | (1ull << 9)), ACK | DRIVER | FEATURES_OK);
	wr(r, MSIX_CONFIG, 2, 0);
	setup_queue(r, 0, 128, 1, 0x100000);
	setup_queue(r, 2, 256, 2, 0x7fff0000000ull);
	assert_int_equal(r->be.starts, 0);
	wr(r, STATUS, 1, ACK | DRIVER | FEATURES_OK | DRIVER_OK);
	assert_int_equal(rd(r, STATUS, 1), ACK | DRIVER | FEATURES_OK | DRIVER_OK);
	assert_int_equal(r->be.starts, 1);
	assert_int_equal(r->be.start_features, F_VERSION_1 | (1ull << 9));
	/* Only the enabled queues, as set up, each with its own kick and call eventfds. */
	assert_int_equal(r->be.nsetups, 2);
	assert_int_equal(r->be.setups[0].index, 0);
	assert_int_equal(r->be.setups[0].size, 128);
	assert_int_equal(r->be.setups[0].desc_gpa, 0x100000);
	assert_int_equal(r->be.setups[0].avail_gpa, 0x101000);
	assert_int_equal(r->be.setups[0].used_gpa, 0x102000);
	assert_int_equal(r->be.setups[1].index, 2);
	assert_int_equal(r->be.setups[1].size, 256);
	assert_int_equal(r->be.setups[1].desc_gpa, 0x7fff0000000ull);
	assert_int_equal(r->be.setups[1].used_gpa, 0x7fff0002000ull);
	assert_true(r->be.setups[0].kick_fd >= 0 && r->be.setups[0].call_fd >= 0);
	assert_true(r->be.setups[0].kick_fd != r->be.setups[1].kick_fd);
	assert_true(r->be.setups[0].call_fd != r->be.setups[1].call_fd);
	assert_true(r->be.setups[0].kick_fd != r->be.setups[0].call_fd);
	/* The kick fds are the ioeventfds on the queues' notify addresses. */
	assert_int_equal(fake_ioeventfd_at(f, r->bar + 0x3000), r->be.setups[0].kick_fd);
	assert_int_equal(fake_ioeventfd_at(f, r->bar + 0x3000 + 2 * 4), r->be.setups[1].kick_fd);
	/* Queue set-up is frozen after DRIVER_OK. */
	wr(r, Q_SELECT, 2, 1);
	wr(r, Q_ENABLE, 2, 1);
	assert_int_equal(rd(r, Q_ENABLE, 2), 0);
	/* Call fds are bound to their vectors: irqfds once MSI-X is on and they are unmasked. */
	assert_int_equal(fake_irqfd_gsi(f, r->be.setups[0].call_fd), -1);
}

/* The guest's MSI-X set-up as Linux does it, through the BAR and config space. */
static void enable_msix(struct rig *r, unsigned nvec)
{
	unsigned msix = 0;

	for (unsigned p = cfg_read(r, 0x34, 1); p; p = cfg_read(r, p + 1, 1))
		if (cfg_read(r, p, 1) == 0x11)
			msix = p;
	cfg_write(r, msix + 2, 2, 0xc000);
	for (unsigned v = 0; v < nvec; v++) {
		wr(r, 0x4000 + 16 * v, 4, 0xfee00000u);
		wr(r, 0x4000 + 16 * v + 4, 4, 0);
		wr(r, 0x4000 + 16 * v + 8, 4, 0x20 + v);
	}
	cfg_write(r, msix + 2, 2, 0x8000);
	for (unsigned v = 0; v < nvec; v++)
		wr(r, 0x4000 + 16 * v + 12, 4, 0);
}

static void test_interrupts_and_reset(void **state)
{
	struct rig *r = *state;
	struct fake_kvm *f = r->kvm;
	int call0;
	uint64_t n;

	enable_msix(r, NQ + 1);
	negotiate(r, F_VERSION_1);
	wr(r, MSIX_CONFIG, 2, 0);
	setup_queue(r, 0, 128, 1, 0x100000);
	setup_queue(r, 1, 128, 1, 0x200000); /* sharing vector 1 */
	wr(r, STATUS, 1, ACK | DRIVER | FEATURES_OK | DRIVER_OK);
	call0 = r->be.setups[0].call_fd;
	assert_true(fake_irqfd_gsi(f, call0) >= KVM_IRQ_PINS);
	assert_int_equal(fake_irqfd_gsi(f, call0), fake_irqfd_gsi(f, r->be.setups[1].call_fd));
	assert_int_equal(
	    fake_route(f, (uint32_t)fake_irqfd_gsi(f, call0), KVM_IRQ_ROUTING_MSI)->u.msi.data,
	    0x21);
	/* Moving a live queue to another vector moves its irqfd. */
	wr(r, Q_SELECT, 2, 1);
	wr(r, Q_VECTOR, 2, 2);
	assert_true(fake_irqfd_gsi(f, r->be.setups[1].call_fd) !=
		    fake_irqfd_gsi(f, r->be.setups[0].call_fd));
	/* A configuration change: generation, ISR bit 1 (read clears), the config vector. */
	uint8_t gen = (uint8_t)rd(r, CONFIG_GEN, 1);
	virtio_pci_config_changed(r->vp);
	assert_int_equal(rd(r, CONFIG_GEN, 1), (uint8_t)(gen + 1));
	assert_int_equal(f->nmsis, 1);
	assert_int_equal(f->msis[0].data, 0x20);
	assert_int_equal(rd(r, 0x1000, 1), 2);
	assert_int_equal(rd(r, 0x1000, 1), 0);
	/* Reset: the backend stops, irqfds go, stale signals are dropped, registers go back. */
	n = 1;
	assert_int_equal(write(call0, &n, 8), 8);
	wr(r, STATUS, 1, 0);
	assert_int_equal(r->be.resets, 1);
	assert_int_equal(f->nirqfds, 0);
	assert_true(read(call0, &n, 8) < 0);
	assert_int_equal(rd(r, STATUS, 1), 0);
	assert_int_equal(rd(r, MSIX_CONFIG, 2), NO_VECTOR);
	wr(r, Q_SELECT, 2, 0);
	assert_int_equal(rd(r, Q_SIZE, 2), QMAX);
	assert_int_equal(rd(r, Q_ENABLE, 2), 0);
	assert_int_equal(rd(r, Q_DESC, 8), 0);
	/* The notify ioeventfds stay (they follow the BAR, not the driver). */
	assert_int_equal(f->nioeventfds, NQ);
	/* A second reset does not reach a stopped backend; a new start works. */
	wr(r, STATUS, 1, 0);
	assert_int_equal(r->be.resets, 1);
	negotiate(r, F_VERSION_1);
	setup_queue(r, 0, 64, 0, 0x100000);
	wr(r, STATUS, 1, ACK | DRIVER | FEATURES_OK | DRIVER_OK);
	assert_int_equal(r->be.starts, 2);
	assert_int_equal(r->be.setups[0].size, 64);
}

static void test_backend_failure(void **state)
{
	struct rig *r = *state;
	struct fake_kvm *f = r->kvm;

	enable_msix(r, 1);
	negotiate(r, F_VERSION_1);
	wr(r, MSIX_CONFIG, 2, 0);
	setup_queue(r, 0, 64, 0, 0x100000);
	r->be.start_rc = -EIO;
	wr(r, STATUS, 1, ACK | DRIVER | FEATURES_OK | DRIVER_OK);
	assert_int_equal(rd(r, STATUS, 1), ACK | DRIVER | FEATURES_OK | DRIVER_OK | NEEDS_RESET);
	assert_int_equal(f->nmsis, 1); /* the config interrupt tells the driver */
	assert_int_equal(rd(r, 0x1000, 1), 2);
	assert_int_equal(f->nirqfds, 0); /* a failed start routes nothing */
	/* The driver resets; the half-started backend is told so. */
	wr(r, STATUS, 1, 0);
	assert_int_equal(r->be.resets, 1);
	assert_int_equal(rd(r, STATUS, 1), 0);
	/* The VMM can flag a dead backend too. */
	r->be.start_rc = 0;
	negotiate(r, F_VERSION_1);
	wr(r, STATUS, 1, ACK | DRIVER | FEATURES_OK | DRIVER_OK);
	virtio_pci_set_needs_reset(r->vp);
	assert_true(rd(r, STATUS, 1) & NEEDS_RESET);
	/* A device-config read failure also asks for a reset, and reads zeros. */
	wr(r, STATUS, 1, 0);
	r->be.config_rc = -EPIPE;
	assert_int_equal(rd(r, 0x2000, 4), 0);
	assert_true(rd(r, STATUS, 1) & NEEDS_RESET);
}

static void test_device_config(void **state)
{
	struct rig *r = *state;

	assert_int_equal(rd(r, 0x2000, 4), 0xa3a2a1a0u);
	assert_int_equal(rd(r, 0x2000 + 9, 1), 0xa9);
	assert_int_equal(rd(r, 0x2000 + 0x80, 4), 0); /* past the backend's config */
	wr(r, 0x2000 + 0x14, 2, 0xbeef);
	assert_int_equal(r->be.last_write_off, 0x14);
	assert_int_equal(r->be.last_write_len, 2);
	assert_int_equal(r->be.last_write[0], 0xef);
	/* A read across the common/ISR boundary is split, each side its own. */
	virtio_pci_config_changed(r->vp);
	assert_int_equal(rd(r, 0xffc, 8), 0x0000000200000000ull);
}

static void test_notify_follows_bar(void **state)
{
	struct rig *r = *state;
	struct fake_kvm *f = r->kvm;
	uint64_t to = LAYOUT_PCI_MMIO + 0x100000, n;
	int kick1;

	assert_int_equal(f->nioeventfds, NQ);
	for (unsigned q = 0; q < NQ; q++) {
		assert_true(fake_ioeventfd_at(f, r->bar + 0x3000 + 4 * q) >= 0);
		assert_int_equal(f->ioeventfds[q].len, 0); /* any length: KVM's fast path */
	}
	kick1 = fake_ioeventfd_at(f, r->bar + 0x3004);
	/* A kick that exits anyway (no ioeventfd matched) is forwarded to the same eventfd. */
	wr(r, 0x3004, 4, 1);
	assert_int_equal(read(kick1, &n, 8), 8);
	wr(r, 0x3000 + 4 * NQ, 2, 0); /* no such queue */
	/* The guest moves the BAR: the ioeventfds move with it. */
	cfg_write(r, 0x10, 4, (uint32_t)to);
	assert_int_equal(f->nioeventfds, NQ);
	assert_int_equal(fake_ioeventfd_at(f, r->bar + 0x3004), -1);
	assert_int_equal(fake_ioeventfd_at(f, to + 0x3004), kick1);
	/* Decoding off: gone; on: back. */
	cfg_write(r, 0x04, 2, 0);
	assert_int_equal(f->nioeventfds, 0);
	cfg_write(r, 0x04, 2, 2);
	assert_int_equal(f->nioeventfds, NQ);
	/* A KVM without any-length ioeventfds gets 16-bit ones. */
	cfg_write(r, 0x04, 2, 0);
	f->any_len_unsupported = true;
	cfg_write(r, 0x04, 2, 2);
	assert_int_equal(f->nioeventfds, NQ);
	assert_int_equal(f->ioeventfds[0].len, 2);
	r->bar = to;
}

static void test_pci_cfg_window(void **state)
{
	struct rig *r = *state;
	unsigned cap = find_virtio_cap(r, 5);

	assert_true(cap);
	/* Works with memory decoding off, as the spec means it to. */
	cfg_write(r, 0x04, 2, 0);
	cfg_write(r, cap + 4, 1, 0);
	cfg_write(r, cap + 8, 4, 0x12); /* num_queues */
	cfg_write(r, cap + 12, 4, 2);
	assert_int_equal(cfg_read(r, cap + 16, 2), NQ);
	cfg_write(r, cap + 8, 4, STATUS);
	cfg_write(r, cap + 12, 4, 1);
	cfg_write(r, cap + 16, 1, ACK);
	assert_int_equal(cfg_read(r, cap + 16, 1), ACK);
	cfg_write(r, 0x04, 2, 2);
	assert_int_equal(rd(r, STATUS, 1), ACK);
	/* Bad windows do nothing. */
	cfg_write(r, cap + 12, 4, 3);
	cfg_write(r, cap + 16, 4, 0);
	assert_int_equal(rd(r, STATUS, 1), ACK);
	cfg_write(r, cap + 12, 4, 4);
	cfg_write(r, cap + 8, 4, 0x7ffe);
	cfg_write(r, cap + 16, 4, 0);
	cfg_write(r, cap + 8, 4, 0xfffffffe);
	cfg_write(r, cap + 16, 4, 0);
	cfg_write(r, cap + 4, 1, 3);
	cfg_write(r, cap + 8, 4, STATUS);
	cfg_write(r, cap + 16, 4, 0);
	assert_int_equal(rd(r, STATUS, 1), ACK);
}

/* Every length 1..8 at every offset of BAR 0 (and past it) and of config space: reads and
 * writes of patterns never crash and never touch anything outside the device. */
static void test_hostile_accesses(void **state)
{
	struct rig *r = *state;
	uint64_t bar = r->bar;

	enable_msix(r, NQ + 1);
	for (uint32_t len = 1; len <= 8; len++) {
		for (uint64_t off = 0; off < 0x8000 + 8; off++) {
			(void)bus_read(&r->mmio, bar + off, len);
			bus_write(&r->mmio, bar + off, len, 0x0102040810204080ull * (off | 1));
		}
		/* Run the state machine from every state the patterns left. */
		wr(r, STATUS, 1, 0);
	}
	for (uint32_t len = 1; len <= 8; len++)
		for (uint32_t off = 0; off < 0x1008; off++) {
			(void)cfg_read(r, off, len);
			cfg_write(r, off, len, 0xffffffffu);
		}
	assert_int_equal(cfg_read(r, 0, 4), 0x10421af4u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_ids_and_bar, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_capabilities, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_features, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_queue_registers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_packed_sizes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_driver_ok_starts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_interrupts_and_reset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_backend_failure, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_device_config, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_notify_follows_bar, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pci_cfg_window, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_accesses, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
