/* azote-net end to end without a guest: the vhost-user backend runs its loop in a thread on
 * one end of a socketpair, with its worker threads, over a real tap in a private network
 * namespace; the test is the frontend on the other end (memfd memory, rings, eventfds) and the
 * driver (rings in that memory). Waits are for conditions (bounded), never for time. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
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
#include <unistd.h>

/* cmocka needs <setjmp.h>, <stdarg.h> and <stddef.h> first. */
#include <cmocka.h>

#include "cards/net/net_dev.h"
#include "cards/net/net_tap.h"
#include "util/log.h"
#include "vhost/backend.h"

#include "test_net_tap.h"

#define PAIRS	   2
#define NQ	   (2 * PAIRS + 1)
#define MEM_SIZE   (4u << 20)
#define QSIZE	   64
#define DATA_GPA   0x100000u
#define ETHERTYPE  0x88b5
#define BIT(n)	   (1ull << (n))
#define NEED_REPLY VHOST_USER_FLAG_NEED_REPLY
#define FEATURES                                                                                   \
	(BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_NET_F_MRG_RXBUF) |    \
	 BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_MQ) | BIT(VHOST_USER_F_PROTOCOL_FEATURES))

static bool have_tap;

struct fe {
	struct net_dev *dev;
	struct vhost_backend *be;
	struct evloop loop;
	pthread_t thread;
	int sock, memfd, psock;
	uint8_t *mem;
	uint64_t data_next;
	int kick[NQ], call[NQ];
	struct vring_desc *desc[NQ];
	struct vring_avail *avail[NQ];
	struct vring_used *used[NQ];
	uint16_t avail_idx[NQ], next_desc[NQ];
};

static void *backend_thread(void *arg)
{
	struct fe *f = arg;

	assert_int_equal(evloop_run(&f->loop), 0);
	return NULL;
}

static unsigned thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	unsigned n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void fe_send(struct fe *f, uint32_t req, uint32_t flags, const void *payload, uint32_t size,
		    int fd)
{
	struct vhost_user_header h = {
	    .request = req, .flags = VHOST_USER_VERSION | flags, .size = size};
	struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)payload, size}};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = size ? 2 : 1};

	if (fd >= 0) {
		struct cmsghdr *c;

		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	assert_int_equal(sendmsg(f->sock, &mh, MSG_NOSIGNAL), (ssize_t)(sizeof(h) + size));
}

static uint32_t fe_recv(struct fe *f, uint32_t req, void *payload, uint32_t max)
{
	struct vhost_user_header h;
	struct pollfd p = {.fd = f->sock, .events = POLLIN};

	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_int_equal(recv(f->sock, &h, sizeof(h), MSG_WAITALL), sizeof(h));
	assert_int_equal(h.request, req);
	assert_true(h.size <= max);
	if (h.size)
		assert_int_equal(recv(f->sock, payload, h.size, MSG_WAITALL), h.size);
	return h.size;
}

static uint64_t fe_get(struct fe *f, uint32_t req)
{
	uint64_t v = 0;

	fe_send(f, req, 0, NULL, 0, -1);
	assert_int_equal(fe_recv(f, req, &v, sizeof(v)), 8);
	return v;
}

/* A request with NEED_REPLY: the REPLY_ACK value (0 = success). */
static uint64_t fe_call(struct fe *f, uint32_t req, const void *payload, uint32_t size, int fd)
{
	uint64_t v = 0xdead;

	fe_send(f, req, NEED_REPLY, payload, size, fd);
	assert_int_equal(fe_recv(f, req, &v, sizeof(v)), 8);
	return v;
}

static uint64_t fe_u64(struct fe *f, uint32_t req, uint64_t arg, int fd)
{
	return fe_call(f, req, &arg, sizeof(arg), fd);
}

static uint64_t fe_state(struct fe *f, uint32_t req, uint32_t index, uint32_t num)
{
	struct vhost_user_vring_state s = {index, num};

	return fe_call(f, req, &s, sizeof(s), -1);
}

static struct fe *fe_start(void)
{
	struct net_options opt = {.tap = TAP, .pairs = PAIRS, .mtu = 1500};
	struct sockaddr_ll a = {
	    .sll_family = AF_PACKET, .sll_protocol = htons(ETHERTYPE), .sll_ifindex = tap_ifindex};
	struct fe *f = calloc(1, sizeof(*f));
	uint64_t proto;
	int sv[2];

	assert_non_null(f);
	assert_int_equal(net_dev_create(&opt, &f->dev), 0);
	assert_int_equal(vhost_backend_create(&net_ops, &f->dev->params, f->dev, &f->be), 0);
	assert_int_equal(evloop_init(&f->loop), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(vhost_backend_serve_fd(f->be, &f->loop, sv[1]), 0);
	f->sock = sv[0];
	assert_int_equal(pthread_create(&f->thread, NULL, backend_thread, f), 0);
	f->memfd = memfd_create("guest", MFD_CLOEXEC);
	assert_int_equal(ftruncate(f->memfd, MEM_SIZE), 0);
	f->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
	assert_true(f->mem != MAP_FAILED);
	f->data_next = DATA_GPA;
	f->psock = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETHERTYPE));
	assert_int_equal(bind(f->psock, (struct sockaddr *)&a, sizeof(a)), 0);
	proto = fe_get(f, VHOST_USER_GET_PROTOCOL_FEATURES);
	fe_send(f, VHOST_USER_SET_PROTOCOL_FEATURES, 0, &proto, sizeof(proto), -1);
	return f;
}

static void fe_stop(struct fe *f)
{
	/* The frontend leaves: in --fd mode the backend's loop ends by itself. */
	close(f->sock);
	pthread_join(f->thread, NULL);
	vhost_backend_destroy(f->be);
	net_dev_destroy(f->dev);
	evloop_fini(&f->loop);
	munmap(f->mem, MEM_SIZE);
	close(f->memfd);
	close(f->psock);
	for (unsigned i = 0; i < NQ; i++) {
		if (f->kick[i] > 0)
			close(f->kick[i]);
		if (f->call[i] > 0)
			close(f->call[i]);
	}
	free(f);
}

static void fe_mem(struct fe *f)
{
	struct vhost_user_mem_table t = {
	    .nregions = 1,
	    .regions[0] = {.guest_phys_addr = 0,
			   .memory_size = MEM_SIZE,
			   .userspace_addr = (uintptr_t)f->mem,
			   .mmap_offset = 0},
	};

	assert_int_equal(
	    fe_call(f, VHOST_USER_SET_MEM_TABLE, &t, 8 + sizeof(t.regions[0]), f->memfd), 0);
}

/* Ring i at 64 KiB * i, enabled and running. */
static void fe_ring(struct fe *f, unsigned i)
{
	uint64_t base = 0x10000ull * i;
	struct vhost_user_vring_addr a = {
	    .index = i,
	    .desc_user_addr = (uintptr_t)f->mem + base,
	    .avail_user_addr = (uintptr_t)f->mem + base + 0x1000,
	    .used_user_addr = (uintptr_t)f->mem + base + 0x2000,
	};

	f->desc[i] = (struct vring_desc *)(f->mem + base);
	f->avail[i] = (struct vring_avail *)(f->mem + base + 0x1000);
	f->used[i] = (struct vring_used *)(f->mem + base + 0x2000);
	f->kick[i] = eventfd(0, EFD_CLOEXEC);
	f->call[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_int_equal(fe_state(f, VHOST_USER_SET_VRING_NUM, i, QSIZE), 0);
	assert_int_equal(fe_state(f, VHOST_USER_SET_VRING_BASE, i, 0), 0);
	assert_int_equal(fe_call(f, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), -1), 0);
	assert_int_equal(fe_u64(f, VHOST_USER_SET_VRING_CALL, i, f->call[i]), 0);
	assert_int_equal(fe_u64(f, VHOST_USER_SET_VRING_KICK, i, f->kick[i]), 0);
	assert_int_equal(fe_state(f, VHOST_USER_SET_VRING_ENABLE, i, 1), 0);
}

static uint8_t *fe_alloc(struct fe *f, size_t len)
{
	uint8_t *p = f->mem + f->data_next;

	f->data_next += (len + 63) & ~63ull;
	return p;
}

/* Add a chain of one or two buffers to ring i and kick. */
static void fe_chain(struct fe *f, unsigned i, uint8_t *b0, uint32_t l0, bool w0, uint8_t *b1,
		     uint32_t l1, bool w1)
{
	uint16_t head = f->next_desc[i] % QSIZE, d = head;

	f->desc[i][d] = (struct vring_desc){
	    (uint64_t)(b0 - f->mem), l0,
	    (uint16_t)((w0 ? VRING_DESC_F_WRITE : 0) | (b1 ? VRING_DESC_F_NEXT : 0)),
	    (uint16_t)((d + 1) % QSIZE)};
	f->next_desc[i]++;
	if (b1) {
		d = f->next_desc[i]++ % QSIZE;
		f->desc[i][d] = (struct vring_desc){(uint64_t)(b1 - f->mem), l1,
						    w1 ? VRING_DESC_F_WRITE : 0, 0};
	}
	/* used_event (after the avail ring): interrupt us for the next used entry. */
	f->avail[i]->ring[QSIZE] = __atomic_load_n(&f->used[i]->idx, __ATOMIC_ACQUIRE);
	f->avail[i]->ring[f->avail_idx[i]++ % QSIZE] = head;
	__atomic_store_n(&f->avail[i]->idx, f->avail_idx[i], __ATOMIC_RELEASE);
	assert_int_equal(eventfd_write(f->kick[i], 1), 0);
}

/* Wait until ring i's used index reaches idx (its call eventfd fired by then). */
static void fe_wait_used(struct fe *f, unsigned i, uint16_t idx)
{
	bool called = false;

	for (int n = 0; n < 500; n++) {
		struct pollfd p = {.fd = f->call[i], .events = POLLIN};
		eventfd_t v;

		if (poll(&p, 1, 10) == 1 && eventfd_read(f->call[i], &v) == 0)
			called = true;
		if (__atomic_load_n(&f->used[i]->idx, __ATOMIC_ACQUIRE) == idx && called)
			return;
	}
	fail_msg("queue %u: used idx %u, expected %u (called: %d)", i, f->used[i]->idx, idx,
		 called);
}

static void frame_fill(uint8_t *b, size_t len, uint8_t seed)
{
	memset(b, 0xff, 6);
	memcpy(b + 6, "\x02\x00\x00\x00\x00\x02", 6);
	b[12] = ETHERTYPE >> 8;
	b[13] = ETHERTYPE & 0xff;
	for (size_t k = 14; k < len; k++)
		b[k] = (uint8_t)(seed ^ k);
}

static void inject(struct fe *f, size_t len, uint8_t seed)
{
	uint8_t b[2048];
	struct sockaddr_ll a = {
	    .sll_family = AF_PACKET, .sll_ifindex = tap_ifindex, .sll_halen = 6};

	frame_fill(b, len, seed);
	assert_int_equal(sendto(f->psock, b, len, 0, (struct sockaddr *)&a, sizeof(a)),
			 (ssize_t)len);
}

static ssize_t capture(struct fe *f, uint8_t *buf, size_t max)
{
	for (;;) {
		struct sockaddr_ll a;
		socklen_t alen = sizeof(a);
		struct pollfd p = {.fd = f->psock, .events = POLLIN};
		ssize_t n;

		assert_int_equal(poll(&p, 1, 5000), 1);
		n = recvfrom(f->psock, buf, max, 0, (struct sockaddr *)&a, &alen);
		if (a.sll_pkttype != PACKET_OUTGOING)
			return n;
	}
}

/* Rx0 gets a packet injected into the tap. */
static void check_rx(struct fe *f, uint16_t used, uint8_t seed)
{
	uint8_t *b = fe_alloc(f, 2048), want[2048];
	struct virtio_net_hdr_v1 h;

	fe_chain(f, 0, b, 2048, true, NULL, 0, false);
	inject(f, 200, seed);
	fe_wait_used(f, 0, used);
	assert_int_equal(f->used[0]->ring[(used - 1) % QSIZE].len, NET_HDR_LEN + 200);
	memcpy(&h, b, sizeof(h));
	assert_int_equal(h.num_buffers, 1);
	frame_fill(want, 200, seed);
	assert_memory_equal(b + NET_HDR_LEN, want, 200);
}

static void test_handshake_and_config(void **state)
{
	struct fe *f;
	struct vhost_user_config c = {.offset = 0, .size = sizeof(struct virtio_net_config)};
	struct virtio_net_config nc;
	uint64_t feat;

	(void)state;
	if (!have_tap)
		skip();
	f = fe_start();
	feat = fe_get(f, VHOST_USER_GET_FEATURES);
	assert_int_equal(feat & FEATURES, FEATURES);
	assert_false(feat & BIT(VIRTIO_NET_F_MAC));
	assert_int_equal(fe_get(f, VHOST_USER_GET_QUEUE_NUM), NQ);
	fe_send(f, VHOST_USER_GET_CONFIG, 0, &c, 12 + c.size, -1);
	assert_int_equal(fe_recv(f, VHOST_USER_GET_CONFIG, &c, sizeof(c)), 12 + sizeof(nc));
	memcpy(&nc, c.payload, sizeof(nc));
	assert_int_equal(nc.max_virtqueue_pairs, PAIRS);
	assert_int_equal(nc.mtu, 1500);
	assert_int_equal(nc.status, VIRTIO_NET_S_LINK_UP);
	/* A driver without VERSION_1: refused, and the device asks for a reset. */
	assert_int_not_equal(
	    fe_u64(f, VHOST_USER_SET_FEATURES,
		   BIT(VHOST_USER_F_PROTOCOL_FEATURES) | BIT(VIRTIO_NET_F_MRG_RXBUF), -1),
	    0);
	assert_true(fe_get(f, VHOST_USER_GET_STATUS) & 0x40);
	fe_stop(f);
}

/* Every ring running: one worker per pair plus one for the control queue; traffic both ways;
 * VQ_PAIRS_SET applied by the pair's worker; tx0 stopped while rx0 goes on. */
static void test_pairs_traffic(void **state)
{
	struct fe *f;
	unsigned before;
	uint8_t *hdr, *frame, got[256], *cmd, *ack;
	uint16_t two = 2;
	struct vhost_user_vring_state s = {1, 0};

	(void)state;
	if (!have_tap)
		skip();
	f = fe_start();
	assert_int_equal(fe_u64(f, VHOST_USER_SET_FEATURES, FEATURES, -1), 0);
	fe_mem(f);
	before = thread_count();
	for (unsigned i = 0; i < NQ; i++)
		fe_ring(f, i);
	assert_int_equal(thread_count(), before + PAIRS + 1);

	hdr = fe_alloc(f, NET_HDR_LEN);
	frame = fe_alloc(f, 100);
	memset(hdr, 0, NET_HDR_LEN);
	frame_fill(frame, 100, 0x5a);
	fe_chain(f, 1, hdr, NET_HDR_LEN, false, frame, 100, false);
	fe_wait_used(f, 1, 1);
	assert_int_equal(capture(f, got, sizeof(got)), 100);
	assert_memory_equal(got, frame, 100);

	check_rx(f, 1, 0x11);

	cmd = fe_alloc(f, 4);
	ack = fe_alloc(f, 1);
	cmd[0] = VIRTIO_NET_CTRL_MQ;
	cmd[1] = VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET;
	memcpy(cmd + 2, &two, 2);
	fe_chain(f, 4, cmd, 4, false, ack, 1, true);
	fe_wait_used(f, 4, 1);
	assert_int_equal(*ack, VIRTIO_NET_OK);
	/* Pair 1's worker attaches its tap queue (then attaching again fails). */
	for (int n = 0; n < 500 && net_tap_attach(f->dev->pair[1].tap_fd, true) != -EINVAL; n++)
		poll(NULL, 0, 10);
	assert_int_equal(net_tap_attach(f->dev->pair[1].tap_fd, true), -EINVAL);

	/* tx0 stops (GET_VRING_BASE); rx0 shares its worker and goes on. */
	fe_send(f, VHOST_USER_GET_VRING_BASE, 0, &s, sizeof(s), -1);
	assert_int_equal(fe_recv(f, VHOST_USER_GET_VRING_BASE, &s, sizeof(s)), sizeof(s));
	assert_int_equal(s.num, 1);
	assert_int_equal(thread_count(), before + PAIRS + 1);
	check_rx(f, 2, 0x22);
	fe_stop(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_handshake_and_config),
	    cmocka_unit_test(test_pairs_traffic),
	};

	log_set_level(LOG_ERROR);
	have_tap = make_tap();
	if (!have_tap)
		fprintf(stderr, "# no private network namespace with a tap (needs root and "
				"/dev/net/tun): tests skipped\n");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
