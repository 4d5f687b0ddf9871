/* libFuzzer target for the device side of the split virtqueue and the virtio-blk request
 * parser: the input becomes a ring, its descriptor table and buffers in a small fake guest
 * memory of two regions; we pop until the ring is empty or broken, touch every byte of every
 * buffer handed out (ASan catches anything outside the regions, and an explicit check traps
 * on a buffer that is not inside one region), parse each chain as a blk request and push it
 * back.
 *
 * Input: [0] log2 queue size (mod 9), [1] bit 0 event idx, bit 1 indirect, [2..3] start
 * index, then bytes XORed over region A (ring at its start) and then region B. The regions
 * start as a template of well-formed requests, so that short inputs already reach the blk
 * parser, while XOR keeps every byte of guest memory under the fuzzer's control. */
#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cards/blk/blk_req.h"
#include "virtio/virtq.h"

#define A_GPA  0x10000u
#define A_SIZE 0x10000u
#define B_GPA  0x40000u
#define B_SIZE 0x1000u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put_desc(struct vring_desc *d, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

/* Request j of the template: header, data, status at a buffer of its own. Types: read,
 * write (through an indirect table in region B when negotiated), get-id, discard. */
static void template_request(uint8_t *a, uint8_t *b, struct vring_desc *desc, unsigned j,
			     bool indirect)
{
	static const uint32_t types[] = {0, 1, 8, 11};
	static const uint32_t lens[] = {512, 512, 20, 16};
	uint32_t buf = 0x8000u + j * 0x800u;
	uint16_t d = (uint16_t)(3 * j);
	uint16_t data_flags = (j == 0 || j == 2) ? VRING_DESC_F_WRITE : 0;
	struct vring_desc *t = desc + d;

	memcpy(a + buf, &types[j], 4);
	if (j == 3) {
		uint64_t seg[2] = {1, 1};

		memcpy(a + buf + 0x200, seg, sizeof(seg));
	}
	if (j == 1 && indirect) {
		put_desc(&desc[d], B_GPA, 48, VRING_DESC_F_INDIRECT, 0);
		t = (struct vring_desc *)b;
		d = 0;
	}
	put_desc(&t[0], A_GPA + buf, 16, VRING_DESC_F_NEXT, (uint16_t)(d + 1));
	put_desc(&t[1], A_GPA + buf + 0x200, lens[j], VRING_DESC_F_NEXT | data_flags,
		 (uint16_t)(d + 2));
	put_desc(&t[2], A_GPA + buf + 0x400, 1, VRING_DESC_F_WRITE, 0);
}

static void template(uint8_t *a, uint8_t *b, uint16_t qsize, uint16_t start, bool indirect,
		     uint64_t avail_gpa)
{
	struct vring_desc *desc = (struct vring_desc *)a;
	struct vring_avail *avail = (struct vring_avail *)(a + (avail_gpa - A_GPA));
	unsigned n = qsize / 3 < 4 ? qsize / 3 : 4;

	for (unsigned j = 0; j < n; j++) {
		template_request(a, b, desc, j, indirect);
		avail->ring[(uint16_t)(start + j) % qsize] = (uint16_t)(3 * j);
	}
	avail->idx = (uint16_t)(start + n);
}

static void check_inside(const struct gmem *m, const struct iovec *v)
{
	for (unsigned i = 0; i < m->count; i++) {
		const struct gmem_region *r = &m->regions[i];
		const uint8_t *p = v->iov_base;

		if (p >= r->host && v->iov_len <= r->size &&
		    p - r->host <= (ptrdiff_t)(r->size - v->iov_len))
			return;
	}
	__builtin_trap();
}

/* Read the readable buffers and scribble over the writable ones, as a device would. */
static unsigned touch(const struct gmem *m, const struct virtq_req *req)
{
	unsigned sum = 0;

	for (unsigned i = 0; i < req->nout + req->nin; i++) {
		const struct iovec *v = &req->iov[i];
		volatile const uint8_t *p = v->iov_base;

		if (v->iov_len == 0)
			__builtin_trap(); /* zero-length buffers are never handed out */
		check_inside(m, v);
		sum += p[0] + p[v->iov_len - 1];
		if (i >= req->nout)
			memset(v->iov_base, 0xa5, v->iov_len);
	}
	return sum;
}

static void blk(struct virtq_req *req)
{
	static const struct blk_limits lim = {.capacity = 1 << 20};
	static const char id[BLK_ID_BYTES] = "fuzz";
	static struct blk_req b;
	int rc = blk_req_parse(req, &lim, &b);

	if (rc < 0)
		return;
	*b.status = (uint8_t)rc;
	if (rc == 0 && b.type == 8 /* GET_ID */)
		blk_req_get_id(&b, id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virtq_req req;
	struct gmem m = {.count = 2};
	struct virtq vq;
	uint16_t qsize, start;
	uint64_t features = 0, avail, used;
	uint8_t *a, *b;
	size_t n;

	if (size < 4)
		return 0;
	qsize = (uint16_t)(1u << (data[0] % 9));
	if (data[1] & 1)
		features |= 1ull << VIRTIO_RING_F_EVENT_IDX;
	if (data[1] & 2)
		features |= 1ull << VIRTIO_RING_F_INDIRECT_DESC;
	start = (uint16_t)(data[2] | data[3] << 8);
	data += 4;
	size -= 4;
	a = calloc(1, A_SIZE);
	b = calloc(1, B_SIZE);
	if (!a || !b)
		abort();
	avail = A_GPA + 16u * qsize;
	used = (avail + 6 + 2u * qsize + 3) & ~3ull;
	template(a, b, qsize, start, features & (1ull << VIRTIO_RING_F_INDIRECT_DESC), avail);
	for (n = 0; n < size && n < A_SIZE + B_SIZE; n++) {
		if (n < A_SIZE)
			a[n] ^= data[n];
		else
			b[n - A_SIZE] ^= data[n];
	}
	m.regions[0] = (struct gmem_region){.gpa = A_GPA, .size = A_SIZE, .host = a};
	m.regions[1] = (struct gmem_region){.gpa = B_GPA, .size = B_SIZE, .host = b};
	if (virtq_init(&vq, &m, qsize, A_GPA, avail, used, features, start) == 0) {
		/* Writable buffers may overlap the avail ring and move its index: bound the
		 * rounds rather than trust it. */
		for (unsigned i = 0; i < 4u * qsize + 4; i++) {
			int rc = virtq_pop(&vq, &req);

			if (rc <= 0)
				break;
			touch(&m, &req);
			blk(&req);
			virtq_push(&vq, req.head, (uint32_t)req.in_len);
			virtq_should_notify(&vq);
			virtq_set_kick(&vq, i & 1);
		}
	}
	free(a);
	free(b);
	return 0;
}
