/* One virtio-blk queue: requests popped from the ring run on the image through io_uring, many
 * at a time (up to the ring's size), and complete back into the ring from the queue's worker
 * thread when io_uring's eventfd fires. A request is a slot running a small state machine:
 * each step is one io_uring operation, and a short read or write, a write-zeroes that falls
 * back to writing zero bytes, or the next discard segment is the next step.
 *
 * Every guest exit costs (a kick is a trapped MMIO write, an interrupt an injection), so a
 * round of work goes on while it finds something new — requests in the ring, completions in
 * io_uring's queue — and ends with one notification; and the driver is asked to kick only
 * when nothing is in flight, since a completion looks at the ring anyway. */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cards/blk/blk_dev.h"
#include "devices/ratelimit.h"
#include "util/log.h"

/* Write-zeroes without fallocate support writes this buffer, up to BLK_ZERO_IOV at a time. */
#define BLK_ZERO_CHUNK (64u << 10)
#define BLK_ZERO_IOV   16u
/* Reads and writes up to this size on an in-memory image are copied on the queue thread:
 * io_uring would hand each to a worker thread (tmpfs cannot do non-blocking I/O), which costs
 * more than the copy. Larger ones still go to io_uring, whose workers can copy in parallel. */
#define BLK_INLINE_MAX (128u << 10)
/* Passes of a round (take, submit, reap) before the driver is notified anyway. */
#define BLK_ROUND_PASSES 8

static const uint8_t blk_zeros[BLK_ZERO_CHUNK];

struct blk_slot {
	struct blk_req req;
	uint16_t head;
	unsigned first; /* first data buffer not yet transferred */
	uint64_t done;	/* bytes done of the transfer, or of the current segment */
	unsigned seg;	/* current discard / write-zeroes segment */
	bool zero_fill; /* this segment is written as zero bytes */
	struct iovec zero_iov[BLK_ZERO_IOV];
};

struct blk_queue {
	struct blk_dev *dev;
	struct vhost_queue *q;
	struct io_uring ring;
	int efd; /* io_uring signals completions here */
	unsigned nslots, nfree;
	uint16_t *free_list;
	struct blk_slot *slots;
	struct ratelimit warn_rl; /* the guest can trigger these at will */
	struct virtq_req vreq;
};

static struct blk_slot *blkq_alloc(struct blk_queue *bq)
{
	return &bq->slots[bq->free_list[--bq->nfree]];
}

static void blkq_free(struct blk_queue *bq, struct blk_slot *s)
{
	bq->free_list[bq->nfree++] = (uint16_t)(s - bq->slots);
}

static void blkq_count(struct blk_counters *c, const struct blk_req *r, uint8_t status)
{
	_Atomic uint64_t *ops = NULL, *bytes = NULL;

	if (status != VIRTIO_BLK_S_OK) {
		atomic_fetch_add_explicit(&c->errors, 1, memory_order_relaxed);
		return;
	}
	switch (r->type) {
	case VIRTIO_BLK_T_IN: ops = &c->read_ops, bytes = &c->read_bytes; break;
	case VIRTIO_BLK_T_OUT: ops = &c->write_ops, bytes = &c->write_bytes; break;
	case VIRTIO_BLK_T_FLUSH: ops = &c->flush_ops; break;
	case VIRTIO_BLK_T_DISCARD: ops = &c->discard_ops; break;
	case VIRTIO_BLK_T_WRITE_ZEROES: ops = &c->write_zeroes_ops; break;
	default: ops = &c->get_id_ops; break;
	}
	atomic_fetch_add_explicit(ops, 1, memory_order_relaxed);
	if (bytes)
		atomic_fetch_add_explicit(bytes, r->len, memory_order_relaxed);
}

static void blkq_complete(struct blk_queue *bq, struct blk_slot *s, uint8_t status,
			  uint64_t written)
{
	__atomic_store_n(s->req.status, status, __ATOMIC_RELAXED);
	virtq_push(&bq->q->vq, s->head, written > UINT32_MAX ? UINT32_MAX : (uint32_t)written);
	blkq_count(&bq->dev->ctr, &s->req, status);
	blkq_free(bq, s);
}

static void blkq_io_error(struct blk_queue *bq, struct blk_slot *s, const char *what, int res)
{
	if (ratelimit_allow(&bq->warn_rl))
		log_warn("%s: %s failed at sector %llu: %s", bq->dev->path, what,
			 (unsigned long long)s->req.sector,
			 res == 0 ? "unexpected end of file" : strerror(-res));
	blkq_complete(bq, s, VIRTIO_BLK_S_IOERR, 1);
}

static void blkq_prep_zero_write(struct blk_slot *s, struct io_uring_sqe *sqe, int fd)
{
	const struct blk_seg *g = &s->req.seg[s->seg];
	uint64_t left = (uint64_t)g->sectors * BLK_SECTOR - s->done;
	unsigned n = 0;

	while (left && n < BLK_ZERO_IOV) {
		size_t take = left < BLK_ZERO_CHUNK ? left : BLK_ZERO_CHUNK;

		s->zero_iov[n++] = (struct iovec){(void *)blk_zeros, take};
		left -= take;
	}
	io_uring_prep_writev(sqe, fd, s->zero_iov, n, g->sector * BLK_SECTOR + s->done);
}

static void blkq_prep(struct blk_queue *bq, struct blk_slot *s, struct io_uring_sqe *sqe)
{
	const struct blk_req *r = &s->req;
	const struct blk_seg *g = &r->seg[s->seg];
	int fd = bq->dev->img.fd;
	off_t off = (off_t)(g->sector * BLK_SECTOR), len = (off_t)g->sectors * BLK_SECTOR;

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		io_uring_prep_readv(sqe, fd, r->iov + s->first, r->niov - s->first,
				    r->sector * BLK_SECTOR + s->done);
		break;
	case VIRTIO_BLK_T_OUT:
		io_uring_prep_writev(sqe, fd, r->iov + s->first, r->niov - s->first,
				     r->sector * BLK_SECTOR + s->done);
		break;
	case VIRTIO_BLK_T_FLUSH:
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		break;
	case VIRTIO_BLK_T_DISCARD:
		io_uring_prep_fallocate(sqe, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off,
					len);
		break;
	default: /* VIRTIO_BLK_T_WRITE_ZEROES */
		if (s->zero_fill)
			blkq_prep_zero_write(s, sqe, fd);
		else
			io_uring_prep_fallocate(
			    sqe, fd,
			    (g->unmap ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE) |
				FALLOC_FL_KEEP_SIZE,
			    off, len);
		break;
	}
	io_uring_sqe_set_data(sqe, s);
}

static void blkq_rw_done(struct blk_queue *bq, struct blk_slot *s, int res);

static bool blkq_inline(const struct blk_queue *bq, const struct blk_slot *s)
{
	const struct blk_req *r = &s->req;

	return bq->dev->img.in_memory && r->len <= BLK_INLINE_MAX &&
	       (r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_OUT);
}

/* The step of an inline read or write, done now. */
static void blkq_step_inline(struct blk_queue *bq, struct blk_slot *s)
{
	const struct blk_req *r = &s->req;
	int fd = bq->dev->img.fd;
	off_t off = (off_t)(r->sector * BLK_SECTOR + s->done);
	ssize_t n;

	if (r->type == VIRTIO_BLK_T_IN)
		n = preadv(fd, r->iov + s->first, (int)(r->niov - s->first), off);
	else
		n = pwritev(fd, r->iov + s->first, (int)(r->niov - s->first), off);
	/* n <= r->len <= BLK_INLINE_MAX: an int. */
	blkq_rw_done(bq, s, n < 0 ? -errno : (int)n);
}

/* Queue the slot's next step; submitted in the batch at the end of the pass. */
static void blkq_step(struct blk_queue *bq, struct blk_slot *s)
{
	struct io_uring_sqe *sqe;

	if (blkq_inline(bq, s)) {
		blkq_step_inline(bq, s);
		return;
	}
	sqe = io_uring_get_sqe(&bq->ring);

	if (!sqe) {
		io_uring_submit(&bq->ring);
		sqe = io_uring_get_sqe(&bq->ring);
	}
	if (!sqe) {
		blkq_io_error(bq, s, "queueing I/O", -EBUSY);
		return;
	}
	blkq_prep(bq, s, sqe);
}

/* Start the first segment at or after s->seg that needs work, or complete the request. */
static void blkq_start_seg(struct blk_queue *bq, struct blk_slot *s)
{
	struct blk_req *r = &s->req;

	for (; s->seg < r->nseg; s->seg++) {
		const struct blk_seg *g = &r->seg[s->seg];

		if (g->sectors == 0)
			continue;
		/* Discard is a hint: where holes cannot be punched there is nothing to do. */
		if (r->type == VIRTIO_BLK_T_DISCARD) {
			if (atomic_load(&bq->dev->no_punch_hole))
				continue;
			s->zero_fill = false;
		} else {
			s->zero_fill = atomic_load(g->unmap ? &bq->dev->no_punch_hole
							    : &bq->dev->no_zero_range);
		}
		s->done = 0;
		blkq_step(bq, s);
		return;
	}
	blkq_complete(bq, s, VIRTIO_BLK_S_OK, 1);
}

static void blkq_rw_done(struct blk_queue *bq, struct blk_slot *s, int res)
{
	struct blk_req *r = &s->req;
	bool in = r->type == VIRTIO_BLK_T_IN;

	if (res == -EINTR || res == -EAGAIN) {
		blkq_step(bq, s);
		return;
	}
	if (res <= 0) {
		blkq_io_error(bq, s, in ? "read" : "write", res);
		return;
	}
	s->done += (uint64_t)res;
	blk_iov_consume(r->iov, r->niov, &s->first, (uint64_t)res);
	if (s->done < r->len) {
		blkq_step(bq, s); /* a short transfer: go on from where it stopped */
		return;
	}
	blkq_complete(bq, s, VIRTIO_BLK_S_OK, in ? r->len + 1 : 1);
}

static void blkq_seg_done(struct blk_queue *bq, struct blk_slot *s, int res)
{
	struct blk_req *r = &s->req;
	const struct blk_seg *g = &r->seg[s->seg];

	if (res == -EINTR || res == -EAGAIN) {
		blkq_step(bq, s);
		return;
	}
	if (res == -EOPNOTSUPP && !s->zero_fill) {
		bool punch = r->type == VIRTIO_BLK_T_DISCARD || g->unmap;

		atomic_store(punch ? &bq->dev->no_punch_hole : &bq->dev->no_zero_range, true);
		if (r->type == VIRTIO_BLK_T_WRITE_ZEROES) {
			s->zero_fill = true;
			blkq_step(bq, s);
			return;
		}
		res = 0;
	}
	if (res < 0 || (s->zero_fill && res == 0)) {
		blkq_io_error(bq, s, r->type == VIRTIO_BLK_T_DISCARD ? "discard" : "write zeroes",
			      res);
		return;
	}
	if (s->zero_fill) {
		s->done += (uint64_t)res;
		if (s->done < (uint64_t)g->sectors * BLK_SECTOR) {
			blkq_step(bq, s);
			return;
		}
	}
	s->seg++;
	blkq_start_seg(bq, s);
}

static void blkq_on_result(struct blk_queue *bq, struct blk_slot *s, int res)
{
	switch (s->req.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		blkq_rw_done(bq, s, res);
		break;
	case VIRTIO_BLK_T_FLUSH:
		if (res < 0)
			blkq_io_error(bq, s, "flush", res);
		else
			blkq_complete(bq, s, VIRTIO_BLK_S_OK, 1);
		break;
	default:
		blkq_seg_done(bq, s, res);
		break;
	}
}

/* Begin the request just popped into bq->vreq. */
static void blkq_start_req(struct blk_queue *bq)
{
	struct blk_slot *s = blkq_alloc(bq);
	struct blk_req *r = &s->req;
	int status = blk_req_parse(&bq->vreq, &bq->dev->lim, r);

	s->head = bq->vreq.head;
	s->first = s->seg = 0;
	s->done = 0;
	s->zero_fill = false;
	if (status < 0) {
		if (ratelimit_allow(&bq->warn_rl))
			log_warn("%s: queue %u: request without a status byte returned unanswered",
				 bq->dev->path, bq->q->index);
		virtq_push(&bq->q->vq, s->head, 0);
		blkq_free(bq, s);
		return;
	}
	if (status != VIRTIO_BLK_S_OK) {
		blkq_complete(bq, s, (uint8_t)status, 1);
		return;
	}
	switch (r->type) {
	case VIRTIO_BLK_T_GET_ID:
		blkq_complete(bq, s, VIRTIO_BLK_S_OK, blk_req_get_id(r, bq->dev->id) + 1u);
		break;
	case VIRTIO_BLK_T_FLUSH:
		if (bq->dev->lim.ro)
			blkq_complete(bq, s, VIRTIO_BLK_S_OK, 1);
		else
			blkq_step(bq, s);
		break;
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		if (r->len == 0)
			blkq_complete(bq, s, VIRTIO_BLK_S_OK, 1);
		else
			blkq_step(bq, s);
		break;
	default:
		blkq_start_seg(bq, s);
		break;
	}
}

/* Slots in use: each has one io_uring operation queued or in flight (inline steps end before
 * blkq_step returns), whose completion starts another round. */
static bool blkq_busy(const struct blk_queue *bq)
{
	return bq->nfree < bq->nslots;
}

/* Take requests from the ring while there are free slots; returns how many. */
static unsigned blkq_take(struct blk_queue *bq)
{
	struct virtq *vq = &bq->q->vq;
	bool kicks = false;
	unsigned n = 0;

	/* No kicks while we are looking anyway. */
	virtq_set_kick(vq, false);
	while (bq->nfree) {
		int rc = virtq_pop(vq, &bq->vreq);

		if (rc < 0) {
			vhost_queue_fail(bq->q);
			return n;
		}
		if (rc == 0) {
			/* With requests in flight, their completion brings us back here: the
			 * driver need not kick for what it adds meanwhile. */
			if (kicks || blkq_busy(bq))
				return n;
			/* Idle: re-enable kicks, then look once more: a buffer added in between
			 * was not kicked. */
			virtq_set_kick(vq, true);
			kicks = true;
			continue;
		}
		if (kicks) {
			virtq_set_kick(vq, false);
			kicks = false;
		}
		blkq_start_req(bq);
		n++;
	}
	/* Full: completions call us again, so kicks can stay off. */
	return n;
}

/* Handle the completions io_uring has posted; returns how many. */
static unsigned blkq_reap(struct blk_queue *bq)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&bq->ring, head, cqe)
	{
		blkq_on_result(bq, io_uring_cqe_get_data(cqe), cqe->res);
		n++;
	}
	io_uring_cq_advance(&bq->ring, n);
	return n;
}

static void blkq_submit(struct blk_queue *bq)
{
	int rc;

	if (!io_uring_sq_ready(&bq->ring))
		return;
	rc = io_uring_submit(&bq->ring);
	if (rc >= 0 || rc == -EINTR || rc == -EAGAIN || rc == -EBUSY)
		return;
	if (ratelimit_allow(&bq->warn_rl))
		log_error("%s: queue %u: io_uring submit: %s", bq->dev->path, bq->q->index,
			  strerror(-rc));
}

/* One round: take requests, submit, handle the completions already there (an operation on
 * the page cache is often done by then), again while that finds anything, then interrupt the
 * driver once if it wants. A long round hands back to the event loop through the completion
 * eventfd, so that the driver hears of what is done. */
static void blkq_round(struct blk_queue *bq)
{
	for (unsigned pass = 0;; pass++) {
		unsigned taken = bq->q->vq.broken ? 0 : blkq_take(bq);

		blkq_submit(bq);
		if (!blkq_reap(bq) && !taken)
			break;
		if (pass + 1 == BLK_ROUND_PASSES) {
			eventfd_write(bq->efd, 1);
			break;
		}
	}
	vhost_queue_notify(bq->q);
}

static void blkq_on_completion(void *opaque, int fd, uint32_t events)
{
	eventfd_t v;

	if (eventfd_read(fd, &v) < 0 && errno != EAGAIN)
		log_debug("blk: completion eventfd: %s", strerror(errno));
	blkq_round(opaque);
}

void blk_queue_kick(void *opaque, struct vhost_queue *q)
{
	blkq_round(q->priv);
}

static void blkq_destroy(struct blk_queue *bq)
{
	if (bq->efd >= 0) {
		io_uring_queue_exit(&bq->ring);
		close(bq->efd);
	}
	free(bq->slots);
	free(bq->free_list);
	free(bq);
}

int blk_queue_start(void *opaque, struct vhost_queue *q)
{
	struct io_uring_params p = {.flags = IORING_SETUP_CQSIZE};
	struct blk_queue *bq = calloc(1, sizeof(*bq));
	int rc;

	if (!bq)
		return -ENOMEM;
	bq->dev = opaque;
	bq->q = q;
	bq->efd = -1;
	bq->nslots = q->vq.size;
	bq->slots = calloc(bq->nslots, sizeof(*bq->slots));
	bq->free_list = calloc(bq->nslots, sizeof(*bq->free_list));
	if (!bq->slots || !bq->free_list) {
		blkq_destroy(bq);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < bq->nslots; i++)
		bq->free_list[i] = (uint16_t)(bq->nslots - 1 - i);
	bq->nfree = bq->nslots;
	/* Every slot has at most one operation in flight: room for all their completions. */
	p.cq_entries = 2 * bq->nslots;
	rc = io_uring_queue_init_params(bq->nslots, &bq->ring, &p);
	if (rc) {
		log_error("%s: queue %u: io_uring: %s", bq->dev->path, q->index, strerror(-rc));
		blkq_destroy(bq);
		return rc;
	}
	bq->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (bq->efd < 0) {
		rc = -errno;
		io_uring_queue_exit(&bq->ring);
		blkq_destroy(bq);
		return rc;
	}
	rc = io_uring_register_eventfd(&bq->ring, bq->efd);
	if (!rc)
		rc = evloop_add(&q->loop, bq->efd, EPOLLIN, blkq_on_completion, bq);
	if (rc) {
		blkq_destroy(bq);
		return rc;
	}
	q->priv = bq;
	return 0;
}

void blk_queue_stop(void *opaque, struct vhost_queue *q)
{
	struct blk_queue *bq = q->priv;

	if (!bq)
		return;
	/* Finish what the guest handed us: a stopped ring must hold no request in flight, or
	 * GET_VRING_BASE would hand back an index that loses them. */
	while (bq->nfree < bq->nslots) {
		int rc = io_uring_submit_and_wait(&bq->ring, 1);

		if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
			log_error("%s: queue %u: %u requests lost: %s", bq->dev->path, q->index,
				  bq->nslots - bq->nfree, strerror(-rc));
			break;
		}
		blkq_reap(bq);
	}
	vhost_queue_notify(q);
	blkq_destroy(bq);
	q->priv = NULL;
}
