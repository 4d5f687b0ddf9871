#include "arch/x86/aml.h"

#include <errno.h>
#include <string.h>

/* Opcodes and prefixes, ACPI 6.x section 20.2. */
enum {
	AML_ZERO = 0x00,
	AML_ONE = 0x01,
	AML_NAME = 0x08,
	AML_BYTE_PREFIX = 0x0a,
	AML_WORD_PREFIX = 0x0b,
	AML_DWORD_PREFIX = 0x0c,
	AML_STRING_PREFIX = 0x0d,
	AML_QWORD_PREFIX = 0x0e,
	AML_SCOPE = 0x10,
	AML_BUFFER = 0x11,
	AML_PACKAGE = 0x12,
	AML_METHOD = 0x14,
	AML_DUAL_NAME_PREFIX = 0x2e,
	AML_MULTI_NAME_PREFIX = 0x2f,
	AML_EXT_PREFIX = 0x5b,
	AML_EXT_DEVICE = 0x82,
	AML_ROOT_CHAR = 0x5c,
	AML_PARENT_CHAR = 0x5e,
	AML_RETURN = 0xa4,
};

void aml_init(struct aml *a, uint8_t *buf, size_t size)
{
	*a = (struct aml){.buf = buf, .size = size};
}

int aml_error(const struct aml *a)
{
	return a->err;
}

static void aml_fail(struct aml *a, int err)
{
	if (!a->err)
		a->err = err;
}

void aml_bytes(struct aml *a, const void *data, size_t n)
{
	if (a->err)
		return;
	if (n > a->size - a->len) {
		aml_fail(a, -ENOSPC);
		return;
	}
	memcpy(a->buf + a->len, data, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

/* Put n bytes at pos, shifting what follows: how a PkgLength lands in front of its contents. */
static void aml_insert(struct aml *a, size_t pos, const uint8_t *data, size_t n)
{
	if (a->err)
		return;
	if (pos > a->len) {
		aml_fail(a, -EINVAL);
		return;
	}
	if (n > a->size - a->len) {
		aml_fail(a, -ENOSPC);
		return;
	}
	memmove(a->buf + pos + n, a->buf + pos, a->len - pos);
	memcpy(a->buf + pos, data, n);
	a->len += n;
}

static bool aml_lead_char(char c)
{
	return (c >= 'A' && c <= 'Z') || c == '_';
}

static bool aml_name_char(char c)
{
	return aml_lead_char(c) || (c >= '0' && c <= '9');
}

/* Encode one NameSeg from s (up to the next '.' or the end); returns chars consumed or 0. */
static size_t aml_nameseg(const char *s, uint8_t seg[4])
{
	size_t n = 0;

	if (!aml_lead_char(s[0]))
		return 0;
	while (n < 4 && aml_name_char(s[n])) {
		seg[n] = (uint8_t)s[n];
		n++;
	}
	if (s[n] != '\0' && s[n] != '.')
		return 0;
	for (size_t i = n; i < 4; i++)
		seg[i] = '_';
	return n;
}

void aml_namestring(struct aml *a, const char *path)
{
	uint8_t segs[255 * 4];
	size_t nsegs = 0;
	const char *s = path;

	if (*s == '\\') {
		aml_byte(a, AML_ROOT_CHAR);
		s++;
	} else {
		for (; *s == '^'; s++)
			aml_byte(a, AML_PARENT_CHAR);
	}
	while (*s) {
		size_t n = nsegs < 255 ? aml_nameseg(s, &segs[nsegs * 4]) : 0;
		if (!n) {
			aml_fail(a, -EINVAL);
			return;
		}
		nsegs++;
		s += n;
		if (*s == '.' && *++s == '\0') {
			aml_fail(a, -EINVAL); /* trailing dot */
			return;
		}
	}
	if (nsegs == 0 && s == path) {
		aml_fail(a, -EINVAL); /* empty name */
	} else if (nsegs == 0) {
		aml_byte(a, 0x00); /* NullName: the prefix alone names the object ("\\") */
	} else if (nsegs == 2) {
		aml_byte(a, AML_DUAL_NAME_PREFIX);
	} else if (nsegs > 2) {
		aml_byte(a, AML_MULTI_NAME_PREFIX);
		aml_byte(a, (uint8_t)nsegs);
	}
	aml_bytes(a, segs, nsegs * 4);
}

/* The shortest integer encoding of v into out (up to 9 bytes); returns its length. */
static size_t aml_integer_encode(uint64_t v, uint8_t out[9])
{
	size_t n;

	if (v <= 1) {
		out[0] = v ? AML_ONE : AML_ZERO;
		return 1;
	}
	if (v <= 0xff) {
		out[0] = AML_BYTE_PREFIX;
		n = 1;
	} else if (v <= 0xffff) {
		out[0] = AML_WORD_PREFIX;
		n = 2;
	} else if (v <= 0xffffffff) {
		out[0] = AML_DWORD_PREFIX;
		n = 4;
	} else {
		out[0] = AML_QWORD_PREFIX;
		n = 8;
	}
	for (size_t i = 0; i < n; i++)
		out[1 + i] = (uint8_t)(v >> (8 * i));
	return 1 + n;
}

void aml_integer(struct aml *a, uint64_t v)
{
	uint8_t enc[9];

	aml_bytes(a, enc, aml_integer_encode(v, enc));
}

void aml_string(struct aml *a, const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0x20 || s[i] > 0x7e) {
			aml_fail(a, -EINVAL);
			return;
		}
	}
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, n + 1); /* with the NUL terminator */
}

static int aml_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void aml_eisaid(struct aml *a, const char *id)
{
	uint8_t enc[5] = {AML_DWORD_PREFIX};
	int h[4];

	if (strlen(id) != 7) {
		aml_fail(a, -EINVAL);
		return;
	}
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z') {
			aml_fail(a, -EINVAL);
			return;
		}
	}
	for (int i = 0; i < 4; i++) {
		h[i] = aml_hex_digit(id[3 + i]);
		if (h[i] < 0) {
			aml_fail(a, -EINVAL);
			return;
		}
	}
	/* Three 5-bit letters ('A' = 1) then four nibbles, most significant first, byte by byte. */
	unsigned c0 = (unsigned)(id[0] - '@'), c1 = (unsigned)(id[1] - '@'),
		 c2 = (unsigned)(id[2] - '@');
	enc[1] = (uint8_t)(c0 << 2 | c1 >> 3);
	enc[2] = (uint8_t)((c1 & 7) << 5 | c2);
	enc[3] = (uint8_t)(h[0] << 4 | h[1]);
	enc[4] = (uint8_t)(h[2] << 4 | h[3]);
	aml_bytes(a, enc, sizeof(enc));
}

void aml_name(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME);
	aml_namestring(a, name);
}

void aml_name_integer(struct aml *a, const char *name, uint64_t v)
{
	aml_name(a, name);
	aml_integer(a, v);
}

void aml_name_string(struct aml *a, const char *name, const char *s)
{
	aml_name(a, name);
	aml_string(a, s);
}

void aml_name_eisaid(struct aml *a, const char *name, const char *id)
{
	aml_name(a, name);
	aml_eisaid(a, id);
}

size_t aml_scope_begin(struct aml *a, const char *name)
{
	size_t mark;

	aml_byte(a, AML_SCOPE);
	mark = a->len;
	aml_namestring(a, name);
	return mark;
}

size_t aml_device_begin(struct aml *a, const char *name)
{
	size_t mark;

	aml_byte(a, AML_EXT_PREFIX);
	aml_byte(a, AML_EXT_DEVICE);
	mark = a->len;
	aml_namestring(a, name);
	return mark;
}

size_t aml_method_begin(struct aml *a, const char *name, unsigned nargs, bool serialized)
{
	size_t mark;

	if (nargs > 7)
		aml_fail(a, -EINVAL);
	aml_byte(a, AML_METHOD);
	mark = a->len;
	aml_namestring(a, name);
	/* MethodFlags: ArgCount in bits 0-2, SerializeFlag in bit 3, SyncLevel 0. */
	aml_byte(a, (uint8_t)((nargs & 7) | (serialized ? 0x08 : 0)));
	return mark;
}

size_t aml_package_begin(struct aml *a, unsigned nelems)
{
	size_t mark;

	if (nelems > 255)
		aml_fail(a, -EINVAL); /* would need a VarPackage */
	aml_byte(a, AML_PACKAGE);
	mark = a->len;
	aml_byte(a, (uint8_t)nelems);
	return mark;
}

void aml_end(struct aml *a, size_t mark)
{
	uint8_t enc[4];
	size_t content, total, n;

	if (a->err)
		return;
	if (mark > a->len) {
		aml_fail(a, -EINVAL);
		return;
	}
	content = a->len - mark;
	/* PkgLength counts its own bytes: one byte holds up to 63, then 12, 20 or 28 bits. */
	for (n = 1; n <= 4; n++) {
		total = content + n;
		if (n == 1 ? total <= 0x3f : total < (size_t)1 << (4 + 8 * (n - 1)))
			break;
	}
	if (n > 4) {
		aml_fail(a, -ENOSPC);
		return;
	}
	if (n == 1) {
		enc[0] = (uint8_t)total;
	} else {
		/* Lead byte: count of following bytes in bits 6-7, low nibble in bits 0-3. */
		enc[0] = (uint8_t)((n - 1) << 6 | (total & 0x0f));
		for (size_t i = 1; i < n; i++)
			enc[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
	aml_insert(a, mark, enc, n);
}

size_t aml_buffer_begin(struct aml *a)
{
	aml_byte(a, AML_BUFFER);
	return a->len;
}

void aml_buffer_end(struct aml *a, size_t mark)
{
	uint8_t enc[9];

	if (a->err)
		return;
	if (mark > a->len) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_insert(a, mark, enc, aml_integer_encode(a->len - mark, enc));
	aml_end(a, mark);
}

void aml_return(struct aml *a)
{
	aml_byte(a, AML_RETURN);
}

void aml_res_io(struct aml *a, uint16_t base, uint8_t len)
{
	/* Small item 0x08 (I/O port), 7 bytes: 16-bit decode, min, max, alignment, length. */
	const uint8_t d[8] = {
	    0x47, 0x01, (uint8_t)base, (uint8_t)(base >> 8), (uint8_t)base, (uint8_t)(base >> 8),
	    0x01, len};
	aml_bytes(a, d, sizeof(d));
}

void aml_res_irq(struct aml *a, unsigned irq)
{
	/* Small item 0x04 (IRQ), 2 bytes: the mask alone means edge, active high, exclusive. */
	if (irq > 15) {
		aml_fail(a, -EINVAL);
		return;
	}
	const uint8_t d[3] = {0x22, (uint8_t)(1u << irq), (uint8_t)((1u << irq) >> 8)};
	aml_bytes(a, d, sizeof(d));
}

void aml_res_memory32_fixed(struct aml *a, uint32_t base, uint32_t len, bool writable)
{
	/* Large item 0x06 (32-bit fixed memory range), 9 bytes of data. */
	uint8_t d[12] = {0x86, 9, 0, writable ? 0x01 : 0x00};

	for (int i = 0; i < 4; i++) {
		d[4 + i] = (uint8_t)(base >> (8 * i));
		d[8 + i] = (uint8_t)(len >> (8 * i));
	}
	aml_bytes(a, d, sizeof(d));
}

/* Address space descriptors (section 6.4.3.5): resource type, then the general flags of a
 * producer (bit 0 clear) with fixed min and max (bits 2 and 3) and positive decode (bit 1 clear).
 */
#define AML_ADDR_SPACE_MEMORY	     0
#define AML_ADDR_SPACE_BUS	     2
#define AML_ADDR_PRODUCER_FIXED	     0x0c
#define AML_ADDR_MEM_RW_NONCACHEABLE 0x01

void aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max)
{
	/* Large item 0x08 (Word Address Space), 13 bytes: type, flags, type flags, granularity,
	 * min, max, translation offset, length. */
	uint16_t f[5] = {0, min, max, 0, (uint16_t)(max - min + 1)};
	uint8_t d[16] = {0x88, 13, 0, AML_ADDR_SPACE_BUS, AML_ADDR_PRODUCER_FIXED, 0};

	if (max < min) {
		aml_fail(a, -EINVAL);
		return;
	}
	for (int i = 0; i < 5; i++) {
		d[6 + 2 * i] = (uint8_t)f[i];
		d[7 + 2 * i] = (uint8_t)(f[i] >> 8);
	}
	aml_bytes(a, d, sizeof(d));
}

void aml_res_dword_memory(struct aml *a, uint32_t min, uint32_t max)
{
	/* Large item 0x07 (DWord Address Space), 23 bytes, laid out as the word form. */
	uint32_t f[5] = {0, min, max, 0, max - min + 1};
	uint8_t d[26] = {0x87, 23, 0, AML_ADDR_SPACE_MEMORY, AML_ADDR_PRODUCER_FIXED};

	if (max < min || max - min == UINT32_MAX) {
		aml_fail(a, -EINVAL);
		return;
	}
	d[5] = AML_ADDR_MEM_RW_NONCACHEABLE;
	for (int i = 0; i < 5; i++)
		for (int b = 0; b < 4; b++)
			d[6 + 4 * i + b] = (uint8_t)(f[i] >> (8 * b));
	aml_bytes(a, d, sizeof(d));
}

void aml_res_end(struct aml *a)
{
	/* End tag with checksum 0, which means "treat the template as valid". */
	const uint8_t d[2] = {0x79, 0x00};
	aml_bytes(a, d, sizeof(d));
}
