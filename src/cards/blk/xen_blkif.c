#include "cards/blk/xen_blkif.h"

#include <errno.h>
#include <string.h>

#include "xen/xen_abi.h"

static uint32_t blkif_load32(const uint8_t *page, unsigned off)
{
	return __atomic_load_n((const uint32_t *)(page + off), __ATOMIC_ACQUIRE);
}

static void blkif_store32(uint8_t *page, unsigned off, uint32_t v)
{
	__atomic_store_n((uint32_t *)(page + off), v, __ATOMIC_RELEASE);
}

uint8_t *blkif_grant_page(const struct blkif_grants *g, uint32_t ref, bool writable)
{
	uint32_t frame = ref / XEN_GNT_PER_FRAME;
	const uint8_t *e;
	uint16_t flags, domid;
	uint32_t gfn;

	if (!g->table || frame >= g->nframes)
		return NULL;
	e = g->table + (uint64_t)frame * XEN_PAGE_SIZE +
	    (uint64_t)(ref % XEN_GNT_PER_FRAME) * XEN_GNT_V1_SIZE;
	/* The guest may rewrite the entry at any time: each field is read once. */
	flags = __atomic_load_n((const uint16_t *)e, __ATOMIC_ACQUIRE);
	memcpy(&domid, e + 2, 2);
	memcpy(&gfn, e + 4, 4);
	if ((flags & GTF_type_mask) != GTF_permit_access || domid != 0)
		return NULL;
	if (writable && (flags & GTF_readonly))
		return NULL;
	return guest_mem_ptr(g->mem, (uint64_t)gfn << XEN_PAGE_SHIFT, XEN_PAGE_SIZE);
}

int blkif_ring_attach(struct blkif_ring *r, const struct blkif_grants *g, uint32_t ring_ref)
{
	uint8_t *page = blkif_grant_page(g, ring_ref, true);

	*r = (struct blkif_ring){0};
	if (!page)
		return -EACCES;
	/* The frontend initialised the ring (indices 0) before publishing its reference. */
	r->page = page;
	return 0;
}

/* Segments of a read, a write, or a flush carrying data. */
static int16_t blkif_parse_rw(const uint8_t *req, const struct blkif_grants *g,
			      const struct blkif_disk *d, struct blkif_io *io)
{
	uint8_t nseg = req[BLKIF_REQ_NSEG];
	bool to_guest = io->op == BLKIF_OP_READ;
	uint64_t sectors = 0;

	memcpy(&io->sector, req + BLKIF_REQ_SECTOR, 8);
	if (nseg == 0)
		return io->op == BLKIF_OP_FLUSH_DISKCACHE ? BLKIF_RSP_OKAY : BLKIF_RSP_ERROR;
	if (nseg > BLKIF_MAX_SEGMENTS)
		return BLKIF_RSP_ERROR;
	if (!to_guest && d->ro)
		return BLKIF_RSP_ERROR;
	for (unsigned i = 0; i < nseg; i++) {
		const uint8_t *s = req + BLKIF_REQ_SEG + i * BLKIF_SEG_SIZE;
		uint8_t first = s[BLKIF_SEG_FIRST], last = s[BLKIF_SEG_LAST];
		uint32_t ref;
		uint8_t *page;

		memcpy(&ref, s + BLKIF_SEG_GREF, 4);
		if (last >= BLKIF_SECTORS_PER_PAGE || first > last)
			return BLKIF_RSP_ERROR;
		/* A read writes into the guest's page: it needs a writable grant. */
		page = blkif_grant_page(g, ref, to_guest);
		if (!page)
			return BLKIF_RSP_ERROR;
		io->iov[i].iov_base = page + (size_t)first * BLKIF_SECTOR;
		io->iov[i].iov_len = (size_t)(last - first + 1) * BLKIF_SECTOR;
		sectors += (uint64_t)(last - first + 1);
	}
	if (io->sector > d->capacity || sectors > d->capacity - io->sector)
		return BLKIF_RSP_ERROR;
	io->niov = nseg;
	io->len = sectors * BLKIF_SECTOR;
	return BLKIF_RSP_OKAY;
}

void blkif_req_parse(const uint8_t *req, const struct blkif_grants *g,
		     const struct blkif_disk *d, struct blkif_io *io)
{
	memset(io, 0, sizeof(*io));
	io->op = req[BLKIF_REQ_OP];
	memcpy(&io->id, req + BLKIF_REQ_ID, 8);
	switch (io->op) {
	case BLKIF_OP_READ:
	case BLKIF_OP_WRITE:
	case BLKIF_OP_FLUSH_DISKCACHE:
		io->status = blkif_parse_rw(req, g, d, io);
		if (io->status != BLKIF_RSP_OKAY)
			io->niov = 0, io->len = 0;
		break;
	default:
		/* Barriers, discard and indirect requests are not advertised. */
		io->status = BLKIF_RSP_EOPNOTSUPP;
		break;
	}
}

int blkif_ring_pop(struct blkif_ring *r, const struct blkif_grants *g,
		   const struct blkif_disk *d, struct blkif_io *io)
{
	uint8_t req[BLKIF_ENTRY_SIZE];
	uint32_t prod;

	if (r->broken || !r->page)
		return r->broken ? -EPROTO : 0;
	prod = blkif_load32(r->page, BLKIF_SRING_REQ_PROD);
	/* More requests than slots not yet answered: indices the ring cannot hold. */
	if (prod - r->rsp_prod_pvt > BLKIF_RING_SIZE) {
		r->broken = true;
		return -EPROTO;
	}
	if (prod == r->req_cons)
		return 0;
	/* A producer index moved back behind what we already took: a broken ring, not requests. */
	if (prod - r->req_cons > prod - r->rsp_prod_pvt) {
		r->broken = true;
		return -EPROTO;
	}
	memcpy(req, r->page + BLKIF_SRING_HDR + (r->req_cons % BLKIF_RING_SIZE) * BLKIF_ENTRY_SIZE,
	       sizeof(req));
	r->req_cons++;
	blkif_req_parse(req, g, d, io);
	return 1;
}

void blkif_ring_respond(struct blkif_ring *r, uint64_t id, uint8_t op, int16_t status)
{
	uint8_t *e = r->page + BLKIF_SRING_HDR + (r->rsp_prod_pvt % BLKIF_RING_SIZE) * BLKIF_ENTRY_SIZE;
	uint8_t rsp[BLKIF_RSP_SIZE] = {0};

	memcpy(rsp + BLKIF_RSP_ID, &id, 8);
	rsp[BLKIF_RSP_OPER] = op;
	memcpy(rsp + BLKIF_RSP_STATUS, &status, 2);
	memcpy(e, rsp, sizeof(rsp));
	r->rsp_prod_pvt++;
}

bool blkif_ring_push(struct blkif_ring *r)
{
	uint32_t old = r->rsp_published, now = r->rsp_prod_pvt, event;

	if (!r->page || old == now)
		return false;
	blkif_store32(r->page, BLKIF_SRING_RSP_PROD, now);
	r->rsp_published = now;
	/* The frontend's rsp_event must be read after rsp_prod is visible (io/ring.h). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	event = blkif_load32(r->page, BLKIF_SRING_RSP_EVENT);
	return (uint32_t)(now - event) < (uint32_t)(now - old);
}

bool blkif_ring_final_check(struct blkif_ring *r)
{
	if (!r->page || r->broken)
		return false;
	if (blkif_load32(r->page, BLKIF_SRING_REQ_PROD) != r->req_cons)
		return true;
	blkif_store32(r->page, BLKIF_SRING_REQ_EVENT, r->req_cons + 1);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return blkif_load32(r->page, BLKIF_SRING_REQ_PROD) != r->req_cons;
}
