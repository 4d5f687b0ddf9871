/* The disk image behind azote-blk: a raw file or a block device, checked and locked at start
 * so that problems are one clear line instead of I/O errors in the guest. */
#ifndef AZOTE_CARDS_BLK_BLK_IMAGE_H
#define AZOTE_CARDS_BLK_BLK_IMAGE_H

#include <stdbool.h>
#include <stdint.h>

struct blk_image {
	int fd;
	uint64_t size; /* bytes visible to the guest: a multiple of 512 */
	bool ro;
	/* On a memory file system (tmpfs, ramfs): I/O is a copy that never waits for a disk,
	 * and io_uring cannot try it without blocking, so it would hand every request to a
	 * worker thread. */
	bool in_memory;
};

/* Open the image at `path` read-write (or read-only), check that it is a regular file or a
 * block device of at least one sector, and take an OFD lock on it (write lock, or read lock
 * when read-only) so that two writers never share it. Logs one line naming the image and
 * the problem, and returns -errno, on failure. A size that is not a multiple of 512 is
 * rounded down with a warning. */
__attribute__((warn_unused_result)) int blk_image_open(const char *path, bool ro,
						       struct blk_image *img);

/* Open the image at `path` for reading and writing (or reading only) and check that it is a
 * regular file or a block device: what azote does before passing it to azote-blk. Returns the
 * fd (close-on-exec), or -errno after one line naming the image and the problem. */
__attribute__((warn_unused_result)) int blk_image_open_file(const char *path, bool ro);

/* blk_image_open() on an image already open (fd, which becomes the image's: closed on failure);
 * `path` names it in messages. */
__attribute__((warn_unused_result)) int blk_image_adopt(int fd, const char *path, bool ro,
							struct blk_image *img);

/* Make every completed write durable (fdatasync) and close. Accepts a closed image. */
void blk_image_close(struct blk_image *img);

#endif
