/* Guest memory as a device process sees it: regions mapped from the fds the VMM sent, looked up
 * by guest-physical address with overflow-safe bounds checks. */
#ifndef AZOTE_VIRTIO_GMEM_H
#define AZOTE_VIRTIO_GMEM_H

#include <stdint.h>

#define GMEM_MAX_REGIONS 8

struct gmem_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uaddr;  /* the frontend's virtual address of the region (vring addresses use it) */
	uint8_t *host;   /* our mapping */
	uint64_t map_len;/* length of our mmap (for munmap) */
	uint8_t *map_base;
};

struct gmem {
	struct gmem_region regions[GMEM_MAX_REGIONS];
	unsigned count;
};

/* Host pointer for [gpa, gpa+len) inside one region, else NULL (never wraps). */
void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len);
/* Translate a frontend virtual address (vhost-user vring addresses) to a guest-physical one.
 * 0 on success, -EFAULT if no region holds it. */
int gmem_uaddr_to_gpa(const struct gmem *m, uint64_t uaddr, uint64_t *gpa);

#endif
