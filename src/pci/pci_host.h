/* The PCI host bridge: bus 0 only, configuration mechanism #1 (ports 0xCF8 address latch and
 * 0xCFC..0xCFF data), ECAM (memory-mapped config, described to the guest by ACPI's MCFG), and the
 * 32-bit MMIO window in which devices' BARs live.
 *
 * The bridge itself is device 00:00.0 (vendor 0x1b36 Red Hat, device 0x0008 "PCIe host bridge",
 * class 0x060000): an ID guests know for virtual host bridges and have no quirks for. Linux also
 * needs a host bridge (or an Intel device) on bus 0 before it trusts mechanism #1. Devices take
 * slots 1..31, function 0 only; absent devices, functions and buses read all ones.
 *
 * The whole MMIO window is one range on the MMIO bus; the bridge decodes BARs itself, under its
 * lock, on every access. A guest that moves a BAR or toggles memory decoding therefore changes
 * only the bridge's own table (the bus is never re-registered), and the device hears about it
 * through its bar_moved callback (where it moves its ioeventfds).
 *
 * Threads: config and BAR accesses come from vCPU threads. The bridge lock serialises config
 * accesses (so pci_dev ops other than bar_access run with it held) and BAR lookups; bar_access
 * runs without it. Lock order: bridge, then device locks.
 */
#ifndef AZOTE_PCI_PCI_HOST_H
#define AZOTE_PCI_PCI_HOST_H

#include <pthread.h>
#include <stdint.h>

#include "kvm/iobus.h"
#include "pci/pci_dev.h"

#define PCI_SLOTS	     32
#define PCI_ECAM_BUS_SIZE    (1u << 20) /* 32 devices x 8 functions x 4 KiB */
#define PCI_HOST_VENDOR	     0x1b36
#define PCI_HOST_DEVICE	     0x0008
#define PCI_CONFIG_ADDR_PORT 0xcf8
#define PCI_CONFIG_DATA_PORT 0xcfc

struct pci_host_params {
	uint64_t ecam_base; /* 1 MiB aligned */
	uint64_t ecam_size; /* PCI_ECAM_BUS_SIZE per bus from bus 0; buses past 0 are empty */
	uint64_t mmio_base; /* the BAR window: [mmio_base, mmio_base + mmio_size) */
	uint64_t mmio_size;
};

struct pci_host {
	pthread_mutex_t lock;
	uint32_t latch; /* the 0xCF8 address (relaxed atomic: coalesced writes replay anywhere) */
	struct pci_host_params p;
	uint64_t mmio_next; /* BAR placement: next free address in the window */
	struct pci_dev bridge;
	struct pci_dev *slots[PCI_SLOTS];
};

/* Create the bridge and claim 0xCF8..0xCFF on pio and the ECAM and the window on mmio. 0, or
 * -errno after logging (-EINVAL for bad params, -EEXIST when a range is taken). */
__attribute__((warn_unused_result)) int pci_host_create(struct pci_host **out,
							const struct pci_host_params *p,
							struct iobus *pio, struct iobus *mmio);
/* Free the bridge (not the devices, which belong to their creators). Accepts NULL. Call once
 * no vCPU runs. */
void pci_host_destroy(struct pci_host *host);

/* Put dev in the first free slot (*slot) and place its BARs in the window, as firmware would;
 * memory decoding stays off until the guest turns it on. Before the vCPUs run. 0 or -ENOSPC. */
__attribute__((warn_unused_result)) int pci_host_add(struct pci_host *host, struct pci_dev *dev,
						     unsigned *slot);

/* The bus handlers pci_host_create() registers (exported for tests). */
void pci_host_addr_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
void pci_host_data_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
void pci_host_ecam_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
void pci_host_mmio_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

#endif
