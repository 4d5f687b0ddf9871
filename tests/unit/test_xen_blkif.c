/* The Xen blkif ring as a hostile frontend drives it: malformed requests, too many segments,
 * bad grant references (out of the table, not for domain 0, read-only where the backend
 * writes, naming no RAM), sectors out of range, ring indices that jump: each gets an error
 * status or stops the ring, never a crash or a buffer outside guest RAM. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs <setjmp.h>, <stdarg.h> and <stddef.h> first. */
#include <cmocka.h>

#include "cards/blk/xen_blkif.h"
#include "xen/xen_abi.h"

#define PAGES	  64
#define RING_GFN  1
#define RING_REF  1
#define DATA_GFN  2
#define DATA_REF  2
#define RO_REF	  3
#define CAPACITY  1024

struct fake {
	struct guest_mem mem;
	uint8_t *ram;
	uint8_t *table;
	struct blkif_grants g;
	struct blkif_disk d;
	struct blkif_ring r;
};

static void grant(struct fake *f, uint32_t ref, uint16_t flags, uint16_t domid, uint32_t gfn)
{
	uint8_t *e = f->table + ref * XEN_GNT_V1_SIZE;

	memcpy(e, &flags, 2);
	memcpy(e + 2, &domid, 2);
	memcpy(e + 4, &gfn, 4);
}

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->ram = aligned_alloc(XEN_PAGE_SIZE, PAGES * XEN_PAGE_SIZE);
	f->table = aligned_alloc(XEN_PAGE_SIZE, XEN_PAGE_SIZE);
	assert_non_null(f->ram);
	assert_non_null(f->table);
	memset(f->ram, 0, PAGES * XEN_PAGE_SIZE);
	memset(f->table, 0, XEN_PAGE_SIZE);
	f->mem = (struct guest_mem){.memfd = -1, .base = f->ram, .size = PAGES * XEN_PAGE_SIZE};
	f->mem.regions[0] = (struct guest_region){0, PAGES * XEN_PAGE_SIZE, 0, f->ram};
	f->mem.nregions = 1;
	f->g = (struct blkif_grants){.mem = &f->mem, .table = f->table, .nframes = 1};
	f->d = (struct blkif_disk){.capacity = CAPACITY, .ro = false};
	grant(f, RING_REF, GTF_permit_access, 0, RING_GFN);
	grant(f, DATA_REF, GTF_permit_access, 0, DATA_GFN);
	grant(f, RO_REF, GTF_permit_access | GTF_readonly, 0, DATA_GFN + 1);
	assert_int_equal(blkif_ring_attach(&f->r, &f->g, RING_REF), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;

	free(f->ram);
	free(f->table);
	free(f);
	return 0;
}

/* A request as a frontend lays it out. */
static void req_make(uint8_t *b, uint8_t op, uint8_t nseg, uint64_t id, uint64_t sector)
{
	memset(b, 0, BLKIF_ENTRY_SIZE);
	b[BLKIF_REQ_OP] = op;
	b[BLKIF_REQ_NSEG] = nseg;
	memcpy(b + BLKIF_REQ_ID, &id, 8);
	memcpy(b + BLKIF_REQ_SECTOR, &sector, 8);
}

static void seg_set(uint8_t *b, unsigned i, uint32_t ref, uint8_t first, uint8_t last)
{
	uint8_t *s = b + BLKIF_REQ_SEG + i * BLKIF_SEG_SIZE;

	memcpy(s + BLKIF_SEG_GREF, &ref, 4);
	s[BLKIF_SEG_FIRST] = first;
	s[BLKIF_SEG_LAST] = last;
}

static int16_t parse(struct fake *f, const uint8_t *b, struct blkif_io *io)
{
	blkif_req_parse(b, &f->g, &f->d, io);
	return io->status;
}

static void test_read_write_ok(void **state)
{
	struct fake *f = *state;
	uint8_t b[BLKIF_ENTRY_SIZE];
	struct blkif_io io;

	req_make(b, BLKIF_OP_READ, 2, 0xabcdef, 16);
	seg_set(b, 0, DATA_REF, 0, 7);
	seg_set(b, 1, DATA_REF, 2, 3);
	assert_int_equal(parse(f, b, &io), BLKIF_RSP_OKAY);
	assert_int_equal(io.id, 0xabcdef);
	assert_int_equal(io.sector, 16);
	assert_int_equal(io.niov, 2);
	assert_int_equal(io.len, 10 * 512);
	assert_ptr_equal(io.iov[0].iov_base, f->ram + DATA_GFN * XEN_PAGE_SIZE);
	assert_ptr_equal(io.iov[1].iov_base, f->ram + DATA_GFN * XEN_PAGE_SIZE + 1024);
	assert_int_equal(io.iov[1].iov_len, 1024);
	/* A write only reads the guest's page: a read-only grant will do. */
	req_make(b, BLKIF_OP_WRITE, 1, 1, CAPACITY - 8);
	seg_set(b, 0, RO_REF, 0, 7);
	assert_int_equal(parse(f, b, &io), BLKIF_RSP_OKAY);
	/* A flush alone has no segment. */
	req_make(b, BLKIF_OP_FLUSH_DISKCACHE, 0, 2, 0);
	assert_int_equal(parse(f, b, &io), BLKIF_RSP_OKAY);
	assert_int_equal(io.len, 0);
}

static void test_malformed(void **state)
{
	struct fake *f = *state;
	uint8_t b[BLKIF_ENTRY_SIZE];
	struct blkif_io io;

	req_make(b, BLKIF_OP_READ, 0, 1, 0); /* no segment */
	assert_int_equal(parse(f, b, &io), BLKIF_RSP_ERROR);
	req_make(b, BLKIF_OP_READ, BLKIF_MAX_SEGMENTS + 1, 1, 0);
	for (unsigned i = 0; i < BLKIF_MAX_SEGMENTS; i++)
		seg_set(b, i, DATA_REF, 0, 7);
	assert_int_equal(parse(f, b, &io), BLKIF_RSP_ERROR);
	req_make(b, BLKIF_OP_WRITE, 255, 1, 0);
	assert_int_equal(parse(f, b, &io), BLKIF_RSP_ERROR);
	req_make(b, BLKIF_OP_READ, 1, 1, 0);
	seg_set(b, 0, DATA_REF, 5, 4); /* first after last */
	assert_int_equal(parse(f, b, &io), BLKIF_RSP_ERROR);
	seg_set(b, 0, DATA_REF, 0, 8); /* past the page */
	assert_int_equal(parse(f, b, &io), BLKIF_RSP_ERROR);
	seg_set(b, 0, DATA_REF, 255, 255);
	assert_int_equal(parse(f, b, &io), BLKIF_RSP_ERROR);
	assert_int_equal(io.niov, 0);
	/* Not advertised: barriers, discard, indirect, and whatever else. */
	for (unsigned op = 0; op < 256; op++) {
		if (op == BLKIF_OP_READ || op == BLKIF_OP_WRITE || op == BLKIF_OP_FLUSH_DISKCACHE)
			continue;
		req_make(b, (uint8_t)op, 1, 1, 0);
		seg_set(b, 0, DATA_REF, 0, 7);
		assert_int_equal(parse(f, b, &io), BLKIF_RSP_EOPNOTSUPP);
	}
}

static void test_bad_grants(void **state)
{
	struct fake *f = *state;
	uint8_t b[BLKIF_ENTRY_SIZE];
	struct blkif_io io;
	static const uint32_t refs[] = {0, 10, 11, 12, 13, 14, XEN_GNT_PER_FRAME, 0xffffffffu};

	grant(f, 10, GTF_permit_access, 7, DATA_GFN);		/* for another domain */
	grant(f, 11, GTF_permit_access, 0, PAGES);		/* past RAM */
	grant(f, 12, GTF_permit_access, 0, 0xffffffffu);	/* far past RAM */
	grant(f, 13, 2 /* GTF_accept_transfer */, 0, DATA_GFN); /* not an access grant */
	grant(f, 14, GTF_reading | GTF_writing, 0, DATA_GFN);	/* no type at all */
	for (unsigned i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
		req_make(b, BLKIF_OP_WRITE, 1, 1, 0);
		seg_set(b, 0, refs[i], 0, 7);
		assert_int_equal(parse(f, b, &io), BLKIF_RSP_ERROR);
		assert_null(blkif_grant_page(&f->g, refs[i], false));
	}
	/* A read writes the guest's page: a read-only grant is refused. */
	req_make(b, BLKIF_OP_READ, 1, 1, 0);
	seg_set(b, 0, RO_REF, 0, 7);
	assert_int_equal(parse(f, b, &io), BLKIF_RSP_ERROR);
	/* A good segment after a bad one does not save the request. */
	req_make(b, BLKIF_OP_WRITE, 2, 1, 0);
	seg_set(b, 0, DATA_REF, 0, 7);
	seg_set(b, 1, 12, 0, 7);
	assert_int_equal(parse(f, b, &io), BLKIF_RSP_ERROR);
	/* The ring itself needs a writable grant. */
	assert_int_equal(blkif_ring_attach(&f->r, &f->g, RO_REF), -EACCES);
	assert_int_equal(blkif_ring_attach(&f->r, &f->g, 12), -EACCES);
	assert_int_equal(blkif_ring_attach(&f->r, &f->g, 0xffffffffu), -EACCES);
}

static void test_sectors(void **state)
{
	struct fake *f = *state;
	uint8_t b[BLKIF_ENTRY_SIZE];
	struct blkif_io io;
	static const uint64_t bad[] = {CAPACITY - 7, CAPACITY, CAPACITY + 1, UINT64_MAX,
				       UINT64_MAX - 3, 1ull << 63};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		req_make(b, BLKIF_OP_READ, 1, 1, bad[i]);
		seg_set(b, 0, DATA_REF, 0, 7);
		assert_int_equal(parse(f, b, &io), BLKIF_RSP_ERROR);
	}
	req_make(b, BLKIF_OP_READ, 1, 1, CAPACITY - 8);
	seg_set(b, 0, DATA_REF, 0, 7);
	assert_int_equal(parse(f, b, &io), BLKIF_RSP_OKAY);
	/* Read-only disk: writes fail, reads and flushes do not. */
	f->d.ro = true;
	req_make(b, BLKIF_OP_WRITE, 1, 1, 0);
	seg_set(b, 0, DATA_REF, 0, 7);
	assert_int_equal(parse(f, b, &io), BLKIF_RSP_ERROR);
	req_make(b, BLKIF_OP_READ, 1, 1, 0);
	seg_set(b, 0, DATA_REF, 0, 7);
	assert_int_equal(parse(f, b, &io), BLKIF_RSP_OKAY);
}

static uint8_t *ring_page(struct fake *f)
{
	return f->ram + RING_GFN * XEN_PAGE_SIZE;
}

static void put32(uint8_t *p, unsigned off, uint32_t v)
{
	memcpy(p + off, &v, 4);
}

static uint32_t get32(const uint8_t *p, unsigned off)
{
	uint32_t v;

	memcpy(&v, p + off, 4);
	return v;
}

static void test_ring_roundtrip(void **state)
{
	struct fake *f = *state;
	uint8_t *page = ring_page(f), *e;
	struct blkif_io io;
	int16_t status;
	uint64_t id;

	put32(page, BLKIF_SRING_RSP_EVENT, 1);
	for (unsigned i = 0; i < 3; i++) {
		e = page + BLKIF_SRING_HDR + i * BLKIF_ENTRY_SIZE;
		req_make(e, BLKIF_OP_READ, 1, 100 + i, i * 8);
		seg_set(e, 0, DATA_REF, 0, 7);
	}
	put32(page, BLKIF_SRING_REQ_PROD, 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(blkif_ring_pop(&f->r, &f->g, &f->d, &io), 1);
		assert_int_equal(io.id, 100 + i);
		blkif_ring_respond(&f->r, io.id, io.op, i == 1 ? BLKIF_RSP_ERROR : BLKIF_RSP_OKAY);
	}
	assert_int_equal(blkif_ring_pop(&f->r, &f->g, &f->d, &io), 0);
	assert_true(blkif_ring_push(&f->r)); /* rsp_event 1: the frontend waits */
	assert_int_equal(get32(page, BLKIF_SRING_RSP_PROD), 3);
	e = page + BLKIF_SRING_HDR + BLKIF_ENTRY_SIZE;
	memcpy(&id, e + BLKIF_RSP_ID, 8);
	memcpy(&status, e + BLKIF_RSP_STATUS, 2);
	assert_int_equal(id, 101);
	assert_int_equal(status, BLKIF_RSP_ERROR);
	assert_int_equal(e[BLKIF_RSP_OPER], BLKIF_OP_READ);
	assert_false(blkif_ring_push(&f->r)); /* nothing new */
	/* Idle: the backend asks for an event at the next request. */
	assert_false(blkif_ring_final_check(&f->r));
	assert_int_equal(get32(page, BLKIF_SRING_REQ_EVENT), 4);
}

static void test_ring_indices_jump(void **state)
{
	struct fake *f = *state;
	uint8_t *page = ring_page(f);
	struct blkif_io io;

	/* A full ring is fine: 32 requests none of which has been answered. */
	put32(page, BLKIF_SRING_REQ_PROD, BLKIF_RING_SIZE);
	for (unsigned i = 0; i < BLKIF_RING_SIZE; i++)
		assert_int_equal(blkif_ring_pop(&f->r, &f->g, &f->d, &io), 1);
	assert_int_equal(blkif_ring_pop(&f->r, &f->g, &f->d, &io), 0);
	/* One more before any answer: the ring cannot hold it. */
	put32(page, BLKIF_SRING_REQ_PROD, BLKIF_RING_SIZE + 1);
	assert_int_equal(blkif_ring_pop(&f->r, &f->g, &f->d, &io), -EPROTO);
	assert_true(f->r.broken);
	/* Broken stays broken, whatever the guest writes next. */
	put32(page, BLKIF_SRING_REQ_PROD, 0);
	assert_int_equal(blkif_ring_pop(&f->r, &f->g, &f->d, &io), -EPROTO);
	assert_false(blkif_ring_final_check(&f->r));
	/* The producer moved back behind what was taken (answers still pending): broken, not
	 * stale slots served again. */
	assert_int_equal(blkif_ring_attach(&f->r, &f->g, RING_REF), 0);
	put32(page, BLKIF_SRING_REQ_PROD, 4);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(blkif_ring_pop(&f->r, &f->g, &f->d, &io), 1);
	put32(page, BLKIF_SRING_REQ_PROD, 2);
	assert_int_equal(blkif_ring_pop(&f->r, &f->g, &f->d, &io), -EPROTO);
	/* An index far ahead, or behind (wrapped), on a fresh ring. */
	static const uint32_t jumps[] = {1000, 0x80000000u, 0xffffffffu};
	for (unsigned i = 0; i < sizeof(jumps) / sizeof(jumps[0]); i++) {
		assert_int_equal(blkif_ring_attach(&f->r, &f->g, RING_REF), 0);
		put32(page, BLKIF_SRING_REQ_PROD, jumps[i]);
		assert_int_equal(blkif_ring_pop(&f->r, &f->g, &f->d, &io), -EPROTO);
	}
}

/* Random requests in the whole ring: every answer is a status, every buffer is guest RAM. */
static void test_random_requests(void **state)
{
	struct fake *f = *state;
	uint8_t *page = ring_page(f);
	struct blkif_io io;

	srand(7);
	for (unsigned round = 0; round < 2000; round++) {
		assert_int_equal(blkif_ring_attach(&f->r, &f->g, RING_REF), 0);
		for (unsigned i = BLKIF_SRING_HDR; i < XEN_PAGE_SIZE; i++)
			page[i] = (uint8_t)rand();
		/* Bias toward plausible requests: known ops, small grant refs. */
		for (unsigned k = 0; k < BLKIF_RING_SIZE; k++) {
			uint8_t *e = page + BLKIF_SRING_HDR + k * BLKIF_ENTRY_SIZE;

			if (rand() % 2)
				e[BLKIF_REQ_OP] = (uint8_t)(rand() % 4);
			if (rand() % 2)
				e[BLKIF_REQ_NSEG] = (uint8_t)(rand() % 13);
			for (unsigned s = 0; s < BLKIF_MAX_SEGMENTS; s++)
				if (rand() % 2)
					memset(e + BLKIF_REQ_SEG + s * BLKIF_SEG_SIZE + 1, 0, 3);
		}
		for (unsigned k = 0; k < 16; k++)
			if (k != RING_REF)
				grant(f, k, (uint16_t)rand(), (uint16_t)(rand() % 2),
				      (uint32_t)rand() % (PAGES + 4));
		put32(page, BLKIF_SRING_REQ_PROD, (uint32_t)(rand() % 40));
		for (;;) {
			int rc = blkif_ring_pop(&f->r, &f->g, &f->d, &io);

			if (rc <= 0)
				break;
			assert_true(io.status == BLKIF_RSP_OKAY || io.status == BLKIF_RSP_ERROR ||
				    io.status == BLKIF_RSP_EOPNOTSUPP);
			assert_true(io.niov <= BLKIF_MAX_SEGMENTS);
			for (unsigned s = 0; s < io.niov; s++) {
				uint8_t *p = io.iov[s].iov_base;

				assert_true(p >= f->ram &&
					    p + io.iov[s].iov_len <= f->ram + PAGES * XEN_PAGE_SIZE);
			}
			assert_true(io.status != BLKIF_RSP_OKAY || io.len == 0 ||
				    io.sector + io.len / 512 <= CAPACITY);
			blkif_ring_respond(&f->r, io.id, io.op, io.status);
		}
		blkif_ring_push(&f->r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_write_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_grants, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sectors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_indices_jump, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_requests, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
