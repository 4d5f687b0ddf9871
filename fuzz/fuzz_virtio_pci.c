/* libFuzzer target: a guest doing anything to a virtio-pci function through the host bridge:
 * config space by ECAM and by ports 0xCF8/0xCFC, BAR 0 at any offset and length (wherever the
 * guest moved it), interleaved with backend signals and event-loop rounds. The backend and KVM
 * are fakes; whatever happens, the IDs stay, and destroying the device gives back every irqfd
 * and ioeventfd exactly once. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "../tests/unit/kvm_irq_fake.h"
#include "arch/x86/layout.h"
#include "devices/virtio_pci.h"
#include "kvm/iobus.h"
#include "pci/pci_host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct virtio_queue_setup started[4];

static uint64_t be_features(void *ctx)
{
	return (1ull << 32) | (1ull << 34) | (1ull << 40) | 0xff;
}

static uint16_t be_num_queues(void *ctx)
{
	return 3;
}

static uint16_t be_queue_max(void *ctx)
{
	return 128;
}

static int be_config_read(void *ctx, uint32_t off, uint8_t *d, uint32_t len)
{
	memset(d, (int)off, len);
	return off == 0x77 ? -5 : 0;
}

static int be_config_write(void *ctx, uint32_t off, const uint8_t *d, uint32_t len)
{
	return off == 0x66 ? -5 : 0;
}

static int be_start(void *ctx, uint64_t features, const struct virtio_queue_setup *q, unsigned n)
{
	if (n > 3)
		__builtin_trap();
	memcpy(started, q, n * sizeof(*q));
	for (unsigned i = 0; i < n; i++)
		if (q[i].index >= 3 || !q[i].size || q[i].size > 128 || q[i].kick_fd < 0 ||
		    q[i].call_fd < 0)
			__builtin_trap();
	return (features & 0x80) ? -5 : 0;
}

static void be_reset(void *ctx)
{
}

static const struct virtio_backend_ops be_ops = {
    .device_id = 1,
    .features = be_features,
    .num_queues = be_num_queues,
    .queue_max_size = be_queue_max,
    .config_read = be_config_read,
    .config_write = be_config_write,
    .start = be_start,
    .reset = be_reset,
};

/* One record: op, len, 16-bit offset, 8 data bytes. */
#define RECORD 12

static void fuzz_one(struct iobus *pio, struct iobus *mmio, struct kvm_irq *irq,
		     struct virtio_pci *vp, const uint8_t *r)
{
	uint32_t len = (r[1] & 7) + 1;
	uint32_t off = (uint32_t)r[2] | (uint32_t)r[3] << 8;
	uint8_t buf[8];
	const struct pci_bar *bar = &virtio_pci_dev(vp)->bars[0];
	bool is_write = r[0] & 0x80;
	uint64_t one = 1;

	memcpy(buf, r + 4, 8);
	switch (r[0] & 7) {
	case 0: /* config space by ECAM: device 1, and the bridge */
		iobus_dispatch(mmio, LAYOUT_PCI_ECAM + (1u << 15) + (off & 0x1fff), buf, len,
			       is_write);
		break;
	case 1: /* mechanism #1 */
		iobus_dispatch(pio, 0xcf8 + (off & 7), buf, len, is_write);
		break;
	case 2: /* BAR 0 where it decodes now, or anywhere in the window */
	case 3:
		iobus_dispatch(mmio, (bar->active ? bar->addr : LAYOUT_PCI_MMIO) + (off & 0x8fff),
			       buf, len, is_write);
		break;
	case 4: /* the backend signals a queue */
		if (started[off % 3].call_fd > 0 && write(started[off % 3].call_fd, &one, 8) < 0)
			break;
		break;
	case 5:
		kvm_irq_on_watch(irq, kvm_irq_watch_fd(irq), 0);
		break;
	case 6:
		virtio_pci_config_changed(vp);
		break;
	default:
		virtio_pci_set_needs_reset(vp);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pci_host_params p = {LAYOUT_PCI_ECAM, LAYOUT_PCI_ECAM_SIZE, LAYOUT_PCI_MMIO,
				    LAYOUT_PCI_MMIO_SIZE};
	static struct iobus pio, mmio;
	struct fake_kvm *f = fake_kvm_new();
	struct kvm_irq irq;
	struct pci_host *host;
	struct virtio_pci *vp;
	struct virtio_pci_params vpp = {.ops = &be_ops, .irq = &irq, .name = "fuzz"};
	unsigned slot;
	uint8_t id[4];

	memset(&pio, 0, sizeof(pio));
	memset(&mmio, 0, sizeof(mmio));
	memset(started, 0xff, sizeof(started));
	if (!f || kvm_irq_init(&irq, &fake_kvm_ops, f) || pci_host_create(&host, &p, &pio, &mmio) ||
	    virtio_pci_create(&vp, &vpp) || pci_host_add(host, virtio_pci_dev(vp), &slot))
		__builtin_trap();
	for (size_t i = 0; i + RECORD <= size; i += RECORD)
		fuzz_one(&pio, &mmio, &irq, vp, data + i);
	iobus_dispatch(&mmio, LAYOUT_PCI_ECAM + (1u << 15), id, 4, false);
	if (id[0] != 0xf4 || id[1] != 0x1a || id[2] != 0x41 || id[3] != 0x10)
		__builtin_trap();
	virtio_pci_destroy(vp);
	if (f->nirqfds || f->nioeventfds || f->bad_deassigns)
		__builtin_trap();
	pci_host_destroy(host);
	kvm_irq_fini(&irq);
	free(f);
	return 0;
}
