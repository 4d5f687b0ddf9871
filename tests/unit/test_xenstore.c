/* xenstore: the protocol as a well-behaved guest uses it, and as a hostile one abuses it (bad
 * paths, huge or malformed messages, permission violations, transaction conflicts, watches),
 * plus the ring page with impossible indices and lengths. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs <setjmp.h>, <stdarg.h> and <stddef.h> first. */
#include <cmocka.h>

#include "xen/xen_abi.h"
#include "xen/xenstore.h"
#include "xen/xs_ring.h"

#define GUEST 1
#define MAX_MSGS 64

struct msg {
	uint32_t type, req_id, tx_id, len;
	char data[XENSTORE_PAYLOAD_MAX + 1];
};

struct fake {
	struct xenstore *xs;
	struct msg msgs[MAX_MSGS];
	unsigned n;
};

static void f_send(void *ctx, uint32_t type, uint32_t req_id, uint32_t tx_id, const void *p,
		   uint32_t len)
{
	struct fake *f = ctx;
	struct msg *m;

	assert_true(len <= XENSTORE_PAYLOAD_MAX);
	if (f->n == MAX_MSGS)
		return;
	m = &f->msgs[f->n++];
	*m = (struct msg){type, req_id, tx_id, len, {0}};
	if (len)
		memcpy(m->data, p, len);
}

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(xenstore_create(&f->xs, GUEST, "guest", f_send, f), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;

	xenstore_destroy(f->xs);
	free(f);
	return 0;
}

/* Send one request (payload given with its length) and return the first message it caused. */
static struct msg *req_n(struct fake *f, uint32_t type, uint32_t tx, const char *p, uint32_t len)
{
	f->n = 0;
	xenstore_request(f->xs, GUEST, type, 42, tx, (const uint8_t *)p, len);
	assert_true(f->n >= 1);
	assert_int_equal(f->msgs[0].req_id, 42);
	return &f->msgs[0];
}

/* A request whose payload is one string, its NUL included. */
static struct msg *req(struct fake *f, uint32_t type, uint32_t tx, const char *s)
{
	return req_n(f, type, tx, s, (uint32_t)strlen(s) + 1);
}

static struct msg *write_(struct fake *f, uint32_t tx, const char *path, const char *value)
{
	char buf[256];
	size_t pl = strlen(path) + 1, vl = strlen(value);

	memcpy(buf, path, pl);
	memcpy(buf + pl, value, vl);
	return req_n(f, XS_WRITE, tx, buf, (uint32_t)(pl + vl));
}

static void assert_error(const struct msg *m, const char *err)
{
	assert_int_equal(m->type, XS_ERROR);
	assert_string_equal(m->data, err);
}

static void assert_ok(const struct msg *m, uint32_t type)
{
	assert_int_equal(m->type, type);
	assert_string_equal(m->data, "OK");
}

static void test_layout_and_read(void **state)
{
	struct fake *f = *state;
	struct msg *m = req(f, XS_READ, 0, "name");

	assert_int_equal(m->type, XS_READ);
	assert_int_equal(m->len, 5);
	assert_memory_equal(m->data, "guest", 5);
	m = req(f, XS_READ, 0, "/local/domain/1/domid");
	assert_memory_equal(m->data, "1", 1);
	assert_error(req(f, XS_READ, 0, "nothing/here"), "ENOENT");
	m = req(f, XS_GET_DOMAIN_PATH, 0, "1");
	assert_string_equal(m->data, "/local/domain/1");
	assert_error(req(f, XS_GET_DOMAIN_PATH, 0, "x1"), "EINVAL");
	assert_error(req(f, XS_GET_DOMAIN_PATH, 0, "99999999"), "EINVAL");
	assert_error(req_n(f, XS_GET_DOMAIN_PATH, 0, "", 0), "EINVAL");
	m = req(f, XS_GET_PERMS, 0, "device");
	assert_string_equal(m->data, "n0"); /* owned by domain 0... */
	assert_string_equal(m->data + 3, "r1"); /* ...readable by the guest */
}

static void test_write_dir_rm(void **state)
{
	struct fake *f = *state;
	struct msg *m;

	assert_ok(write_(f, 0, "data/a/b", "hello"), XS_WRITE);
	m = req(f, XS_READ, 0, "data/a/b");
	assert_int_equal(m->len, 5);
	assert_ok(req(f, XS_MKDIR, 0, "data/c"), XS_MKDIR);
	assert_ok(req(f, XS_MKDIR, 0, "data/c"), XS_MKDIR); /* exists: fine */
	m = req(f, XS_DIRECTORY, 0, "data");
	assert_int_equal(m->type, XS_DIRECTORY);
	assert_int_equal(m->len, 4); /* "c\0a\0" in some order */
	assert_ok(req(f, XS_RM, 0, "data/a"), XS_RM);
	assert_error(req(f, XS_READ, 0, "data/a/b"), "ENOENT");
	assert_ok(req(f, XS_RM, 0, "data/a"), XS_RM); /* gone, but its parent exists */
	assert_error(req(f, XS_RM, 0, "data/x/y"), "ENOENT");
	assert_error(req(f, XS_RM, 0, "/"), "EINVAL");
	/* Values with NULs and empty ones. */
	assert_ok(req_n(f, XS_WRITE, 0, "data/z\0a\0b", 10), XS_WRITE);
	m = req(f, XS_READ, 0, "data/z");
	assert_int_equal(m->len, 3);
	assert_ok(req_n(f, XS_WRITE, 0, "data/e", 7), XS_WRITE);
	assert_int_equal(req(f, XS_READ, 0, "data/e")->len, 0);
}

static void test_bad_input(void **state)
{
	struct fake *f = *state;
	char big[XENSTORE_PAYLOAD_MAX + 8];
	static const char *const bad[] = {"", "/", "//", "/local//domain", "data/", "a b",
					  "data/\xff", "@x/y", "data/../name", "/local/domain/1/"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!strcmp(bad[i], "/"))
			continue; /* "/" is a valid path, only not writable */
		assert_error(req(f, XS_WRITE, 0, bad[i]), "EINVAL");
		assert_error(req(f, XS_READ, 0, bad[i]), "EINVAL");
	}
	/* A path longer than any allowed. */
	memset(big, 'a', sizeof(big));
	big[3500] = '\0';
	assert_error(req(f, XS_READ, 0, big), "EINVAL");
	/* Payload without a terminator, longer than the protocol allows, and missing args. */
	assert_error(req_n(f, XS_WRITE, 0, "data/x", 6), "EINVAL");
	assert_error(req_n(f, XS_READ, 0, big, XENSTORE_PAYLOAD_MAX + 1), "E2BIG");
	assert_error(req_n(f, XS_READ, 0, big, UINT32_MAX), "E2BIG");
	assert_error(req(f, XS_WATCH, 0, "data"), "EINVAL"); /* no token */
	assert_error(req(f, 99, 0, "data"), "ENOSYS");
	assert_error(req(f, XS_ERROR, 0, "data"), "ENOSYS");
	assert_error(req(f, XS_TRANSACTION_END, 0, "T"), "ENOENT");
	assert_error(req(f, XS_READ, 12345, "name"), "ENOENT"); /* no such transaction */
	/* Privileged operations. */
	assert_error(req(f, XS_INTRODUCE, 0, "2"), "EACCES");
	assert_error(req(f, XS_RELEASE, 0, "2"), "EACCES");
	assert_error(req(f, XS_CONTROL, 0, "print"), "EACCES");
}

static void test_permissions(void **state)
{
	struct fake *f = *state;

	assert_error(write_(f, 0, "/local/domain/0/backend/vbd", "x"), "EACCES");
	assert_error(req(f, XS_READ, 0, "/local/domain/0/name"), "EACCES");
	assert_error(req(f, XS_DIRECTORY, 0, "/local/domain/0"), "EACCES");
	assert_error(write_(f, 0, "device/vbd/51712", "x"), "EACCES");
	assert_error(write_(f, 0, "name", "evil"), "EACCES");
	assert_error(req(f, XS_RM, 0, "device"), "EACCES");
	assert_error(write_(f, 0, "/local/domain/2/x", "x"), "EACCES");
	/* The guest's own node: it may open it to others, not give it away. */
	assert_ok(write_(f, 0, "data/mine", "v"), XS_WRITE);
	assert_ok(req_n(f, XS_SET_PERMS, 0, "data/mine\0n1\0r0", 16), XS_SET_PERMS);
	assert_error(req_n(f, XS_SET_PERMS, 0, "data/mine\0n0", 13), "EPERM");
	assert_error(req_n(f, XS_SET_PERMS, 0, "device\0n1", 10), "EACCES");
	assert_error(req_n(f, XS_SET_PERMS, 0, "data/mine\0x1", 13), "EINVAL");
	assert_error(req_n(f, XS_SET_PERMS, 0, "data/mine\0n99999999", 20), "EINVAL");
	assert_error(req_n(f, XS_SET_PERMS, 0, "data/mine\0", 10), "EINVAL");
	assert_error(req_n(f, XS_SET_PERMS, 0, "data/mine\0n1\0r2\0r3\0r4\0r5\0r6\0r7\0r8\0r9",
			   37), "EINVAL"); /* too many entries */
	/* A dom0 node the guest may read but not write. */
	assert_int_equal(xenstore_write(f->xs, "/local/domain/0/backend/vbd/1/state", "1"), 0);
	{
		const char *perms[] = {"n0", "r1"};

		assert_int_equal(xenstore_set_perms(f->xs, "/local/domain/0/backend/vbd/1/state",
						    perms, 2), 0);
	}
	assert_int_equal(req(f, XS_READ, 0, "/local/domain/0/backend/vbd/1/state")->type, XS_READ);
	assert_error(write_(f, 0, "/local/domain/0/backend/vbd/1/state", "4"), "EACCES");
}

static void test_quota(void **state)
{
	struct fake *f = *state;
	char path[64];
	struct msg *m = NULL;
	unsigned i;

	for (i = 0; i < XS_MAX_NODES + 10; i++) {
		snprintf(path, sizeof(path), "data/n%u", i);
		m = write_(f, 0, path, "");
		if (m->type == XS_ERROR)
			break;
	}
	assert_error(m, "ENOSPC");
	assert_true(i <= XS_MAX_NODES);
}

static void test_watches(void **state)
{
	struct fake *f = *state;
	struct msg *m;

	m = req_n(f, XS_WATCH, 0, "data\0tok", 9);
	assert_ok(m, XS_WATCH);
	assert_int_equal(f->n, 2); /* the initial event */
	assert_int_equal(f->msgs[1].type, XS_WATCH_EVENT);
	assert_string_equal(f->msgs[1].data, "data");
	assert_string_equal(f->msgs[1].data + 5, "tok");
	assert_error(req_n(f, XS_WATCH, 0, "data\0tok", 9), "EEXIST");
	write_(f, 0, "data/x", "1");
	assert_int_equal(f->n, 2);
	assert_int_equal(f->msgs[1].type, XS_WATCH_EVENT);
	assert_string_equal(f->msgs[1].data, "data/x"); /* relative, as registered */
	/* Not below the watch: nothing. */
	write_(f, 0, "control/x", "1");
	assert_int_equal(f->n, 1);
	/* An absolute watch below a removed subtree fires with its own path. */
	req_n(f, XS_WATCH, 0, "/local/domain/1/data/x/deep\0t2", 31);
	req(f, XS_RM, 0, "data");
	assert_int_equal(f->n, 3);
	/* Special paths are accepted and never fire on writes. */
	assert_ok(req_n(f, XS_WATCH, 0, "@releaseDomain\0t3", 18), XS_WATCH);
	assert_ok(req_n(f, XS_UNWATCH, 0, "data\0tok", 9), XS_UNWATCH);
	assert_error(req_n(f, XS_UNWATCH, 0, "data\0tok", 9), "ENOENT");
	/* Watches on what the guest may not read: no events leak from there. */
	assert_ok(req_n(f, XS_WATCH, 0, "/local/domain/0\0t4", 19), XS_WATCH);
	assert_int_equal(f->n, 1); /* not even the initial event */
	f->n = 0;
	assert_int_equal(xenstore_write(f->xs, "/local/domain/0/backend/secret", "1"), 0);
	assert_int_equal(f->n, 0);
	assert_ok(req(f, XS_RESET_WATCHES, 0, ""), XS_RESET_WATCHES);
	write_(f, 0, "data/y", "1");
	assert_int_equal(f->n, 1);
	/* Too many watches. */
	for (unsigned i = 0; i < XS_MAX_WATCHES + 2; i++) {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "data%c%u", '\0', i);

		m = req_n(f, XS_WATCH, 0, buf, (uint32_t)n + 1);
	}
	assert_error(m, "ENOSPC");
}

static uint32_t tx_start(struct fake *f)
{
	struct msg *m = req(f, XS_TRANSACTION_START, 0, "");

	assert_int_equal(m->type, XS_TRANSACTION_START);
	return (uint32_t)strtoul(m->data, NULL, 10);
}

static void test_transactions(void **state)
{
	struct fake *f = *state;
	uint32_t t = tx_start(f), t2;

	assert_true(t != 0);
	assert_ok(write_(f, t, "data/t", "in-tx"), XS_WRITE);
	assert_int_equal(req(f, XS_READ, t, "data/t")->type, XS_READ);
	assert_error(req(f, XS_READ, 0, "data/t"), "ENOENT"); /* not yet visible */
	assert_ok(req(f, XS_TRANSACTION_END, t, "T"), XS_TRANSACTION_END);
	assert_int_equal(req(f, XS_READ, 0, "data/t")->type, XS_READ);
	assert_error(req(f, XS_TRANSACTION_END, t, "T"), "ENOENT"); /* ended */
	/* A conflict: the tree changed meanwhile. */
	t = tx_start(f);
	t2 = tx_start(f);
	assert_ok(write_(f, t, "data/t", "a"), XS_WRITE);
	assert_ok(write_(f, 0, "data/u", "outside"), XS_WRITE);
	assert_error(req(f, XS_TRANSACTION_END, t, "T"), "EAGAIN");
	assert_memory_equal(req(f, XS_READ, 0, "data/t")->data, "in-tx", 5);
	/* Abort, bad end arguments, nesting. */
	assert_error(req(f, XS_TRANSACTION_END, t2, "X"), "EINVAL");
	assert_error(req(f, XS_TRANSACTION_START, t2, ""), "EINVAL");
	assert_ok(req(f, XS_TRANSACTION_END, t2, "F"), XS_TRANSACTION_END);
	/* Watches fire at commit, not before. */
	req_n(f, XS_WATCH, 0, "data/w\0tw", 10);
	t = tx_start(f);
	write_(f, t, "data/w", "1");
	assert_int_equal(f->n, 1);
	req(f, XS_TRANSACTION_END, t, "T");
	assert_int_equal(f->n, 2);
	assert_int_equal(f->msgs[1].type, XS_WATCH_EVENT);
	/* Too many at once. */
	for (unsigned i = 0; i < XS_MAX_TX; i++)
		tx_start(f);
	assert_error(req(f, XS_TRANSACTION_START, 0, ""), "ENOSPC");
}

/* The ring page, driven as a guest would, and then with impossible values. */
static void put_req(uint8_t *page, uint32_t *prod, const void *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++, (*prod)++)
		page[XS_RING_REQ + (*prod & (XENSTORE_RING_SIZE - 1))] = ((const uint8_t *)p)[i];
	memcpy(page + XS_RING_REQ_PROD, prod, 4);
}

struct got {
	unsigned n;
	uint32_t type, len;
};

static void on_msg(void *ctx, uint32_t type, uint32_t req_id, uint32_t tx_id, const uint8_t *p,
		   uint32_t len)
{
	struct got *g = ctx;

	g->n++;
	g->type = type;
	g->len = len;
}

static void test_ring(void **state)
{
	uint8_t *page = calloc(1, 4096);
	struct xs_ring r;
	struct got g = {0};
	uint32_t prod = 0, h[4] = {XS_READ, 1, 0, 5}, v;

	assert_non_null(page);
	xs_ring_init(&r, page);
	/* A message in two pieces, wrapping around the ring's end several times. */
	for (unsigned i = 0; i < 300; i++) {
		put_req(page, &prod, h, 10);
		assert_true(xs_ring_read(&r, on_msg, &g));
		put_req(page, &prod, (uint8_t *)h + 10, 6);
		put_req(page, &prod, "name", 5);
		xs_ring_read(&r, on_msg, &g);
		assert_int_equal(g.n, i + 1);
		assert_int_equal(g.len, 5);
	}
	memcpy(&v, page + XS_RING_REQ_CONS, 4);
	assert_int_equal(v, prod);
	/* Replies: more than the ring holds waits for the guest to consume. */
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(xs_ring_queue(&r, XS_READ, i, 0, page, 500), 0);
	assert_true(xs_ring_flush(&r));
	memcpy(&v, page + XS_RING_RSP_PROD, 4);
	assert_int_equal(v, XENSTORE_RING_SIZE);
	assert_false(xs_ring_flush(&r)); /* full */
	memcpy(page + XS_RING_RSP_CONS, &v, 4); /* the guest read it all */
	assert_true(xs_ring_flush(&r));
	/* A hostile producer index: the ring stops being served, without a crash. */
	prod += 5000;
	memcpy(page + XS_RING_REQ_PROD, &prod, 4);
	assert_false(xs_ring_read(&r, on_msg, &g));
	assert_true(r.broken);
	xs_ring_fini(&r);

	/* A length beyond the protocol's maximum. */
	xs_ring_init(&r, page);
	prod = 0;
	h[3] = XENSTORE_PAYLOAD_MAX + 1;
	put_req(page, &prod, h, 16);
	xs_ring_read(&r, on_msg, &g);
	assert_true(r.broken);
	xs_ring_fini(&r);

	/* A consumer index of the replies that cannot be. */
	memset(page, 0, 4096);
	xs_ring_init(&r, page);
	v = 77777;
	memcpy(page + XS_RING_RSP_CONS, &v, 4);
	assert_int_equal(xs_ring_queue(&r, XS_READ, 0, 0, "x", 1), 0);
	assert_false(xs_ring_flush(&r));
	assert_true(r.broken);
	/* Output is bounded when the guest never reads. */
	xs_ring_fini(&r);
	xs_ring_init(&r, page);
	{
		int rc = 0;

		for (unsigned i = 0; !rc && i < 1000; i++)
			rc = xs_ring_queue(&r, XS_READ, 0, 0, page, 4096);
		assert_int_equal(rc, -ENOSPC);
	}
	xs_ring_fini(&r);
	free(page);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_layout_and_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_dir_rm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_permissions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
		cmocka_unit_test(test_ring),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
