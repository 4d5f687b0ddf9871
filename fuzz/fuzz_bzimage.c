/* libFuzzer target: any bytes as a kernel image header, any claimed file length and RAM size. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "boot/bzimage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bzimage_info info;
	struct bzimage_error err;
	uint64_t file_len = size, lowmem = 128ull << 20;

	/* The first 16 bytes, when present, choose the file length and the guest RAM. */
	if (size >= 16) {
		memcpy(&file_len, data, 8);
		memcpy(&lowmem, data + 8, 8);
		data += 16;
		size -= 16;
	}
	if (bzimage_parse(data, size, file_len, lowmem, &info, &err) == 0) {
		/* Whatever is accepted must describe a layout inside the file and RAM. */
		if (info.setup_size >= file_len || info.header_end > size ||
		    info.load_addr + info.init_size > lowmem)
			__builtin_trap();
	} else if (!memchr(err.msg, '\0', sizeof(err.msg)) || !err.msg[0]) {
		__builtin_trap();
	}
	return 0;
}
