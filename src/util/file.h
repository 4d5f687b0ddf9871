/* Opening and reading user-named input files with errors that name the file and the problem. */
#ifndef AZOTE_UTIL_FILE_H
#define AZOTE_UTIL_FILE_H

#include <stddef.h>
#include <stdint.h>

/* Open path read-only and check it is a regular, non-empty file of at most max bytes.
 * `what` names it in messages ("kernel image"). Logs and returns -errno on failure. */
__attribute__((warn_unused_result)) int file_open_regular(const char *path, const char *what,
							  uint64_t max, int *fd, uint64_t *size);

/* Read exactly len bytes from fd at offset into buf. 0, -EIO on a short file, or -errno. */
__attribute__((warn_unused_result)) int file_read_exact(int fd, void *buf, uint64_t len,
							uint64_t offset);

#endif
