/* A split virtqueue (virtio 1.2 section 2.7) seen from the device side, over guest memory that
 * the guest controls: every index, descriptor and address is checked before use. One thread
 * uses a given struct virtq at a time; the guest is the only other party touching the ring. */
#ifndef AZOTE_VIRTIO_VIRTQ_H
#define AZOTE_VIRTIO_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtio/gmem.h"

#define VIRTQ_MAX_SIZE 32768
/* Longest chain a device accepts (descriptors, indirect included); longer is a guest error. */
#define VIRTQ_MAX_CHAIN 1024

struct vring_desc;
struct vring_avail;
struct vring_used;

struct virtq {
	const struct gmem *mem;
	uint16_t size;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t last_avail;	 /* next avail ring slot to consume */
	uint16_t used_idx;	 /* next used ring slot to fill */
	bool event_idx;		 /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;		 /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	bool broken;		 /* the guest broke the ring: the device must ask for a reset */
	const char *error;	 /* why it broke, for one log line */
	uint16_t signalled_used; /* used_idx at the last notification decision */
	bool signalled_valid;	 /* false until the first one: the first always notifies */
};

/* One request: the chain's buffers, device-readable ones first then device-writable ones, as
 * host iovecs pointing into guest memory (already bounds-checked). Zero-length descriptors
 * are skipped, so every iovec has iov_len >= 1. */
struct virtq_req {
	uint16_t head;
	unsigned nout; /* device-readable buffers: iov[0..nout) */
	unsigned nin;  /* device-writable buffers: iov[nout..nout+nin) */
	uint64_t out_len, in_len;
	struct iovec iov[VIRTQ_MAX_CHAIN];
};

/* Check and map a queue of `size` entries (power of 2 up to VIRTQ_MAX_SIZE) whose parts are at
 * the given guest-physical addresses. 0, or -EINVAL (bad size/alignment) / -EFAULT (outside
 * guest memory). `features` is the negotiated virtio feature set; `start_idx` the avail index
 * to resume from (vhost-user SET_VRING_BASE). The used index is read back from the ring. */
__attribute__((warn_unused_result)) int virtq_init(struct virtq *vq, const struct gmem *mem,
						   uint16_t size, uint64_t desc_gpa,
						   uint64_t avail_gpa, uint64_t used_gpa,
						   uint64_t features, uint16_t start_idx);

/* Take the next available request. Returns 1 with req filled, 0 when none is available, or
 * -EIO when the guest's ring or chain is malformed (loop, too long, out of bounds, readable
 * after writable, avail index too far ahead...): vq->broken is then set and stays set. */
int virtq_pop(struct virtq *vq, struct virtq_req *req);

/* Return request `head` to the driver with `written` bytes written into its buffers. */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t written);

/* Return `n` requests at once, published by one used-index update: the driver sees all of
 * them or none (virtio-net's merged receive buffers must arrive together). */
void virtq_push_n(struct virtq *vq, const uint16_t *heads, const uint32_t *written, unsigned n);

/* After pushes: does the driver want an interrupt now (event idx / NO_INTERRUPT rules)? */
bool virtq_should_notify(struct virtq *vq);

/* Ask the driver to (not) kick us for new buffers (used->flags or avail event). After enabling,
 * pop again: a buffer made available just before may not have been kicked. */
void virtq_set_kick(struct virtq *vq, bool enabled);

/* Give back the last `n` requests popped and not pushed: the next pops return them again
 * (a device that took buffers it cannot use yet, or that stops with requests unsent). */
void virtq_unpop(struct virtq *vq, uint16_t n);

/* Ask the driver to kick us as soon as it makes any new buffer available, even though some
 * are available already (too few for what the device needs). Returns the avail index read
 * after the request is visible: if it differs from the one the device last saw, buffers came
 * in meanwhile, unkicked. */
uint16_t virtq_kick_on_more(struct virtq *vq);

/* The event-index test (virtio 1.2 2.7.10): has the index moved from `old` to `new_idx` past
 * `event`, modulo 2^16? */
bool virtq_need_event(uint16_t event, uint16_t new_idx, uint16_t old);

#endif
