/* libFuzzer target for azote's xenstore as the guest reaches it: through the ring page
 * (xs_ring.c) into the protocol (xenstore.c) and the tree (xenstore_tree.c), wired exactly as
 * xen.c wires them (each complete request to xenstore_request(), replies and watch events
 * queued with xs_ring_queue() and flushed into the page).
 *
 * The input is a script for the guest: frames (header and payload, the header's length true
 * or a lie), raw bytes, deliveries in chunks of any size, indices of the page set to anything,
 * bytes of the page changed, replies left unread. A well-behaved guest side reads the replies
 * and checks their framing. Checked throughout: every request gets exactly one reply, first,
 * with its req_id and its type (or XS_ERROR with a known name); watch events are "path\0token\0";
 * no message exceeds 4096 bytes; the ring's own state stays within its bounds. At the end, a
 * walk of the whole tree as domain 0 through the protocol: node count and value bytes within
 * the limits, no path longer than allowed, and domain 0's nodes as the layout made them.
 *
 * Script: op byte (low 3 bits), then its operands:
 *   0 frame: type (mod 24, or any u32 after 0xFF), flags, n (mod 64), [tx u32 if flags&3 == 3],
 *     [a lying length: u16 if flags&0x1C == 0x1C, u32 if 0x18], n payload bytes where
 *     0xE0-0xFF stand for the tokens below (paths and values a guest uses; 0xF3 is a counter).
 *     tx: 0, or one of the last two transactions started (the guest first waits for the
 *     replies to what it sent), or any u32.
 *   1 raw: n, n bytes written as they are.
 *   2 deliver: the guest writes (op >> 3) * 7 bytes (all that fits if 0), then kicks.
 *   3 hostile index: which, u32: REQ_PROD, REQ_CONS, RSP_CONS or RSP_PROD set to it.
 *   4 scribble: offset u16, byte XORed into the page.
 *   5 the guest stops / resumes reading its replies.
 *   6 bulk: the last frame again k times (operand k), the counter token counting.
 *   7 deliver everything. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "xen/xen.h"
#include "xen/xen_abi.h"
#include "xen/xenstore.h"
#include "xen/xs_ring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUTBOX_MAX (1u << 20)
#define FRAME_MAX  (XS_HEADER_SIZE + 2 * XENSTORE_PAYLOAD_MAX)

static char deep[1000], longname[251], bigval[2001]; /* "a/a/.../a", "xx...", "vv..." */

static const char *const tokens[32] = {
    "data/",
    "control/",
    "device/",
    "/local/domain/1/",
    "/local/domain/0/",
    "/local/domain/2/",
    "/",
    "@introduceDomain",
    "@releaseDomain",
    "name",
    "domid",
    "console/type",
    "n1",
    "r0",
    "b1",
    "w0",
    "n0",
    "T",
    "F",
    NULL /* counter */,
    deep,
    longname,
    bigval,
    "backend/",
    "/local/domain/1/data/",
    "/local/domain/1",
    "tok",
    "..",
    "//",
    "1",
    "0",
    "r1",
};

struct fz {
	struct xenstore *xs;
	struct xs_ring ring;
	uint8_t *page;

	/* The request being answered. */
	bool in_req;
	uint32_t req_type, req_id;
	unsigned replies;
	/* The walk as domain 0: replies captured, not queued. */
	bool walking;
	uint32_t cap_type, cap_len;
	uint8_t cap[XENSTORE_PAYLOAD_MAX];
	uint32_t tx[2];

	/* The guest. */
	uint32_t req_prod, rsp_cons;
	uint8_t *outbox; /* bytes [outhead, outlen) not yet written into the ring */
	size_t outhead, outlen;
	bool desync;  /* the guest broke something: its view of the replies is garbage */
	bool no_read; /* the guest does not read its replies */
	uint8_t rsp[XS_HEADER_SIZE + XENSTORE_PAYLOAD_MAX];
	uint32_t rsplen;
	/* The last frame, unexpanded, for bulk. */
	uint32_t last_type, last_tx, last_len, last_n;
	bool last_lie, have_last;
	uint8_t last[256];
	uint32_t counter;
};

static struct fz f;

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static void put32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)p, v, __ATOMIC_RELEASE);
}

static bool known_error(const uint8_t *p, uint32_t len)
{
	static const char *const names[] = {"ENOENT", "EACCES", "EEXIST", "ENOMEM",
					    "ENOSPC", "E2BIG",	"EAGAIN", "EBUSY",
					    "ENOSYS", "EPERM",	"EINVAL"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (len == strlen(names[i]) + 1 && !memcmp(p, names[i], len))
			return true;
	return false;
}

static void fz_send(void *ctx, uint32_t type, uint32_t req_id, uint32_t tx_id, const void *payload,
		    uint32_t len)
{
	const uint8_t *p = payload;
	int rc;

	(void)ctx;
	if (len > XENSTORE_PAYLOAD_MAX)
		__builtin_trap();
	if (f.walking) {
		f.replies++;
		f.cap_type = type;
		f.cap_len = len;
		if (len)
			memcpy(f.cap, p, len);
		return;
	}
	if (type == XS_WATCH_EVENT) {
		const uint8_t *end = p + len - 1, *nul = len ? memchr(p, '\0', len) : NULL;

		/* "path\0token\0" (a path, a token maybe empty), and never ahead of the reply to
		 * the request causing it. */
		if ((f.in_req && !f.replies) || req_id || tx_id || len < 2 || *end || nul == p ||
		    nul == end || memchr(nul + 1, '\0', (size_t)(end - (nul + 1))))
			__builtin_trap();
	} else {
		if (!f.in_req || f.replies++ || req_id != f.req_id)
			__builtin_trap();
		if (type == XS_ERROR) {
			if (!known_error(p, len))
				__builtin_trap();
		} else if (type != f.req_type) {
			__builtin_trap();
		} else if (type == XS_TRANSACTION_START) {
			char id[16];

			if (len < 2 || len > sizeof(id) || p[len - 1])
				__builtin_trap();
			memcpy(id, p, len);
			f.tx[1] = f.tx[0];
			f.tx[0] = (uint32_t)strtoul(id, NULL, 10);
			if (!f.tx[0])
				__builtin_trap();
		}
	}
	rc = xs_ring_queue(&f.ring, type, req_id, tx_id, payload, len);
	if ((rc && rc != -ENOSPC) || f.ring.outlen > XS_RING_OUT_MAX)
		__builtin_trap();
}

static void fz_on_msg(void *ctx, uint32_t type, uint32_t req_id, uint32_t tx_id,
		      const uint8_t *payload, uint32_t len)
{
	(void)ctx;
	if (len > XENSTORE_PAYLOAD_MAX)
		__builtin_trap();
	f.in_req = true;
	f.req_type = type;
	f.req_id = req_id;
	f.replies = 0;
	xenstore_request(f.xs, XEN_GUEST_DOMID, type, req_id, tx_id, payload, len);
	if (f.replies != 1)
		__builtin_trap();
	f.in_req = false;
	xs_ring_flush(&f.ring);
}

/* The ring's state after azote served it. */
static void check_ring(void)
{
	if (f.ring.inlen > sizeof(f.ring.in) || f.ring.outlen > XS_RING_OUT_MAX)
		__builtin_trap();
	/* The page's indices are the guest's to scribble over: compared only while it has not. */
	if (f.ring.broken || f.desync)
		return;
	if (get32(f.page + XS_RING_REQ_CONS) != f.ring.req_cons ||
	    get32(f.page + XS_RING_RSP_PROD) != f.ring.rsp_prod ||
	    f.ring.rsp_prod - get32(f.page + XS_RING_RSP_CONS) > XENSTORE_RING_SIZE)
		__builtin_trap();
	if (f.req_prod - f.ring.req_cons > XENSTORE_RING_SIZE)
		__builtin_trap();
}

/* The guest reads the replies: whole messages of at most 4096 bytes. */
static void guest_read(void)
{
	for (int round = 0; round < 64 && !f.no_read; round++) {
		uint32_t prod = get32(f.page + XS_RING_RSP_PROD);

		if (prod == f.rsp_cons)
			return;
		if (prod - f.rsp_cons > XENSTORE_RING_SIZE) {
			if (!f.desync)
				__builtin_trap();
			f.rsp_cons = prod;
		}
		while (f.rsp_cons != prod) {
			f.rsp[f.rsplen++] =
			    f.page[XS_RING_RSP + (f.rsp_cons++ & (XENSTORE_RING_SIZE - 1))];
			if (f.rsplen >= XS_HEADER_SIZE) {
				uint32_t len = get32(f.rsp + 12);

				if (len > XENSTORE_PAYLOAD_MAX) {
					if (!f.desync)
						__builtin_trap();
					f.rsplen = 0;
				} else if (f.rsplen == XS_HEADER_SIZE + len) {
					f.rsplen = 0;
				}
			}
		}
		put32(f.page + XS_RING_RSP_CONS, f.rsp_cons);
		if (!xs_ring_flush(&f.ring))
			break;
		check_ring();
	}
}

static void kick(void)
{
	xs_ring_read(&f.ring, fz_on_msg, &f);
	xs_ring_flush(&f.ring);
	check_ring();
	guest_read();
}

/* The guest writes up to max bytes of its outbox into the ring (0: all that fits). */
static size_t guest_write(size_t max)
{
	uint32_t used = f.req_prod - get32(f.page + XS_RING_REQ_CONS);
	size_t room = used > XENSTORE_RING_SIZE ? 0 : XENSTORE_RING_SIZE - used, n;

	n = f.outlen - f.outhead < room ? f.outlen - f.outhead : room;
	if (max && n > max)
		n = max;
	for (size_t i = 0; i < n; i++)
		f.page[XS_RING_REQ + (f.req_prod++ & (XENSTORE_RING_SIZE - 1))] =
		    f.outbox[f.outhead++];
	put32(f.page + XS_RING_REQ_PROD, f.req_prod);
	if (f.outhead == f.outlen)
		f.outhead = f.outlen = 0;
	return n;
}

static void deliver_all(void)
{
	for (int i = 0; i < 4096 && f.outlen && !f.ring.broken; i++) {
		if (!guest_write(0) && f.req_prod == f.ring.req_cons)
			break;
		kick();
	}
	kick();
}

static void outbox_add(const void *p, size_t n)
{
	if (f.outlen + n > OUTBOX_MAX)
		return;
	memcpy(f.outbox + f.outlen, p, n);
	f.outlen += n;
}

/* Expand the last frame (tokens, counter) into the outbox. */
static void frame_emit(void)
{
	static uint8_t buf[FRAME_MAX];
	uint32_t h[4];
	size_t n = XS_HEADER_SIZE;

	f.counter++;
	for (uint32_t i = 0; i < f.last_n; i++) {
		uint8_t c = f.last[i];
		const char *t;
		char num[16];
		size_t tl;

		if (c < 0xE0) {
			if (n < sizeof(buf))
				buf[n++] = c;
			continue;
		}
		t = tokens[c - 0xE0];
		if (!t) {
			snprintf(num, sizeof(num), "%u", f.counter);
			t = num;
		}
		tl = strlen(t);
		if (tl > sizeof(buf) - n)
			tl = sizeof(buf) - n;
		memcpy(buf + n, t, tl);
		n += tl;
	}
	h[0] = f.last_type;
	h[1] = f.counter;
	h[2] = f.last_tx;
	h[3] = f.last_lie ? f.last_len : (uint32_t)(n - XS_HEADER_SIZE);
	memcpy(buf, h, sizeof(h));
	outbox_add(buf, n);
}

/* A cursor over the script. */
struct rd {
	const uint8_t *p;
	size_t left;
};

static bool rd_take(struct rd *r, void *out, size_t n)
{
	if (r->left < n)
		return false;
	memcpy(out, r->p, n);
	r->p += n;
	r->left -= n;
	return true;
}

/* Parse one frame op at s[0..len): returns the bytes used. */
static size_t frame_op(const uint8_t *s, size_t len)
{
	struct rd r = {s, len};
	uint8_t t, flags, n;
	uint16_t l16;

	if (!rd_take(&r, &t, 1))
		return len;
	f.last_type = t % 24u;
	if (t == 0xFF && !rd_take(&r, &f.last_type, 4))
		return len;
	if (!rd_take(&r, &flags, 1) || !rd_take(&r, &n, 1))
		return len;
	/* Like a real client, wait for the replies before using a transaction's id. */
	if ((flags & 3) == 1 || (flags & 3) == 2)
		deliver_all();
	switch (flags & 3) {
	case 0:
		f.last_tx = 0;
		break;
	case 1:
		f.last_tx = f.tx[0];
		break;
	case 2:
		f.last_tx = f.tx[1];
		break;
	default:
		if (!rd_take(&r, &f.last_tx, 4))
			return len;
	}
	f.last_lie = (flags & 0x18) == 0x18;
	if ((flags & 0x1C) == 0x18) {
		if (!rd_take(&r, &f.last_len, 4))
			return len;
	} else if (f.last_lie) {
		if (!rd_take(&r, &l16, 2))
			return len;
		f.last_len = l16;
	}
	f.last_n = n % 64u;
	if (f.last_n > r.left)
		f.last_n = (uint32_t)r.left;
	rd_take(&r, f.last, f.last_n);
	f.have_last = true;
	frame_emit();
	return len - r.left;
}

static void run_script(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t op = s[i++];
		size_t left = len - i;

		switch (op & 7) {
		case 0:
			i += frame_op(s + i, left);
			break;
		case 1: {
			size_t n = left ? s[i] : 0;

			if (left)
				i++;
			n = n < len - i ? n : len - i;
			outbox_add(s + i, n);
			i += n;
			break;
		}
		case 2:
			guest_write((size_t)(op >> 3) * 7);
			kick();
			break;
		case 3: {
			static const unsigned fields[] = {XS_RING_REQ_PROD, XS_RING_REQ_CONS,
							  XS_RING_RSP_CONS, XS_RING_RSP_PROD};
			uint32_t v;

			if (left < 5)
				return;
			v = get32(s + i + 1);
			put32(f.page + fields[s[i] & 3], v);
			if ((s[i] & 3) == 0)
				f.req_prod = v;
			f.desync = true;
			i += 5;
			kick();
			break;
		}
		case 4: {
			unsigned off;

			if (left < 3)
				return;
			off = ((unsigned)s[i] | (unsigned)s[i + 1] << 8) % XEN_PAGE_SIZE;
			f.page[off] ^= s[i + 2];
			if (off >= XS_RING_RSP)
				f.desync = true;
			if (off >= XS_RING_REQ_PROD && off < XS_RING_REQ_PROD + 4)
				f.req_prod = get32(f.page + XS_RING_REQ_PROD);
			i += 3;
			break;
		}
		case 5:
			f.no_read = !f.no_read;
			if (!f.no_read)
				guest_read();
			break;
		case 6:
			if (!left)
				return;
			for (unsigned k = 0; f.have_last && k < s[i]; k++)
				frame_emit();
			i++;
			break;
		default:
			deliver_all();
			break;
		}
	}
}

/* Domain 0's request; the reply is captured in f.cap. */
static void dom0(uint32_t type, const char *path)
{
	f.replies = 0;
	xenstore_request(f.xs, 0, type, 7, 0, (const uint8_t *)path, (uint32_t)strlen(path) + 1);
	if (f.replies != 1)
		__builtin_trap();
}

struct walk {
	unsigned nodes;
	uint64_t bytes;
};

static void walk(char *path, size_t len, struct walk *w)
{
	uint8_t *names;
	uint32_t n;

	if (len > XENSTORE_ABS_PATH_MAX)
		__builtin_trap(); /* a node no path may name */
	dom0(XS_READ, path);
	if (f.cap_type != XS_READ)
		__builtin_trap(); /* listed by its parent, yet not there */
	w->nodes++;
	w->bytes += f.cap_len;
	dom0(XS_DIRECTORY, path);
	if (f.cap_type == XS_ERROR)
		return; /* E2BIG: more names than one reply holds, not walked */
	if (f.cap_type != XS_DIRECTORY || (f.cap_len && f.cap[f.cap_len - 1]))
		__builtin_trap();
	n = f.cap_len;
	names = malloc(n + 1);
	if (!names)
		abort();
	memcpy(names, f.cap, n);
	for (uint32_t off = 0; off < n;) {
		const char *name = (const char *)names + off;
		size_t nl = strlen(name), cl = len + (len > 1) + nl;

		if (!nl || strchr(name, '/'))
			__builtin_trap();
		if (cl <= XENSTORE_ABS_PATH_MAX + 1) {
			if (len > 1)
				path[len] = '/';
			memcpy(path + len + (len > 1), name, nl + 1);
			walk(path, cl, w);
			path[len] = '\0';
		} else {
			__builtin_trap();
		}
		off += (uint32_t)nl + 1;
	}
	free(names);
}

static void expect(const char *path, const char *value)
{
	char buf[64];

	if (xenstore_read(f.xs, path, buf, sizeof(buf)) != (int)strlen(value) || strcmp(buf, value))
		__builtin_trap();
}

static void expect_perms(const char *path, const char *perms, uint32_t len)
{
	dom0(XS_GET_PERMS, path);
	if (f.cap_type != XS_GET_PERMS || f.cap_len != len || memcmp(f.cap, perms, len))
		__builtin_trap();
}

static void final_checks(void)
{
	static char path[XENSTORE_ABS_PATH_MAX + 4];
	struct walk w = {0};

	f.walking = true;
	strcpy(path, "/");
	walk(path, 1, &w);
	if (w.nodes > XS_MAX_NODES || w.bytes > XS_MAX_BYTES)
		__builtin_trap();
	/* What only domain 0 may change. */
	expect("/local/domain/0/name", "Domain-0");
	expect("/local/domain/1/name", "azote-guest");
	expect("/local/domain/1/domid", "1");
	expect("/local/domain/1/console/type", "xenconsoled");
	expect_perms("/local/domain/1", "n0\0r1", 6);
	expect_perms("/local/domain/1/device", "n0\0r1", 6);
	expect_perms("/local/domain/0", "n0", 3);
	f.walking = false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *outbox;

	if (!outbox) {
		log_set_level(LOG_OFF);
		outbox = malloc(OUTBOX_MAX);
		if (!outbox)
			abort();
		for (size_t i = 0; i < sizeof(deep) - 1; i++)
			deep[i] = i % 2 ? '/' : 'a';
		memset(longname, 'x', sizeof(longname) - 1);
		memset(bigval, 'v', sizeof(bigval) - 1);
	}
	memset(&f, 0, sizeof(f));
	f.outbox = outbox;
	f.page = calloc(1, XEN_PAGE_SIZE);
	if (!f.page)
		abort();
	xs_ring_init(&f.ring, f.page);
	if (xenstore_create(&f.xs, XEN_GUEST_DOMID, "azote-guest", fz_send, &f))
		abort();
	run_script(data, size);
	deliver_all();
	final_checks();
	xenstore_destroy(f.xs);
	xs_ring_fini(&f.ring);
	free(f.page);
	return 0;
}
