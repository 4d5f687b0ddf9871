/* libFuzzer target for the backend end of the Xen blkif ring (cards/blk/xen_blkif.c): a hostile
 * frontend owns the ring page, the grant table and the order of events. The input becomes the
 * ring page and the grant table (XORed over a template of well-formed requests and grants, so
 * that short inputs already reach the segment checks) and a script of what happens: pops,
 * responses, pushes, final checks, request indices moved anywhere, bytes of the ring or the
 * table changed between two pops. No I/O: a request that would be submitted stays "in flight"
 * in the harness until the script answers it, at most a ring's worth at once, as azote-blk.
 *
 * Checked: never more requests unanswered than the ring holds, -EPROTO is final, and each
 * request's verdict and buffers are exactly what a model of the checks (written from io/blkif.h and
 * the grant-table rules) computes from the request's bytes: status, length, sector, and each buffer
 * the right sectors of the granted page. Every byte of every buffer is touched (ASan watches the
 * RAM and the table, each an allocation of its own).
 *
 * Input: [0] bit 0 read-only disk, bits 1-2 table frames (mod 3), bits 3-4 capacity,
 * [1..4] ring grant ref XOR 1, [5] script length, the script, then bytes XORed over the ring
 * page and then the grant table. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cards/blk/xen_blkif.h"
#include "xen/xen_abi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* RAM: 12 pages at 0, 4 pages at 4 GiB (gfn 0x100000). The ring is gfn 1 (ref 1). */
#define R0_PAGES 12u
#define R1_PAGES 4u
#define R1_GFN	 0x100000u
#define NREFS	 16u

struct fz {
	struct guest_mem mem;
	uint8_t *ram0, *ram1, *table;
	struct blkif_grants g;
	struct blkif_disk d;
	struct blkif_ring r;
	uint8_t *page;	   /* the ring page (gfn 1), whatever ref the ring was attached with */
	uint32_t req_prod; /* what the frontend last wrote */
	struct blkif_io inflight[BLKIF_RING_SIZE];
	unsigned head, n;
};

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void grant(uint8_t *table, uint32_t ref, uint16_t flags, uint32_t gfn)
{
	uint8_t *e = table + ref * XEN_GNT_V1_SIZE;
	uint16_t domid = 0;

	memcpy(e, &flags, 2);
	memcpy(e + 2, &domid, 2);
	memcpy(e + 4, &gfn, 4);
}

/* Refs 1..15: the ring, then data pages in both regions, every fourth read-only. Requests:
 * a read over two pages, a write, a flush alone, a flush with data, a discard. */
static void template(struct fz *f)
{
	static const uint8_t ops[] = {BLKIF_OP_READ, BLKIF_OP_WRITE, BLKIF_OP_FLUSH_DISKCACHE,
				      BLKIF_OP_FLUSH_DISKCACHE, BLKIF_OP_DISCARD};
	static const uint8_t nsegs[] = {2, 3, 0, 1, 1};

	grant(f->table, 1, GTF_permit_access, 1);
	for (uint32_t ref = 2; ref < NREFS; ref++) {
		uint32_t gfn = ref < 10 ? ref : R1_GFN + (ref - 10) % R1_PAGES;

		grant(f->table, ref, GTF_permit_access | (ref % 4 == 3 ? GTF_readonly : 0), gfn);
	}
	for (unsigned k = 0; k < sizeof(ops); k++) {
		uint8_t *e = f->page + BLKIF_SRING_HDR + k * BLKIF_ENTRY_SIZE;
		uint64_t id = 0x1000 + k, sector = 8 * k;

		e[BLKIF_REQ_OP] = ops[k];
		e[BLKIF_REQ_NSEG] = nsegs[k];
		memcpy(e + BLKIF_REQ_ID, &id, 8);
		memcpy(e + BLKIF_REQ_SECTOR, &sector, 8);
		for (unsigned s = 0; s < nsegs[k]; s++) {
			uint8_t *sg = e + BLKIF_REQ_SEG + s * BLKIF_SEG_SIZE;
			uint32_t ref = 2 + (k * 3 + s) % (NREFS - 2);

			put32(sg + BLKIF_SEG_GREF, ref);
			sg[BLKIF_SEG_FIRST] = (uint8_t)s;
			sg[BLKIF_SEG_LAST] = (uint8_t)(s + 4);
		}
	}
	put32(f->page + BLKIF_SRING_REQ_PROD, sizeof(ops));
	put32(f->page + BLKIF_SRING_RSP_EVENT, 1);
}

/* The host page a grant names, by the rules: a v1 access grant to domain 0 (writable when
 * the backend writes), of a page that is RAM. */
static uint8_t *model_page(const struct fz *f, uint32_t ref, bool writable)
{
	const uint8_t *e;
	uint16_t flags, domid;
	uint64_t gfn;

	if (ref / XEN_GNT_PER_FRAME >= f->g.nframes)
		return NULL;
	e = f->table + (size_t)ref * XEN_GNT_V1_SIZE;
	memcpy(&flags, e, 2);
	memcpy(&domid, e + 2, 2);
	gfn = get32(e + 4);
	if ((flags & 3) != 1 || domid != 0 || (writable && (flags & 4)))
		return NULL;
	if (gfn < R0_PAGES)
		return f->ram0 + gfn * XEN_PAGE_SIZE;
	if (gfn >= R1_GFN && gfn < R1_GFN + R1_PAGES)
		return f->ram1 + (gfn - R1_GFN) * XEN_PAGE_SIZE;
	return NULL;
}

/* The request bytes as they were taken: io must be what they ask for. */
static void model_check(const struct fz *f, const uint8_t *req, const struct blkif_io *io)
{
	uint8_t op = req[BLKIF_REQ_OP], nseg = req[BLKIF_REQ_NSEG];
	uint64_t id, sector, sectors = 0;
	int16_t want = BLKIF_RSP_OKAY;
	uint8_t *pages[BLKIF_MAX_SEGMENTS];

	memcpy(&id, req + BLKIF_REQ_ID, 8);
	memcpy(&sector, req + BLKIF_REQ_SECTOR, 8);
	if (io->id != id || io->op != op)
		__builtin_trap();
	if (op != BLKIF_OP_READ && op != BLKIF_OP_WRITE && op != BLKIF_OP_FLUSH_DISKCACHE)
		want = BLKIF_RSP_EOPNOTSUPP;
	else if (nseg == 0)
		want = op == BLKIF_OP_FLUSH_DISKCACHE ? BLKIF_RSP_OKAY : BLKIF_RSP_ERROR;
	else if (nseg > BLKIF_MAX_SEGMENTS || (op != BLKIF_OP_READ && f->d.ro))
		want = BLKIF_RSP_ERROR;
	for (unsigned i = 0; want == BLKIF_RSP_OKAY && i < nseg; i++) {
		const uint8_t *s = req + BLKIF_REQ_SEG + i * BLKIF_SEG_SIZE;

		pages[i] = model_page(f, get32(s + BLKIF_SEG_GREF), op == BLKIF_OP_READ);
		if (s[BLKIF_SEG_LAST] >= 8 || s[BLKIF_SEG_FIRST] > s[BLKIF_SEG_LAST] || !pages[i])
			want = BLKIF_RSP_ERROR;
		else
			sectors += s[BLKIF_SEG_LAST] - s[BLKIF_SEG_FIRST] + 1u;
	}
	if (want == BLKIF_RSP_OKAY && nseg &&
	    (sector > f->d.capacity || sectors > f->d.capacity - sector))
		want = BLKIF_RSP_ERROR;
	if (io->status != want)
		__builtin_trap();
	if (want != BLKIF_RSP_OKAY) {
		if (io->niov || io->len)
			__builtin_trap();
		return;
	}
	if (io->niov != nseg || io->len != sectors * BLKIF_SECTOR || (nseg && io->sector != sector))
		__builtin_trap();
	for (unsigned i = 0; i < nseg; i++) {
		const uint8_t *s = req + BLKIF_REQ_SEG + i * BLKIF_SEG_SIZE;

		if (io->iov[i].iov_base != pages[i] + s[BLKIF_SEG_FIRST] * BLKIF_SECTOR ||
		    io->iov[i].iov_len !=
			(s[BLKIF_SEG_LAST] - s[BLKIF_SEG_FIRST] + 1u) * BLKIF_SECTOR)
			__builtin_trap();
	}
}

/* What the device would do with the buffers: read a write's, fill a read's. */
static unsigned touch(const struct blkif_io *io)
{
	unsigned sum = 0;

	for (unsigned i = 0; i < io->niov; i++) {
		volatile uint8_t *p = io->iov[i].iov_base;

		if (io->op == BLKIF_OP_READ) {
			memset(io->iov[i].iov_base, 0x5a, io->iov[i].iov_len);
		} else {
			for (size_t j = 0; j < io->iov[i].iov_len; j += 64)
				sum += p[j];
			sum += p[io->iov[i].iov_len - 1];
		}
	}
	return sum;
}

static void respond_oldest(struct fz *f, int16_t status)
{
	struct blkif_io *io = &f->inflight[f->head];

	blkif_ring_respond(&f->r, io->id, io->op, io->status ? io->status : status);
	f->head = (f->head + 1) % BLKIF_RING_SIZE;
	f->n--;
}

/* Take one request, as azote-blk does when it has a free slot. */
static int pop(struct fz *f)
{
	uint8_t req[BLKIF_ENTRY_SIZE];
	struct blkif_io *io;
	bool was_broken = f->r.broken;
	uint32_t cons = f->r.req_cons;
	int rc;

	if (f->n == BLKIF_RING_SIZE)
		return 0;
	io = &f->inflight[(f->head + f->n) % BLKIF_RING_SIZE];
	memcpy(req, f->page + BLKIF_SRING_HDR + (cons % BLKIF_RING_SIZE) * BLKIF_ENTRY_SIZE,
	       sizeof(req));
	rc = blkif_ring_pop(&f->r, &f->g, &f->d, io);
	if (rc < 0) {
		if (rc != -EPROTO || !f->r.broken)
			__builtin_trap();
		return rc;
	}
	if (was_broken)
		__builtin_trap(); /* broken is final */
	if (rc == 0) {
		if (f->r.req_cons != cons)
			__builtin_trap();
		return 0;
	}
	/* Never more unanswered requests than the ring holds, whatever req_prod says. (A
	 * req_prod moved back behind req_cons is not caught until the answers catch up, as in
	 * Linux's blkback: the slots taken meanwhile hold stale bytes, still checked as any.) */
	if (f->r.req_cons != cons + 1 || f->r.req_cons - f->r.rsp_prod_pvt > BLKIF_RING_SIZE)
		__builtin_trap();
	model_check(f, req, io);
	touch(io);
	/* A read may land on the ring page itself: then the guest "wrote" its indices. */
	f->req_prod = get32(f->page + BLKIF_SRING_REQ_PROD);
	if (io->status != BLKIF_RSP_OKAY) {
		/* Answered at once, as azote-blk does: straight into the ring. */
		blkif_ring_respond(&f->r, io->id, io->op, io->status);
		return 1;
	}
	f->n++;
	return 1;
}

static void run_script(struct fz *f, const uint8_t *s, size_t len, size_t region)
{
	for (size_t i = 0; i < len; i++) {
		uint32_t v;

		switch (s[i] & 7) {
		case 0:
			for (unsigned k = 0; k <= (unsigned)(s[i] >> 3); k++)
				if (pop(f) <= 0)
					break;
			break;
		case 1:
			if (f->n)
				respond_oldest(f, (s[i] & 8) ? BLKIF_RSP_ERROR : BLKIF_RSP_OKAY);
			break;
		case 2:
			while (f->n)
				respond_oldest(f, BLKIF_RSP_OKAY);
			break;
		case 3:
			blkif_ring_push(&f->r);
			break;
		case 4:
			if (blkif_ring_final_check(&f->r) && !f->r.broken &&
			    get32(f->page + BLKIF_SRING_REQ_PROD) == f->r.req_cons)
				__builtin_trap();
			break;
		case 5: /* the frontend moves req_prod by -16..+15 */
			f->req_prod += (uint32_t)((int)(s[i] >> 3) - 16);
			put32(f->page + BLKIF_SRING_REQ_PROD, f->req_prod);
			break;
		case 6: /* anywhere */
			if (i + 4 >= len)
				return;
			memcpy(&v, s + i + 1, 4);
			i += 4;
			f->req_prod = v;
			put32(f->page + BLKIF_SRING_REQ_PROD, v);
			break;
		case 7: /* a byte of the ring page or the table changes between two pops */
			if (i + 3 >= len)
				return;
			v = ((uint32_t)s[i + 1] | (uint32_t)s[i + 2] << 8) % (uint32_t)region;
			if (v < XEN_PAGE_SIZE)
				f->page[v] ^= s[i + 3];
			else
				f->table[v - XEN_PAGE_SIZE] ^= s[i + 3];
			if (v < 4)
				f->req_prod = get32(f->page + BLKIF_SRING_REQ_PROD);
			i += 3;
			break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t caps[] = {0, 8, 1024, UINT64_MAX};
	static struct fz f;
	size_t slen, region, xlen;
	uint32_t ring_ref;

	if (size < 6)
		return 0;
	memset(&f, 0, sizeof(f));
	f.ram0 = calloc(R0_PAGES, XEN_PAGE_SIZE);
	f.ram1 = calloc(R1_PAGES, XEN_PAGE_SIZE);
	f.g.nframes = (data[0] >> 1 & 3) % 3;
	/* One frame of table at least in memory for the template; nframes says what counts. */
	f.table = calloc(f.g.nframes ? f.g.nframes : 1, XEN_PAGE_SIZE);
	if (!f.ram0 || !f.ram1 || !f.table)
		abort();
	f.mem = (struct guest_mem){
	    .memfd = -1, .base = f.ram0, .size = (R0_PAGES + R1_PAGES) * XEN_PAGE_SIZE};
	f.mem.regions[0] = (struct guest_region){0, R0_PAGES * XEN_PAGE_SIZE, 0, f.ram0};
	f.mem.regions[1] = (struct guest_region){(uint64_t)R1_GFN << XEN_PAGE_SHIFT,
						 R1_PAGES * XEN_PAGE_SIZE, 0, f.ram1};
	f.mem.nregions = 2;
	f.g.mem = &f.mem;
	f.g.table = f.table;
	f.d = (struct blkif_disk){.capacity = caps[data[0] >> 3 & 3], .ro = data[0] & 1};
	f.page = f.ram0 + XEN_PAGE_SIZE;
	template(&f);
	memcpy(&ring_ref, data + 1, 4);
	ring_ref ^= 1;
	slen = data[5];
	data += 6;
	size -= 6;
	if (slen > size)
		slen = size;
	/* Guest memory as the input says, then the ring attached by the given reference. */
	region = XEN_PAGE_SIZE * (1u + (f.g.nframes ? f.g.nframes : 1));
	xlen = size - slen < region ? size - slen : region;
	for (size_t i = 0; i < xlen; i++) {
		if (i < XEN_PAGE_SIZE)
			f.page[i] ^= data[slen + i];
		else
			f.table[i - XEN_PAGE_SIZE] ^= data[slen + i];
	}
	f.req_prod = get32(f.page + BLKIF_SRING_REQ_PROD);
	if (blkif_ring_attach(&f.r, &f.g, ring_ref) == 0) {
		if (f.r.page != model_page(&f, ring_ref, true))
			__builtin_trap();
		/* The harness writes its indices on gfn 1: a ring elsewhere only reads there. */
		if (f.r.page == f.page) {
			run_script(&f, data, slen, region);
			/* Then serve until idle or broken, answering everything. */
			for (unsigned k = 0; k < 4 * BLKIF_RING_SIZE; k++) {
				int rc = pop(&f);

				while (f.n)
					respond_oldest(&f, BLKIF_RSP_OKAY);
				blkif_ring_push(&f.r);
				if (rc < 0 || (rc == 0 && !blkif_ring_final_check(&f.r)))
					break;
			}
		}
	} else if (model_page(&f, ring_ref, true)) {
		__builtin_trap();
	}
	free(f.ram0);
	free(f.ram1);
	free(f.table);
	return 0;
}
