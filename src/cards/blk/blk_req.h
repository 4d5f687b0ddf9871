/* virtio-blk requests (virtio 1.2 section 5.2.6): turning a popped chain into a checked
 * request, with no I/O. Everything here is pure so that it can be unit-tested and fuzzed. */
#ifndef AZOTE_CARDS_BLK_BLK_REQ_H
#define AZOTE_CARDS_BLK_BLK_REQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtio/virtq.h"

#define BLK_SECTOR 512u
/* Data buffers per request we keep; the driver is told seg_max = BLK_IOV_MAX - 2 so that a
 * header or status byte sharing a buffer with data still fits. */
#define BLK_IOV_MAX 128u
#define BLK_SEG_MAX (BLK_IOV_MAX - 2)
/* Segments per discard / write-zeroes request, and sectors per segment. */
#define BLK_DWZ_SEG_MAX	    16u
#define BLK_DWZ_SECTORS_MAX (1u << 22)
#define BLK_ID_BYTES	    20u

/* What a request may touch. */
struct blk_limits {
	uint64_t capacity; /* sectors */
	bool ro;
};

struct blk_seg {
	uint64_t sector;
	uint32_t sectors;
	bool unmap;
};

struct blk_req {
	uint32_t type; /* VIRTIO_BLK_T_* */
	uint64_t sector;
	uint8_t *status; /* the last device-writable byte, in guest memory */
	uint64_t len;	 /* data bytes (IN, OUT, GET_ID) */
	unsigned niov;
	struct iovec iov[BLK_IOV_MAX]; /* the data, in guest memory */
	unsigned nseg;
	struct blk_seg seg[BLK_DWZ_SEG_MAX]; /* DISCARD, WRITE_ZEROES */
};

/* Check chain `vr` as a virtio-blk request. Returns VIRTIO_BLK_S_OK when `req` is ready to
 * execute, VIRTIO_BLK_S_IOERR or VIRTIO_BLK_S_UNSUPP when it must be answered with that
 * status at once (req->status is set), or -EINVAL when the chain has no writable byte for a
 * status (it can only be returned unanswered). */
int blk_req_parse(const struct virtq_req *vr, const struct blk_limits *lim, struct blk_req *req);

/* Write the device ID (NUL-padded to 20 bytes, no terminator at 20) into the request's data;
 * returns the bytes written. */
uint32_t blk_req_get_id(struct blk_req *req, const char id[BLK_ID_BYTES]);

/* Drop the first `bytes` of iov[*first..n): whole buffers advance *first, the last one is
 * trimmed in place. Used to resume a short read or write. */
void blk_iov_consume(struct iovec *iov, unsigned n, unsigned *first, uint64_t bytes);

#endif
