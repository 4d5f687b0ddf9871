/* azote-blk end to end without a guest: the vhost-user backend runs in a thread on one end of
 * a socketpair with a blk device over a temporary image; the test plays the frontend on the
 * other end (memory table from a memfd, rings, kick/call/err eventfds) and the driver (a ring
 * in that memory), then checks the replies, the rings and the bytes in the image file. */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* cmocka needs <setjmp.h>, <stdarg.h> and <stddef.h> first. */
#include <cmocka.h>

#include "cards/blk/blk_dev.h"
#include "util/log.h"
#include "vhost/backend.h"

#define DISK_SECTORS 2048
#define MEM_SIZE     (1u << 20)
#define QSIZE	     64
#define DESC_GPA     0x0
#define AVAIL_GPA    0x1000
#define USED_GPA     0x2000
#define HDR_GPA	     0x4000 /* request headers, 32 bytes per head */
#define STATUS_GPA   0x6000 /* status bytes, one per head */
#define DATA_GPA     0x10000
#define F_PROTO	     (1ull << VHOST_USER_F_PROTOCOL_FEATURES)
#define NEED_REPLY   VHOST_USER_FLAG_NEED_REPLY

struct fe {
	char dir[64], img[96];
	struct blk_dev *dev;
	struct vhost_backend *be;
	struct evloop loop;
	pthread_t thread;
	bool joined;
	int stop_fd; /* tells the backend's loop to end, as SIGTERM does in azote-blk */
	int sock;
	int memfd;
	uint8_t *mem;
	int kick, call, err;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx;
};

static void on_stop(void *opaque, int fd, uint32_t events)
{
	evloop_stop(opaque);
}

static void *backend_thread(void *arg)
{
	struct fe *f = arg;

	assert_int_equal(evloop_run(&f->loop), 0);
	return NULL;
}

static struct fe *fe_start(bool ro, bool listen_mode)
{
	struct fe *f = calloc(1, sizeof(*f));
	struct blk_options opt = {.ro = ro, .queues = 2, .serial = "unit-disk"};
	int sv[2], fd;

	assert_non_null(f);
	log_set_level(LOG_ERROR);
	strcpy(f->dir, "/tmp/azote-vhost-blk.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->img, sizeof(f->img), "%s/disk.img", f->dir);
	fd = open(f->img, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, DISK_SECTORS * 512), 0);
	close(fd);
	opt.path = f->img;
	assert_int_equal(blk_dev_create(&opt, &f->dev), 0);
	assert_int_equal(vhost_backend_create(&blk_ops, &f->dev->params, f->dev, &f->be), 0);
	assert_int_equal(evloop_init(&f->loop), 0);
	f->stop_fd = eventfd(0, EFD_CLOEXEC);
	assert_int_equal(evloop_add(&f->loop, f->stop_fd, EPOLLIN, on_stop, &f->loop), 0);
	if (listen_mode) {
		struct sockaddr_un addr = {.sun_family = AF_UNIX};

		snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/sock", f->dir);
		assert_int_equal(vhost_backend_listen(f->be, &f->loop, addr.sun_path), 0);
		f->sock = -1;
	} else {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		assert_int_equal(vhost_backend_serve_fd(f->be, &f->loop, sv[1]), 0);
		f->sock = sv[0];
	}
	assert_int_equal(pthread_create(&f->thread, NULL, backend_thread, f), 0);
	f->memfd = memfd_create("guest", MFD_CLOEXEC);
	assert_true(f->memfd >= 0);
	assert_int_equal(ftruncate(f->memfd, MEM_SIZE), 0);
	f->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
	assert_true(f->mem != MAP_FAILED);
	f->desc = (struct vring_desc *)(f->mem + DESC_GPA);
	f->avail = (struct vring_avail *)(f->mem + AVAIL_GPA);
	f->used = (struct vring_used *)(f->mem + USED_GPA);
	f->kick = eventfd(0, EFD_CLOEXEC);
	f->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	f->err = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return f;
}

/* The frontend leaves (EOF): in --fd mode the backend's loop stops by itself. */
static void fe_stop(struct fe *f)
{
	char path[128];

	if (f->sock >= 0)
		close(f->sock);
	if (f->be->listen_fd >= 0)
		assert_int_equal(eventfd_write(f->stop_fd, 1), 0);
	if (!f->joined)
		pthread_join(f->thread, NULL);
	close(f->stop_fd);
	vhost_backend_destroy(f->be);
	blk_dev_destroy(f->dev);
	evloop_fini(&f->loop);
	munmap(f->mem, MEM_SIZE);
	close(f->memfd);
	close(f->kick);
	close(f->call);
	close(f->err);
	unlink(f->img);
	snprintf(path, sizeof(path), "%s/sock", f->dir);
	unlink(path);
	rmdir(f->dir);
	free(f);
}

static void fe_send(struct fe *f, uint32_t req, uint32_t flags, const void *payload, uint32_t size,
		    const int *fds, unsigned nfds)
{
	struct vhost_user_header h = {
	    .request = req, .flags = VHOST_USER_VERSION | flags, .size = size};
	struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)payload, size}};
	union {
		char buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = size ? 2 : 1};

	if (nfds) {
		struct cmsghdr *c;

		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	assert_int_equal(sendmsg(f->sock, &mh, MSG_NOSIGNAL), (ssize_t)(sizeof(h) + size));
}

/* Receive a reply to `req`; returns its payload size. */
static uint32_t fe_recv(struct fe *f, uint32_t req, void *payload, uint32_t max)
{
	struct vhost_user_header h;
	struct pollfd p = {.fd = f->sock, .events = POLLIN};

	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_int_equal(recv(f->sock, &h, sizeof(h), MSG_WAITALL), sizeof(h));
	assert_int_equal(h.request, req);
	assert_int_equal(h.flags, VHOST_USER_VERSION | VHOST_USER_FLAG_REPLY);
	assert_true(h.size <= max);
	if (h.size)
		assert_int_equal(recv(f->sock, payload, h.size, MSG_WAITALL), h.size);
	return h.size;
}

static uint64_t fe_get_u64(struct fe *f, uint32_t req)
{
	uint64_t v = 0;

	fe_send(f, req, 0, NULL, 0, NULL, 0);
	assert_int_equal(fe_recv(f, req, &v, sizeof(v)), 8);
	return v;
}

/* Send with NEED_REPLY and return the REPLY_ACK value (0 = success). */
static uint64_t fe_call(struct fe *f, uint32_t req, const void *payload, uint32_t size,
			const int *fds, unsigned nfds)
{
	uint64_t v = 0xdead;

	fe_send(f, req, NEED_REPLY, payload, size, fds, nfds);
	assert_int_equal(fe_recv(f, req, &v, sizeof(v)), 8);
	return v;
}

static uint64_t fe_call_u64(struct fe *f, uint32_t req, uint64_t arg, int fd)
{
	return fe_call(f, req, &arg, sizeof(arg), &fd, fd >= 0 ? 1 : 0);
}

static uint64_t fe_call_state(struct fe *f, uint32_t req, uint32_t index, uint32_t num)
{
	struct vhost_user_vring_state s = {index, num};

	return fe_call(f, req, &s, sizeof(s), NULL, 0);
}

static void fe_negotiate(struct fe *f, uint64_t features)
{
	uint64_t proto = fe_get_u64(f, VHOST_USER_GET_PROTOCOL_FEATURES);

	fe_send(f, VHOST_USER_SET_PROTOCOL_FEATURES, 0, &proto, sizeof(proto), NULL, 0);
	assert_int_equal(fe_call(f, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0), 0);
	assert_int_equal(fe_call_u64(f, VHOST_USER_SET_FEATURES, features | F_PROTO, -1), 0);
}

static uint64_t fe_mem_table(struct fe *f, uint64_t size)
{
	struct vhost_user_mem_table t = {
	    .nregions = 1,
	    .regions[0] = {.guest_phys_addr = 0,
			   .memory_size = size,
			   .userspace_addr = (uintptr_t)f->mem,
			   .mmap_offset = 0},
	};

	return fe_call(f, VHOST_USER_SET_MEM_TABLE, &t, 8 + sizeof(t.regions[0]), &f->memfd, 1);
}

/* Memory, queue 0 of QSIZE entries, its eventfds; enabled and running. */
static void fe_setup_ring(struct fe *f, uint64_t features)
{
	struct vhost_user_vring_addr a = {
	    .index = 0,
	    .desc_user_addr = (uintptr_t)f->mem + DESC_GPA,
	    .used_user_addr = (uintptr_t)f->mem + USED_GPA,
	    .avail_user_addr = (uintptr_t)f->mem + AVAIL_GPA,
	};

	fe_negotiate(f, features);
	assert_int_equal(fe_mem_table(f, MEM_SIZE), 0);
	assert_int_equal(fe_call_state(f, VHOST_USER_SET_VRING_NUM, 0, QSIZE), 0);
	assert_int_equal(fe_call_state(f, VHOST_USER_SET_VRING_BASE, 0, f->avail_idx), 0);
	assert_int_equal(fe_call(f, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	assert_int_equal(fe_call_u64(f, VHOST_USER_SET_VRING_CALL, 0, f->call), 0);
	assert_int_equal(fe_call_u64(f, VHOST_USER_SET_VRING_ERR, 0, f->err), 0);
	assert_int_equal(fe_call_u64(f, VHOST_USER_SET_VRING_KICK, 0, f->kick), 0);
	assert_false(f->be->queues[0].running); /* protocol features: disabled until enabled */
	assert_int_equal(fe_call_state(f, VHOST_USER_SET_VRING_ENABLE, 0, 1), 0);
	assert_true(f->be->queues[0].running);
}

/* Queue a request on head `head` (3 descriptors: header, data, status). */
static void fe_request(struct fe *f, uint16_t head, uint32_t type, uint64_t sector,
		       uint64_t data_gpa, uint32_t data_len, bool data_in)
{
	struct virtio_blk_outhdr *h = (void *)(f->mem + HDR_GPA + head * 32u);
	uint16_t d = (uint16_t)(head * 3);

	assert_true(d + 2 < QSIZE);
	h->type = type;
	h->ioprio = 0;
	h->sector = sector;
	f->mem[STATUS_GPA + head] = 0xee;
	f->desc[d] =
	    (struct vring_desc){HDR_GPA + head * 32u, 16, VRING_DESC_F_NEXT, (uint16_t)(d + 1)};
	f->desc[d + 1] = (struct vring_desc){data_gpa, data_len,
					     VRING_DESC_F_NEXT | (data_in ? VRING_DESC_F_WRITE : 0),
					     (uint16_t)(d + 2)};
	if (data_len == 0) /* no data buffer: header straight to status */
		f->desc[d].next = (uint16_t)(d + 2);
	f->desc[d + 2] = (struct vring_desc){STATUS_GPA + head, 1, VRING_DESC_F_WRITE, 0};
	f->avail->ring[f->avail_idx % QSIZE] = d;
	f->avail_idx++;
	__atomic_store_n(&f->avail->idx, f->avail_idx, __ATOMIC_RELEASE);
}

static void fe_kick(struct fe *f)
{
	assert_int_equal(eventfd_write(f->kick, 1), 0);
}

/* Wait until the used ring reaches `idx` (the call eventfd must have fired by then). */
static void fe_wait_used(struct fe *f, uint16_t idx)
{
	bool called = false;

	for (int i = 0; i < 500; i++) {
		struct pollfd p = {.fd = f->call, .events = POLLIN};
		eventfd_t v;

		if (poll(&p, 1, 10) == 1 && eventfd_read(f->call, &v) == 0)
			called = true;
		if (__atomic_load_n(&f->used->idx, __ATOMIC_ACQUIRE) == idx && called)
			return;
	}
	fail_msg("used idx %u, expected %u (called: %d)", f->used->idx, idx, called);
}

static uint8_t fe_status(struct fe *f, uint16_t head)
{
	return f->mem[STATUS_GPA + head];
}

static void image_read(struct fe *f, void *buf, size_t len, off_t off)
{
	int fd = open(f->img, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

static void test_handshake(void **state)
{
	struct fe *f = fe_start(false, false);
	uint64_t feat, proto;
	struct vhost_user_config c = {.offset = 0, .size = sizeof(struct virtio_blk_config)};
	struct virtio_blk_config bc;

	(void)state;
	feat = fe_get_u64(f, VHOST_USER_GET_FEATURES);
	assert_true(feat & F_PROTO);
	assert_true(feat & (1ull << VIRTIO_F_VERSION_1));
	assert_true(feat & (1ull << VIRTIO_BLK_F_FLUSH));
	assert_true(feat & (1ull << VIRTIO_BLK_F_DISCARD));
	assert_true(feat & (1ull << VIRTIO_BLK_F_WRITE_ZEROES));
	assert_true(feat & (1ull << VIRTIO_BLK_F_MQ));
	assert_true(feat & (1ull << VIRTIO_RING_F_EVENT_IDX));
	assert_true(feat & (1ull << VIRTIO_RING_F_INDIRECT_DESC));
	assert_false(feat & (1ull << VIRTIO_BLK_F_RO));
	proto = fe_get_u64(f, VHOST_USER_GET_PROTOCOL_FEATURES);
	assert_true(proto & (1ull << VHOST_USER_PROTOCOL_F_MQ));
	assert_true(proto & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK));
	assert_true(proto & (1ull << VHOST_USER_PROTOCOL_F_CONFIG));
	fe_send(f, VHOST_USER_SET_PROTOCOL_FEATURES, 0, &proto, sizeof(proto), NULL, 0);
	assert_int_equal(fe_get_u64(f, VHOST_USER_GET_QUEUE_NUM), 2);
	assert_int_equal(fe_get_u64(f, VHOST_USER_GET_MAX_MEM_SLOTS), GMEM_MAX_REGIONS);

	fe_send(f, VHOST_USER_GET_CONFIG, 0, &c, 12 + c.size, NULL, 0);
	assert_int_equal(fe_recv(f, VHOST_USER_GET_CONFIG, &c, sizeof(c)), 12 + sizeof(bc));
	memcpy(&bc, c.payload, sizeof(bc));
	assert_int_equal(bc.capacity, DISK_SECTORS);
	assert_int_equal(bc.num_queues, 2);
	assert_int_equal(bc.blk_size, 512);
	assert_int_equal(bc.seg_max, BLK_SEG_MAX);
	assert_int_equal(bc.max_discard_seg, BLK_DWZ_SEG_MAX);
	assert_int_equal(bc.write_zeroes_may_unmap, 1);
	/* Past the end of the device's config reads as zero; too large a request fails. */
	c = (struct vhost_user_config){.offset = sizeof(bc) - 4, .size = 16};
	memset(c.payload, 0xff, 16);
	fe_send(f, VHOST_USER_GET_CONFIG, 0, &c, 12 + 16, NULL, 0);
	assert_int_equal(fe_recv(f, VHOST_USER_GET_CONFIG, &c, sizeof(c)), 12 + 16);
	assert_int_equal(c.payload[15], 0);
	c.size = VHOST_USER_CONFIG_MAX + 1;
	fe_send(f, VHOST_USER_GET_CONFIG, 0, &c, 12, NULL, 0);
	assert_int_equal(fe_recv(f, VHOST_USER_GET_CONFIG, &c, sizeof(c)), 0);
	/* Config space is read-only. */
	c = (struct vhost_user_config){.offset = 0, .size = 8};
	assert_int_not_equal(fe_call(f, VHOST_USER_SET_CONFIG, &c, 12 + 8, NULL, 0), 0);
	fe_stop(f);
}

static void test_write_flush_read(void **state)
{
	struct fe *f = fe_start(false, false);
	uint8_t *w = f->mem + DATA_GPA, *r = f->mem + DATA_GPA + 0x10000, file[4096];

	(void)state;
	fe_setup_ring(f, (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_BLK_F_FLUSH));
	for (int i = 0; i < 4096; i++)
		w[i] = (uint8_t)(i * 7 + 1);
	fe_request(f, 0, VIRTIO_BLK_T_OUT, 10, DATA_GPA, 4096, false);
	fe_kick(f);
	fe_wait_used(f, 1);
	assert_int_equal(fe_status(f, 0), VIRTIO_BLK_S_OK);
	assert_int_equal(f->used->ring[0].len, 1);
	fe_request(f, 1, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false);
	fe_kick(f);
	fe_wait_used(f, 2);
	assert_int_equal(fe_status(f, 1), VIRTIO_BLK_S_OK);
	/* Flushed: on the file, at sector 10. */
	image_read(f, file, sizeof(file), 10 * 512);
	assert_memory_equal(file, w, 4096);
	fe_request(f, 2, VIRTIO_BLK_T_IN, 10, DATA_GPA + 0x10000, 4096, true);
	fe_kick(f);
	fe_wait_used(f, 3);
	assert_int_equal(fe_status(f, 2), VIRTIO_BLK_S_OK);
	assert_int_equal(f->used->ring[2].id, 6);
	assert_int_equal(f->used->ring[2].len, 4097);
	assert_memory_equal(r, w, 4096);

	fe_request(f, 3, VIRTIO_BLK_T_GET_ID, 0, DATA_GPA + 0x20000, 20, true);
	fe_kick(f);
	fe_wait_used(f, 4);
	assert_int_equal(fe_status(f, 3), VIRTIO_BLK_S_OK);
	assert_string_equal((char *)f->mem + DATA_GPA + 0x20000, "unit-disk");
	fe_stop(f);
}

static void test_many_in_flight(void **state)
{
	struct fe *f = fe_start(false, false);
	uint8_t file[512];
	uint16_t n = QSIZE / 3;

	(void)state;
	fe_setup_ring(f, (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_EVENT_IDX));
	/* With event idx: interrupt when all are done. */
	f->avail->ring[QSIZE] = (uint16_t)(n - 1);
	for (uint16_t i = 0; i < n; i++) {
		memset(f->mem + DATA_GPA + i * 512u, 0x40 + i, 512);
		fe_request(f, i, VIRTIO_BLK_T_OUT, 100 + i, DATA_GPA + i * 512u, 512, false);
	}
	fe_kick(f);
	fe_wait_used(f, n);
	for (uint16_t i = 0; i < n; i++) {
		assert_int_equal(fe_status(f, i), VIRTIO_BLK_S_OK);
		image_read(f, file, 512, (100 + i) * 512);
		assert_int_equal(file[0], 0x40 + i);
		assert_int_equal(file[511], 0x40 + i);
	}
	fe_stop(f);
}

static void test_discard_write_zeroes(void **state)
{
	struct fe *f = fe_start(false, false);
	struct virtio_blk_discard_write_zeroes *s = (void *)(f->mem + DATA_GPA + 0x8000);
	uint8_t file[4096], zero[4096] = {0};

	(void)state;
	fe_setup_ring(f, 1ull << VIRTIO_F_VERSION_1);
	memset(f->mem + DATA_GPA, 0xff, 8192);
	fe_request(f, 0, VIRTIO_BLK_T_OUT, 0, DATA_GPA, 8192, false);
	fe_kick(f);
	fe_wait_used(f, 1);
	s[0] = (struct virtio_blk_discard_write_zeroes){.sector = 2, .num_sectors = 8};
	s[1] = (struct virtio_blk_discard_write_zeroes){
	    .sector = 12, .num_sectors = 2, .flags = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP};
	fe_request(f, 1, VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA_GPA + 0x8000, 2 * sizeof(*s), false);
	fe_kick(f);
	fe_wait_used(f, 2);
	assert_int_equal(fe_status(f, 1), VIRTIO_BLK_S_OK);
	image_read(f, file, sizeof(file), 2 * 512);
	assert_memory_equal(file, zero, 4096);
	image_read(f, file, 1024, 12 * 512);
	assert_memory_equal(file, zero, 1024);
	image_read(f, file, 512, 10 * 512);
	assert_int_equal(file[0], 0xff);
	image_read(f, file, 512, 14 * 512);
	assert_int_equal(file[0], 0xff);

	s[0] = (struct virtio_blk_discard_write_zeroes){.sector = 0, .num_sectors = 2};
	fe_request(f, 2, VIRTIO_BLK_T_DISCARD, 0, DATA_GPA + 0x8000, sizeof(*s), false);
	fe_kick(f);
	fe_wait_used(f, 3);
	assert_int_equal(fe_status(f, 2), VIRTIO_BLK_S_OK);
	fe_stop(f);
}

static void test_request_errors(void **state)
{
	struct fe *f = fe_start(false, false);

	(void)state;
	fe_setup_ring(f, 1ull << VIRTIO_F_VERSION_1);
	fe_request(f, 0, VIRTIO_BLK_T_IN, DISK_SECTORS - 1, DATA_GPA, 1024, true);
	fe_request(f, 1, 99, 0, DATA_GPA, 512, false);
	fe_request(f, 2, VIRTIO_BLK_T_OUT, 0, DATA_GPA, 100, false);
	fe_kick(f);
	fe_wait_used(f, 3);
	assert_int_equal(fe_status(f, 0), VIRTIO_BLK_S_IOERR);
	assert_int_equal(fe_status(f, 1), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(fe_status(f, 2), VIRTIO_BLK_S_IOERR);
	assert_false(f->be->queues[0].vq.broken);
	fe_stop(f);
}

static void test_read_only(void **state)
{
	struct fe *f = fe_start(true, false);
	uint8_t file[512];

	(void)state;
	assert_true(fe_get_u64(f, VHOST_USER_GET_FEATURES) & (1ull << VIRTIO_BLK_F_RO));
	fe_setup_ring(f, (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_BLK_F_RO));
	memset(f->mem + DATA_GPA, 0x55, 512);
	fe_request(f, 0, VIRTIO_BLK_T_OUT, 0, DATA_GPA, 512, false);
	fe_request(f, 1, VIRTIO_BLK_T_IN, 0, DATA_GPA + 512, 512, true);
	fe_request(f, 2, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false);
	fe_kick(f);
	fe_wait_used(f, 3);
	assert_int_equal(fe_status(f, 0), VIRTIO_BLK_S_IOERR);
	assert_int_equal(fe_status(f, 1), VIRTIO_BLK_S_OK);
	assert_int_equal(fe_status(f, 2), VIRTIO_BLK_S_OK);
	image_read(f, file, 512, 0);
	assert_int_equal(file[0], 0);
	fe_stop(f);
}

static void test_hostile_ring(void **state)
{
	struct fe *f = fe_start(false, false);
	struct pollfd p;

	(void)state;
	fe_setup_ring(f, 1ull << VIRTIO_F_VERSION_1);
	assert_int_equal(fe_get_u64(f, VHOST_USER_GET_STATUS) & 0x40, 0);
	/* The driver claims far more buffers than the ring holds. */
	__atomic_store_n(&f->avail->idx, (uint16_t)(QSIZE + 5), __ATOMIC_RELEASE);
	fe_kick(f);
	p = (struct pollfd){.fd = f->err, .events = POLLIN};
	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_true(fe_get_u64(f, VHOST_USER_GET_STATUS) & 0x40);
	/* The ring stays stopped, the control path keeps working. */
	{
		struct vhost_user_vring_state s = {0, 0};

		fe_send(f, VHOST_USER_GET_VRING_BASE, 0, &s, sizeof(s), NULL, 0);
		assert_int_equal(fe_recv(f, VHOST_USER_GET_VRING_BASE, &s, sizeof(s)), sizeof(s));
		assert_int_equal(s.num, 0);
	}
	/* A reset clears it. */
	assert_int_equal(fe_call(f, VHOST_USER_RESET_DEVICE, NULL, 0, NULL, 0), 0);
	assert_int_equal(fe_get_u64(f, VHOST_USER_GET_STATUS) & 0x40, 0);
	fe_stop(f);
}

static void test_vring_base_restart(void **state)
{
	struct fe *f = fe_start(false, false);
	struct vhost_user_vring_state s = {0, 0};

	(void)state;
	fe_setup_ring(f, 1ull << VIRTIO_F_VERSION_1);
	fe_request(f, 0, VIRTIO_BLK_T_OUT, 0, DATA_GPA, 512, false);
	fe_request(f, 1, VIRTIO_BLK_T_OUT, 1, DATA_GPA, 512, false);
	fe_kick(f);
	fe_wait_used(f, 2);
	fe_send(f, VHOST_USER_GET_VRING_BASE, 0, &s, sizeof(s), NULL, 0);
	assert_int_equal(fe_recv(f, VHOST_USER_GET_VRING_BASE, &s, sizeof(s)), sizeof(s));
	assert_int_equal(s.num, 2);
	assert_false(f->be->queues[0].running);
	/* Stopped: a request is not served until the frontend starts the ring again. */
	fe_request(f, 2, VIRTIO_BLK_T_IN, 0, DATA_GPA + 512, 512, true);
	fe_kick(f);
	usleep(50 * 1000);
	assert_int_equal(f->used->idx, 2);
	assert_int_equal(fe_call_state(f, VHOST_USER_SET_VRING_BASE, 0, 2), 0);
	assert_int_equal(fe_call_u64(f, VHOST_USER_SET_VRING_KICK, 0, f->kick), 0);
	fe_wait_used(f, 3); /* served without a new kick */
	assert_int_equal(fe_status(f, 2), VIRTIO_BLK_S_OK);
	fe_stop(f);
}

static void test_protocol_hostile(void **state)
{
	struct fe *f = fe_start(false, false);
	struct vhost_user_mem_table t = {.nregions = 1};
	uint32_t junk[4] = {0};
	int two[2] = {f->memfd, f->memfd};

	(void)state;
	fe_negotiate(f, 1ull << VIRTIO_F_VERSION_1);
	/* Wrong payload sizes, unknown requests, bad values: refused, connection kept. */
	assert_int_not_equal(fe_call(f, VHOST_USER_SET_VRING_NUM, junk, 4, NULL, 0), 0);
	assert_int_not_equal(fe_call(f, 200, junk, 8, NULL, 0), 0);
	assert_int_not_equal(fe_call(f, VHOST_USER_SET_LOG_BASE, junk, 16, &f->memfd, 1), 0);
	assert_int_not_equal(fe_call_state(f, VHOST_USER_SET_VRING_NUM, 0, 48), 0);
	assert_int_not_equal(fe_call_state(f, VHOST_USER_SET_VRING_NUM, 0, 2048), 0);
	assert_int_not_equal(fe_call_state(f, VHOST_USER_SET_VRING_NUM, 2, 64), 0);
	assert_int_not_equal(fe_call_state(f, VHOST_USER_SET_VRING_ENABLE, 0, 7), 0);
	assert_int_not_equal(fe_call_u64(f, VHOST_USER_SET_VRING_KICK, 0, -1), 0);
	assert_int_not_equal(fe_call_u64(f, VHOST_USER_SET_VRING_CALL, 1ull << 20, f->call), 0);
	assert_int_not_equal(fe_call_u64(f, VHOST_USER_SET_FEATURES, 1ull << 60, -1), 0);
	/* Memory: fd count mismatch, a region beyond the end of its fd, overlapping regions. */
	t.regions[0] = (struct vhost_user_mem_region){0, MEM_SIZE, (uintptr_t)f->mem, 0};
	assert_int_not_equal(fe_call(f, VHOST_USER_SET_MEM_TABLE, &t, 8 + 32, two, 2), 0);
	assert_int_not_equal(fe_call(f, VHOST_USER_SET_MEM_TABLE, &t, 8 + 32, NULL, 0), 0);
	t.regions[0].mmap_offset = 4096;
	assert_int_not_equal(fe_call(f, VHOST_USER_SET_MEM_TABLE, &t, 8 + 32, &f->memfd, 1), 0);
	t.regions[0] = (struct vhost_user_mem_region){UINT64_MAX - 10, 4096, 0, 0};
	assert_int_not_equal(fe_call(f, VHOST_USER_SET_MEM_TABLE, &t, 8 + 32, &f->memfd, 1), 0);
	t.nregions = 2;
	t.regions[0] = (struct vhost_user_mem_region){0, 8192, 0x10000, 0};
	t.regions[1] = (struct vhost_user_mem_region){4096, 8192, 0x20000, 0};
	assert_int_not_equal(fe_call(f, VHOST_USER_SET_MEM_TABLE, &t, 8 + 64, two, 2), 0);
	t.nregions = 9;
	assert_int_not_equal(fe_call(f, VHOST_USER_SET_MEM_TABLE, &t, 8 + 64, two, 2), 0);
	assert_int_equal(f->be->mem.count, 0);
	/* Still serving. */
	assert_int_equal(fe_mem_table(f, MEM_SIZE), 0);
	assert_int_equal(f->be->mem.count, 1);
	/* A payload larger than any message breaks the framing: the frontend is dropped and,
	 * in --fd mode, the backend's loop ends (fe_stop joins it). */
	{
		struct vhost_user_header h = {VHOST_USER_SET_OWNER, VHOST_USER_VERSION, 100000};

		assert_int_equal(send(f->sock, &h, sizeof(h), MSG_NOSIGNAL), sizeof(h));
	}
	pthread_join(f->thread, NULL);
	f->joined = true;
	assert_int_equal(f->be->conn_fd, -1);
	assert_int_equal(f->be->mem.count, 0);
	fe_stop(f);
}

static void test_mem_slots(void **state)
{
	struct fe *f = fe_start(false, false);
	struct vhost_user_mem_region_single r = {.region = {0, MEM_SIZE, (uintptr_t)f->mem, 0}};

	(void)state;
	fe_negotiate(f, 1ull << VIRTIO_F_VERSION_1);
	assert_int_equal(fe_call(f, VHOST_USER_ADD_MEM_REG, &r, sizeof(r), &f->memfd, 1), 0);
	assert_int_not_equal(fe_call(f, VHOST_USER_ADD_MEM_REG, &r, sizeof(r), &f->memfd, 1), 0);
	assert_int_equal(f->be->mem.count, 1);
	r.region.memory_size = 4096;
	assert_int_not_equal(fe_call(f, VHOST_USER_REM_MEM_REG, &r, sizeof(r), NULL, 0), 0);
	r.region.memory_size = MEM_SIZE;
	assert_int_equal(fe_call(f, VHOST_USER_REM_MEM_REG, &r, sizeof(r), &f->memfd, 1), 0);
	assert_int_equal(f->be->mem.count, 0);
	fe_stop(f);
}

/* --socket mode: one frontend after another, state dropped in between. */
static void test_listen_reconnect(void **state)
{
	struct fe *f = fe_start(false, true);
	struct sockaddr_un addr = {.sun_family = AF_UNIX};

	(void)state;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/sock", f->dir);
	for (int round = 0; round < 2; round++) {
		f->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_int_equal(connect(f->sock, (struct sockaddr *)&addr, sizeof(addr)), 0);
		f->avail_idx = 0;
		memset(f->mem, 0, 0x3000);
		fe_setup_ring(f, 1ull << VIRTIO_F_VERSION_1);
		fe_request(f, 0, VIRTIO_BLK_T_OUT, (uint64_t)round, DATA_GPA, 512, false);
		fe_kick(f);
		fe_wait_used(f, 1);
		assert_int_equal(fe_status(f, 0), VIRTIO_BLK_S_OK);
		close(f->sock);
	}
	f->sock = -1;
	fe_stop(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_handshake),	     cmocka_unit_test(test_write_flush_read),
	    cmocka_unit_test(test_many_in_flight),   cmocka_unit_test(test_discard_write_zeroes),
	    cmocka_unit_test(test_request_errors),   cmocka_unit_test(test_read_only),
	    cmocka_unit_test(test_hostile_ring),     cmocka_unit_test(test_vring_base_restart),
	    cmocka_unit_test(test_protocol_hostile), cmocka_unit_test(test_mem_slots),
	    cmocka_unit_test(test_listen_reconnect),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
