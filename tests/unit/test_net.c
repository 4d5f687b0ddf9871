/* azote-net's data path on fake rings: the test plays the driver (rings in an mmap'd "guest
 * memory" the backend sees as guest RAM) and calls the queue handlers directly on its own
 * thread, against a real multi-queue tap in a private network namespace (the process
 * unshares one at start: no host interface is touched). Packets reach the tap from an
 * AF_PACKET socket on the interface, and frames the driver sends are captured there. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
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

#define MEM_SIZE  (4u << 20)
#define QSIZE	  256
#define DATA_GPA  0x100000u
#define ETHERTYPE 0x88b5 /* IEEE local experimental: nothing else on the link uses it */
#define BIT(n)	  (1ull << (n))

static bool have_tap;
static int ifindex;
#define F_BASE                                                                                     \
	(BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_NET_F_CTRL_VQ) |      \
	 BIT(VIRTIO_NET_F_MQ))
#define F_MRG (F_BASE | BIT(VIRTIO_NET_F_MRG_RXBUF))

struct ring {
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t avail_idx, next_desc;
};

struct h {
	struct net_dev *dev;
	struct vhost_backend *be;
	uint8_t *mem;
	uint64_t data_next;
	struct ring r[2 * NET_PAIRS_MAX + 1];
	bool started[2 * NET_PAIRS_MAX + 1];
	int psock; /* AF_PACKET on the tap: injects and captures ETHERTYPE frames */
};

static uint64_t gpa(struct h *h, const void *p)
{
	return (uint64_t)((const uint8_t *)p - h->mem);
}

static void *h_alloc(struct h *h, size_t len)
{
	void *p = h->mem + h->data_next;

	h->data_next += (len + 63) & ~63ull;
	assert_true(h->data_next <= MEM_SIZE);
	return p;
}

static struct h *h_new(unsigned pairs, uint64_t features)
{
	struct net_options opt = {.tap = TAP, .pairs = pairs, .mtu = 1500};
	struct sockaddr_ll a = {
	    .sll_family = AF_PACKET, .sll_protocol = htons(ETHERTYPE), .sll_ifindex = ifindex};
	struct h *h = calloc(1, sizeof(*h));

	assert_non_null(h);
	assert_int_equal(net_dev_create(&opt, &h->dev), 0);
	assert_int_equal(h->dev->pairs, pairs);
	assert_int_equal(vhost_backend_create(&net_ops, &h->dev->params, h->dev, &h->be), 0);
	h->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(h->mem != MAP_FAILED);
	h->be->mem.count = 1;
	h->be->mem.regions[0] = (struct gmem_region){.gpa = 0,
						     .size = MEM_SIZE,
						     .uaddr = (uintptr_t)h->mem,
						     .host = h->mem,
						     .map_base = h->mem,
						     .map_len = MEM_SIZE};
	h->data_next = DATA_GPA;
	h->be->features = features;
	assert_int_equal(net_ops.features_set(h->dev, features), 0);
	h->psock = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETHERTYPE));
	assert_true(h->psock >= 0);
	assert_int_equal(bind(h->psock, (struct sockaddr *)&a, sizeof(a)), 0);
	return h;
}

/* Map ring i (rings at 64 KiB apart) and start it as the backend would. */
static struct vhost_queue *h_start(struct h *h, unsigned i)
{
	struct vhost_queue *q = &h->be->queues[i];
	struct ring *r = &h->r[i];
	uint64_t base = 0x10000ull * i;

	r->desc = (struct vring_desc *)(h->mem + base);
	r->avail = (struct vring_avail *)(h->mem + base + 0x1000);
	r->used = (struct vring_used *)(h->mem + base + 0x2000);
	assert_int_equal(virtq_init(&q->vq, &h->be->mem, QSIZE, base, base + 0x1000, base + 0x2000,
				    h->be->features, 0),
			 0);
	/* The group's loop exists while one of its rings runs. */
	if (!h->started[i - i % 2] && !(i % 2 == 1 && h->started[i - 1]))
		assert_int_equal(evloop_init(vhost_queue_loop(q)), 0);
	assert_int_equal(net_ops.queue_start(h->dev, q), 0);
	h->started[i] = true;
	return q;
}

static void h_stop(struct h *h, unsigned i)
{
	struct vhost_queue *q = &h->be->queues[i];

	net_ops.queue_stop(h->dev, q);
	h->started[i] = false;
	if (!h->started[i - i % 2] &&
	    !(i % 2 == 0 && i + 1 < h->be->params.max_queues && h->started[i + 1]))
		evloop_fini(vhost_queue_loop(q));
}

static void h_free(struct h *h)
{
	for (unsigned i = 0; i < h->be->params.max_queues; i++)
		if (h->started[i])
			h_stop(h, i);
	close(h->psock);
	vhost_backend_destroy(h->be); /* unmaps the "guest memory" */
	net_dev_destroy(h->dev);
	free(h);
}

/* Add a chain of `n` buffers (lengths, device-writable or not) to ring i; returns its head
 * and the buffers' addresses in bufs. */
static uint16_t h_chain(struct h *h, unsigned i, unsigned n, const uint32_t *len,
			const bool *writable, uint8_t **bufs)
{
	struct ring *r = &h->r[i];
	uint16_t head = r->next_desc;

	for (unsigned k = 0; k < n; k++) {
		uint16_t d = r->next_desc++ % QSIZE;

		bufs[k] = h_alloc(h, len[k]);
		r->desc[d].addr = gpa(h, bufs[k]);
		r->desc[d].len = len[k];
		r->desc[d].flags = (uint16_t)((writable[k] ? VRING_DESC_F_WRITE : 0) |
					      (k + 1 < n ? VRING_DESC_F_NEXT : 0));
		r->desc[d].next = (uint16_t)(r->next_desc % QSIZE);
	}
	r->avail->ring[r->avail_idx % QSIZE] = head % QSIZE;
	r->avail_idx++;
	__atomic_store_n(&r->avail->idx, r->avail_idx, __ATOMIC_RELEASE);
	return head % QSIZE;
}

/* One device-writable buffer of `len` bytes on rx ring i. */
static uint8_t *h_rx_buf(struct h *h, unsigned i, uint32_t len)
{
	bool w = true;
	uint8_t *b;

	h_chain(h, i, 1, &len, &w, &b);
	return b;
}

static size_t frame_fill(uint8_t *f, size_t len, uint8_t seed)
{
	memset(f, 0xff, 6); /* broadcast */
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6);
	f[12] = ETHERTYPE >> 8;
	f[13] = ETHERTYPE & 0xff;
	for (size_t k = 14; k < len; k++)
		f[k] = (uint8_t)(seed + k * 3);
	return len;
}

/* Send a frame of `len` bytes into the tap (it comes out of the tap's queue as a received
 * packet) and wait until the tap fd of pair k has it. */
static void inject(struct h *h, unsigned k, size_t len, uint8_t seed)
{
	static uint8_t f[NET_FRAME_MAX];
	struct sockaddr_ll a = {.sll_family = AF_PACKET, .sll_ifindex = ifindex, .sll_halen = 6};
	struct pollfd p = {.fd = h->dev->pair[k].tap_fd, .events = POLLIN};

	frame_fill(f, len, seed);
	assert_int_equal(sendto(h->psock, f, len, 0, (struct sockaddr *)&a, sizeof(a)),
			 (ssize_t)len);
	assert_int_equal(poll(&p, 1, 5000), 1);
}

/* The next frame the driver sent (the tap's stack received it): its length. */
static ssize_t capture(struct h *h, uint8_t *buf, size_t max)
{
	for (;;) {
		struct sockaddr_ll a;
		socklen_t alen = sizeof(a);
		struct pollfd p = {.fd = h->psock, .events = POLLIN};
		ssize_t n;

		assert_int_equal(poll(&p, 1, 5000), 1);
		n = recvfrom(h->psock, buf, max, 0, (struct sockaddr *)&a, &alen);
		assert_true(n >= 0);
		if (a.sll_pkttype != PACKET_OUTGOING) /* not one we injected */
			return n;
	}
}

static uint16_t used_idx(struct h *h, unsigned i)
{
	return __atomic_load_n(&h->r[i].used->idx, __ATOMIC_ACQUIRE);
}

static void stats(struct h *h, struct net_stats *s)
{
	net_dev_stats(h->dev, s);
}

#define NEED_TAP()                                                                                 \
	do {                                                                                       \
		if (!have_tap)                                                                     \
			skip();                                                                    \
	} while (0)

static void test_mac_parse(void **state)
{
	uint8_t m[6];

	(void)state;
	assert_int_equal(net_mac_parse("52:54:00:AB:cd:0f", m), 0);
	assert_memory_equal(m, "\x52\x54\x00\xab\xcd\x0f", 6);
	assert_int_equal(net_mac_parse("01:00:5e:00:00:01", m), -EDOM);
	assert_int_equal(net_mac_parse("00:00:00:00:00:00", m), -ERANGE);
	assert_int_equal(net_mac_parse("52:54:00:ab:cd", m), -EINVAL);
	assert_int_equal(net_mac_parse("52:54:00:ab:cd:0f:", m), -EINVAL);
	assert_int_equal(net_mac_parse("52-54-00-ab-cd-0f", m), -EINVAL);
	assert_int_equal(net_mac_parse("5:54:00:ab:cd:0f0", m), -EINVAL);
	assert_int_equal(net_mac_parse("52:54:00:ab:cd:0g", m), -EINVAL);
	assert_int_equal(net_mac_parse("", m), -EINVAL);
}

static void test_offload_map(void **state)
{
	(void)state;
	assert_int_equal(net_tap_offload(BIT(VIRTIO_NET_F_GUEST_TSO4)), 0); /* needs CSUM */
	assert_int_equal(net_tap_offload(BIT(VIRTIO_NET_F_GUEST_CSUM)), TUN_F_CSUM);
	assert_int_equal(
	    net_tap_offload(BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_GUEST_ECN)),
	    TUN_F_CSUM); /* ECN needs TSO */
	assert_int_equal(net_tap_offload(BIT(VIRTIO_NET_F_GUEST_CSUM) |
					 BIT(VIRTIO_NET_F_GUEST_TSO4) |
					 BIT(VIRTIO_NET_F_GUEST_TSO6) |
					 BIT(VIRTIO_NET_F_GUEST_ECN) | BIT(VIRTIO_NET_F_GUEST_UFO)),
			 TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_UFO);
}

static void test_config_and_features(void **state)
{
	struct net_options opt = {.tap = TAP, .pairs = 3, .mtu = 9000, .has_mac = true};
	struct virtio_net_config c;
	struct net_dev *dev;

	(void)state;
	NEED_TAP();
	memcpy(opt.mac, "\x52\x54\x00\x01\x02\x03", 6);
	assert_int_equal(net_dev_create(&opt, &dev), 0);
	assert_int_equal(dev->params.max_queues, 7);
	assert_int_equal(dev->params.queues_per_thread, 2);
	assert_true(dev->params.features & BIT(VIRTIO_NET_F_MAC));
	assert_true(dev->params.features & BIT(VIRTIO_NET_F_MRG_RXBUF));
	assert_true(dev->params.features & BIT(VIRTIO_NET_F_MQ));
	assert_true(dev->params.features & BIT(VIRTIO_NET_F_CTRL_VQ));
	assert_true(dev->params.features & BIT(VIRTIO_NET_F_MTU));
	net_ops.config_read(dev, 0, (uint8_t *)&c, sizeof(c));
	assert_memory_equal(c.mac, opt.mac, 6);
	assert_int_equal(c.status, VIRTIO_NET_S_LINK_UP);
	assert_int_equal(c.max_virtqueue_pairs, 3);
	assert_int_equal(c.mtu, 9000);
	/* A legacy driver is refused. */
	assert_int_not_equal(net_ops.features_set(dev, BIT(VIRTIO_NET_F_MAC)), 0);
	net_dev_destroy(dev);

	opt.has_mac = false;
	opt.pairs = 1;
	assert_int_equal(net_dev_create(&opt, &dev), 0);
	assert_false(dev->params.features & BIT(VIRTIO_NET_F_MAC));
	net_dev_destroy(dev);
}

static void test_tx_frame(void **state)
{
	struct h *h;
	uint32_t len[2] = {NET_HDR_LEN, 100};
	bool w[2] = {false, false};
	uint8_t *b[2], got[2048];
	struct net_stats s;

	(void)state;
	NEED_TAP();
	h = h_new(1, F_BASE);
	h_start(h, 0);
	h_start(h, 1);
	h_chain(h, 1, 2, len, w, b);
	memset(b[0], 0, NET_HDR_LEN);
	frame_fill(b[1], 100, 7);
	net_queue_kick(h->dev, &h->be->queues[1]);
	assert_int_equal(used_idx(h, 1), 1);
	assert_int_equal(h->r[1].used->ring[0].len, 0);
	assert_int_equal(capture(h, got, sizeof(got)), 100);
	assert_memory_equal(got, b[1], 100);
	stats(h, &s);
	assert_int_equal(s.tx_packets, 1);
	assert_int_equal(s.tx_bytes, 100);
	assert_int_equal(s.tx_errors, 0);
	h_free(h);
}

static void test_tx_bad_frames(void **state)
{
	struct h *h;
	uint32_t len[2] = {NET_HDR_LEN, 64};
	bool ro[2] = {false, false}, rw[2] = {false, true};
	uint8_t *b[2];
	struct net_stats s;

	(void)state;
	NEED_TAP();
	h = h_new(1, F_BASE);
	h_start(h, 1);
	/* Header only (zero-length frame), then a header cut short: dropped, counted,
	 * returned. */
	h_chain(h, 1, 1, len, ro, b);
	len[0] = 8;
	h_chain(h, 1, 1, len, ro, b);
	net_queue_kick(h->dev, &h->be->queues[1]);
	assert_int_equal(used_idx(h, 1), 2);
	stats(h, &s);
	assert_int_equal(s.tx_errors, 2);
	assert_int_equal(s.tx_packets, 0);
	assert_false(h->be->queues[1].vq.broken);
	/* A device-writable buffer in a transmit chain: the device needs a reset. */
	len[0] = NET_HDR_LEN;
	h_chain(h, 1, 2, len, rw, b);
	net_queue_kick(h->dev, &h->be->queues[1]);
	assert_true(h->be->queues[1].vq.broken);
	assert_true(atomic_load(&h->be->needs_reset));
	assert_int_equal(used_idx(h, 1), 2);
	h_free(h);
}

static void check_frame(const uint8_t *buf, size_t len, uint8_t seed)
{
	static uint8_t f[NET_FRAME_MAX];

	frame_fill(f, len, seed);
	assert_memory_equal(buf, f, len);
}

static void test_rx_single(void **state)
{
	struct h *h;
	struct virtio_net_hdr_v1 hdr;
	struct net_stats s;
	uint8_t *b;

	(void)state;
	NEED_TAP();
	h = h_new(1, F_BASE);
	h_start(h, 0);
	b = h_rx_buf(h, 0, 2048);
	inject(h, 0, 300, 1);
	net_rx_run(&h->dev->pair[0]);
	assert_int_equal(used_idx(h, 0), 1);
	assert_int_equal(h->r[0].used->ring[0].len, NET_HDR_LEN + 300);
	memcpy(&hdr, b, sizeof(hdr));
	assert_int_equal(hdr.num_buffers, 1);
	assert_int_equal(hdr.flags, 0); /* no GUEST_CSUM */
	assert_int_equal(hdr.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	check_frame(b + NET_HDR_LEN, 300, 1);
	stats(h, &s);
	assert_int_equal(s.rx_packets, 1);
	assert_int_equal(s.rx_bytes, 300);
	h_free(h);
}

static void test_rx_merged(void **state)
{
	struct h *h;
	struct virtio_net_hdr_v1 hdr;
	uint8_t *b[3], all[300];
	struct vring_used *u;

	(void)state;
	NEED_TAP();
	h = h_new(1, F_MRG);
	h_start(h, 0);
	for (int i = 0; i < 3; i++)
		b[i] = h_rx_buf(h, 0, 100);
	inject(h, 0, 250, 9); /* 262 bytes with the header: 100 + 100 + 62 */
	net_rx_run(&h->dev->pair[0]);
	u = h->r[0].used;
	assert_int_equal(used_idx(h, 0), 3);
	assert_int_equal(u->ring[0].len, 100);
	assert_int_equal(u->ring[1].len, 100);
	assert_int_equal(u->ring[2].len, 62);
	memcpy(&hdr, b[0], sizeof(hdr));
	assert_int_equal(hdr.num_buffers, 3);
	memcpy(all, b[0] + NET_HDR_LEN, 88);
	memcpy(all + 88, b[1], 100);
	memcpy(all + 188, b[2], 62);
	check_frame(all, 250, 9);
	h_free(h);
}

/* Not enough room: the chains taken go back, the tap is left alone until a kick. */
static void test_rx_wait_for_buffers(void **state)
{
	struct h *h;
	struct net_pair *p;
	struct virtio_net_hdr_v1 hdr;
	uint8_t *b[2];
	uint16_t avail_event;

	(void)state;
	NEED_TAP();
	h = h_new(1, F_MRG);
	h_start(h, 0);
	p = &h->dev->pair[0];
	b[0] = h_rx_buf(h, 0, 100);
	inject(h, 0, 150, 3); /* needs 162 bytes */
	net_rx_run(p);
	assert_int_equal(used_idx(h, 0), 0);
	assert_true(p->rx_wait);
	assert_int_equal(p->rx_len, NET_HDR_LEN + 150);
	assert_int_equal(h->be->queues[0].vq.last_avail, 0); /* the chain went back */
	net_pair_sync(p); /* what the event handlers do after a run */
	assert_false(p->events & EPOLLIN);
	/* The driver is asked to kick on its next buffer. */
	memcpy(&avail_event, &h->r[0].used->ring[QSIZE], 2);
	assert_int_equal(avail_event, 1);
	b[1] = h_rx_buf(h, 0, 100);
	net_queue_kick(h->dev, &h->be->queues[0]);
	assert_false(p->rx_wait);
	assert_int_equal(used_idx(h, 0), 2);
	memcpy(&hdr, b[0], sizeof(hdr));
	assert_int_equal(hdr.num_buffers, 2);
	assert_true(p->events & EPOLLIN);
	h_free(h);
}

static void test_rx_too_big(void **state)
{
	struct h *h;
	struct net_stats s;
	uint8_t *b;

	(void)state;
	NEED_TAP();
	h = h_new(1, F_BASE); /* no MRG_RXBUF: one chain per packet */
	h_start(h, 0);
	b = h_rx_buf(h, 0, 200);
	inject(h, 0, 500, 4);
	net_rx_run(&h->dev->pair[0]);
	stats(h, &s);
	assert_int_equal(s.rx_drops, 1);
	assert_int_equal(s.rx_packets, 0);
	assert_int_equal(used_idx(h, 0), 0);
	/* The chain is kept for a packet that fits. */
	inject(h, 0, 100, 5);
	net_rx_run(&h->dev->pair[0]);
	assert_int_equal(used_idx(h, 0), 1);
	assert_int_equal(h->r[0].used->ring[0].len, NET_HDR_LEN + 100);
	check_frame(b + NET_HDR_LEN, 100, 5);
	h_free(h);
}

static void test_rx_bad_chain(void **state)
{
	struct h *h;
	uint32_t len = 2048;
	bool ro = false;
	uint8_t *b;

	(void)state;
	NEED_TAP();
	h = h_new(1, F_MRG);
	h_start(h, 0);
	h_chain(h, 0, 1, &len, &ro, &b); /* device-readable receive buffer */
	inject(h, 0, 64, 1);
	net_rx_run(&h->dev->pair[0]);
	assert_true(h->be->queues[0].vq.broken);
	assert_true(atomic_load(&h->be->needs_reset));
	net_pair_sync(&h->dev->pair[0]);
	assert_false(h->dev->pair[0].events & EPOLLIN);
	h_free(h);
}

/* A control command of `len` data bytes; returns the ack byte's address. */
static uint8_t *ctrl_cmd(struct h *h, unsigned cq, uint8_t class, uint8_t cmd, const void *data,
			 uint32_t len)
{
	uint32_t lens[2] = {2 + len, 1};
	bool w[2] = {false, true};
	uint8_t *b[2];

	h_chain(h, cq, 2, lens, w, b);
	b[0][0] = class;
	b[0][1] = cmd;
	if (len)
		memcpy(b[0] + 2, data, len);
	*b[1] = 0xee;
	return b[1];
}

static void test_ctrl(void **state)
{
	struct h *h;
	unsigned cq = 4; /* two pairs */
	uint8_t *ack[10], on = 1, mac[6] = {0x52, 0x54, 0, 9, 8, 7}, table[8] = {0};
	uint16_t two = 2, zero = 0, three = 3;
	struct virtio_net_config c;

	(void)state;
	NEED_TAP();
	h = h_new(2, F_BASE);
	h_start(h, cq);
	ack[0] = ctrl_cmd(h, cq, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &two, 2);
	ack[1] = ctrl_cmd(h, cq, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &zero, 2);
	ack[2] = ctrl_cmd(h, cq, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &three, 2);
	ack[3] = ctrl_cmd(h, cq, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &two, 1);
	ack[4] = ctrl_cmd(h, cq, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &on, 1);
	ack[5] = ctrl_cmd(h, cq, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mac, 6);
	ack[6] = ctrl_cmd(h, cq, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, table, 8);
	ack[7] = ctrl_cmd(h, cq, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, table, 7);
	ack[8] = ctrl_cmd(h, cq, VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK, NULL, 0);
	ack[9] = ctrl_cmd(h, cq, VIRTIO_NET_CTRL_VLAN, VIRTIO_NET_CTRL_VLAN_ADD, &two, 2);
	net_queue_kick(h->dev, &h->be->queues[cq]);
	assert_int_equal(used_idx(h, cq), 10);
	assert_int_equal(h->r[cq].used->ring[0].len, 1);
	/* EVENT_IDX: the device asks for a kick on the next command (avail_event = 10); left
	 * behind, the driver would never kick again and spin on its command forever. */
	assert_int_equal(*(volatile uint16_t *)&h->r[cq].used->ring[QSIZE], 10);
	assert_int_equal(*ack[0], VIRTIO_NET_OK);
	assert_int_equal(atomic_load(&h->dev->active_pairs), 2);
	assert_int_equal(*ack[1], VIRTIO_NET_ERR);
	assert_int_equal(*ack[2], VIRTIO_NET_ERR);
	assert_int_equal(*ack[3], VIRTIO_NET_ERR);
	assert_int_equal(*ack[4], VIRTIO_NET_OK);
	assert_int_equal(*ack[5], VIRTIO_NET_OK);
	assert_int_equal(*ack[6], VIRTIO_NET_OK);
	assert_int_equal(*ack[7], VIRTIO_NET_ERR);
	assert_int_equal(*ack[8], VIRTIO_NET_OK);
	assert_int_equal(*ack[9], VIRTIO_NET_ERR);
	net_ops.config_read(h->dev, 0, (uint8_t *)&c, sizeof(c));
	assert_memory_equal(c.mac, mac, 6);
	assert_false(h->be->queues[cq].vq.broken);
	h_free(h);
}

static void test_ctrl_malformed(void **state)
{
	struct h *h;
	unsigned cq = 2;
	uint32_t lens[2] = {1, 1};
	bool w[2] = {false, true};
	uint8_t *b[2];

	(void)state;
	NEED_TAP();
	h = h_new(1, F_BASE);
	h_start(h, cq);
	/* One byte of command: too short, answered with an error. */
	h_chain(h, cq, 2, lens, w, b);
	*b[1] = 0xee;
	net_queue_kick(h->dev, &h->be->queues[cq]);
	assert_int_equal(used_idx(h, cq), 1);
	assert_int_equal(*b[1], VIRTIO_NET_ERR);
	/* No byte for the ack: nothing can answer, the device needs a reset. */
	lens[0] = 4;
	w[1] = false;
	h_chain(h, cq, 2, lens, w, b);
	net_queue_kick(h->dev, &h->be->queues[cq]);
	assert_true(h->be->queues[cq].vq.broken);
	assert_true(atomic_load(&h->be->needs_reset));
	assert_int_equal(used_idx(h, cq), 1);
	h_free(h);
}

/* Tap queue k takes packets only while rx_k runs and k < the pairs the driver uses. The
 * kernel's view is checked too: TUNSETQUEUE into the state a queue is in fails. */
static void test_mq_attach(void **state)
{
	struct h *h;
	uint32_t len[2] = {NET_HDR_LEN, 60};
	bool w[2] = {false, false};
	uint8_t *b[2], got[256], *ack;
	uint16_t two = 2;
	struct net_pair *p1;

	(void)state;
	NEED_TAP();
	h = h_new(2, F_BASE);
	p1 = &h->dev->pair[1];
	assert_false(h->dev->pair[0].attached);
	assert_int_equal(net_tap_attach(h->dev->pair[0].tap_fd, false), -EINVAL);
	for (unsigned i = 0; i < 5; i++)
		h_start(h, i);
	assert_true(h->dev->pair[0].attached);
	assert_int_equal(net_tap_attach(h->dev->pair[0].tap_fd, true), -EINVAL);
	assert_false(p1->attached); /* one pair until VQ_PAIRS_SET */
	assert_int_equal(net_tap_attach(p1->tap_fd, false), -EINVAL);
	assert_false(p1->events & EPOLLIN);
	/* A frame on tx1 meanwhile still goes out: a detached queue only receives nothing. */
	h_chain(h, 3, 2, len, w, b);
	memset(b[0], 0, NET_HDR_LEN);
	frame_fill(b[1], 60, 2);
	net_queue_kick(h->dev, &h->be->queues[3]);
	assert_int_equal(capture(h, got, sizeof(got)), 60);
	check_frame(got, 60, 2);
	ack = ctrl_cmd(h, 4, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &two, 2);
	net_queue_kick(h->dev, &h->be->queues[4]);
	assert_int_equal(*ack, VIRTIO_NET_OK);
	/* The pair's worker applies it when woken. */
	net_pair_sync(p1);
	assert_true(p1->attached);
	assert_int_equal(net_tap_attach(p1->tap_fd, true), -EINVAL);
	assert_true(p1->events & EPOLLIN);
	/* rx1 stops: its tap queue goes away. */
	h_stop(h, 2);
	assert_false(p1->attached);
	assert_int_equal(net_tap_attach(p1->tap_fd, false), -EINVAL);
	h_free(h);
}

/* A frame the tap cannot take now stays popped and goes back to the ring when it stops. */
static void test_tx_held_frame_returns(void **state)
{
	struct h *h;
	struct net_pair *p;
	uint32_t len[2] = {NET_HDR_LEN, 60};
	bool w[2] = {false, false};
	uint8_t *b[2];

	(void)state;
	NEED_TAP();
	h = h_new(1, F_BASE);
	h_start(h, 0);
	h_start(h, 1);
	p = &h->dev->pair[0];
	h_chain(h, 1, 2, len, w, b);
	assert_int_equal(virtq_pop(&h->be->queues[1].vq, p->tx_req), 1);
	p->tx_held = true; /* as after EAGAIN */
	h_stop(h, 1);
	assert_int_equal(h->be->queues[1].vq.last_avail, 0);
	h_free(h);
}

static void test_iov_copy(void **state)
{
	uint8_t a[3], b[5], out[8];
	struct iovec iov[2] = {{a, 3}, {b, 5}};

	(void)state;
	assert_int_equal(net_iov_to(iov, 2, 2, "wxyz", 4), 4);
	assert_int_equal(a[2], 'w');
	assert_memory_equal(b, "xyz", 3);
	assert_int_equal(net_iov_from(iov, 2, 2, out, 8), 6);
	assert_memory_equal(out, "wxyz", 4);
	assert_int_equal(net_iov_to(iov, 2, 9, "q", 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mac_parse),
	    cmocka_unit_test(test_offload_map),
	    cmocka_unit_test(test_iov_copy),
	    cmocka_unit_test(test_config_and_features),
	    cmocka_unit_test(test_tx_frame),
	    cmocka_unit_test(test_tx_bad_frames),
	    cmocka_unit_test(test_rx_single),
	    cmocka_unit_test(test_rx_merged),
	    cmocka_unit_test(test_rx_wait_for_buffers),
	    cmocka_unit_test(test_rx_too_big),
	    cmocka_unit_test(test_rx_bad_chain),
	    cmocka_unit_test(test_ctrl),
	    cmocka_unit_test(test_ctrl_malformed),
	    cmocka_unit_test(test_mq_attach),
	    cmocka_unit_test(test_tx_held_frame_returns),
	};

	log_set_level(LOG_ERROR);
	have_tap = make_tap();
	ifindex = tap_ifindex;
	if (!have_tap)
		fprintf(stderr, "# no private network namespace with a tap (needs root and "
				"/dev/net/tun): tap tests skipped\n");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
