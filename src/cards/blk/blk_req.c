#include "cards/blk/blk_req.h"

#include <endian.h>
#include <errno.h>
#include <linux/virtio_blk.h>
#include <string.h>

/* The driver may split any structure across buffers as it likes (virtio 1.2 2.6.4): copy
 * `len` bytes found `offset` bytes into the buffers. 0, or -1 if they are shorter. */
static int blk_iov_gather(const struct iovec *iov, unsigned n, uint64_t offset, void *dst,
			  size_t len)
{
	uint8_t *d = dst;

	for (unsigned i = 0; i < n && len; i++) {
		size_t take;

		if (offset >= iov[i].iov_len) {
			offset -= iov[i].iov_len;
			continue;
		}
		take = iov[i].iov_len - offset;
		if (take > len)
			take = len;
		memcpy(d, (uint8_t *)iov[i].iov_base + offset, take);
		d += take;
		len -= take;
		offset = 0;
	}
	return len ? -1 : 0;
}

/* Describe bytes [offset, offset+len) of the buffers as req->iov. 0, or -1 if that takes
 * more than BLK_IOV_MAX pieces or the buffers are shorter. */
static int blk_iov_slice(struct blk_req *req, const struct iovec *iov, unsigned n, uint64_t offset,
			 uint64_t len)
{
	req->niov = 0;
	for (unsigned i = 0; i < n && len; i++) {
		size_t take;

		if (offset >= iov[i].iov_len) {
			offset -= iov[i].iov_len;
			continue;
		}
		if (req->niov == BLK_IOV_MAX)
			return -1;
		take = iov[i].iov_len - offset;
		if (take > len)
			take = len;
		req->iov[req->niov].iov_base = (uint8_t *)iov[i].iov_base + offset;
		req->iov[req->niov].iov_len = take;
		req->niov++;
		len -= take;
		offset = 0;
	}
	return len ? -1 : 0;
}

/* Sectors [sector, sector+count) inside the disk, without overflow. */
static bool blk_in_range(const struct blk_limits *lim, uint64_t sector, uint64_t count)
{
	return sector <= lim->capacity && count <= lim->capacity - sector;
}

static int blk_parse_rw(struct blk_req *req, const struct blk_limits *lim, const struct iovec *iov,
			unsigned n, uint64_t offset, uint64_t len)
{
	if (len % BLK_SECTOR || !blk_in_range(lim, req->sector, len / BLK_SECTOR))
		return VIRTIO_BLK_S_IOERR;
	if (blk_iov_slice(req, iov, n, offset, len))
		return VIRTIO_BLK_S_IOERR;
	req->len = len;
	return VIRTIO_BLK_S_OK;
}

static int blk_parse_segs(struct blk_req *req, const struct blk_limits *lim,
			  const struct virtq_req *vr)
{
	const uint64_t hdr = sizeof(struct virtio_blk_outhdr);
	const uint64_t one = sizeof(struct virtio_blk_discard_write_zeroes);
	uint64_t len = vr->out_len - hdr;

	if (len == 0 || len % one)
		return VIRTIO_BLK_S_IOERR;
	if (len / one > BLK_DWZ_SEG_MAX)
		return VIRTIO_BLK_S_UNSUPP;
	req->nseg = (unsigned)(len / one);
	for (unsigned i = 0; i < req->nseg; i++) {
		struct virtio_blk_discard_write_zeroes s;
		uint32_t flags;

		if (blk_iov_gather(vr->iov, vr->nout, hdr + i * one, &s, sizeof(s)))
			return VIRTIO_BLK_S_IOERR;
		flags = le32toh(s.flags);
		/* Unknown flags, and unmap on a discard, must be refused (5.2.6.2). */
		if (req->type == VIRTIO_BLK_T_DISCARD
			? flags != 0
			: (flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))
			return VIRTIO_BLK_S_UNSUPP;
		req->seg[i].sector = le64toh(s.sector);
		req->seg[i].sectors = le32toh(s.num_sectors);
		req->seg[i].unmap = flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
		if (req->seg[i].sectors > BLK_DWZ_SECTORS_MAX ||
		    !blk_in_range(lim, req->seg[i].sector, req->seg[i].sectors))
			return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

int blk_req_parse(const struct virtq_req *vr, const struct blk_limits *lim, struct blk_req *req)
{
	const struct iovec *in = vr->iov + vr->nout;
	const struct iovec *last;
	struct virtio_blk_outhdr hdr;

	req->type = UINT32_MAX;
	req->sector = 0;
	req->status = NULL;
	req->len = 0;
	req->niov = req->nseg = 0;
	if (vr->nin == 0 || vr->in_len == 0)
		return -EINVAL;
	/* The status is the last byte the device may write, wherever the driver put it. */
	last = &in[vr->nin - 1];
	req->status = (uint8_t *)last->iov_base + last->iov_len - 1;
	if (blk_iov_gather(vr->iov, vr->nout, 0, &hdr, sizeof(hdr)))
		return VIRTIO_BLK_S_IOERR;
	req->type = le32toh(hdr.type);
	req->sector = le64toh(hdr.sector);
	switch (req->type) {
	case VIRTIO_BLK_T_IN:
		return blk_parse_rw(req, lim, in, vr->nin, 0, vr->in_len - 1);
	case VIRTIO_BLK_T_OUT:
		if (lim->ro)
			return VIRTIO_BLK_S_IOERR;
		return blk_parse_rw(req, lim, vr->iov, vr->nout, sizeof(hdr),
				    vr->out_len - sizeof(hdr));
	case VIRTIO_BLK_T_FLUSH:
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID:
		req->len = vr->in_len - 1 < BLK_ID_BYTES ? vr->in_len - 1 : BLK_ID_BYTES;
		if (req->len == 0 || blk_iov_slice(req, in, vr->nin, 0, req->len))
			return VIRTIO_BLK_S_IOERR;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (lim->ro)
			return VIRTIO_BLK_S_IOERR;
		return blk_parse_segs(req, lim, vr);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

uint32_t blk_req_get_id(struct blk_req *req, const char id[BLK_ID_BYTES])
{
	uint64_t done = 0;

	for (unsigned i = 0; i < req->niov && done < req->len; i++) {
		size_t take = req->iov[i].iov_len;

		if (take > req->len - done)
			take = req->len - done;
		memcpy(req->iov[i].iov_base, id + done, take);
		done += take;
	}
	return (uint32_t)done;
}

void blk_iov_consume(struct iovec *iov, unsigned n, unsigned *first, uint64_t bytes)
{
	while (*first < n && bytes) {
		struct iovec *v = &iov[*first];

		if (bytes < v->iov_len) {
			v->iov_base = (uint8_t *)v->iov_base + bytes;
			v->iov_len -= bytes;
			return;
		}
		bytes -= v->iov_len;
		v->iov_len = 0;
		(*first)++;
	}
}
