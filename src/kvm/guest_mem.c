#include "kvm/guest_mem.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define GIB_4 (1ull << 32)

int guest_mem_init(struct guest_mem *mem, uint64_t size, uint64_t lowmem_top)
{
	uint64_t low = size < lowmem_top ? size : lowmem_top;
	int rc;

	*mem = (struct guest_mem){.memfd = -1};
	mem->memfd = memfd_create("azote-guest-ram", MFD_CLOEXEC);
	if (mem->memfd < 0)
		return -errno;
	if (ftruncate(mem->memfd, (off_t)size) < 0)
		goto fail;
	/* MAP_NORESERVE: the guest touches its RAM lazily; only what it uses costs host memory. */
	mem->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
			 mem->memfd, 0);
	if (mem->base == MAP_FAILED) {
		mem->base = NULL;
		goto fail;
	}
	/* 2 MiB pages where the host allows them for shmem (shmem_enabled=advise): far fewer
	 * nested page faults and TLB misses than 4 KiB pages. A refusal is not an error. */
	madvise(mem->base, size, MADV_HUGEPAGE);
	mem->size = size;
	mem->regions[0] = (struct guest_region){.gpa = 0, .size = low, .host = mem->base};
	mem->nregions = 1;
	if (size > low) {
		mem->regions[1] = (struct guest_region){
			.gpa = GIB_4, .size = size - low, .fd_offset = low, .host = mem->base + low};
		mem->nregions = 2;
	}
	return 0;
fail:
	rc = -errno;
	guest_mem_fini(mem);
	return rc;
}

void guest_mem_fini(struct guest_mem *mem)
{
	if (mem->base)
		munmap(mem->base, mem->size);
	if (mem->memfd >= 0)
		close(mem->memfd);
	*mem = (struct guest_mem){.memfd = -1};
}

void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct guest_region *r = &mem->regions[i];
		/* Written so that no sum can wrap: gpa >= r->gpa, then compare remaining room. */
		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		if (len > r->size - (gpa - r->gpa))
			return NULL;
		return r->host + (gpa - r->gpa);
	}
	return NULL;
}

int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = guest_mem_ptr(mem, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

int guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *dst, uint64_t len)
{
	const void *p = guest_mem_ptr(mem, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int guest_mem_register(const struct guest_mem *mem, int vm_fd)
{
	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct guest_region *r = &mem->regions[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uint64_t)(uintptr_t)r->host,
		};
		if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
			return -errno;
	}
	return 0;
}
