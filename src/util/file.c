#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

int file_open_regular(const char *path, const char *what, uint64_t max, int *fd, uint64_t *size)
{
	struct stat st;
	int rc;

	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0) {
		rc = -errno;
		log_error("%s %s: %s", what, path,
			  rc == -ENOENT ? "no such file" : strerror(-rc));
		return rc;
	}
	if (fstat(*fd, &st) < 0) {
		rc = -errno;
		log_error("%s %s: %s", what, path, strerror(-rc));
		goto fail;
	}
	rc = -EINVAL;
	if (S_ISDIR(st.st_mode)) {
		log_error("%s %s: is a directory", what, path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		log_error("%s %s: not a regular file", what, path);
		goto fail;
	}
	if (st.st_size == 0) {
		log_error("%s %s: empty file", what, path);
		goto fail;
	}
	if ((uint64_t)st.st_size > max) {
		log_error("%s %s: too large (%lld bytes, at most %llu)", what, path,
			  (long long)st.st_size, (unsigned long long)max);
		goto fail;
	}
	*size = (uint64_t)st.st_size;
	return 0;
fail:
	close(*fd);
	*fd = -1;
	return rc;
}

int file_read_exact(int fd, void *buf, uint64_t len, uint64_t offset)
{
	uint8_t *p = buf;
	uint64_t done = 0;

	while (done < len) {
		size_t chunk = len - done > (1u << 30) ? (1u << 30) : (size_t)(len - done);
		ssize_t n = pread(fd, p + done, chunk, (off_t)(offset + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the file shrank under us */
		done += (uint64_t)n;
	}
	return 0;
}
