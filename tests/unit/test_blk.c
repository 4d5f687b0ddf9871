/* virtio-blk request parsing (cards/blk/blk_req.c): chains as the virtqueue hands them over,
 * built by hand from local buffers, honest and hostile. */
#include <errno.h>
#include <linux/virtio_blk.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs <setjmp.h>, <stdarg.h> and <stddef.h> first. */
#include <cmocka.h>

#include "cards/blk/blk_req.h"

static const struct blk_limits rw_disk = {.capacity = 2048, .ro = false};
static const struct blk_limits ro_disk = {.capacity = 2048, .ro = true};

struct chain {
	struct virtq_req vr;
	struct virtio_blk_outhdr hdr;
	uint8_t data[8192];
	uint8_t status;
	struct blk_req req;
};

static void add(struct virtq_req *vr, void *p, size_t len, bool writable)
{
	vr->iov[vr->nout + vr->nin] = (struct iovec){p, len};
	if (writable) {
		vr->nin++;
		vr->in_len += len;
	} else {
		vr->nout++;
		vr->out_len += len;
	}
}

/* header | data (readable for writes, writable for reads) | status */
static struct chain *chain_new(uint32_t type, uint64_t sector, size_t data_len, bool data_in)
{
	struct chain *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->hdr.type = type;
	c->hdr.sector = sector;
	c->status = 0xee;
	add(&c->vr, &c->hdr, sizeof(c->hdr), false);
	if (data_len)
		add(&c->vr, c->data, data_len, data_in);
	add(&c->vr, &c->status, 1, true);
	return c;
}

static int parse(struct chain *c, const struct blk_limits *lim)
{
	return blk_req_parse(&c->vr, lim, &c->req);
}

static void test_read_write(void **state)
{
	struct chain *c = chain_new(VIRTIO_BLK_T_IN, 7, 4096, true);

	(void)state;
	assert_int_equal(parse(c, &rw_disk), VIRTIO_BLK_S_OK);
	assert_int_equal(c->req.type, VIRTIO_BLK_T_IN);
	assert_int_equal(c->req.sector, 7);
	assert_int_equal(c->req.len, 4096);
	assert_int_equal(c->req.niov, 1);
	assert_ptr_equal(c->req.iov[0].iov_base, c->data);
	assert_ptr_equal(c->req.status, &c->status);
	free(c);

	c = chain_new(VIRTIO_BLK_T_OUT, 2040, 4096, false); /* ends exactly at capacity */
	assert_int_equal(parse(c, &rw_disk), VIRTIO_BLK_S_OK);
	assert_int_equal(c->req.len, 4096);
	assert_ptr_equal(c->req.iov[0].iov_base, c->data);
	free(c);
}

static void test_split_header_and_shared_status(void **state)
{
	struct chain *c = calloc(1, sizeof(*c));
	uint8_t *h = (uint8_t *)&c->hdr;

	(void)state;
	/* The header in three pieces, the last one also carrying data; data and status in
	 * one writable buffer. No framing may be assumed (virtio 1.2 2.6.4). */
	c->hdr.type = VIRTIO_BLK_T_IN;
	c->hdr.sector = 3;
	memcpy(c->data + 100, h + 10, 6);
	add(&c->vr, h, 4, false);
	add(&c->vr, h + 4, 6, false);
	add(&c->vr, c->data + 100, 6 + 50, false);
	add(&c->vr, c->data + 1000, 1024 + 1, true);
	assert_int_equal(parse(c, &rw_disk), VIRTIO_BLK_S_OK);
	assert_int_equal(c->req.sector, 3);
	assert_int_equal(c->req.len, 1024);
	assert_ptr_equal(c->req.status, c->data + 1000 + 1024);
	assert_int_equal(c->req.iov[0].iov_len, 1024);
	free(c);
}

static void test_data_split_offsets(void **state)
{
	struct chain *c = calloc(1, sizeof(*c));

	(void)state;
	/* A write whose data starts inside the header's buffer. */
	c->hdr.type = VIRTIO_BLK_T_OUT;
	c->hdr.sector = 0;
	memcpy(c->data, &c->hdr, sizeof(c->hdr));
	add(&c->vr, c->data, sizeof(c->hdr) + 512, false);
	add(&c->vr, c->data + 2048, 512, false);
	add(&c->vr, &c->status, 1, true);
	assert_int_equal(parse(c, &rw_disk), VIRTIO_BLK_S_OK);
	assert_int_equal(c->req.niov, 2);
	assert_ptr_equal(c->req.iov[0].iov_base, c->data + sizeof(c->hdr));
	assert_int_equal(c->req.iov[0].iov_len, 512);
	assert_int_equal(c->req.len, 1024);
	free(c);
}

static void test_no_status_byte(void **state)
{
	struct chain *c = calloc(1, sizeof(*c));

	(void)state;
	add(&c->vr, &c->hdr, sizeof(c->hdr), false);
	assert_int_equal(parse(c, &rw_disk), -EINVAL);
	free(c);
}

static void test_short_header(void **state)
{
	struct chain *c = calloc(1, sizeof(*c));

	(void)state;
	add(&c->vr, &c->hdr, 15, false);
	add(&c->vr, &c->status, 1, true);
	assert_int_equal(parse(c, &rw_disk), VIRTIO_BLK_S_IOERR);
	assert_ptr_equal(c->req.status, &c->status);
	free(c);

	/* No readable part at all. */
	c = calloc(1, sizeof(*c));
	add(&c->vr, &c->status, 1, true);
	assert_int_equal(parse(c, &rw_disk), VIRTIO_BLK_S_IOERR);
	free(c);
}

static void test_bounds(void **state)
{
	struct chain *c;

	(void)state;
	c = chain_new(VIRTIO_BLK_T_IN, 2041, 4096, true); /* one sector past the end */
	assert_int_equal(parse(c, &rw_disk), VIRTIO_BLK_S_IOERR);
	free(c);
	c = chain_new(VIRTIO_BLK_T_OUT, 2048, 512, false);
	assert_int_equal(parse(c, &rw_disk), VIRTIO_BLK_S_IOERR);
	free(c);
	c = chain_new(VIRTIO_BLK_T_IN, UINT64_MAX, 512, true); /* sector + count overflows */
	assert_int_equal(parse(c, &rw_disk), VIRTIO_BLK_S_IOERR);
	free(c);
	c = chain_new(VIRTIO_BLK_T_IN, UINT64_MAX / 512 + 1, 512, true); /* bytes overflow */
	assert_int_equal(parse(c, &rw_disk), VIRTIO_BLK_S_IOERR);
	free(c);
	c = chain_new(VIRTIO_BLK_T_IN, 0, 513, true); /* not whole sectors */
	assert_int_equal(parse(c, &rw_disk), VIRTIO_BLK_S_IOERR);
	free(c);
	c = chain_new(VIRTIO_BLK_T_IN, 2048, 0, true); /* empty read at the end: fine */
	assert_int_equal(parse(c, &rw_disk), VIRTIO_BLK_S_OK);
	assert_int_equal(c->req.len, 0);
	free(c);
}

static void test_too_many_segments(void **state)
{
	struct chain *c = calloc(1, sizeof(*c));

	(void)state;
	c->hdr.type = VIRTIO_BLK_T_IN;
	add(&c->vr, &c->hdr, sizeof(c->hdr), false);
	for (unsigned i = 0; i < BLK_IOV_MAX + 1; i++)
		add(&c->vr, c->data + i * 8, 4, true);
	add(&c->vr, c->data + 4000, 4 * 128 - 4 * (BLK_IOV_MAX + 1) + 1 + 512 * 2, true);
	assert_int_equal((c->vr.in_len - 1) % 512, 0);
	assert_int_equal(parse(c, &rw_disk), VIRTIO_BLK_S_IOERR);
	free(c);
}

static void test_read_only(void **state)
{
	static const uint32_t writes[] = {VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_DISCARD,
					  VIRTIO_BLK_T_WRITE_ZEROES};
	struct chain *c;

	(void)state;
	for (unsigned i = 0; i < 3; i++) {
		c = chain_new(writes[i], 0, 512, false);
		assert_int_equal(parse(c, &ro_disk), VIRTIO_BLK_S_IOERR);
		free(c);
	}
	c = chain_new(VIRTIO_BLK_T_IN, 0, 512, true);
	assert_int_equal(parse(c, &ro_disk), VIRTIO_BLK_S_OK);
	free(c);
	c = chain_new(VIRTIO_BLK_T_FLUSH, 0, 0, false);
	assert_int_equal(parse(c, &ro_disk), VIRTIO_BLK_S_OK);
	free(c);
}

static void test_unsupported(void **state)
{
	static const uint32_t types[] = {2 /* SCSI */,		5 /* FLUSH_OUT */,
					 14 /* SECURE_ERASE */, 16 /* ZONE_APPEND */,
					 0x80000000u,		UINT32_MAX};
	struct chain *c;

	(void)state;
	for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		c = chain_new(types[i], 0, 512, false);
		assert_int_equal(parse(c, &rw_disk), VIRTIO_BLK_S_UNSUPP);
		assert_ptr_equal(c->req.status, &c->status);
		free(c);
	}
}

static void test_get_id(void **state)
{
	static const char id[BLK_ID_BYTES] = "disk-serial-0123456";
	struct chain *c = chain_new(VIRTIO_BLK_T_GET_ID, 0, BLK_ID_BYTES, true);

	(void)state;
	memset(c->data, 0xaa, sizeof(c->data));
	assert_int_equal(parse(c, &rw_disk), VIRTIO_BLK_S_OK);
	assert_int_equal(blk_req_get_id(&c->req, id), BLK_ID_BYTES);
	assert_memory_equal(c->data, id, BLK_ID_BYTES);
	assert_int_equal(c->data[BLK_ID_BYTES], 0xaa);
	free(c);

	/* A short buffer gets what fits; a larger one no more than 20 bytes. */
	c = chain_new(VIRTIO_BLK_T_GET_ID, 0, 5, true);
	assert_int_equal(parse(c, &rw_disk), VIRTIO_BLK_S_OK);
	assert_int_equal(blk_req_get_id(&c->req, id), 5);
	free(c);
	c = chain_new(VIRTIO_BLK_T_GET_ID, 0, 100, true);
	assert_int_equal(parse(c, &rw_disk), VIRTIO_BLK_S_OK);
	assert_int_equal(blk_req_get_id(&c->req, id), BLK_ID_BYTES);
	free(c);
	c = chain_new(VIRTIO_BLK_T_GET_ID, 0, 0, true);
	assert_int_equal(parse(c, &rw_disk), VIRTIO_BLK_S_IOERR);
	free(c);
}

static struct chain *dwz_chain(uint32_t type, const struct virtio_blk_discard_write_zeroes *s,
			       unsigned n)
{
	struct chain *c = chain_new(type, 0, n * sizeof(*s), false);

	memcpy(c->data, s, n * sizeof(*s));
	return c;
}

static void test_discard_write_zeroes(void **state)
{
	struct virtio_blk_discard_write_zeroes s[BLK_DWZ_SEG_MAX + 1] = {
	    {.sector = 8, .num_sectors = 16},
	    {.sector = 100, .num_sectors = 1, .flags = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP},
	};
	struct chain *c;

	(void)state;
	c = dwz_chain(VIRTIO_BLK_T_WRITE_ZEROES, s, 2);
	assert_int_equal(parse(c, &rw_disk), VIRTIO_BLK_S_OK);
	assert_int_equal(c->req.nseg, 2);
	assert_int_equal(c->req.seg[0].sector, 8);
	assert_int_equal(c->req.seg[0].sectors, 16);
	assert_false(c->req.seg[0].unmap);
	assert_true(c->req.seg[1].unmap);
	free(c);
	/* Unmap on a discard, and unknown flags anywhere: unsupported. */
	c = dwz_chain(VIRTIO_BLK_T_DISCARD, s, 2);
	assert_int_equal(parse(c, &rw_disk), VIRTIO_BLK_S_UNSUPP);
	free(c);
	c = dwz_chain(VIRTIO_BLK_T_DISCARD, s, 1);
	assert_int_equal(parse(c, &rw_disk), VIRTIO_BLK_S_OK);
	free(c);
	s[0].flags = 2;
	c = dwz_chain(VIRTIO_BLK_T_WRITE_ZEROES, s, 1);
	assert_int_equal(parse(c, &rw_disk), VIRTIO_BLK_S_UNSUPP);
	free(c);
	s[0].flags = 0;
	/* Too many segments, a partial segment, none at all. */
	c = dwz_chain(VIRTIO_BLK_T_WRITE_ZEROES, s, BLK_DWZ_SEG_MAX + 1);
	assert_int_equal(parse(c, &rw_disk), VIRTIO_BLK_S_UNSUPP);
	free(c);
	c = chain_new(VIRTIO_BLK_T_DISCARD, 0, 24, false);
	assert_int_equal(parse(c, &rw_disk), VIRTIO_BLK_S_IOERR);
	free(c);
	c = chain_new(VIRTIO_BLK_T_DISCARD, 0, 0, false);
	assert_int_equal(parse(c, &rw_disk), VIRTIO_BLK_S_IOERR);
	free(c);
	/* Out of the disk, overflowing, or larger than advertised. */
	s[0] = (struct virtio_blk_discard_write_zeroes){.sector = 2047, .num_sectors = 2};
	c = dwz_chain(VIRTIO_BLK_T_DISCARD, s, 1);
	assert_int_equal(parse(c, &rw_disk), VIRTIO_BLK_S_IOERR);
	free(c);
	s[0] = (struct virtio_blk_discard_write_zeroes){.sector = UINT64_MAX, .num_sectors = 2};
	c = dwz_chain(VIRTIO_BLK_T_WRITE_ZEROES, s, 1);
	assert_int_equal(parse(c, &rw_disk), VIRTIO_BLK_S_IOERR);
	free(c);
	{
		const struct blk_limits big = {.capacity = 1ull << 40};

		s[0] = (struct virtio_blk_discard_write_zeroes){
		    .sector = 0, .num_sectors = BLK_DWZ_SECTORS_MAX + 1};
		c = dwz_chain(VIRTIO_BLK_T_WRITE_ZEROES, s, 1);
		assert_int_equal(parse(c, &big), VIRTIO_BLK_S_IOERR);
		free(c);
	}
}

static void test_iov_consume(void **state)
{
	uint8_t a[10], b[20], d[30];
	struct iovec iov[3] = {{a, 10}, {b, 20}, {d, 30}};
	unsigned first = 0;

	(void)state;
	blk_iov_consume(iov, 3, &first, 4);
	assert_int_equal(first, 0);
	assert_ptr_equal(iov[0].iov_base, a + 4);
	assert_int_equal(iov[0].iov_len, 6);
	blk_iov_consume(iov, 3, &first, 6 + 5);
	assert_int_equal(first, 1);
	assert_ptr_equal(iov[1].iov_base, b + 5);
	assert_int_equal(iov[1].iov_len, 15);
	blk_iov_consume(iov, 3, &first, 15);
	assert_int_equal(first, 2);
	assert_int_equal(iov[2].iov_len, 30);
	blk_iov_consume(iov, 3, &first, 1000); /* more than there is: stops at the end */
	assert_int_equal(first, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_read_write),
	    cmocka_unit_test(test_split_header_and_shared_status),
	    cmocka_unit_test(test_data_split_offsets),
	    cmocka_unit_test(test_no_status_byte),
	    cmocka_unit_test(test_short_header),
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_too_many_segments),
	    cmocka_unit_test(test_read_only),
	    cmocka_unit_test(test_unsupported),
	    cmocka_unit_test(test_get_id),
	    cmocka_unit_test(test_discard_write_zeroes),
	    cmocka_unit_test(test_iov_consume),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
