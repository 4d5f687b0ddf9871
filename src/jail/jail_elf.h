/* Just enough ELF to tell whether a program needs a dynamic loader inside the jail. */
#ifndef AZOTE_JAIL_JAIL_ELF_H
#define AZOTE_JAIL_JAIL_ELF_H

#include <stddef.h>

/* The program interpreter (PT_INTERP, e.g. "/lib64/ld-linux-x86-64.so.2") of the 64-bit ELF
 * executable open on fd into buf; "" for a static executable. 0, -ENOEXEC when fd is not a
 * 64-bit ELF file or its headers are out of bounds, -ENAMETOOLONG, or -errno. */
__attribute__((warn_unused_result)) int jail_elf_interp(int fd, char *buf, size_t len);

#endif
