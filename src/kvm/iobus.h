/* Address-range registry for port I/O and MMIO: devices register ranges, vCPU exits dispatch. */
#ifndef AZOTE_KVM_IOBUS_H
#define AZOTE_KVM_IOBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Called on a vCPU thread for an access at `offset` inside the registered range. On a read the
 * handler fills data[0..len); it must cope with any len from 1 to 8 the guest chooses. */
typedef void (*iobus_handler_fn)(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
				 bool is_write);

struct iobus_range {
	uint64_t base;
	uint64_t len;
	iobus_handler_fn fn;
	void *opaque;
	const char *name; /* for statistics */
	uint64_t hits;    /* accesses dispatched here (relaxed atomic; statistics only) */
};

/* Addresses no device claimed, counted per address for --exit-stats. */
#define IOBUS_UNCLAIMED_SLOTS 16
struct iobus_unclaimed {
	uint64_t addr;
	uint64_t count;
};

#define IOBUS_MAX_RANGES 64

/* Ranges are registered during set-up, before any vCPU runs; dispatch then reads without locks. */
struct iobus {
	struct iobus_range ranges[IOBUS_MAX_RANGES];
	unsigned count;
	uint64_t unhandled; /* accesses that hit no range (written by vCPU threads, statistics only) */
	struct iobus_unclaimed unclaimed[IOBUS_UNCLAIMED_SLOTS]; /* the first addresses seen */
};

/* Register [base, base+len) for fn. Returns 0, -EINVAL (empty/wrapping range), -EEXIST (overlap)
 * or -ENOSPC. */
__attribute__((warn_unused_result)) int iobus_register(struct iobus *bus, uint64_t base, uint64_t len,
						      iobus_handler_fn fn, void *opaque);
/* Name the range that starts at base (for statistics). */
void iobus_set_name(struct iobus *bus, uint64_t base, const char *name);
/* Append "name=hits" for claimed ranges and "0xADDR=count" for unclaimed ones to buf. */
void iobus_format_stats(const struct iobus *bus, char *buf, size_t len);

/* Forward an access to the range that holds addr. Reads of unclaimed addresses return all ones,
 * as on real hardware; writes there are dropped. Returns true when a device claimed the access. */
bool iobus_dispatch(struct iobus *bus, uint64_t addr, uint8_t *data, uint32_t len, bool is_write);

#endif
