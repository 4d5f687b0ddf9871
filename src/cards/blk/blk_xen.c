#include "cards/blk/blk_xen.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cards/blk/xen_blkif.h"
#include "sandbox/seccomp.h"
#include "util/evloop.h"
#include "util/log.h"
#include "xen/xen_abi.h"

struct blkx_slot {
	struct blkif_io io;
	unsigned first; /* first buffer not yet transferred */
	uint64_t done;	/* bytes transferred */
	bool syncing;	/* the fdatasync step of a flush */
	bool busy;
};

struct blkx {
	struct blk_dev *dev;
	const struct blk_xen_options *o;
	struct guest_mem mem;
	uint8_t *ram;
	size_t ram_len;
	struct blkif_grants grants;
	struct blkif_disk disk;
	struct blkif_ring ring;
	bool connected;
	bool broken_logged;
	struct io_uring uring;
	bool uring_ready;
	int uring_efd;
	struct blkx_slot slots[BLKIF_RING_SIZE];
	unsigned inflight;
	struct evloop loop;
};

static void blkx_count(struct blk_counters *c, const struct blkif_io *io, int16_t status)
{
	if (status != BLKIF_RSP_OKAY) {
		atomic_fetch_add_explicit(&c->errors, 1, memory_order_relaxed);
	} else if (io->op == BLKIF_OP_READ) {
		atomic_fetch_add_explicit(&c->read_ops, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&c->read_bytes, io->len, memory_order_relaxed);
	} else if (io->op == BLKIF_OP_WRITE) {
		atomic_fetch_add_explicit(&c->write_ops, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&c->write_bytes, io->len, memory_order_relaxed);
	} else {
		atomic_fetch_add_explicit(&c->flush_ops, 1, memory_order_relaxed);
	}
}

static void blkx_respond(struct blkx *bx, struct blkx_slot *s, int16_t status)
{
	blkif_ring_respond(&bx->ring, s->io.id, s->io.op, status);
	blkx_count(&bx->dev->ctr, &s->io, status);
	s->busy = false;
	bx->inflight--;
}

/* Queue the slot's next io_uring operation: the transfer, or the flush's fdatasync. */
static void blkx_step(struct blkx *bx, struct blkx_slot *s)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&bx->uring);
	const struct blkif_io *io = &s->io;
	int fd = bx->dev->img.fd;
	uint64_t off = io->sector * BLKIF_SECTOR + s->done;

	if (!sqe) {
		io_uring_submit(&bx->uring);
		sqe = io_uring_get_sqe(&bx->uring);
	}
	if (!sqe) {
		blkx_respond(bx, s, BLKIF_RSP_ERROR);
		return;
	}
	if (s->syncing)
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
	else if (io->op == BLKIF_OP_READ)
		io_uring_prep_readv(sqe, fd, io->iov + s->first, io->niov - s->first, off);
	else
		io_uring_prep_writev(sqe, fd, io->iov + s->first, io->niov - s->first, off);
	io_uring_sqe_set_data(sqe, s);
}

static void blkx_start(struct blkx *bx, struct blkx_slot *s)
{
	s->first = 0;
	s->done = 0;
	s->syncing = false;
	if (s->io.status != BLKIF_RSP_OKAY) {
		blkx_respond(bx, s, s->io.status);
		return;
	}
	/* A flush without data is the fdatasync alone; with data, it follows the write. */
	s->syncing = s->io.len == 0;
	if (s->syncing && bx->dev->lim.ro) {
		blkx_respond(bx, s, BLKIF_RSP_OKAY);
		return;
	}
	blkx_step(bx, s);
}

static void blkx_on_result(struct blkx *bx, struct blkx_slot *s, int res)
{
	struct blkif_io *io = &s->io;

	if (res == -EINTR || res == -EAGAIN) {
		blkx_step(bx, s);
		return;
	}
	if (s->syncing || res <= 0) {
		if (res < 0 || (!s->syncing && res == 0))
			log_warn("%s: %s failed at sector %llu: %s", bx->dev->path,
				 s->syncing ? "flush" : io->op == BLKIF_OP_READ ? "read" : "write",
				 (unsigned long long)io->sector,
				 res == 0 ? "unexpected end of file" : strerror(-res));
		blkx_respond(bx, s, res < 0 || !s->syncing ? BLKIF_RSP_ERROR : BLKIF_RSP_OKAY);
		return;
	}
	s->done += (uint64_t)res;
	blk_iov_consume(io->iov, io->niov, &s->first, (uint64_t)res);
	if (s->done < io->len) {
		blkx_step(bx, s); /* short transfer: go on from where it stopped */
		return;
	}
	if (io->op == BLKIF_OP_FLUSH_DISKCACHE) {
		s->syncing = true;
		blkx_step(bx, s);
		return;
	}
	blkx_respond(bx, s, BLKIF_RSP_OKAY);
}

static struct blkx_slot *blkx_free_slot(struct blkx *bx)
{
	for (unsigned i = 0; i < BLKIF_RING_SIZE; i++)
		if (!bx->slots[i].busy)
			return &bx->slots[i];
	return NULL;
}

/* Take the requests waiting in the ring; returns how many. */
static unsigned blkx_take(struct blkx *bx)
{
	unsigned n = 0;

	while (bx->connected) {
		struct blkx_slot *s = blkx_free_slot(bx);
		int rc;

		if (!s)
			break; /* completions bring us back */
		rc = blkif_ring_pop(&bx->ring, &bx->grants, &bx->disk, &s->io);
		if (rc < 0) {
			if (!bx->broken_logged)
				log_error("%s: the guest broke the blkif ring (impossible indices); "
					  "it is no longer served", bx->dev->path);
			bx->broken_logged = true;
			break;
		}
		if (rc == 0) {
			if (!blkif_ring_final_check(&bx->ring))
				break;
			continue;
		}
		s->busy = true;
		bx->inflight++;
		blkx_start(bx, s);
		n++;
	}
	return n;
}

static unsigned blkx_reap(struct blkx *bx)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&bx->uring, head, cqe)
	{
		blkx_on_result(bx, io_uring_cqe_get_data(cqe), cqe->res);
		n++;
	}
	io_uring_cq_advance(&bx->uring, n);
	return n;
}

static void blkx_notify(struct blkx *bx)
{
	if (blkif_ring_push(&bx->ring) && eventfd_write(bx->o->call_fd, 1) < 0)
		log_debug("%s: call eventfd: %s", bx->dev->path, strerror(errno));
}

/* Take, submit and reap while that finds work, then answer the frontend once. */
static void blkx_round(struct blkx *bx)
{
	for (;;) {
		unsigned taken = blkx_take(bx);

		if (io_uring_sq_ready(&bx->uring))
			io_uring_submit(&bx->uring);
		if (!blkx_reap(bx) && !taken)
			break;
	}
	blkx_notify(bx);
}

/* Finish the requests in flight (the frontend may free the ring once we say we are done). */
static void blkx_disconnect(struct blkx *bx)
{
	while (bx->inflight) {
		int rc = io_uring_submit_and_wait(&bx->uring, 1);

		if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
			log_error("%s: %u requests lost: %s", bx->dev->path, bx->inflight,
				  strerror(-rc));
			break;
		}
		blkx_reap(bx);
	}
	blkx_notify(bx);
	bx->connected = false;
	bx->ring = (struct blkif_ring){0};
}

static int blkx_send(struct blkx *bx, uint32_t op, int32_t status)
{
	struct xen_blkif_ctl m = {.op = op,
				  .status = status,
				  .ro = bx->disk.ro,
				  .sectors = bx->disk.capacity};

	return write(bx->o->sock, &m, sizeof(m)) == (ssize_t)sizeof(m) ? 0 : -EIO;
}

static void blkx_on_ctl(void *opaque, int fd, uint32_t events)
{
	struct blkx *bx = opaque;
	struct xen_blkif_ctl m;
	ssize_t n = read(fd, &m, sizeof(m));
	int rc = 0;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n != (ssize_t)sizeof(m)) {
		if (n != 0)
			log_error("control socket: %s", n < 0 ? strerror(errno) : "short message");
		evloop_stop(&bx->loop); /* azote is gone: so is the disk */
		return;
	}
	switch (m.op) {
	case XEN_BLKIF_CTL_CONNECT:
		if (bx->connected)
			blkx_disconnect(bx);
		rc = blkif_ring_attach(&bx->ring, &bx->grants, m.ring_ref);
		if (rc)
			log_warn("%s: ring grant %u is not usable", bx->dev->path, m.ring_ref);
		bx->connected = !rc;
		bx->broken_logged = false;
		break;
	case XEN_BLKIF_CTL_DISCONNECT:
		if (bx->connected)
			blkx_disconnect(bx);
		break;
	default:
		rc = -EINVAL;
		break;
	}
	if (blkx_send(bx, m.op, rc))
		evloop_stop(&bx->loop);
	else if (bx->connected)
		blkx_round(bx);
}

static void blkx_on_kick(void *opaque, int fd, uint32_t events)
{
	eventfd_t v;

	if (eventfd_read(fd, &v) < 0 && errno != EAGAIN)
		log_debug("kick eventfd: %s", strerror(errno));
	blkx_round(opaque);
}

static void blkx_on_signal(void *opaque, int fd, uint32_t events)
{
	uint8_t buf[128];

	if (read(fd, buf, sizeof(buf)) > 0)
		log_info("signal: stopping");
	evloop_stop(opaque);
}

/* The guest's RAM as azote laid it out, and the grant frames. */
static int blkx_map(struct blkx *bx)
{
	const struct blk_xen_options *o = bx->o;
	struct stat st;
	void *p;

	if (fstat(o->ram_fd, &st) < 0 || st.st_size <= 0)
		return -EBADF;
	bx->ram_len = (size_t)st.st_size;
	p = mmap(NULL, bx->ram_len, PROT_READ | PROT_WRITE, MAP_SHARED, o->ram_fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	bx->ram = p;
	bx->mem = (struct guest_mem){.memfd = -1, .base = p, .size = bx->ram_len};
	for (unsigned i = 0; i < o->nregions; i++) {
		const struct guest_region *r = &o->regions[i];

		if (r->fd_offset > bx->ram_len || r->size > bx->ram_len - r->fd_offset)
			return -EINVAL;
		bx->mem.regions[i] = *r;
		bx->mem.regions[i].host = bx->ram + r->fd_offset;
	}
	bx->mem.nregions = o->nregions;
	if (fstat(o->gnt_fd, &st) < 0 ||
	    (uint64_t)st.st_size < (uint64_t)BLK_XEN_GNT_FRAMES * XEN_PAGE_SIZE)
		return -EBADF;
	p = mmap(NULL, (size_t)BLK_XEN_GNT_FRAMES * XEN_PAGE_SIZE, PROT_READ, MAP_SHARED,
		 o->gnt_fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	bx->grants = (struct blkif_grants){
		.mem = &bx->mem, .table = p, .nframes = BLK_XEN_GNT_FRAMES};
	return 0;
}

static int blkx_setup(struct blkx *bx, int signal_fd)
{
	int rc = blkx_map(bx);

	if (rc) {
		log_error("cannot map the guest's memory or grant table: %s", strerror(-rc));
		return rc;
	}
	rc = io_uring_queue_init(2 * BLKIF_RING_SIZE, &bx->uring, 0);
	if (rc) {
		log_error("%s: io_uring: %s", bx->dev->path, strerror(-rc));
		return rc;
	}
	bx->uring_ready = true;
	bx->uring_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (bx->uring_efd < 0)
		return -errno;
	rc = io_uring_register_eventfd(&bx->uring, bx->uring_efd);
	if (!rc)
		rc = evloop_init(&bx->loop);
	if (!rc)
		rc = evloop_add(&bx->loop, signal_fd, EPOLLIN, blkx_on_signal, &bx->loop);
	if (!rc)
		rc = evloop_add(&bx->loop, bx->o->sock, EPOLLIN, blkx_on_ctl, bx);
	if (!rc)
		rc = evloop_add(&bx->loop, bx->o->kick_fd, EPOLLIN, blkx_on_kick, bx);
	if (!rc)
		rc = evloop_add(&bx->loop, bx->uring_efd, EPOLLIN, blkx_on_kick, bx);
	if (rc)
		log_error("%s: cannot set up the event loop: %s", bx->dev->path, strerror(-rc));
	return rc;
}

int blk_xen_serve(struct blk_dev *dev, const struct blk_xen_options *o, int signal_fd)
{
	struct blkx *bx = calloc(1, sizeof(*bx));
	int rc, status = 2;

	if (!bx) {
		close(signal_fd);
		return 2;
	}
	bx->dev = dev;
	bx->o = o;
	bx->uring_efd = -1;
	bx->loop.epfd = -1;
	bx->disk = (struct blkif_disk){.capacity = dev->lim.capacity, .ro = dev->lim.ro};
	rc = blkx_setup(bx, signal_fd);
	if (!rc)
		rc = blkx_send(bx, XEN_BLKIF_CTL_READY, 0);
	if (!rc && o->sandbox)
		rc = card_sandbox_enter(&o->sb);
	if (!rc) {
		log_info("%s: %llu sectors%s, Xen blkif ring for azote", dev->path,
			 (unsigned long long)dev->lim.capacity, dev->lim.ro ? ", read-only" : "");
		status = 1;
		rc = seccomp_install(SECCOMP_ROLE_BLK, o->seccomp_level);
	}
	if (!rc) {
		card_sandbox_selftest(&o->sb);
		rc = evloop_run(&bx->loop);
		if (rc)
			log_error("event loop failed: %s", strerror(-rc));
		else
			status = 0;
		if (bx->connected)
			blkx_disconnect(bx);
	}
	if (bx->loop.epfd >= 0)
		evloop_fini(&bx->loop);
	if (bx->uring_ready)
		io_uring_queue_exit(&bx->uring);
	if (bx->uring_efd >= 0)
		close(bx->uring_efd);
	if (bx->grants.table)
		munmap(bx->grants.table, (size_t)BLK_XEN_GNT_FRAMES * XEN_PAGE_SIZE);
	if (bx->ram)
		munmap(bx->ram, bx->ram_len);
	close(signal_fd);
	free(bx);
	return status;
}
