/* One PCI function as the guest sees it in configuration space: a type 0 header, up to six
 * memory BARs, a capability list, and the 4 KiB of extended space ECAM reaches.
 *
 * Every byte has a write mask: guest writes change only writable bits, so BAR sizing falls out of
 * the masks (writing all ones leaves ~(size - 1) | flags) and read-only fields cannot be touched.
 * Config accesses are serialised by the host bridge; BAR accesses are decoded by the host bridge
 * (struct pci_host) and forwarded to ops->bar_access with the offset inside the BAR.
 *
 * A BAR decodes only while the command register's memory-space bit is set and the whole BAR lies
 * inside the host's MMIO window; anything else (a BAR in the middle of sizing, a 64-bit BAR moved
 * above 4 GiB) does not decode, and accesses there read all ones.
 */
#ifndef AZOTE_PCI_PCI_DEV_H
#define AZOTE_PCI_PCI_DEV_H

#include <stdbool.h>
#include <stdint.h>

#define PCI_CFG_SIZE   4096 /* with ECAM; mechanism #1 reaches the first 256 bytes */
#define PCI_CFG_COMPAT 256
#define PCI_NUM_BARS   6
#define PCI_CAP_START  0x40 /* capabilities live in [0x40, 0x100) */

/* Type 0 header offsets (PCI Local Bus 3.0, section 6.1). */
#define PCI_VENDOR_ID	    0x00
#define PCI_DEVICE_ID	    0x02
#define PCI_COMMAND	    0x04
#define PCI_STATUS	    0x06
#define PCI_REVISION_ID	    0x08
#define PCI_CLASS_PROG	    0x09
#define PCI_CACHE_LINE_SIZE 0x0c
#define PCI_LATENCY_TIMER   0x0d
#define PCI_HEADER_TYPE	    0x0e
#define PCI_BAR0	    0x10
#define PCI_SUBSYS_VENDOR   0x2c
#define PCI_SUBSYS_ID	    0x2e
#define PCI_ROM_ADDRESS	    0x30
#define PCI_CAP_PTR	    0x34
#define PCI_INTERRUPT_LINE  0x3c
#define PCI_INTERRUPT_PIN   0x3d

#define PCI_COMMAND_MEMORY   0x0002
#define PCI_COMMAND_MASTER   0x0004
#define PCI_COMMAND_PARITY   0x0040
#define PCI_COMMAND_SERR     0x0100
#define PCI_COMMAND_INTX_OFF 0x0400
#define PCI_STATUS_CAP_LIST  0x0010
#define PCI_BAR_MEM64	     0x4 /* type bits 2:1 = 10b */
#define PCI_BAR_PREFETCH     0x8
#define PCI_CAP_ID_VNDR	     0x09
#define PCI_CAP_ID_MSIX	     0x11

struct pci_dev;

/* Called with the host bridge's lock held (config) or not (bar_access); see pci_host.h. */
struct pci_dev_ops {
	/* A guest access at offset inside BAR bar; any len 1..8, possibly past the BAR's end. */
	void (*bar_access)(struct pci_dev *dev, unsigned bar, uint64_t offset, uint8_t *data,
			   uint32_t len, bool is_write);
	/* BAR bar started or stopped decoding, or moved (dev->bars[bar] holds the new state). */
	void (*bar_moved)(struct pci_dev *dev, unsigned bar);
	/* Optional: config bytes [offset, offset+len) were written (after the masks applied). */
	void (*config_written)(struct pci_dev *dev, uint32_t offset, uint32_t len);
	/* Optional: about to return config bytes [offset, offset+len): refresh dev->cfg there. */
	void (*config_reading)(struct pci_dev *dev, uint32_t offset, uint32_t len);
};

struct pci_id {
	uint16_t vendor, device;
	uint16_t subsys_vendor, subsys;
	uint8_t revision;
	uint32_t class_code; /* base class, subclass, programming interface: 0x018000 */
};

struct pci_bar {
	uint64_t size; /* 0: not implemented (the upper half of a 64-bit BAR too) */
	uint8_t flags; /* PCI_BAR_MEM64, PCI_BAR_PREFETCH */
	bool active;   /* decoding at addr */
	uint64_t addr;
};

struct pci_dev {
	const struct pci_dev_ops *ops;
	const char *name;
	uint8_t cfg[PCI_CFG_SIZE];   /* what reads return */
	uint8_t wmask[PCI_CFG_SIZE]; /* bits guest writes may change */
	struct pci_bar bars[PCI_NUM_BARS];
	uint64_t win_base, win_end; /* where BARs may decode; set by the host bridge */
	uint8_t cap_tail;	    /* offset of the last capability, 0 before the first */
	uint16_t cap_free;	    /* first byte the next capability may use */
	unsigned slot;		    /* device number on bus 0, set by the host bridge */
};

/* Fill the header: ids, class, single function, no INTx pin, nothing decoding. */
void pci_dev_init(struct pci_dev *dev, const struct pci_dev_ops *ops, const struct pci_id *id,
		  const char *name);

/* Declare memory BAR bar of size bytes (a power of two from 16 to 2 GiB). A 64-bit BAR also uses
 * bar + 1. 0 or -EINVAL. */
__attribute__((warn_unused_result)) int pci_dev_add_bar(struct pci_dev *dev, unsigned bar,
							uint64_t size, uint8_t flags);

/* Append a capability of len bytes (header included) with ID id to the list; *offset is where it
 * starts. Its bytes are read-only until pci_dev_set_writable(). 0 or -ENOSPC. */
__attribute__((warn_unused_result)) int pci_dev_add_cap(struct pci_dev *dev, uint8_t id,
							uint8_t len, uint16_t *offset);

/* Let guest writes change the bits of mask in the len bytes at offset (little-endian). */
void pci_dev_set_writable(struct pci_dev *dev, uint16_t offset, uint32_t len, uint32_t mask);

/* Program BAR bar's address as firmware would (the guest may move it later). */
void pci_dev_set_bar_addr(struct pci_dev *dev, unsigned bar, uint64_t addr);

/* Guest config accesses; bytes beyond the 4 KiB space read as ones and are not written. */
void pci_dev_config_read(struct pci_dev *dev, uint32_t offset, uint8_t *data, uint32_t len);
void pci_dev_config_write(struct pci_dev *dev, uint32_t offset, const uint8_t *data, uint32_t len);

/* The decoding BAR that holds [addr, addr+1): its index and the offset, or false. */
bool pci_dev_decode(const struct pci_dev *dev, uint64_t addr, unsigned *bar, uint64_t *offset);

/* Little-endian config field accessors. */
uint32_t pci_cfg_get(const struct pci_dev *dev, uint16_t offset, unsigned bytes);
void pci_cfg_set(struct pci_dev *dev, uint16_t offset, unsigned bytes, uint32_t value);

#endif
