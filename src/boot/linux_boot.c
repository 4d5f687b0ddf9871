#include "boot/linux_boot.h"

#include <asm/bootparam.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/x86/e820.h"
#include "arch/x86/layout.h"
#include "boot/bzimage.h"
#include "util/file.h"
#include "util/log.h"

#define KERNEL_MAX_BYTES (512ull << 20)
#define LOADER_TYPE_UNDEFINED 0xff
#define LOADFLAG_CAN_USE_HEAP 0x80
#define BOOT_PROTO_RSDP 0x020e /* 2.14: acpi_rsdp_addr */
#define PAGE_MASK_4K (~0xfffull)

static uint64_t lowmem_end(const struct guest_mem *mem)
{
	return mem->regions[0].size;
}

/* Copy the image's setup header into a fresh zero page and fill in what the loader owns. */
static int zero_page_build(const struct guest_mem *mem, const uint8_t *img,
			   const struct bzimage_info *info, const struct linux_boot_request *req,
			   uint64_t initrd_addr, uint64_t initrd_size)
{
	struct boot_params *bp = guest_mem_ptr(mem, LAYOUT_ZERO_PAGE, sizeof(*bp));
	struct setup_header *h;
	int n;

	if (!bp)
		return -EFAULT;
	memset(bp, 0, sizeof(*bp));
	memcpy((uint8_t *)bp + 0x1f1, img + 0x1f1, info->header_end - 0x1f1);
	h = &bp->hdr;
	h->type_of_loader = LOADER_TYPE_UNDEFINED;
	h->loadflags |= LOADFLAG_CAN_USE_HEAP;
	h->heap_end_ptr = 0xfe00;
	h->code32_start = (uint32_t)info->load_addr;
	h->cmd_line_ptr = (uint32_t)LAYOUT_CMDLINE;
	h->ramdisk_image = (uint32_t)initrd_addr;
	h->ramdisk_size = (uint32_t)initrd_size;
	bp->ext_ramdisk_image = (uint32_t)(initrd_addr >> 32);
	bp->ext_ramdisk_size = (uint32_t)(initrd_size >> 32);
	if (info->version >= BOOT_PROTO_RSDP)
		bp->acpi_rsdp_addr = req->rsdp_gpa;
	n = e820_build(bp->e820_table, E820_MAX_ENTRIES_ZEROPAGE, mem->size);
	if (n < 0)
		return n;
	bp->e820_entries = (uint8_t)n;
	return 0;
}

static int cmdline_write(const struct guest_mem *mem, const struct bzimage_info *info,
			 const char *cmdline)
{
	size_t len = strlen(cmdline);
	uint64_t max = info->cmdline_max < LAYOUT_CMDLINE_MAX - 1 ? info->cmdline_max
								: LAYOUT_CMDLINE_MAX - 1;

	if (len > max) {
		log_error("--cmdline: %zu bytes is longer than this kernel accepts (%llu)", len,
			  (unsigned long long)max);
		return -EINVAL;
	}
	return guest_mem_write(mem, LAYOUT_CMDLINE, cmdline, len + 1);
}

/* The initrd goes as high as the kernel allows, page aligned, above the unpacked kernel. */
static int initrd_load(const struct guest_mem *mem, const struct bzimage_info *info,
		       const char *path, uint64_t *addr, uint64_t *size)
{
	uint64_t top = lowmem_end(mem), floor = info->load_addr + info->init_size;
	int fd, rc;

	rc = file_open_regular(path, "initrd", top, &fd, size);
	if (rc)
		return rc;
	if (info->initrd_addr_max && info->initrd_addr_max + 1 < top)
		top = info->initrd_addr_max + 1;
	if (*size > top || ((top - *size) & PAGE_MASK_4K) < floor) {
		log_error("initrd %s: %llu MiB does not fit in guest RAM beside the kernel; give "
			  "more --mem", path, (unsigned long long)(*size >> 20));
		close(fd);
		return -EFBIG;
	}
	*addr = (top - *size) & PAGE_MASK_4K;
	rc = file_read_exact(fd, guest_mem_ptr(mem, *addr, *size), *size, 0);
	close(fd);
	if (rc)
		log_error("initrd %s: read failed: %s", path, strerror(-rc));
	return rc;
}

/* The kernel's setup header is read into hdr; the protected-mode part goes straight from the
 * file into guest RAM once the header says where (one copy, no intermediate buffer). */
static int kernel_load(const struct guest_mem *mem, const char *path, uint8_t *hdr,
		       struct bzimage_info *info)
{
	struct bzimage_error err;
	uint64_t len;
	size_t hdr_len;
	uint8_t *dst;
	int fd, rc = file_open_regular(path, "kernel image", KERNEL_MAX_BYTES, &fd, &len);

	if (rc)
		return rc;
	hdr_len = len < BZIMAGE_HEADER_MAX ? (size_t)len : BZIMAGE_HEADER_MAX;
	rc = file_read_exact(fd, hdr, hdr_len, 0);
	if (rc) {
		log_error("kernel image %s: read failed: %s", path, strerror(-rc));
		goto out;
	}
	rc = bzimage_parse(hdr, hdr_len, len, lowmem_end(mem), info, &err);
	if (rc) {
		log_error("kernel image %s: %s", path, err.msg);
		goto out;
	}
	dst = guest_mem_ptr(mem, info->load_addr, info->kernel_size);
	rc = dst ? file_read_exact(fd, dst, info->kernel_size, info->setup_size) : -EFAULT;
	if (rc)
		log_error("kernel image %s: loading failed: %s", path, strerror(-rc));
out:
	close(fd);
	return rc;
}

int linux_boot_load(const struct guest_mem *mem, const struct linux_boot_request *req,
		    struct linux_boot_entry *entry)
{
	struct bzimage_info info;
	uint64_t initrd_addr = 0, initrd_size = 0;
	uint8_t *img = malloc(BZIMAGE_HEADER_MAX);
	int rc = img ? kernel_load(mem, req->kernel_path, img, &info) : -ENOMEM;

	if (rc)
		goto out;
	if (req->initrd_path)
		rc = initrd_load(mem, &info, req->initrd_path, &initrd_addr, &initrd_size);
	if (!rc)
		rc = cmdline_write(mem, &info, req->cmdline);
	if (!rc)
		rc = zero_page_build(mem, img, &info, req, initrd_addr, initrd_size);
	/* The 64-bit entry point sits 0x200 bytes into the protected-mode code. */
	entry->rip = info.load_addr + 0x200;
	entry->zero_page = LAYOUT_ZERO_PAGE;
out:
	free(img);
	return rc;
}
