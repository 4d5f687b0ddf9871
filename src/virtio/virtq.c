#include "virtio/virtq.h"

#include <endian.h>
#include <errno.h>
#include <linux/virtio_ring.h>
#include <string.h>

/* The guest writes these fields concurrently: read and write them exactly once, as atomics, so
 * the compiler can neither tear nor re-read them. */
static uint16_t virtq_load16(const __virtio16 *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

static void virtq_store16(__virtio16 *p, uint16_t v)
{
	__atomic_store_n(p, htole16(v), __ATOMIC_RELAXED);
}

/* used_event sits after the avail ring, avail_event after the used ring (2.7.10). */
static __virtio16 *virtq_used_event(const struct virtq *vq)
{
	return &vq->avail->ring[vq->size];
}

static __virtio16 *virtq_avail_event(const struct virtq *vq)
{
	return (__virtio16 *)&vq->used->ring[vq->size];
}

/* Host pointer for a ring part: inside guest memory and aligned, both in guest-physical terms
 * (as the spec requires) and in our mapping (so that field accesses are aligned). */
static void *virtq_part(const struct gmem *mem, uint64_t gpa, uint64_t len, uint64_t align, int *rc)
{
	void *p;

	if (gpa % align) {
		*rc = -EINVAL;
		return NULL;
	}
	p = gmem_ptr(mem, gpa, len);
	if (!p) {
		*rc = -EFAULT;
		return NULL;
	}
	if ((uintptr_t)p % align) {
		*rc = -EINVAL;
		return NULL;
	}
	return p;
}

int virtq_init(struct virtq *vq, const struct gmem *mem, uint16_t size, uint64_t desc_gpa,
	       uint64_t avail_gpa, uint64_t used_gpa, uint64_t features, uint16_t start_idx)
{
	bool event_idx = features & (1ull << VIRTIO_RING_F_EVENT_IDX);
	uint64_t n = size;
	int rc = 0;

	memset(vq, 0, sizeof(*vq));
	if (size == 0 || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
		return -EINVAL;
	vq->desc = virtq_part(mem, desc_gpa, 16 * n, 16, &rc);
	if (vq->desc)
		vq->avail = virtq_part(mem, avail_gpa, 4 + 2 * n + (event_idx ? 2 : 0), 2, &rc);
	if (vq->avail)
		vq->used = virtq_part(mem, used_gpa, 4 + 8 * n + (event_idx ? 2 : 0), 4, &rc);
	if (!vq->used) {
		memset(vq, 0, sizeof(*vq));
		return rc;
	}
	vq->mem = mem;
	vq->size = size;
	vq->event_idx = event_idx;
	vq->indirect = features & (1ull << VIRTIO_RING_F_INDIRECT_DESC);
	vq->last_avail = start_idx;
	/* After a stop (GET_VRING_BASE) every popped request was pushed: the ring's used index
	 * is where we left off. */
	vq->used_idx = virtq_load16(&vq->used->idx);
	vq->signalled_used = vq->used_idx;
	return 0;
}

static int virtq_fail(struct virtq *vq, const char *why)
{
	vq->broken = true;
	vq->error = why;
	return -EIO;
}

static int virtq_add_buf(struct virtq *vq, struct virtq_req *req, const struct vring_desc *d)
{
	uint16_t flags = le16toh(d->flags);
	uint32_t len = le32toh(d->len);
	unsigned n = req->nout + req->nin;
	void *p;

	if (!(flags & VRING_DESC_F_WRITE) && req->nin)
		return virtq_fail(vq, "device-readable descriptor after a device-writable one");
	/* An empty buffer carries nothing: accepted, but it needs no iovec. */
	if (len == 0)
		return 0;
	p = gmem_ptr(vq->mem, le64toh(d->addr), len);
	if (!p)
		return virtq_fail(vq, "descriptor points outside guest memory");
	if (n >= VIRTQ_MAX_CHAIN)
		return virtq_fail(vq, "descriptor chain too long");
	req->iov[n].iov_base = p;
	req->iov[n].iov_len = len;
	if (flags & VRING_DESC_F_WRITE) {
		req->nin++;
		req->in_len += len;
	} else {
		req->nout++;
		req->out_len += len;
	}
	return 0;
}

/* Switch the walk to the indirect table `d` describes (2.7.5.3). */
static int virtq_enter_indirect(struct virtq *vq, const struct vring_desc *d, bool *in_indirect,
				const uint8_t **table, unsigned *table_len)
{
	uint16_t flags = le16toh(d->flags);
	uint32_t len = le32toh(d->len);

	if (!vq->indirect)
		return virtq_fail(vq, "indirect descriptor but VIRTIO_RING_F_INDIRECT_DESC is off");
	if (*in_indirect)
		return virtq_fail(vq, "indirect descriptor inside an indirect table");
	if (flags & VRING_DESC_F_NEXT)
		return virtq_fail(vq, "indirect descriptor with the NEXT flag");
	if (len == 0 || len % sizeof(struct vring_desc))
		return virtq_fail(vq, "indirect table length not a multiple of 16");
	if (len / sizeof(struct vring_desc) > VIRTQ_MAX_CHAIN)
		return virtq_fail(vq, "indirect table too long");
	*table = gmem_ptr(vq->mem, le64toh(d->addr), len);
	if (!*table)
		return virtq_fail(vq, "indirect table outside guest memory");
	*table_len = len / sizeof(struct vring_desc);
	*in_indirect = true;
	return 0;
}

/* Walk the chain from `head`. Every descriptor is copied once before it is looked at, so the
 * guest changing it meanwhile cannot make two checks disagree. */
static int virtq_walk(struct virtq *vq, uint16_t head, struct virtq_req *req)
{
	const uint8_t *table = (const uint8_t *)vq->desc;
	unsigned table_len = vq->size, idx = head, in_table = 0, total = 0;
	bool in_indirect = false;
	struct vring_desc d;
	int rc;

	for (;;) {
		/* A loop revisits a descriptor: more than table_len steps in one table. */
		if (++in_table > table_len)
			return virtq_fail(vq, "descriptor chain loops");
		if (++total > VIRTQ_MAX_CHAIN)
			return virtq_fail(vq, "descriptor chain too long");
		memcpy(&d, table + (size_t)idx * sizeof(d), sizeof(d));
		if (le16toh(d.flags) & VRING_DESC_F_INDIRECT) {
			rc = virtq_enter_indirect(vq, &d, &in_indirect, &table, &table_len);
			if (rc)
				return rc;
			idx = 0;
			in_table = 0;
			continue;
		}
		rc = virtq_add_buf(vq, req, &d);
		if (rc)
			return rc;
		if (!(le16toh(d.flags) & VRING_DESC_F_NEXT))
			return 0;
		idx = le16toh(d.next);
		if (idx >= table_len)
			return virtq_fail(vq, "descriptor next index out of range");
	}
}

int virtq_pop(struct virtq *vq, struct virtq_req *req)
{
	uint16_t avail_idx, pending, head;
	int rc;

	if (vq->broken)
		return -EIO;
	/* Acquire: the ring entries and descriptors the index covers are read after it. */
	avail_idx = le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
	pending = (uint16_t)(avail_idx - vq->last_avail);
	if (pending == 0)
		return 0;
	if (pending > vq->size)
		return virtq_fail(vq, "available index moved more than the queue size ahead");
	head = virtq_load16(&vq->avail->ring[vq->last_avail & (vq->size - 1)]);
	if (head >= vq->size)
		return virtq_fail(vq, "available ring entry out of range");
	req->head = head;
	req->nout = req->nin = 0;
	req->out_len = req->in_len = 0;
	rc = virtq_walk(vq, head, req);
	if (rc)
		return rc;
	vq->last_avail++;
	return 1;
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t written)
{
	struct vring_used_elem *e = &vq->used->ring[vq->used_idx & (vq->size - 1)];

	__atomic_store_n(&e->id, htole32(head), __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, htole32(written), __ATOMIC_RELAXED);
	vq->used_idx++;
	/* Release: the element is visible before the index that publishes it. */
	__atomic_store_n(&vq->used->idx, htole16(vq->used_idx), __ATOMIC_RELEASE);
}

bool virtq_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

bool virtq_should_notify(struct virtq *vq)
{
	uint16_t old = vq->signalled_used, new_idx = vq->used_idx;
	bool valid = vq->signalled_valid;

	/* Our used->idx store must be visible before we read the driver's suppression fields,
	 * or the driver may sleep waiting for an interrupt we decided to skip. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (old == new_idx)
		return false; /* nothing pushed since the last notification */
	vq->signalled_used = new_idx;
	vq->signalled_valid = true;
	if (!vq->event_idx)
		return !(virtq_load16(&vq->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
	if (!valid)
		return true;
	return virtq_need_event(virtq_load16(virtq_used_event(vq)), new_idx, old);
}

void virtq_set_kick(struct virtq *vq, bool enabled)
{
	if (vq->event_idx) {
		/* Leaving avail_event behind last_avail is what disables kicks. */
		if (enabled)
			virtq_store16(virtq_avail_event(vq), vq->last_avail);
	} else {
		virtq_store16(&vq->used->flags, enabled ? 0 : VRING_USED_F_NO_NOTIFY);
	}
	/* The store must be visible before the caller re-reads avail->idx. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void virtq_unpop(struct virtq *vq, uint16_t n)
{
	vq->last_avail = (uint16_t)(vq->last_avail - n);
}

uint16_t virtq_kick_on_more(struct virtq *vq)
{
	uint16_t idx = le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));

	/* The driver kicks when its new index passes avail_event (2.7.10): at its current
	 * index, the very next buffer does. */
	if (vq->event_idx)
		virtq_store16(virtq_avail_event(vq), idx);
	else
		virtq_store16(&vq->used->flags, 0);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
}

void virtq_push_n(struct virtq *vq, const uint16_t *heads, const uint32_t *written, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct vring_used_elem *e = &vq->used->ring[(uint16_t)(vq->used_idx + i) &
							     (vq->size - 1)];

		__atomic_store_n(&e->id, htole32(heads[i]), __ATOMIC_RELAXED);
		__atomic_store_n(&e->len, htole32(written[i]), __ATOMIC_RELAXED);
	}
	vq->used_idx = (uint16_t)(vq->used_idx + n);
	__atomic_store_n(&vq->used->idx, htole16(vq->used_idx), __ATOMIC_RELEASE);
}
