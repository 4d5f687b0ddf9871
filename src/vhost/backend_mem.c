/* Guest memory of the vhost-user backend: SET_MEM_TABLE, ADD_MEM_REG, REM_MEM_REG. The rings'
 * workers hold pointers into these mappings, so every change stops them first. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "vhost/backend_priv.h"

static void vhost_mem_unmap(struct gmem_region *r)
{
	if (r->map_base)
		munmap(r->map_base, r->map_len);
	memset(r, 0, sizeof(*r));
}

void vhost_mem_clear(struct gmem *mem)
{
	for (unsigned i = 0; i < mem->count; i++)
		vhost_mem_unmap(&mem->regions[i]);
	mem->count = 0;
}

/* Check a region the frontend describes and map it from fd. 0 or -errno (logged). */
static int vhost_mem_map(const struct vhost_user_mem_region *d, int fd, struct gmem_region *r)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), delta, len;
	struct stat st;
	void *p;

	if (fd < 0) {
		log_error("vhost-user: memory region without its fd");
		return -EINVAL;
	}
	if (d->memory_size == 0 || d->guest_phys_addr + d->memory_size < d->guest_phys_addr ||
	    d->userspace_addr + d->memory_size < d->userspace_addr ||
	    d->mmap_offset + d->memory_size < d->mmap_offset) {
		log_error("vhost-user: memory region with an impossible size or address");
		return -EINVAL;
	}
	/* Touching a page past the end of the file would kill us with SIGBUS. */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size < d->mmap_offset + d->memory_size) {
		log_error("vhost-user: memory region not backed by a large enough file");
		return -EINVAL;
	}
	delta = d->mmap_offset % page;
	len = d->memory_size + delta;
	if (len < delta || len > SIZE_MAX) {
		log_error("vhost-user: memory region too large");
		return -EINVAL;
	}
	p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd,
		 (off_t)(d->mmap_offset - delta));
	if (p == MAP_FAILED) {
		int rc = -errno;

		log_error("vhost-user: cannot map guest memory: %s", strerror(-rc));
		return rc;
	}
	*r = (struct gmem_region){
	    .gpa = d->guest_phys_addr,
	    .size = d->memory_size,
	    .uaddr = d->userspace_addr,
	    .host = (uint8_t *)p + delta,
	    .map_len = len,
	    .map_base = p,
	};
	return 0;
}

/* Would region r overlap one of mem's in guest-physical space? */
static bool vhost_mem_overlaps(const struct gmem *mem, const struct gmem_region *r)
{
	for (unsigned i = 0; i < mem->count; i++) {
		const struct gmem_region *o = &mem->regions[i];

		if (r->gpa < o->gpa + o->size && o->gpa < r->gpa + r->size)
			return true;
	}
	return false;
}

int vhost_mem_set_table(struct vhost_backend *be, struct vhost_msg *msg)
{
	const struct vhost_user_mem_table *t = &msg->m.payload.mem;
	uint32_t size = msg->m.hdr.size;
	struct gmem fresh = {0};
	int rc = 0;

	if (size < 8 || t->nregions > GMEM_MAX_REGIONS ||
	    size != 8 + t->nregions * sizeof(struct vhost_user_mem_region) ||
	    msg->nfds != t->nregions) {
		log_error("vhost-user: SET_MEM_TABLE: malformed (%u bytes, %u fds)", size,
			  msg->nfds);
		return -EINVAL;
	}
	/* Map the whole new table before touching the old one: a failure leaves it in place. */
	for (unsigned i = 0; i < t->nregions && !rc; i++) {
		struct gmem_region r;

		rc = vhost_mem_map(&t->regions[i], msg->fds[i], &r);
		if (!rc && vhost_mem_overlaps(&fresh, &r)) {
			log_error("vhost-user: SET_MEM_TABLE: overlapping regions");
			vhost_mem_unmap(&r);
			rc = -EINVAL;
		}
		if (!rc)
			fresh.regions[fresh.count++] = r;
	}
	if (rc) {
		vhost_mem_clear(&fresh);
		return rc;
	}
	vhost_backend_stop_all(be);
	vhost_mem_clear(&be->mem);
	be->mem = fresh;
	return vhost_backend_update_all(be);
}

int vhost_mem_add_region(struct vhost_backend *be, struct vhost_msg *msg)
{
	struct gmem_region r;
	int rc;

	if (msg->nfds != 1) {
		log_error("vhost-user: ADD_MEM_REG with %u fds", msg->nfds);
		return -EINVAL;
	}
	if (be->mem.count >= GMEM_MAX_REGIONS) {
		log_error("vhost-user: ADD_MEM_REG: all %d memory slots in use", GMEM_MAX_REGIONS);
		return -ENOSPC;
	}
	rc = vhost_mem_map(&msg->m.payload.mem_region.region, msg->fds[0], &r);
	if (rc)
		return rc;
	if (vhost_mem_overlaps(&be->mem, &r)) {
		log_error("vhost-user: ADD_MEM_REG: region overlaps another");
		vhost_mem_unmap(&r);
		return -EINVAL;
	}
	vhost_backend_stop_all(be);
	be->mem.regions[be->mem.count++] = r;
	return vhost_backend_update_all(be);
}

int vhost_mem_remove_region(struct vhost_backend *be, struct vhost_msg *msg)
{
	const struct vhost_user_mem_region *d = &msg->m.payload.mem_region.region;
	struct gmem *mem = &be->mem;

	/* The fd some frontends send along is closed unused by the dispatcher. */
	for (unsigned i = 0; i < mem->count; i++) {
		struct gmem_region *r = &mem->regions[i];

		if (r->gpa != d->guest_phys_addr || r->size != d->memory_size ||
		    r->uaddr != d->userspace_addr)
			continue;
		vhost_backend_stop_all(be);
		vhost_mem_unmap(r);
		memmove(r, r + 1, (mem->count - i - 1) * sizeof(*r));
		mem->count--;
		memset(&mem->regions[mem->count], 0, sizeof(*r));
		return vhost_backend_update_all(be);
	}
	log_error("vhost-user: REM_MEM_REG: no such region");
	return -ENOENT;
}
