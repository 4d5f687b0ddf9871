/* The xenstore ring page shared with the guest (io/xs_wire.h): requests in, replies and watch
 * events out. The guest owns the page and may write anything at any time: azote keeps its own
 * copies of the indices it advances, checks the guest's against them, copies each message out
 * before parsing it, and stops serving a ring whose indices or lengths are impossible. */
#ifndef AZOTE_XEN_XS_RING_H
#define AZOTE_XEN_XS_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xen/xen_abi.h"

#define XS_RING_OUT_MAX (64u << 10) /* replies waiting for room in the ring */

/* One complete request: header fields and payload (len <= XENSTORE_PAYLOAD_MAX). */
typedef void (*xs_ring_msg_fn)(void *ctx, uint32_t type, uint32_t req_id, uint32_t tx_id,
			       const uint8_t *payload, uint32_t len);

struct xs_ring {
	uint8_t *page;
	uint32_t req_cons, rsp_prod; /* azote's copies; the page's are only ever written */
	uint8_t in[XS_HEADER_SIZE + XENSTORE_PAYLOAD_MAX];
	uint32_t inlen;
	uint8_t *out;
	size_t outlen;
	bool broken; /* the guest broke the protocol: the ring is no longer served */
};

/* Start serving page (4 KiB, zeroed): connected, indices 0. */
void xs_ring_init(struct xs_ring *r, uint8_t *page);
void xs_ring_fini(struct xs_ring *r);
/* Consume the requests the guest has written, calling fn for each complete one. Returns true
 * when something was consumed (the guest may wait for room). */
bool xs_ring_read(struct xs_ring *r, xs_ring_msg_fn fn, void *ctx);
/* Queue one message for the guest. 0, or -ENOSPC when the guest does not read its replies. */
int xs_ring_queue(struct xs_ring *r, uint32_t type, uint32_t req_id, uint32_t tx_id,
		  const void *payload, uint32_t len);
/* Move queued output into the ring as room allows. True when something was written. */
bool xs_ring_flush(struct xs_ring *r);

#endif
