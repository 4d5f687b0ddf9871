#include "xen/xs_ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

static uint32_t *xs_idx(struct xs_ring *r, unsigned off)
{
	return (uint32_t *)(r->page + off);
}

static void xs_ring_break(struct xs_ring *r, const char *why)
{
	if (!r->broken)
		log_warn("xenstore: the guest broke the ring protocol (%s); xenstore stops", why);
	r->broken = true;
}

void xs_ring_init(struct xs_ring *r, uint8_t *page)
{
	memset(r, 0, sizeof(*r));
	r->page = page;
	__atomic_store_n(xs_idx(r, XS_RING_REQ_CONS), 0, __ATOMIC_RELEASE);
	__atomic_store_n(xs_idx(r, XS_RING_RSP_PROD), 0, __ATOMIC_RELEASE);
	__atomic_store_n(xs_idx(r, XS_RING_CONNECTION), 0, __ATOMIC_RELEASE); /* CONNECTED */
}

void xs_ring_fini(struct xs_ring *r)
{
	free(r->out);
	r->out = NULL;
	r->outlen = 0;
}

bool xs_ring_read(struct xs_ring *r, xs_ring_msg_fn fn, void *ctx)
{
	uint32_t prod, avail, len;
	bool consumed = false;

	if (r->broken)
		return false;
	prod = __atomic_load_n(xs_idx(r, XS_RING_REQ_PROD), __ATOMIC_ACQUIRE);
	avail = prod - r->req_cons;
	if (avail > XENSTORE_RING_SIZE) {
		xs_ring_break(r, "request producer index out of range");
		return false;
	}
	while (avail) {
		/* Take bytes up to the end of the header, then of the payload. */
		uint32_t want = r->inlen < XS_HEADER_SIZE ? XS_HEADER_SIZE - r->inlen : 0;

		if (!want) {
			memcpy(&len, r->in + 12, 4);
			want = XS_HEADER_SIZE + len - r->inlen;
		}
		while (want && avail) {
			r->in[r->inlen++] = r->page[XS_RING_REQ + (r->req_cons & (XENSTORE_RING_SIZE - 1))];
			r->req_cons++;
			avail--;
			want--;
		}
		consumed = true;
		if (want)
			break;
		memcpy(&len, r->in + 12, 4);
		if (len > XENSTORE_PAYLOAD_MAX) {
			xs_ring_break(r, "message longer than 4096 bytes");
			break;
		}
		if (r->inlen == XS_HEADER_SIZE + len) {
			uint32_t h[3];

			memcpy(h, r->in, sizeof(h));
			r->inlen = 0;
			fn(ctx, h[0], h[1], h[2], r->in + XS_HEADER_SIZE, len);
		}
	}
	__atomic_store_n(xs_idx(r, XS_RING_REQ_CONS), r->req_cons, __ATOMIC_RELEASE);
	return consumed;
}

int xs_ring_queue(struct xs_ring *r, uint32_t type, uint32_t req_id, uint32_t tx_id,
		  const void *payload, uint32_t len)
{
	uint32_t h[4] = {type, req_id, tx_id, len};
	uint8_t *out;

	if (r->outlen + sizeof(h) + len > XS_RING_OUT_MAX)
		return -ENOSPC;
	out = realloc(r->out, r->outlen + sizeof(h) + len);
	if (!out)
		return -ENOMEM;
	r->out = out;
	memcpy(out + r->outlen, h, sizeof(h));
	if (len)
		memcpy(out + r->outlen + sizeof(h), payload, len);
	r->outlen += sizeof(h) + len;
	return 0;
}

bool xs_ring_flush(struct xs_ring *r)
{
	uint32_t cons, used, room, n;

	if (r->broken || !r->outlen)
		return false;
	cons = __atomic_load_n(xs_idx(r, XS_RING_RSP_CONS), __ATOMIC_ACQUIRE);
	used = r->rsp_prod - cons;
	if (used > XENSTORE_RING_SIZE) {
		xs_ring_break(r, "response consumer index out of range");
		return false;
	}
	room = XENSTORE_RING_SIZE - used;
	n = r->outlen < room ? (uint32_t)r->outlen : room;
	for (uint32_t i = 0; i < n; i++)
		r->page[XS_RING_RSP + ((r->rsp_prod + i) & (XENSTORE_RING_SIZE - 1))] = r->out[i];
	r->rsp_prod += n;
	__atomic_store_n(xs_idx(r, XS_RING_RSP_PROD), r->rsp_prod, __ATOMIC_RELEASE);
	memmove(r->out, r->out + n, r->outlen - n);
	r->outlen -= n;
	return n > 0;
}
