/* The backend end of a Xen blkif ring (io/blkif.h), pure logic with no I/O so that it can be
 * unit-tested: taking requests from the shared ring, checking each one (operation, segments,
 * grant references, sectors) into a list of host buffers, and writing responses back.
 *
 * Everything in the ring page and the grant table belongs to the guest and may change at any
 * time: indices are checked against our own copies (a frontend that claims more requests than
 * the ring holds breaks the ring, which is then no longer served), each request is copied out
 * before it is parsed, and each grant entry is read once. A bad request gets BLKIF_RSP_ERROR
 * (or EOPNOTSUPP), never a crash. */
#ifndef AZOTE_CARDS_BLK_XEN_BLKIF_H
#define AZOTE_CARDS_BLK_XEN_BLKIF_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "kvm/guest_mem.h"
#include "xen/xen_blkif_abi.h"

/* What the guest granted us: its RAM and the grant table's frames (version 1 entries). */
struct blkif_grants {
	const struct guest_mem *mem;
	uint8_t *table; /* nframes pages of grant entries */
	uint32_t nframes;
};

struct blkif_ring {
	uint8_t *page; /* the shared ring, in guest RAM */
	uint32_t req_cons, rsp_prod_pvt; /* ours; the page's indices are only ever checked */
	uint32_t rsp_published;
	bool broken;
};

/* One checked request. status BLKIF_RSP_OKAY: run it (niov buffers, len bytes at sector);
 * otherwise answer it with status at once. */
struct blkif_io {
	uint64_t id;
	uint8_t op;
	int16_t status;
	uint64_t sector;
	uint64_t len;
	unsigned niov;
	struct iovec iov[BLKIF_MAX_SEGMENTS];
};

struct blkif_disk {
	uint64_t capacity; /* sectors */
	bool ro;
};

/* Host address of the page grant ref names, if the guest granted it to domain 0 (writable
 * when asked) and it is guest RAM; NULL otherwise. */
uint8_t *blkif_grant_page(const struct blkif_grants *g, uint32_t ref, bool writable);

/* Start serving the ring whose page ring_ref grants (writable). 0 or -EACCES. */
__attribute__((warn_unused_result)) int blkif_ring_attach(struct blkif_ring *r,
							  const struct blkif_grants *g,
							  uint32_t ring_ref);

/* Take the next request into io. 1: io is ready (check io->status), 0: none waiting,
 * -EPROTO: the frontend broke the ring (r->broken; nothing more is taken). */
int blkif_ring_pop(struct blkif_ring *r, const struct blkif_grants *g,
		   const struct blkif_disk *d, struct blkif_io *io);

/* Check a request copied out of the ring (BLKIF_ENTRY_SIZE bytes) into io. */
void blkif_req_parse(const uint8_t *req, const struct blkif_grants *g,
		     const struct blkif_disk *d, struct blkif_io *io);

/* Queue the response to one request (published by blkif_ring_push). */
void blkif_ring_respond(struct blkif_ring *r, uint64_t id, uint8_t op, int16_t status);

/* Publish the queued responses; true when the frontend asked to be notified. */
bool blkif_ring_push(struct blkif_ring *r);

/* Ask for a notification at the next request, then look again: true when requests arrived
 * meanwhile (take them without waiting for an event). */
bool blkif_ring_final_check(struct blkif_ring *r);

#endif
