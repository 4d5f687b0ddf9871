/* A small ACPI Machine Language encoder (ACPI 6.x, section 20) for building the DSDT by hand.
 *
 * Every function appends to a bounded buffer and never writes past it. Errors are sticky:
 * after the first failure (no room, malformed name) nothing more is written and aml_error()
 * reports it, so callers emit a whole block and check once at the end.
 *
 * Objects with a PkgLength (Scope, Device, Method, Package, Buffer) are opened with a
 * *_begin() call that returns a mark and closed with aml_end()/aml_buffer_end(), which insert
 * the minimal PkgLength once the contents are known. Blocks nest like the ASL they encode:
 *
 *	size_t dev = aml_device_begin(a, "COM1");
 *	aml_name_eisaid(a, "_HID", "PNP0501");
 *	aml_end(a, dev);
 */
#ifndef AZOTE_ARCH_X86_AML_H
#define AZOTE_ARCH_X86_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *buf;
	size_t size;
	size_t len; /* bytes written so far */
	int err;    /* 0, or the first error: -ENOSPC (no room) or -EINVAL (bad name or mark) */
};

/* Start an empty encoding in buf[0..size). */
void aml_init(struct aml *a, uint8_t *buf, size_t size);

/* 0 if everything so far was encoded, else the first error (-ENOSPC or -EINVAL). */
__attribute__((warn_unused_result)) int aml_error(const struct aml *a);

/* Raw bytes (opcodes, or data the caller encoded itself). */
void aml_bytes(struct aml *a, const void *data, size_t n);
void aml_byte(struct aml *a, uint8_t b);

/* NameString: "\\_SB.PCI0", "^FOO", "_HID", "_S5" (segments shorter than 4 are padded
 * with '_'). */
void aml_namestring(struct aml *a, const char *path);

/* Integer with the shortest encoding (Zero, One, Byte/Word/DWord/QWord prefix). */
void aml_integer(struct aml *a, uint64_t v);

/* String literal: printable ASCII only. */
void aml_string(struct aml *a, const char *s);

/* EISA ID compressed into a DWord ("PNP0501" -> 0x0105d041). */
void aml_eisaid(struct aml *a, const char *id);

/* Name(name, ...) headers: the caller appends the data object... */
void aml_name(struct aml *a, const char *name);
/* ...or uses these shorthands. */
void aml_name_integer(struct aml *a, const char *name, uint64_t v);
void aml_name_string(struct aml *a, const char *name, const char *s);
void aml_name_eisaid(struct aml *a, const char *name, const char *id);

/* Openers; each returns the mark to pass to aml_end(). */
size_t aml_scope_begin(struct aml *a, const char *name);
size_t aml_device_begin(struct aml *a, const char *name);
size_t aml_method_begin(struct aml *a, const char *name, unsigned nargs, bool serialized);
size_t aml_package_begin(struct aml *a, unsigned nelems);

/* Close a Scope, Device, Method or Package opened at mark. */
void aml_end(struct aml *a, size_t mark);

/* Buffer(){...}: the byte list follows; aml_buffer_end() also inserts the BufferSize. */
size_t aml_buffer_begin(struct aml *a);
void aml_buffer_end(struct aml *a, size_t mark);

/* Return(...): the caller appends the returned term (e.g. aml_integer()). */
void aml_return(struct aml *a);

/* Resource descriptors (section 6.4), to put inside a Buffer: a ResourceTemplate is
 * aml_buffer_begin(), descriptors, aml_res_end(), aml_buffer_end(). */
void aml_res_io(struct aml *a, uint16_t base, uint8_t len); /* IO(Decode16, base, base, 1, len) */
void aml_res_irq(struct aml *a, unsigned irq);		    /* IRQNoFlags(){irq}: ISA edge, high */
void aml_res_memory32_fixed(struct aml *a, uint32_t base, uint32_t len, bool writable);
/* WordBusNumber(ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, min, max, 0, max - min + 1):
 * the bus numbers a host bridge decodes. */
void aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max);
/* DWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, 0, min,
 * max, 0, max - min + 1): a host bridge's MMIO window (max >= min). */
void aml_res_dword_memory(struct aml *a, uint32_t min, uint32_t max);
void aml_res_end(struct aml *a); /* EndTag */

#endif
