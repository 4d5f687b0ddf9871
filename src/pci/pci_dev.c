#include "pci/pci_dev.h"

#include <errno.h>
#include <string.h>

/* Header type 0, single function (bit 7 clear). */
#define PCI_HEADER_TYPE_NORMAL 0x00
#define PCI_BAR_ADDR_MASK      0xfffffff0u

uint32_t pci_cfg_get(const struct pci_dev *dev, uint16_t offset, unsigned bytes)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < bytes && offset + i < PCI_CFG_SIZE; i++)
		v |= (uint32_t)dev->cfg[offset + i] << (8 * i);
	return v;
}

void pci_cfg_set(struct pci_dev *dev, uint16_t offset, unsigned bytes, uint32_t value)
{
	for (unsigned i = 0; i < bytes && offset + i < PCI_CFG_SIZE; i++)
		dev->cfg[offset + i] = (uint8_t)(value >> (8 * i));
}

void pci_dev_set_writable(struct pci_dev *dev, uint16_t offset, uint32_t len, uint32_t mask)
{
	for (uint32_t i = 0; i < len && i < 4 && offset + i < PCI_CFG_SIZE; i++)
		dev->wmask[offset + i] = (uint8_t)(mask >> (8 * i));
}

void pci_dev_init(struct pci_dev *dev, const struct pci_dev_ops *ops, const struct pci_id *id,
		  const char *name)
{
	memset(dev, 0, sizeof(*dev));
	dev->ops = ops;
	dev->name = name;
	dev->cap_free = PCI_CAP_START;
	pci_cfg_set(dev, PCI_VENDOR_ID, 2, id->vendor);
	pci_cfg_set(dev, PCI_DEVICE_ID, 2, id->device);
	pci_cfg_set(dev, PCI_REVISION_ID, 1, id->revision);
	pci_cfg_set(dev, PCI_CLASS_PROG, 3, id->class_code);
	pci_cfg_set(dev, PCI_HEADER_TYPE, 1, PCI_HEADER_TYPE_NORMAL);
	pci_cfg_set(dev, PCI_SUBSYS_VENDOR, 2, id->subsys_vendor);
	pci_cfg_set(dev, PCI_SUBSYS_ID, 2, id->subsys);
	/* No I/O BARs, so the I/O-space enable stays hardwired to 0; the rest is what a simple
	 * endpoint implements. Status is read-only: nothing here ever sets its error bits. */
	pci_dev_set_writable(dev, PCI_COMMAND, 2,
			     PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY |
				 PCI_COMMAND_SERR | PCI_COMMAND_INTX_OFF);
	pci_dev_set_writable(dev, PCI_CACHE_LINE_SIZE, 2, 0xffff); /* and the latency timer */
	/* A scratch register for the OS; the pin stays 0: devices here interrupt with MSI-X. */
	pci_dev_set_writable(dev, PCI_INTERRUPT_LINE, 1, 0xff);
}

static bool pci_bar_taken(const struct pci_dev *dev, unsigned bar)
{
	return dev->bars[bar].size ||
	       (bar > 0 && dev->bars[bar - 1].size && (dev->bars[bar - 1].flags & PCI_BAR_MEM64));
}

int pci_dev_add_bar(struct pci_dev *dev, unsigned bar, uint64_t size, uint8_t flags)
{
	bool is64 = flags & PCI_BAR_MEM64;
	uint16_t reg = (uint16_t)(PCI_BAR0 + 4 * bar);

	if (bar >= PCI_NUM_BARS || (is64 && bar + 1 >= PCI_NUM_BARS) ||
	    (flags & ~(PCI_BAR_MEM64 | PCI_BAR_PREFETCH)) || size < 16 || size > (1ull << 31) ||
	    (size & (size - 1)) || pci_bar_taken(dev, bar) || (is64 && pci_bar_taken(dev, bar + 1)))
		return -EINVAL;
	dev->bars[bar] = (struct pci_bar){.size = size, .flags = flags};
	pci_cfg_set(dev, reg, 4, flags);
	/* Address bits below the size read back as zero: that is how the guest sizes the BAR. */
	pci_dev_set_writable(dev, reg, 4, (uint32_t) ~(size - 1) & PCI_BAR_ADDR_MASK);
	if (is64)
		pci_dev_set_writable(dev, (uint16_t)(reg + 4), 4, 0xffffffffu);
	return 0;
}

int pci_dev_add_cap(struct pci_dev *dev, uint8_t id, uint8_t len, uint16_t *offset)
{
	uint16_t start = (uint16_t)((dev->cap_free + 3u) & ~3u);

	if (len < 2 || start + len > PCI_CFG_COMPAT)
		return -ENOSPC;
	dev->cfg[start] = id;
	dev->cfg[start + 1] = 0; /* end of the list */
	if (dev->cap_tail)
		dev->cfg[dev->cap_tail + 1] = (uint8_t)start;
	else
		dev->cfg[PCI_CAP_PTR] = (uint8_t)start;
	pci_cfg_set(dev, PCI_STATUS, 2, pci_cfg_get(dev, PCI_STATUS, 2) | PCI_STATUS_CAP_LIST);
	dev->cap_tail = (uint8_t)start;
	dev->cap_free = (uint16_t)(start + len);
	*offset = start;
	return 0;
}

static uint64_t pci_bar_addr(const struct pci_dev *dev, unsigned bar)
{
	uint16_t reg = (uint16_t)(PCI_BAR0 + 4 * bar);
	uint64_t addr = pci_cfg_get(dev, reg, 4) & PCI_BAR_ADDR_MASK;

	if (dev->bars[bar].flags & PCI_BAR_MEM64)
		addr |= (uint64_t)pci_cfg_get(dev, (uint16_t)(reg + 4), 4) << 32;
	return addr;
}

/* Recompute which BARs decode where, and tell the device about every change. */
static void pci_dev_update_bars(struct pci_dev *dev)
{
	bool mem_on = pci_cfg_get(dev, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY;

	for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
		struct pci_bar *b = &dev->bars[i];
		uint64_t addr = pci_bar_addr(dev, i);
		bool active;

		if (!b->size)
			continue;
		/* Written so that no sum can wrap: the window is checked to hold size bytes. */
		active = mem_on && dev->win_end > dev->win_base &&
			 b->size <= dev->win_end - dev->win_base && addr >= dev->win_base &&
			 addr <= dev->win_end - b->size;
		if (active == b->active && (!active || addr == b->addr))
			continue;
		b->active = active;
		b->addr = addr;
		if (dev->ops && dev->ops->bar_moved)
			dev->ops->bar_moved(dev, i);
	}
}

void pci_dev_set_bar_addr(struct pci_dev *dev, unsigned bar, uint64_t addr)
{
	uint16_t reg = (uint16_t)(PCI_BAR0 + 4 * bar);
	struct pci_bar *b;

	if (bar >= PCI_NUM_BARS || !dev->bars[bar].size)
		return;
	b = &dev->bars[bar];
	pci_cfg_set(dev, reg, 4,
		    ((uint32_t)addr & (uint32_t) ~(b->size - 1) & PCI_BAR_ADDR_MASK) | b->flags);
	if (b->flags & PCI_BAR_MEM64)
		pci_cfg_set(dev, (uint16_t)(reg + 4), 4, (uint32_t)(addr >> 32));
	pci_dev_update_bars(dev);
}

static bool ranges_overlap(uint32_t a, uint32_t alen, uint32_t b, uint32_t blen)
{
	return a < b + blen && b < a + alen;
}

/* The part of [offset, offset+len) inside config space: its length (offset < PCI_CFG_SIZE). */
static uint32_t pci_cfg_clamp(uint32_t offset, uint32_t len)
{
	if (offset >= PCI_CFG_SIZE)
		return 0;
	return len < PCI_CFG_SIZE - offset ? len : PCI_CFG_SIZE - offset;
}

void pci_dev_config_read(struct pci_dev *dev, uint32_t offset, uint8_t *data, uint32_t len)
{
	uint32_t n = pci_cfg_clamp(offset, len);

	if (n && dev->ops && dev->ops->config_reading)
		dev->ops->config_reading(dev, offset, n);
	if (n)
		memcpy(data, dev->cfg + offset, n);
	memset(data + n, 0xff, len - n);
}

void pci_dev_config_write(struct pci_dev *dev, uint32_t offset, const uint8_t *data, uint32_t len)
{
	uint32_t n = pci_cfg_clamp(offset, len);

	if (!n)
		return;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t m = dev->wmask[offset + i];
		dev->cfg[offset + i] = (uint8_t)((dev->cfg[offset + i] & ~m) | (data[i] & m));
	}
	if (ranges_overlap(offset, n, PCI_COMMAND, 2) ||
	    ranges_overlap(offset, n, PCI_BAR0, 4 * PCI_NUM_BARS))
		pci_dev_update_bars(dev);
	if (dev->ops && dev->ops->config_written)
		dev->ops->config_written(dev, offset, n);
}

bool pci_dev_decode(const struct pci_dev *dev, uint64_t addr, unsigned *bar, uint64_t *offset)
{
	for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
		const struct pci_bar *b = &dev->bars[i];
		if (b->size && b->active && addr >= b->addr && addr - b->addr < b->size) {
			*bar = i;
			*offset = addr - b->addr;
			return true;
		}
	}
	return false;
}
