/* The guest's physical memory map (e820), derived from its RAM size and the fixed layout. */
#ifndef AZOTE_ARCH_X86_E820_H
#define AZOTE_ARCH_X86_E820_H

#include <asm/bootparam.h>
#include <stdint.h>

#define E820_RAM      1
#define E820_RESERVED 2

/* Fill out[0..max) for a VM with ram_bytes of RAM. Returns the entry count, or -ENOSPC. */
int e820_build(struct boot_e820_entry *out, unsigned max, uint64_t ram_bytes);

#endif
