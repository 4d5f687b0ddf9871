/* Linux x86 boot protocol: validating a bzImage header and where its parts go. */
#ifndef AZOTE_BOOT_BZIMAGE_H
#define AZOTE_BOOT_BZIMAGE_H

#include <stddef.h>
#include <stdint.h>

/* What the loader needs from a validated image. */
struct bzimage_info {
	uint16_t version;         /* boot protocol, e.g. 0x020f */
	size_t setup_size;        /* real-mode part: (setup_sects + 1) * 512 */
	uint64_t kernel_size;     /* protected-mode part that follows it in the file */
	size_t header_end;        /* end of the setup header in the file (copied to the zero page) */
	uint64_t load_addr;       /* where the protected-mode part is placed */
	uint64_t init_size;       /* memory the kernel needs from load_addr while booting */
	uint64_t initrd_addr_max; /* highest address the initrd may end at (inclusive) */
	uint32_t cmdline_max;     /* longest command line, terminator excluded */
};

/* Why an image was refused, for "kernel image: <why>". */
struct bzimage_error {
	char msg[160];
};

/* The most of the file's start the parser needs: the largest real-mode part (255 + 1 sectors). */
#define BZIMAGE_HEADER_MAX (256 * 512)

/* Validate a 64-bit-bootable bzImage of file_len bytes whose first hdr_len bytes are hdr, for a
 * guest whose RAM below the PCI hole ends at lowmem_end. 0, or -ENOEXEC (not a bzImage / not
 * bootable) with err filled. */
__attribute__((warn_unused_result)) int bzimage_parse(const uint8_t *hdr, size_t hdr_len,
						      uint64_t file_len, uint64_t lowmem_end,
						      struct bzimage_info *info,
						      struct bzimage_error *err);

#endif
