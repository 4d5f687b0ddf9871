/* Guest RAM: one memfd (shareable with device processes), mapped once, split around the
 * PCI hole into KVM memory slots; every access from the host goes through a checked accessor. */
#ifndef AZOTE_KVM_GUEST_MEM_H
#define AZOTE_KVM_GUEST_MEM_H

#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 2

/* A contiguous guest-physical range backed by [host, host+size) at memfd offset fd_offset. */
struct guest_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t fd_offset;
	uint8_t *host;
};

struct guest_mem {
	int memfd;
	uint8_t *base; /* whole mapping of the memfd */
	uint64_t size; /* total guest RAM */
	struct guest_region regions[GUEST_MEM_MAX_REGIONS];
	unsigned nregions;
};

/* Create size bytes of RAM: below lowmem_top, then the rest from 4 GiB up. 0 or -errno. */
__attribute__((warn_unused_result)) int guest_mem_init(struct guest_mem *mem, uint64_t size,
						       uint64_t lowmem_top);
/* Unmap and close; accepts a zeroed or failed guest_mem. */
void guest_mem_fini(struct guest_mem *mem);
/* Host pointer for [gpa, gpa+len) if the whole range lies in one region, else NULL.
 * Overflow-safe: hostile gpa/len values return NULL. */
void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len);
/* Copy into / out of guest memory. 0, or -EFAULT when the range is not RAM. */
__attribute__((warn_unused_result)) int guest_mem_write(const struct guest_mem *mem, uint64_t gpa,
							const void *src, uint64_t len);
__attribute__((warn_unused_result)) int guest_mem_read(const struct guest_mem *mem, uint64_t gpa,
						       void *dst, uint64_t len);
/* Register the regions as KVM memory slots on vm_fd. 0 or -errno. */
__attribute__((warn_unused_result)) int guest_mem_register(const struct guest_mem *mem, int vm_fd);

#endif
