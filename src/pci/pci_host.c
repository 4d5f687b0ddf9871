#include "pci/pci_host.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* Configuration address register (0xCF8), PCI Local Bus 3.0 section 3.2.2.3.2. */
#define CF8_ENABLE	  0x80000000u
#define CF8_VALID	  0x80fffffcu /* enable, bus, device, function, dword register */
#define CLASS_BRIDGE_HOST 0x060000u
#define BAR_MIN_ALIGN	  4096u /* a BAR never shares a page, so guests may map it alone */

/* The function at bus/slot/fn, or NULL (absent). Called with the lock held. */
static struct pci_dev *pci_host_find(struct pci_host *host, unsigned bus, unsigned slot,
				     unsigned fn)
{
	if (bus != 0 || fn != 0 || slot >= PCI_SLOTS)
		return NULL;
	return slot == 0 ? &host->bridge : host->slots[slot];
}

static void pci_host_config(struct pci_host *host, unsigned bus, unsigned slot, unsigned fn,
			    uint32_t reg, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_dev *dev;

	pthread_mutex_lock(&host->lock);
	dev = pci_host_find(host, bus, slot, fn);
	if (dev && is_write)
		pci_dev_config_write(dev, reg, data, len);
	else if (dev)
		pci_dev_config_read(dev, reg, data, len);
	else if (!is_write)
		memset(data, 0xff, len); /* master abort: nobody answered */
	pthread_mutex_unlock(&host->lock);
}

void pci_host_addr_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_host *host = opaque;
	uint32_t v;

	/* Only a dword access at 0xCF8 is the address register; narrower ones reach other
	 * (absent) chipset registers such as 0xCF9. */
	if (offset != 0 || len != 4) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (is_write) {
		memcpy(&v, data, 4);
		__atomic_store_n(&host->latch, v & CF8_VALID, __ATOMIC_RELAXED);
	} else {
		v = __atomic_load_n(&host->latch, __ATOMIC_RELAXED);
		memcpy(data, &v, 4);
	}
}

void pci_host_data_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_host *host = opaque;
	uint32_t latch = __atomic_load_n(&host->latch, __ATOMIC_RELAXED);
	uint32_t n = offset < 4 ? (uint32_t)(4 - offset) : 0;

	/* Bytes past 0xCFF (a wide access near the end) belong to no register. */
	if (n > len)
		n = len;
	if (!is_write)
		memset(data, 0xff, len);
	if (!n || !(latch & CF8_ENABLE))
		return;
	pci_host_config(host, (latch >> 16) & 0xff, (latch >> 11) & 0x1f, (latch >> 8) & 7,
			(latch & 0xfc) + (uint32_t)offset, data, n, is_write);
}

void pci_host_ecam_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_host *host = opaque;

	/* Address bits: bus 27:20, device 19:15, function 14:12, register 11:0. A wide access at
	 * the end of a function's 4 KiB reads ones past it (pci_dev_config_read clamps). */
	pci_host_config(host, (unsigned)(offset >> 20), (unsigned)(offset >> 15) & 0x1f,
			(unsigned)(offset >> 12) & 7, (uint32_t)(offset & 0xfff), data, len,
			is_write);
}

void pci_host_mmio_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_host *host = opaque;
	struct pci_dev *dev = NULL;
	uint64_t addr = host->p.mmio_base + offset, bar_off = 0;
	unsigned bar = 0;

	pthread_mutex_lock(&host->lock);
	for (unsigned s = 1; s < PCI_SLOTS && !dev; s++)
		if (host->slots[s] && pci_dev_decode(host->slots[s], addr, &bar, &bar_off))
			dev = host->slots[s];
	pthread_mutex_unlock(&host->lock);
	/* Devices live as long as the VM: the pointer stays good after the unlock. If the BAR
	 * moves meanwhile, the access lands where it was aimed, as on a real bus. */
	if (dev && dev->ops && dev->ops->bar_access)
		dev->ops->bar_access(dev, bar, bar_off, data, len, is_write);
	else if (!is_write)
		memset(data, 0xff, len);
}

static bool pci_host_params_valid(const struct pci_host_params *p)
{
	return p->ecam_size >= PCI_ECAM_BUS_SIZE && p->ecam_size <= 256ull * PCI_ECAM_BUS_SIZE &&
	       p->ecam_size % PCI_ECAM_BUS_SIZE == 0 && p->ecam_base % PCI_ECAM_BUS_SIZE == 0 &&
	       p->ecam_base + p->ecam_size > p->ecam_base && p->mmio_size &&
	       p->mmio_base % BAR_MIN_ALIGN == 0 && p->mmio_base + p->mmio_size > p->mmio_base &&
	       (p->ecam_base >= p->mmio_base + p->mmio_size ||
		p->mmio_base >= p->ecam_base + p->ecam_size);
}

/* True when [base, base+len) is free on bus and one more range fits: then iobus_register cannot
 * fail, and pci_host_create never leaves a bus pointing at a bridge it freed. */
static bool iobus_has_room(const struct iobus *bus, uint64_t base, uint64_t len)
{
	for (unsigned i = 0; i < bus->count; i++)
		if (base < bus->ranges[i].base + bus->ranges[i].len &&
		    bus->ranges[i].base < base + len)
			return false;
	return bus->count < IOBUS_MAX_RANGES;
}

static int pci_host_claim(struct pci_host *host, struct iobus *pio, struct iobus *mmio)
{
	const struct pci_host_params *p = &host->p;

	if (!iobus_has_room(pio, PCI_CONFIG_ADDR_PORT, 8) || pio->count + 2 > IOBUS_MAX_RANGES ||
	    !iobus_has_room(mmio, p->ecam_base, p->ecam_size) ||
	    !iobus_has_room(mmio, p->mmio_base, p->mmio_size) || mmio->count + 2 > IOBUS_MAX_RANGES)
		return -EEXIST;
	if (iobus_register(pio, PCI_CONFIG_ADDR_PORT, 4, pci_host_addr_io, host) ||
	    iobus_register(pio, PCI_CONFIG_DATA_PORT, 4, pci_host_data_io, host) ||
	    iobus_register(mmio, p->ecam_base, p->ecam_size, pci_host_ecam_io, host) ||
	    iobus_register(mmio, p->mmio_base, p->mmio_size, pci_host_mmio_io, host))
		return -EEXIST; /* not reached: the room was checked */
	iobus_set_name(pio, PCI_CONFIG_ADDR_PORT, "pci-cf8");
	iobus_set_name(pio, PCI_CONFIG_DATA_PORT, "pci-cfc");
	iobus_set_name(mmio, p->ecam_base, "pci-ecam");
	iobus_set_name(mmio, p->mmio_base, "pci-bars");
	return 0;
}

int pci_host_create(struct pci_host **out, const struct pci_host_params *p, struct iobus *pio,
		    struct iobus *mmio)
{
	static const struct pci_id bridge_id = {.vendor = PCI_HOST_VENDOR,
						.device = PCI_HOST_DEVICE,
						.subsys_vendor = PCI_HOST_VENDOR,
						.subsys = PCI_HOST_DEVICE,
						.class_code = CLASS_BRIDGE_HOST};
	struct pci_host *host;
	int rc;

	if (!p || !pci_host_params_valid(p)) {
		log_error("PCI: bad ECAM or MMIO window layout");
		return -EINVAL;
	}
	host = calloc(1, sizeof(*host));
	if (!host)
		return -ENOMEM;
	pthread_mutex_init(&host->lock, NULL);
	host->p = *p;
	host->mmio_next = p->mmio_base;
	pci_dev_init(&host->bridge, NULL, &bridge_id, "host bridge");
	rc = pci_host_claim(host, pio, mmio);
	if (rc) {
		log_error("PCI: the config ports, ECAM or MMIO window overlap another device");
		pci_host_destroy(host);
		return rc;
	}
	*out = host;
	return 0;
}

void pci_host_destroy(struct pci_host *host)
{
	if (!host)
		return;
	pthread_mutex_destroy(&host->lock);
	free(host);
}

/* Place the BARs largest first, each aligned to its size, from the bottom of the window. */
static int pci_host_place_bars(struct pci_host *host, struct pci_dev *dev)
{
	uint64_t end = host->p.mmio_base + host->p.mmio_size, next = host->mmio_next;
	bool placed[PCI_NUM_BARS] = {false};

	for (;;) {
		unsigned best = PCI_NUM_BARS;
		uint64_t align, addr;

		for (unsigned i = 0; i < PCI_NUM_BARS; i++)
			if (dev->bars[i].size && !placed[i] &&
			    (best == PCI_NUM_BARS || dev->bars[i].size > dev->bars[best].size))
				best = i;
		if (best == PCI_NUM_BARS)
			break;
		align = dev->bars[best].size < BAR_MIN_ALIGN ? BAR_MIN_ALIGN : dev->bars[best].size;
		addr = (next + align - 1) & ~(align - 1);
		if (addr < next || addr > end || dev->bars[best].size > end - addr)
			return -ENOSPC;
		pci_dev_set_bar_addr(dev, best, addr);
		placed[best] = true;
		next = addr + (align > dev->bars[best].size ? align : dev->bars[best].size);
	}
	host->mmio_next = next;
	return 0;
}

int pci_host_add(struct pci_host *host, struct pci_dev *dev, unsigned *slot)
{
	unsigned s;
	int rc;

	pthread_mutex_lock(&host->lock);
	for (s = 1; s < PCI_SLOTS && host->slots[s]; s++)
		;
	if (s == PCI_SLOTS) {
		pthread_mutex_unlock(&host->lock);
		log_error("PCI: %s: all 31 slots are taken", dev->name ? dev->name : "device");
		return -ENOSPC;
	}
	dev->win_base = host->p.mmio_base;
	dev->win_end = host->p.mmio_base + host->p.mmio_size;
	rc = pci_host_place_bars(host, dev);
	if (!rc) {
		dev->slot = s;
		host->slots[s] = dev;
		*slot = s;
	}
	pthread_mutex_unlock(&host->lock);
	if (rc)
		log_error("PCI: %s: its BARs do not fit in the MMIO window",
			  dev->name ? dev->name : "device");
	return rc;
}
