/* libFuzzer target for azote-net's control queue: a guest's control command, split over any
 * number of device-readable buffers, then zero or more device-writable ones, answered by
 * net_ctrl_handle() on a net_dev that has no tap (the control queue never touches it: only
 * the MAC under config_lock, active_pairs and the pairs' wake eventfds).
 *
 * Every buffer is an allocation of its own (ASan catches a byte read or written past one); the
 * answer is checked against a model of the commands written from virtio 1.2 5.1.6.5: the ack
 * byte, the MAC, active_pairs and the wake-ups must be exactly what the command asks for, and
 * nothing but the first device-writable byte may be written.
 *
 * Input: [0] bit 0 MQ negotiated, bit 1 no queue (features read as 0), bit 2 a large zeroed
 * buffer appended to the command (to reach the 64 KiB data limit), [1] pairs - 1 (mod 16),
 * [2] device-writable buffers (mod 4), [3] extra length of the large buffer, [4] number of
 * cuts (mod 8), then one length byte per cut, then the command bytes: class, command, data. */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cards/net/net_dev.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BIG_BASE (65536u - 128u) /* + [3]: around sizeof(c->data) = 65538 */
#define IN_MAX	 3

static struct net_dev dev;
static struct net_ctrl ctrl;
static struct vhost_backend be;
static struct vhost_queue q;
static uint8_t big[BIG_BASE + 256];

static void fuzz_init(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	log_set_level(LOG_ERROR);
	pthread_mutex_init(&dev.config_lock, NULL);
	strcpy(dev.name, "fuzz0");
	for (unsigned i = 0; i < NET_PAIRS_MAX; i++) {
		dev.pair[i].dev = &dev;
		dev.pair[i].index = i;
		dev.pair[i].tap_fd = -1;
		dev.pair[i].wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (dev.pair[i].wake_fd < 0)
			abort();
	}
	q.be = &be;
}

/* How many times pair i was woken since the last call. */
static uint64_t wakes(unsigned i)
{
	uint64_t v = 0;

	if (read(dev.pair[i].wake_fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

/* VIRTIO_NET_CTRL_MAC_TABLE_SET data: two tables, le32 count then 6-byte entries, exactly. */
static bool model_tables(const uint8_t *d, size_t len)
{
	size_t off = 0;

	for (int t = 0; t < 2; t++) {
		uint32_t n;

		if (len - off < 4)
			return false;
		n = (uint32_t)d[off] | (uint32_t)d[off + 1] << 8 | (uint32_t)d[off + 2] << 16 |
		    (uint32_t)d[off + 3] << 24;
		off += 4;
		if ((uint64_t)n * 6 > len - off)
			return false;
		off += (size_t)n * 6;
	}
	return off == len;
}

/* The expected ack for cmd (class, command, data) of len bytes; *pairs and *mac set for the
 * commands that change them. */
static int model(const uint8_t *cmd, size_t len, bool mq, unsigned npairs, unsigned *pairs,
		 const uint8_t **mac)
{
	const uint8_t *d = cmd + 2;
	size_t dl;
	unsigned n;

	*pairs = 0;
	*mac = NULL;
	if (len < 2 || len > sizeof(ctrl.data))
		return VIRTIO_NET_ERR;
	dl = len - 2;
	switch (cmd[0]) {
	case VIRTIO_NET_CTRL_RX:
		return cmd[1] <= VIRTIO_NET_CTRL_RX_NOBCAST && dl == 1 ? VIRTIO_NET_OK
								       : VIRTIO_NET_ERR;
	case VIRTIO_NET_CTRL_MAC:
		if (cmd[1] == VIRTIO_NET_CTRL_MAC_TABLE_SET)
			return model_tables(d, dl) ? VIRTIO_NET_OK : VIRTIO_NET_ERR;
		if (cmd[1] != VIRTIO_NET_CTRL_MAC_ADDR_SET || dl != 6)
			return VIRTIO_NET_ERR;
		*mac = d;
		return VIRTIO_NET_OK;
	case VIRTIO_NET_CTRL_MQ:
		if (!mq || cmd[1] != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET || dl != 2)
			return VIRTIO_NET_ERR;
		n = (unsigned)d[0] | (unsigned)d[1] << 8;
		if (n < 1 || n > npairs)
			return VIRTIO_NET_ERR;
		*pairs = n;
		return VIRTIO_NET_OK;
	case VIRTIO_NET_CTRL_ANNOUNCE:
		return cmd[1] == VIRTIO_NET_CTRL_ANNOUNCE_ACK && dl == 0 ? VIRTIO_NET_OK
									 : VIRTIO_NET_ERR;
	default:
		return VIRTIO_NET_ERR;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t flat[sizeof(big) + 4096];
	uint8_t old_mac[6], *in[IN_MAX];
	const uint8_t *mac;
	struct virtq_req *req = &ctrl.req;
	unsigned npairs, nin, ncut, exp_pairs, old_pairs;
	bool mq, use_big;
	size_t flen = 0, cmd_len, off;
	int ack, want;

	if (size < 5)
		return 0;
	fuzz_init();
	mq = data[0] & 1;
	use_big = data[0] & 4;
	npairs = 1 + data[1] % NET_PAIRS_MAX;
	nin = data[2] % (IN_MAX + 1);
	ncut = data[4] % 8;
	if (size < 5u + ncut)
		return 0;
	dev.pairs = npairs;
	be.features = mq ? 1ull << VIRTIO_NET_F_MQ : 0;
	ctrl.q = (data[0] & 2) ? NULL : &q;
	if (!ctrl.q)
		mq = false;
	old_pairs = 1 + data[3] % npairs;
	atomic_store(&dev.active_pairs, old_pairs);
	memcpy(old_mac, dev.config.mac, 6);
	for (unsigned i = 0; i < npairs; i++)
		(void)wakes(i);

	/* The device-readable buffers: the command bytes cut where the input says (empty
	 * buffers are never handed out by the ring), then the large one if asked. */
	*req = (struct virtq_req){0};
	cmd_len = size - 5 - ncut;
	off = 0;
	for (unsigned i = 0; i <= ncut && off < cmd_len; i++) {
		size_t n = i < ncut ? data[5 + i] : cmd_len - off;
		uint8_t *b;

		if (n == 0)
			continue;
		if (n > cmd_len - off)
			n = cmd_len - off;
		b = malloc(n);
		if (!b)
			abort();
		memcpy(b, data + 5 + ncut + off, n);
		memcpy(flat + flen, b, n);
		flen += n;
		req->iov[req->nout++] = (struct iovec){b, n};
		req->out_len += n;
		off += n;
	}
	if (use_big) {
		size_t n = BIG_BASE + data[3];

		req->iov[req->nout++] = (struct iovec){big, n};
		req->out_len += n;
		memset(flat + flen, 0, n);
		flen += n;
	}
	for (unsigned i = 0; i < nin; i++) {
		size_t n = 1 + (i < 2 ? data[2] >> (2 + 3 * i) & 7 : 0);

		in[i] = malloc(n);
		if (!in[i])
			abort();
		memset(in[i], 0xee, n);
		req->iov[req->nout + i] = (struct iovec){in[i], n};
		req->in_len += n;
	}
	req->nin = nin;

	ack = net_ctrl_handle(&dev, &ctrl, req);

	want = nin ? model(flat, flen, mq, npairs, &exp_pairs, &mac) : -EIO;
	if (!nin)
		exp_pairs = 0, mac = NULL;
	if (ack != want)
		__builtin_trap();
	/* The ack is the first device-writable byte, and nothing else is written. */
	for (unsigned i = 0; i < nin; i++)
		for (size_t j = 0; j < req->iov[req->nout + i].iov_len; j++)
			if (in[i][j] != (i == 0 && j == 0 ? (uint8_t)want : 0xee))
				__builtin_trap();
	/* The command changed exactly what it names. */
	if (atomic_load(&dev.active_pairs) != (exp_pairs ? exp_pairs : old_pairs))
		__builtin_trap();
	if (memcmp(dev.config.mac, mac ? mac : old_mac, 6))
		__builtin_trap();
	for (unsigned i = 0; i < npairs; i++)
		if (wakes(i) != (exp_pairs ? 1 : 0))
			__builtin_trap();
	for (unsigned i = 0; i < req->nout; i++)
		if (req->iov[i].iov_base != big)
			free(req->iov[i].iov_base);
	for (unsigned i = 0; i < nin; i++)
		free(in[i]);
	return 0;
}
