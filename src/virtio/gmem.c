#include "virtio/gmem.h"

#include <errno.h>
#include <stddef.h>

void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	unsigned count = m->count < GMEM_MAX_REGIONS ? m->count : GMEM_MAX_REGIONS;

	for (unsigned i = 0; i < count; i++) {
		const struct gmem_region *r = &m->regions[i];
		uint64_t off;

		if (gpa < r->gpa)
			continue;
		off = gpa - r->gpa;
		/* Written as subtractions so that no sum can wrap around 2^64. */
		if (off >= r->size || len > r->size - off)
			continue;
		return r->host + off;
	}
	return NULL;
}

int gmem_uaddr_to_gpa(const struct gmem *m, uint64_t uaddr, uint64_t *gpa)
{
	unsigned count = m->count < GMEM_MAX_REGIONS ? m->count : GMEM_MAX_REGIONS;

	for (unsigned i = 0; i < count; i++) {
		const struct gmem_region *r = &m->regions[i];

		if (uaddr >= r->uaddr && uaddr - r->uaddr < r->size) {
			*gpa = r->gpa + (uaddr - r->uaddr);
			return 0;
		}
	}
	return -EFAULT;
}
