/* Split virtqueue, device side: a fake ring in a malloc'd "guest memory" region, driven as a
 * well-behaved driver and as a hostile one. */
#include <errno.h>
#include <linux/virtio_ring.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs <setjmp.h>, <stdarg.h> and <stddef.h> first. */
#include <cmocka.h>

#include "virtio/gmem.h"
#include "virtio/virtq.h"

#define MEM_GPA	  0x100000ull
#define MEM_SIZE  (1u << 20)
#define DATA_OFF  0x80000u /* buffers live in the second half */
#define EVENT_IDX (1ull << VIRTIO_RING_F_EVENT_IDX)
#define INDIRECT  (1ull << VIRTIO_RING_F_INDIRECT_DESC)

struct fake {
	uint8_t *mem;
	struct gmem gm;
	struct virtq vq;
	uint16_t size;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx;
	struct virtq_req req;
};

static uint64_t gpa_of(struct fake *f, const void *p)
{
	return MEM_GPA + (uint64_t)((const uint8_t *)p - f->mem);
}

/* A fresh ring of `size` entries: descriptors, avail and used one after the other. */
static struct fake *fake_new(uint16_t size, uint64_t features)
{
	struct fake *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->mem = aligned_alloc(4096, MEM_SIZE);
	assert_non_null(f->mem);
	memset(f->mem, 0, MEM_SIZE);
	f->gm.count = 1;
	f->gm.regions[0] = (struct gmem_region){
	    .gpa = MEM_GPA, .size = MEM_SIZE, .uaddr = 0x7f0000000000ull, .host = f->mem};
	f->size = size;
	f->desc_gpa = MEM_GPA;
	f->avail_gpa = f->desc_gpa + 16ull * size;
	f->used_gpa = (f->avail_gpa + 6 + 2ull * size + 3) & ~3ull;
	f->desc = (struct vring_desc *)f->mem;
	f->avail = (struct vring_avail *)(f->mem + (f->avail_gpa - MEM_GPA));
	f->used = (struct vring_used *)(f->mem + (f->used_gpa - MEM_GPA));
	assert_int_equal(
	    virtq_init(&f->vq, &f->gm, size, f->desc_gpa, f->avail_gpa, f->used_gpa, features, 0),
	    0);
	return f;
}

static void fake_free(struct fake *f)
{
	free(f->mem);
	free(f);
}

static void *buf(struct fake *f, unsigned n)
{
	return f->mem + DATA_OFF + n * 0x1000u;
}

static void set_desc(struct vring_desc *d, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

static void fake_desc(struct fake *f, uint16_t i, unsigned b, uint32_t len, uint16_t flags,
		      uint16_t next)
{
	set_desc(&f->desc[i], gpa_of(f, buf(f, b)), len, flags, next);
}

static void fake_make_avail(struct fake *f, uint16_t head)
{
	f->avail->ring[f->avail_idx % f->size] = head;
	f->avail_idx++;
	f->avail->idx = f->avail_idx;
}

static int pop(struct fake *f)
{
	return virtq_pop(&f->vq, &f->req);
}

static void test_gmem_bounds(void **state)
{
	struct fake *f = fake_new(8, 0);
	uint64_t gpa;

	(void)state;
	assert_ptr_equal(gmem_ptr(&f->gm, MEM_GPA, MEM_SIZE), f->mem);
	assert_ptr_equal(gmem_ptr(&f->gm, MEM_GPA + MEM_SIZE - 1, 1), f->mem + MEM_SIZE - 1);
	assert_null(gmem_ptr(&f->gm, MEM_GPA + MEM_SIZE - 1, 2));
	assert_null(gmem_ptr(&f->gm, MEM_GPA + MEM_SIZE, 1));
	assert_null(gmem_ptr(&f->gm, MEM_GPA - 1, 2));
	assert_null(gmem_ptr(&f->gm, MEM_GPA + 16, UINT64_MAX));
	assert_null(gmem_ptr(&f->gm, UINT64_MAX, 2));
	assert_int_equal(gmem_uaddr_to_gpa(&f->gm, 0x7f0000000010ull, &gpa), 0);
	assert_int_equal(gpa, MEM_GPA + 0x10);
	assert_int_equal(gmem_uaddr_to_gpa(&f->gm, 0x7f0000000000ull + MEM_SIZE, &gpa), -EFAULT);
	f->gm.count = 99; /* a corrupt count must not walk off the array */
	assert_non_null(gmem_ptr(&f->gm, MEM_GPA, 1));
	fake_free(f);
}

static void test_init_rejects(void **state)
{
	struct fake *f = fake_new(8, 0);
	struct virtq vq;

	(void)state;
	assert_int_equal(
	    virtq_init(&vq, &f->gm, 0, MEM_GPA, MEM_GPA + 0x1000, MEM_GPA + 0x2000, 0, 0), -EINVAL);
	assert_int_equal(
	    virtq_init(&vq, &f->gm, 12, MEM_GPA, MEM_GPA + 0x1000, MEM_GPA + 0x2000, 0, 0),
	    -EINVAL);
	assert_int_equal(
	    virtq_init(&vq, &f->gm, 8, MEM_GPA + 8, MEM_GPA + 0x1000, MEM_GPA + 0x2000, 0, 0),
	    -EINVAL);
	assert_int_equal(
	    virtq_init(&vq, &f->gm, 8, MEM_GPA, MEM_GPA + 0x1001, MEM_GPA + 0x2000, 0, 0), -EINVAL);
	assert_int_equal(
	    virtq_init(&vq, &f->gm, 8, MEM_GPA, MEM_GPA + 0x1000, MEM_GPA + 0x2002, 0, 0), -EINVAL);
	assert_int_equal(
	    virtq_init(&vq, &f->gm, 8, 0x1000, MEM_GPA + 0x1000, MEM_GPA + 0x2000, 0, 0), -EFAULT);
	/* The used ring would straddle the end of guest memory. */
	assert_int_equal(
	    virtq_init(&vq, &f->gm, 8, MEM_GPA, MEM_GPA + 0x1000, MEM_GPA + MEM_SIZE - 64, 0, 0),
	    -EFAULT);
	/* With event idx the avail ring has 2 more bytes (used_event): not there. */
	assert_int_equal(virtq_init(&vq, &f->gm, 8, MEM_GPA, MEM_GPA + MEM_SIZE - 20,
				    MEM_GPA + 0x2000, EVENT_IDX, 0),
			 -EFAULT);
	assert_int_equal(
	    virtq_init(&vq, &f->gm, 8, MEM_GPA, MEM_GPA + MEM_SIZE - 20, MEM_GPA + 0x2000, 0, 0),
	    0);
	fake_free(f);
}

static void test_pop_push(void **state)
{
	struct fake *f = fake_new(8, 0);

	(void)state;
	assert_int_equal(pop(f), 0);
	fake_desc(f, 3, 0, 16, VRING_DESC_F_NEXT, 5);
	fake_desc(f, 5, 1, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 6);
	fake_desc(f, 6, 2, 1, VRING_DESC_F_WRITE, 0);
	fake_make_avail(f, 3);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->req.head, 3);
	assert_int_equal(f->req.nout, 1);
	assert_int_equal(f->req.nin, 2);
	assert_int_equal(f->req.out_len, 16);
	assert_int_equal(f->req.in_len, 513);
	assert_ptr_equal(f->req.iov[0].iov_base, buf(f, 0));
	assert_ptr_equal(f->req.iov[1].iov_base, buf(f, 1));
	assert_int_equal(f->req.iov[2].iov_len, 1);
	assert_int_equal(pop(f), 0);
	virtq_push(&f->vq, 3, 513);
	assert_int_equal(f->used->idx, 1);
	assert_int_equal(f->used->ring[0].id, 3);
	assert_int_equal(f->used->ring[0].len, 513);
	assert_false(f->vq.broken);
	fake_free(f);
}

static void test_index_wraparound(void **state)
{
	struct fake *f = fake_new(4, 0);

	(void)state;
	/* Resume at 0xfffe, with the used index where the ring says. */
	f->used->idx = 0xfffe;
	f->avail_idx = 0xfffe;
	assert_int_equal(
	    virtq_init(&f->vq, &f->gm, 4, f->desc_gpa, f->avail_gpa, f->used_gpa, 0, 0xfffe), 0);
	assert_int_equal(f->vq.used_idx, 0xfffe);
	fake_desc(f, 0, 0, 1, VRING_DESC_F_WRITE, 0);
	for (int i = 0; i < 4; i++)
		fake_make_avail(f, 0);
	assert_int_equal(f->avail->idx, 2);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pop(f), 1);
		virtq_push(&f->vq, f->req.head, 1);
	}
	assert_int_equal(pop(f), 0);
	assert_int_equal(f->vq.last_avail, 2);
	assert_int_equal(f->used->idx, 2);
	assert_int_equal(f->used->ring[3].id, 0); /* 0xffff % 4 */
	assert_int_equal(f->used->ring[3].len, 1);
	fake_free(f);
}

static void test_zero_length_descriptors(void **state)
{
	struct fake *f = fake_new(8, 0);

	(void)state;
	fake_desc(f, 0, 0, 0, VRING_DESC_F_NEXT, 1);
	fake_desc(f, 1, 1, 16, VRING_DESC_F_NEXT, 2);
	fake_desc(f, 2, 2, 0, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 3);
	fake_desc(f, 3, 3, 1, VRING_DESC_F_WRITE, 0);
	fake_make_avail(f, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->req.nout, 1);
	assert_int_equal(f->req.nin, 1);
	assert_ptr_equal(f->req.iov[0].iov_base, buf(f, 1));
	assert_ptr_equal(f->req.iov[1].iov_base, buf(f, 3));
	fake_free(f);
}

/* Every hostile chain must break the ring with -EIO, and the ring must stay broken. */
static void expect_broken(struct fake *f)
{
	assert_int_equal(pop(f), -EIO);
	assert_true(f->vq.broken);
	assert_non_null(f->vq.error);
	assert_int_equal(pop(f), -EIO);
}

static void test_loop(void **state)
{
	struct fake *f = fake_new(8, 0);

	(void)state;
	fake_desc(f, 0, 0, 16, VRING_DESC_F_NEXT, 1);
	fake_desc(f, 1, 1, 16, VRING_DESC_F_NEXT, 0);
	fake_make_avail(f, 0);
	expect_broken(f);
	fake_free(f);
}

static void test_self_loop(void **state)
{
	struct fake *f = fake_new(8, 0);

	(void)state;
	fake_desc(f, 4, 0, 16, VRING_DESC_F_NEXT, 4);
	fake_make_avail(f, 4);
	expect_broken(f);
	fake_free(f);
}

static void test_chain_too_long(void **state)
{
	uint16_t n = 2048;
	struct fake *f = fake_new(n, 0);

	(void)state;
	/* A loop-free chain, but longer than VIRTQ_MAX_CHAIN. */
	for (uint16_t i = 0; i < VIRTQ_MAX_CHAIN; i++)
		fake_desc(f, i, 0, 1, VRING_DESC_F_NEXT, (uint16_t)(i + 1));
	fake_desc(f, VIRTQ_MAX_CHAIN, 0, 1, 0, 0);
	fake_make_avail(f, 0);
	expect_broken(f);
	fake_free(f);

	/* Exactly VIRTQ_MAX_CHAIN is fine. */
	f = fake_new(n, 0);
	for (uint16_t i = 0; i < VIRTQ_MAX_CHAIN - 1; i++)
		fake_desc(f, i, 0, 1, VRING_DESC_F_NEXT, (uint16_t)(i + 1));
	fake_desc(f, VIRTQ_MAX_CHAIN - 1, 0, 1, 0, 0);
	fake_make_avail(f, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->req.nout, VIRTQ_MAX_CHAIN);
	fake_free(f);
}

static void test_out_of_bounds(void **state)
{
	struct fake *f = fake_new(8, 0);

	(void)state;
	set_desc(&f->desc[0], MEM_GPA + MEM_SIZE - 8, 16, 0, 0);
	fake_make_avail(f, 0);
	expect_broken(f);
	fake_free(f);

	f = fake_new(8, 0);
	set_desc(&f->desc[0], UINT64_MAX - 4, 16, VRING_DESC_F_WRITE, 0); /* addr+len wraps */
	fake_make_avail(f, 0);
	expect_broken(f);
	fake_free(f);

	f = fake_new(8, 0);
	set_desc(&f->desc[0], 0, 16, 0, 0); /* below guest memory */
	fake_make_avail(f, 0);
	expect_broken(f);
	fake_free(f);
}

static void test_readable_after_writable(void **state)
{
	struct fake *f = fake_new(8, 0);

	(void)state;
	fake_desc(f, 0, 0, 1, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	fake_desc(f, 1, 1, 16, 0, 0);
	fake_make_avail(f, 0);
	expect_broken(f);
	fake_free(f);
}

static void test_bad_indices(void **state)
{
	struct fake *f = fake_new(8, 0);

	(void)state;
	fake_desc(f, 0, 0, 16, VRING_DESC_F_NEXT, 8); /* next == size */
	fake_make_avail(f, 0);
	expect_broken(f);
	fake_free(f);

	f = fake_new(8, 0);
	fake_make_avail(f, 8); /* head == size */
	expect_broken(f);
	fake_free(f);
}

static void test_avail_jumps_ahead(void **state)
{
	struct fake *f = fake_new(8, 0);

	(void)state;
	fake_desc(f, 0, 0, 1, VRING_DESC_F_WRITE, 0);
	/* Exactly `size` ahead is a full ring: fine. */
	f->avail->idx = 8;
	for (int i = 0; i < 8; i++)
		assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), 0);
	/* size + 1 ahead cannot happen with an honest driver. */
	f->avail->idx = 8 + 9;
	expect_broken(f);
	fake_free(f);

	/* Backwards (0xffff ahead modulo 2^16) is the same lie. */
	f = fake_new(8, 0);
	f->avail->idx = 0xffff;
	expect_broken(f);
	fake_free(f);
}

/* An indirect table of n descriptors at buffer 7 (readable header, writable status). */
static struct vring_desc *indirect_table(struct fake *f, unsigned n)
{
	struct vring_desc *t = buf(f, 7);

	for (unsigned i = 0; i + 1 < n; i++)
		set_desc(&t[i], gpa_of(f, buf(f, 0)), 16, VRING_DESC_F_NEXT, (uint16_t)(i + 1));
	set_desc(&t[n - 1], gpa_of(f, buf(f, 1)), 1, VRING_DESC_F_WRITE, 0);
	return t;
}

static void test_indirect(void **state)
{
	struct fake *f = fake_new(8, INDIRECT);
	struct vring_desc *t = indirect_table(f, 3);

	(void)state;
	/* A direct buffer first, then the table: both count. */
	fake_desc(f, 2, 2, 16, VRING_DESC_F_NEXT, 4);
	set_desc(&f->desc[4], gpa_of(f, t), 3 * 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, 0);
	fake_make_avail(f, 2);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->req.head, 2);
	assert_int_equal(f->req.nout, 3);
	assert_int_equal(f->req.nin, 1);
	assert_int_equal(f->req.out_len, 48);
	fake_free(f);
}

/* One hostile indirect case: table n descriptors long, indirect descriptor (len, flags). */
static void indirect_case(uint64_t features, unsigned n, uint32_t len, uint16_t flags,
			  void (*tweak)(struct fake *, struct vring_desc *))
{
	struct fake *f = fake_new(8, features);
	struct vring_desc *t = indirect_table(f, n);

	set_desc(&f->desc[0], gpa_of(f, t), len, flags, 1);
	if (tweak)
		tweak(f, t);
	fake_make_avail(f, 0);
	expect_broken(f);
	fake_free(f);
}

static void tweak_nested(struct fake *f, struct vring_desc *t)
{
	set_desc(&t[0], gpa_of(f, t), 32, VRING_DESC_F_INDIRECT, 0);
}

static void tweak_loop(struct fake *f, struct vring_desc *t)
{
	t[2].next = 0;
	t[2].flags |= VRING_DESC_F_NEXT;
}

static void tweak_next_out_of_table(struct fake *f, struct vring_desc *t)
{
	t[0].next = 3;
}

static void tweak_outside(struct fake *f, struct vring_desc *t)
{
	f->desc[0].addr = MEM_GPA + MEM_SIZE - 16;
}

static void tweak_data_outside(struct fake *f, struct vring_desc *t)
{
	t[1].addr = MEM_GPA + MEM_SIZE;
}

static void test_indirect_hostile(void **state)
{
	(void)state;
	indirect_case(0, 3, 48, VRING_DESC_F_INDIRECT, NULL);	     /* not negotiated */
	indirect_case(INDIRECT, 3, 40, VRING_DESC_F_INDIRECT, NULL); /* len % 16 */
	indirect_case(INDIRECT, 3, 0, VRING_DESC_F_INDIRECT, NULL);  /* empty table */
	indirect_case(INDIRECT, 3, 48, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, NULL);
	indirect_case(INDIRECT, 3, 16 * (VIRTQ_MAX_CHAIN + 1), VRING_DESC_F_INDIRECT, NULL);
	indirect_case(INDIRECT, 3, 48, VRING_DESC_F_INDIRECT, tweak_nested);
	indirect_case(INDIRECT, 3, 48, VRING_DESC_F_INDIRECT, tweak_loop);
	indirect_case(INDIRECT, 3, 48, VRING_DESC_F_INDIRECT, tweak_next_out_of_table);
	indirect_case(INDIRECT, 3, 48, VRING_DESC_F_INDIRECT, tweak_outside);
	indirect_case(INDIRECT, 3, 48, VRING_DESC_F_INDIRECT, tweak_data_outside);
}

static void test_indirect_points_at_ring(void **state)
{
	struct fake *f = fake_new(8, INDIRECT);

	(void)state;
	/* A table that is the descriptor table itself: still "nested" when reached twice. */
	set_desc(&f->desc[0], f->desc_gpa, 8 * 16, VRING_DESC_F_INDIRECT, 0);
	fake_make_avail(f, 0);
	expect_broken(f);
	fake_free(f);
}

static void test_need_event(void **state)
{
	(void)state;
	/* The driver asked to be told when used idx passes 5. */
	assert_true(virtq_need_event(5, 6, 5));
	assert_true(virtq_need_event(5, 10, 3));
	assert_false(virtq_need_event(5, 5, 3));
	assert_false(virtq_need_event(5, 4, 3));
	assert_false(virtq_need_event(5, 7, 6)); /* already passed at the last notification */
	/* Wraparound. */
	assert_true(virtq_need_event(0xffff, 0, 0xfffe));
	assert_true(virtq_need_event(0xfffe, 2, 0xfff0));
	assert_false(virtq_need_event(1, 1, 0xffff));
	assert_true(virtq_need_event(0, 1, 0xffff));
	assert_false(virtq_need_event(0xfff0, 0x10, 0xfff5));
}

static void push_one(struct fake *f)
{
	fake_desc(f, 0, 0, 1, VRING_DESC_F_WRITE, 0);
	fake_make_avail(f, 0);
	assert_int_equal(pop(f), 1);
	virtq_push(&f->vq, 0, 1);
}

static void test_notify_flags(void **state)
{
	struct fake *f = fake_new(8, 0);

	(void)state;
	assert_false(virtq_should_notify(&f->vq)); /* nothing pushed yet: first call is "new" */
	push_one(f);
	assert_true(virtq_should_notify(&f->vq));
	assert_false(virtq_should_notify(&f->vq)); /* nothing new */
	f->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	push_one(f);
	assert_false(virtq_should_notify(&f->vq));
	f->avail->flags = 0;
	push_one(f);
	assert_true(virtq_should_notify(&f->vq));

	virtq_set_kick(&f->vq, false);
	assert_int_equal(f->used->flags, VRING_USED_F_NO_NOTIFY);
	virtq_set_kick(&f->vq, true);
	assert_int_equal(f->used->flags, 0);
	fake_free(f);
}

static void set_used_event(struct fake *f, uint16_t v)
{
	f->avail->ring[f->size] = v;
}

static void test_notify_event_idx(void **state)
{
	struct fake *f = fake_new(8, EVENT_IDX);
	uint16_t *avail_event;

	(void)state;
	/* The first notification after start is always sent. */
	push_one(f);
	assert_true(virtq_should_notify(&f->vq));
	/* Driver: interrupt me once used idx passes 2 (i.e. after the 3rd completion). */
	set_used_event(f, 2);
	push_one(f); /* used idx 2 */
	assert_false(virtq_should_notify(&f->vq));
	push_one(f); /* used idx 3: passed 2 */
	assert_true(virtq_should_notify(&f->vq));
	push_one(f);
	assert_false(virtq_should_notify(&f->vq));
	/* Batched completions that jump over the event still notify. */
	set_used_event(f, 5);
	push_one(f);
	push_one(f);
	push_one(f); /* 4 -> 7 covers 5 */
	assert_true(virtq_should_notify(&f->vq));

	/* Kicks: the avail event follows last_avail; disabling leaves it behind. */
	avail_event = (uint16_t *)&f->used->ring[f->size];
	virtq_set_kick(&f->vq, true);
	assert_int_equal(*avail_event, f->vq.last_avail);
	virtq_set_kick(&f->vq, false);
	push_one(f);
	assert_int_equal(*avail_event, f->vq.last_avail - 1);
	fake_free(f);
}

static void test_notify_event_idx_wrap(void **state)
{
	struct fake *f = fake_new(8, EVENT_IDX);

	(void)state;
	f->used->idx = 0xfffd;
	f->avail_idx = 0xfffd;
	assert_int_equal(virtq_init(&f->vq, &f->gm, 8, f->desc_gpa, f->avail_gpa, f->used_gpa,
				    EVENT_IDX, 0xfffd),
			 0);
	push_one(f); /* 0xfffe */
	assert_true(virtq_should_notify(&f->vq));
	set_used_event(f, 0xffff);
	push_one(f); /* 0xffff: not past 0xffff yet */
	assert_false(virtq_should_notify(&f->vq));
	push_one(f); /* 0x0000: passed */
	assert_true(virtq_should_notify(&f->vq));
	set_used_event(f, 1);
	push_one(f); /* 1 */
	assert_false(virtq_should_notify(&f->vq));
	push_one(f); /* 2 */
	assert_true(virtq_should_notify(&f->vq));
	fake_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gmem_bounds),
	    cmocka_unit_test(test_init_rejects),
	    cmocka_unit_test(test_pop_push),
	    cmocka_unit_test(test_index_wraparound),
	    cmocka_unit_test(test_zero_length_descriptors),
	    cmocka_unit_test(test_loop),
	    cmocka_unit_test(test_self_loop),
	    cmocka_unit_test(test_chain_too_long),
	    cmocka_unit_test(test_out_of_bounds),
	    cmocka_unit_test(test_readable_after_writable),
	    cmocka_unit_test(test_bad_indices),
	    cmocka_unit_test(test_avail_jumps_ahead),
	    cmocka_unit_test(test_indirect),
	    cmocka_unit_test(test_indirect_hostile),
	    cmocka_unit_test(test_indirect_points_at_ring),
	    cmocka_unit_test(test_need_event),
	    cmocka_unit_test(test_notify_flags),
	    cmocka_unit_test(test_notify_event_idx),
	    cmocka_unit_test(test_notify_event_idx_wrap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
