#include "boot/bzimage.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86/layout.h"

/* Offsets in the image (Documentation/arch/x86/boot.rst, "The real-mode kernel header"). */
#define HDR_SETUP_SECTS     0x1f1
#define HDR_SYSSIZE         0x1f4
#define HDR_BOOT_FLAG       0x1fe
#define HDR_JUMP            0x200
#define HDR_MAGIC           0x202
#define HDR_VERSION         0x206
#define HDR_LOADFLAGS       0x211
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_KERNEL_ALIGN    0x230
#define HDR_RELOCATABLE     0x234
#define HDR_XLOADFLAGS      0x236
#define HDR_CMDLINE_SIZE    0x238
#define HDR_PREF_ADDRESS    0x258
#define HDR_INIT_SIZE       0x260
#define HDR_MIN_LEN         0x268

#define LOADFLAG_LOADED_HIGH 0x01
#define XLF_KERNEL_64        0x01
#define BOOT_PROTO_64BIT     0x020c /* 2.12: xloadflags and the 64-bit entry point */

static uint32_t rd(const uint8_t *img, size_t off, unsigned size)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint32_t)img[off + i] << (8 * i);
	return v;
}

static uint64_t rd64(const uint8_t *img, size_t off)
{
	return rd(img, off, 4) | ((uint64_t)rd(img, off + 4, 4) << 32);
}

static int bzimage_fail(struct bzimage_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int bzimage_fail(struct bzimage_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -ENOEXEC;
}

static int bzimage_check_magic(const uint8_t *img, size_t len, uint64_t file_len,
			       struct bzimage_error *err)
{
	if (len >= 4 && !memcmp(img, "\177ELF", 4))
		return bzimage_fail(err, "an ELF file (vmlinux); azote boots bzImage files");
	if (len < HDR_MIN_LEN || file_len < HDR_MIN_LEN)
		return bzimage_fail(err, "too short to be a kernel (%llu bytes)",
				    (unsigned long long)file_len);
	if (rd(img, HDR_BOOT_FLAG, 2) != 0xaa55 || memcmp(img + HDR_MAGIC, "HdrS", 4))
		return bzimage_fail(err, "not a bzImage (no boot-protocol header magic)");
	return 0;
}

/* Where the protected-mode part goes: the kernel's preferred address when it is relocatable
 * (so its decompressor does not move itself again), else the traditional 1 MiB. */
static uint64_t bzimage_load_addr(const uint8_t *img)
{
	uint64_t pref = rd64(img, HDR_PREF_ADDRESS);
	uint32_t align = rd(img, HDR_KERNEL_ALIGN, 4);

	if (!img[HDR_RELOCATABLE] || pref < LAYOUT_KERNEL_MIN)
		return LAYOUT_KERNEL_MIN;
	if (align && (align & (align - 1)) == 0)
		pref = (pref + align - 1) & ~((uint64_t)align - 1);
	return pref;
}

int bzimage_parse(const uint8_t *img, size_t len, uint64_t file_len, uint64_t lowmem_end,
		  struct bzimage_info *info, struct bzimage_error *err)
{
	unsigned setup_sects;
	uint64_t syssize;
	int rc = bzimage_check_magic(img, len, file_len, err);

	if (rc)
		return rc;
	memset(info, 0, sizeof(*info));
	info->version = (uint16_t)rd(img, HDR_VERSION, 2);
	if (info->version < BOOT_PROTO_64BIT)
		return bzimage_fail(err, "boot protocol %u.%02u is too old (need 2.12, Linux 3.8+)",
				    info->version >> 8, info->version & 0xff);
	if (!(rd(img, HDR_XLOADFLAGS, 2) & XLF_KERNEL_64))
		return bzimage_fail(err, "not a 64-bit kernel (no 64-bit entry point)");
	if (!(img[HDR_LOADFLAGS] & LOADFLAG_LOADED_HIGH))
		return bzimage_fail(err, "not a bzImage (zImage loaded low is not supported)");

	setup_sects = img[HDR_SETUP_SECTS] ? img[HDR_SETUP_SECTS] : 4;
	info->setup_size = (size_t)(setup_sects + 1) * 512;
	info->header_end = HDR_JUMP + 2 + img[HDR_JUMP + 1];
	if (info->header_end > info->setup_size || info->header_end > len)
		return bzimage_fail(err, "corrupt header (header runs past the setup code)");
	syssize = (uint64_t)rd(img, HDR_SYSSIZE, 4) * 16;
	if (info->setup_size >= file_len || syssize > file_len - info->setup_size)
		return bzimage_fail(err,
				    "truncated: the header describes %llu bytes, the file has %llu",
				    (unsigned long long)(info->setup_size + syssize),
				    (unsigned long long)file_len);
	info->kernel_size = file_len - info->setup_size;
	info->load_addr = bzimage_load_addr(img);
	info->init_size = rd(img, HDR_INIT_SIZE, 4);
	if (info->init_size < info->kernel_size)
		info->init_size = info->kernel_size;
	info->initrd_addr_max = rd(img, HDR_INITRD_ADDR_MAX, 4);
	info->cmdline_max = rd(img, HDR_CMDLINE_SIZE, 4);
	if (info->load_addr + info->init_size > lowmem_end)
		return bzimage_fail(err, "needs %llu MiB of RAM from %#llx to unpack; give more --mem",
				    (unsigned long long)(info->init_size >> 20),
				    (unsigned long long)info->load_addr);
	return 0;
}
