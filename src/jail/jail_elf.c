#include "jail/jail_elf.h"

#include <elf.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Exactly len bytes at off, or -ENOEXEC for a file too short to hold them. */
static int read_at(int fd, void *buf, size_t len, off_t off)
{
	ssize_t n = pread(fd, buf, len, off);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -ENOEXEC;
}

int jail_elf_interp(int fd, char *buf, size_t len)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int rc = read_at(fd, &eh, sizeof(eh), 0);

	if (rc)
		return rc;
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(ph))
		return -ENOEXEC;
	buf[0] = '\0';
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		rc = read_at(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * sizeof(ph)));
		if (rc)
			return rc;
		if (ph.p_type != PT_INTERP)
			continue;
		/* p_filesz counts the terminating NUL. */
		if (ph.p_filesz == 0 || ph.p_filesz > len)
			return ph.p_filesz ? -ENAMETOOLONG : -ENOEXEC;
		rc = read_at(fd, buf, ph.p_filesz, (off_t)ph.p_offset);
		if (rc)
			return rc;
		buf[ph.p_filesz - 1] = '\0';
		return 0;
	}
	return 0;
}
