#include "cards/blk/blk_image.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cards/blk/blk_req.h"
#include "util/log.h"

static int blk_image_fail(struct blk_image *img, int rc)
{
	close(img->fd);
	img->fd = -1;
	return rc;
}

static int blk_image_size(const char *path, struct blk_image *img, const struct stat *st)
{
	uint64_t size;
	int rc;

	if (S_ISREG(st->st_mode)) {
		size = (uint64_t)st->st_size;
	} else if (ioctl(img->fd, BLKGETSIZE64, &size) < 0) {
		rc = -errno;
		log_error("%s: cannot read the block device's size: %s", path, strerror(-rc));
		return rc;
	}
	if (size < BLK_SECTOR) {
		log_error("%s: empty image (%llu bytes, a disk needs at least 512)", path,
			  (unsigned long long)size);
		return -EINVAL;
	}
	if (size % BLK_SECTOR)
		log_warn("%s: size %llu is not a multiple of 512 bytes: the last %llu bytes are "
			 "not part of the disk",
			 path, (unsigned long long)size, (unsigned long long)(size % BLK_SECTOR));
	img->size = size - size % BLK_SECTOR;
	return 0;
}

static bool blk_image_in_memory(int fd)
{
	struct statfs sf;

	if (fstatfs(fd, &sf) < 0)
		return false;
	return sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC;
}

/* Another process holding a conflicting lock means another VM uses the disk. */
static int blk_image_lock(const char *path, struct blk_image *img)
{
	struct flock fl = {.l_type = img->ro ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET};
	int rc;

	if (fcntl(img->fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	rc = -errno;
	if (rc == -EAGAIN || rc == -EACCES)
		log_error("%s: in use by another process", path);
	else
		log_error("%s: cannot lock: %s", path, strerror(-rc));
	return rc;
}

/* A regular file or a block device: anything else is no disk. */
static int blk_image_check_type(const char *path, int fd, struct stat *st)
{
	int rc;

	if (fstat(fd, st) < 0) {
		rc = -errno;
		log_error("%s: %s", path, strerror(-rc));
		return rc;
	}
	if (S_ISDIR(st->st_mode)) {
		log_error("%s: is a directory, not a disk image", path);
		return -EISDIR;
	}
	if (!S_ISREG(st->st_mode) && !S_ISBLK(st->st_mode)) {
		log_error("%s: not a regular file or a block device", path);
		return -EINVAL;
	}
	return 0;
}

int blk_image_open_file(const char *path, bool ro)
{
	struct stat st;
	int fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC), rc;

	if (fd < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			log_error("%s: no such file", path);
		else if (rc == -EISDIR)
			log_error("%s: is a directory, not a disk image", path);
		else if (rc == -EACCES || rc == -EPERM || rc == -EROFS)
			log_error("%s: cannot open for %s: %s%s", path,
				  ro ? "reading" : "reading and writing", strerror(-rc),
				  ro ? "" : " (use --ro for a read-only disk)");
		else
			log_error("%s: %s", path, strerror(-rc));
		return rc;
	}
	rc = blk_image_check_type(path, fd, &st);
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}

/* An inherited fd: ours only (close-on-exec), and open for what the disk does. */
static int blk_image_check_fd(const char *path, int fd, bool ro)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		log_error("%s: not an open file: %s", path, strerror(errno));
		return -EBADF;
	}
	if ((fl & O_ACCMODE) == O_WRONLY || (fl & O_PATH)) {
		log_error("%s: not open for reading", path);
		return -EBADF;
	}
	if (!ro && (fl & O_ACCMODE) == O_RDONLY) {
		log_error("%s: open read-only (use --ro for a read-only disk)", path);
		return -EBADF;
	}
	return 0;
}

int blk_image_adopt(int fd, const char *path, bool ro, struct blk_image *img)
{
	struct stat st;
	uint8_t sector[BLK_SECTOR];
	int rc;

	img->fd = fd;
	img->ro = ro;
	img->size = 0;
	img->in_memory = false;
	rc = blk_image_check_fd(path, fd, ro);
	if (!rc)
		rc = blk_image_check_type(path, fd, &st);
	if (!rc)
		rc = blk_image_size(path, img, &st);
	/* The lock belongs to the open file description: whoever passed fd must not keep a copy,
	 * or it would hold the lock after we are gone. */
	if (!rc)
		rc = blk_image_lock(path, img);
	if (rc)
		return blk_image_fail(img, rc);
	/* Opening is not reading: catch an unreadable medium now, not in the guest. */
	errno = 0;
	if (pread(img->fd, sector, sizeof(sector), 0) != (ssize_t)sizeof(sector)) {
		rc = errno ? -errno : -EIO;
		log_error("%s: cannot read: %s", path, strerror(-rc));
		return blk_image_fail(img, rc);
	}
	img->in_memory = S_ISREG(st.st_mode) && blk_image_in_memory(img->fd);
	return 0;
}

int blk_image_open(const char *path, bool ro, struct blk_image *img)
{
	int fd = blk_image_open_file(path, ro);

	if (fd < 0) {
		img->fd = -1;
		return fd;
	}
	return blk_image_adopt(fd, path, ro, img);
}

void blk_image_close(struct blk_image *img)
{
	if (img->fd < 0)
		return;
	if (!img->ro && fdatasync(img->fd) < 0)
		log_error("cannot flush the disk image: %s", strerror(errno));
	close(img->fd);
	img->fd = -1;
}
