/* The xenstore protocol: requests, transactions, watches, and the standard layout. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xen/xen_abi.h"
#include "xen/xenstore_priv.h"

#define XS_PATH_BUF (XENSTORE_ABS_PATH_MAX + 64)
#define XS_TX_CHANGES 64 /* paths remembered per transaction; beyond, every watch fires */

struct xs_watch {
	char *path; /* as the guest gave it (events use the same form) */
	char *abs;
	char *token;
	unsigned domid;
};

struct xs_tx {
	uint32_t id;
	unsigned domid;
	struct xs_node *root; /* the transaction's own copy of the tree */
	uint64_t base_gen;
	char *changed[XS_TX_CHANGES];
	unsigned nchanged;
	bool changed_all;
};

struct xs_own_watch {
	char *abs;
	xenstore_watch_fn fn;
	void *ctx;
};

struct xenstore {
	struct xs_node *root;
	struct xs_own_watch own[XS_MAX_OWN_WATCHES]; /* azote's (domain 0) watches */
	unsigned nown;
	bool in_own; /* an own watch runs: its writes fire only the guest's watches */
	uint64_t gen; /* bumped by every change outside transactions and every commit */
	unsigned guest_domid;
	xenstore_send_fn send;
	void *ctx;
	struct xs_watch watches[XS_MAX_WATCHES];
	unsigned nwatches;
	struct xs_tx *tx[XS_MAX_TX];
	uint32_t next_tx;
};

static void xs_error(struct xenstore *xs, uint32_t req_id, uint32_t tx_id, int err)
{
	const char *s;

	switch (err) {
	case -ENOENT: s = "ENOENT"; break;
	case -EACCES: s = "EACCES"; break;
	case -EEXIST: s = "EEXIST"; break;
	case -ENOMEM: s = "ENOMEM"; break;
	case -ENOSPC: s = "ENOSPC"; break;
	case -E2BIG: s = "E2BIG"; break;
	case -EAGAIN: s = "EAGAIN"; break;
	case -EBUSY: s = "EBUSY"; break;
	case -ENOSYS: s = "ENOSYS"; break;
	case -EPERM: s = "EPERM"; break;
	default: s = "EINVAL"; break;
	}
	xs->send(xs->ctx, XS_ERROR, req_id, tx_id, s, (uint32_t)strlen(s) + 1);
}

static void xs_ok(struct xenstore *xs, uint32_t type, uint32_t req_id, uint32_t tx_id)
{
	xs->send(xs->ctx, type, req_id, tx_id, "OK", 3);
}

/* The form of abs a watch registered as `given` reports: relative if it was. */
static const char *xs_event_path(const struct xs_watch *w, const char *abs, char *buf, size_t len)
{
	int n;

	if (w->path[0] == '/' || w->path[0] == '@')
		return abs;
	n = snprintf(buf, len, "/local/domain/%u/", w->domid);
	if (n > 0 && (size_t)n < len && !strncmp(abs, buf, (size_t)n))
		return abs + n;
	return abs;
}

static void xs_send_event(struct xenstore *xs, const struct xs_watch *w, const char *abs)
{
	char rel[64], msg[XENSTORE_PAYLOAD_MAX];
	const char *path = xs_event_path(w, abs, rel, sizeof(rel));
	size_t pl = strlen(path), tl = strlen(w->token);

	if (pl + tl + 2 > sizeof(msg))
		return;
	memcpy(msg, path, pl + 1);
	memcpy(msg + pl + 1, w->token, tl + 1);
	xs->send(xs->ctx, XS_WATCH_EVENT, 0, 0, msg, (uint32_t)(pl + tl + 2));
}

static bool xs_is_under(const char *path, const char *top)
{
	size_t n = strlen(top);

	if (!strcmp(top, "/"))
		return path[0] == '/';
	return !strncmp(path, top, n) && (path[n] == '\0' || path[n] == '/');
}

/* abs changed (or its subtree went away): fire the watches on it, above it and below it. */
static void xs_fire(struct xenstore *xs, const char *abs)
{
	for (unsigned i = 0; i < xs->nwatches; i++) {
		struct xs_watch *w = &xs->watches[i];
		struct xs_node *n;

		if (w->abs[0] == '@')
			continue;
		if (xs_is_under(abs, w->abs)) {
			n = xs_lookup(xs->root, abs);
			if (!n || (xs_perm_of(n, w->domid) & XS_PERM_READ))
				xs_send_event(xs, w, abs);
		} else if (xs_is_under(w->abs, abs)) {
			xs_send_event(xs, w, w->abs);
		}
	}
	if (xs->in_own)
		return;
	xs->in_own = true;
	for (unsigned i = 0; i < xs->nown; i++)
		if (xs_is_under(abs, xs->own[i].abs) || xs_is_under(xs->own[i].abs, abs))
			xs->own[i].fn(xs->own[i].ctx, abs);
	xs->in_own = false;
}

static void xs_fire_all(struct xenstore *xs)
{
	for (unsigned i = 0; i < xs->nwatches; i++)
		if (xs->watches[i].abs[0] != '@')
			xs_send_event(xs, &xs->watches[i], xs->watches[i].abs);
	for (unsigned i = 0; !xs->in_own && i < xs->nown; i++) {
		xs->in_own = true;
		xs->own[i].fn(xs->own[i].ctx, xs->own[i].abs);
		xs->in_own = false;
	}
}

/* A change: fired now outside a transaction, remembered for the commit inside one. */
static void xs_changed(struct xenstore *xs, struct xs_tx *tx, const char *abs)
{
	if (!tx) {
		xs->gen++;
		xs_fire(xs, abs);
		return;
	}
	if (tx->nchanged == XS_TX_CHANGES) {
		tx->changed_all = true;
		return;
	}
	tx->changed[tx->nchanged] = strdup(abs);
	if (tx->changed[tx->nchanged])
		tx->nchanged++;
	else
		tx->changed_all = true;
}

static void xs_tx_free(struct xs_tx *tx)
{
	if (!tx)
		return;
	xs_node_free(tx->root);
	for (unsigned i = 0; i < tx->nchanged; i++)
		free(tx->changed[i]);
	free(tx);
}

static struct xs_tx **xs_tx_find(struct xenstore *xs, unsigned domid, uint32_t id)
{
	for (unsigned i = 0; i < XS_MAX_TX; i++)
		if (xs->tx[i] && xs->tx[i]->id == id && xs->tx[i]->domid == domid)
			return &xs->tx[i];
	return NULL;
}

static int xs_tx_start(struct xenstore *xs, unsigned domid, uint32_t *id)
{
	struct xs_tx *tx;

	for (unsigned i = 0; i < XS_MAX_TX; i++) {
		if (xs->tx[i])
			continue;
		tx = calloc(1, sizeof(*tx));
		if (!tx)
			return -ENOMEM;
		tx->root = xs_node_copy(xs->root, NULL);
		if (!tx->root) {
			free(tx);
			return -ENOMEM;
		}
		do
			tx->id = ++xs->next_tx;
		while (tx->id == 0);
		tx->domid = domid;
		tx->base_gen = xs->gen;
		xs->tx[i] = tx;
		*id = tx->id;
		return 0;
	}
	return -ENOSPC;
}

/* End a transaction; on success the reply goes out before the watch events it causes. */
static int xs_tx_end(struct xenstore *xs, struct xs_tx **slot, bool commit, uint32_t req_id)
{
	struct xs_tx *tx = *slot;
	int rc = 0;

	*slot = NULL;
	if (commit && tx->base_gen != xs->gen)
		rc = -EAGAIN; /* someone changed the tree meanwhile: the guest retries */
	if (!rc)
		xs_ok(xs, XS_TRANSACTION_END, req_id, tx->id);
	if (commit && !rc && (tx->nchanged || tx->changed_all)) {
		xs_node_free(xs->root);
		xs->root = tx->root;
		tx->root = NULL;
		xs->gen++;
		if (tx->changed_all)
			xs_fire_all(xs);
		for (unsigned i = 0; !tx->changed_all && i < tx->nchanged; i++)
			xs_fire(xs, tx->changed[i]);
	}
	xs_tx_free(tx);
	return rc;
}

static int xs_watch_add(struct xenstore *xs, unsigned domid, const char *path, const char *token,
			const char *abs)
{
	struct xs_watch *w;

	for (unsigned i = 0; i < xs->nwatches; i++)
		if (xs->watches[i].domid == domid && !strcmp(xs->watches[i].path, path) &&
		    !strcmp(xs->watches[i].token, token))
			return -EEXIST;
	if (xs->nwatches == XS_MAX_WATCHES)
		return -ENOSPC;
	w = &xs->watches[xs->nwatches];
	w->path = strdup(path);
	w->abs = strdup(abs);
	w->token = strdup(token);
	w->domid = domid;
	if (!w->path || !w->abs || !w->token) {
		free(w->path);
		free(w->abs);
		free(w->token);
		return -ENOMEM;
	}
	xs->nwatches++;
	return 0;
}

static void xs_watch_del(struct xenstore *xs, unsigned i)
{
	free(xs->watches[i].path);
	free(xs->watches[i].abs);
	free(xs->watches[i].token);
	xs->watches[i] = xs->watches[--xs->nwatches];
}

static int xs_unwatch(struct xenstore *xs, unsigned domid, const char *path, const char *token)
{
	for (unsigned i = 0; i < xs->nwatches; i++) {
		if (xs->watches[i].domid == domid && !strcmp(xs->watches[i].path, path) &&
		    !strcmp(xs->watches[i].token, token)) {
			xs_watch_del(xs, i);
			return 0;
		}
	}
	return -ENOENT;
}

/* XS_DIRECTORY: the children's names, each NUL-terminated. */
static int xs_directory(struct xenstore *xs, struct xs_node *n, unsigned domid, uint32_t req_id,
			uint32_t tx_id)
{
	char buf[XENSTORE_PAYLOAD_MAX];
	size_t len = 0;

	if (!(xs_perm_of(n, domid) & XS_PERM_READ))
		return -EACCES;
	for (struct xs_node *k = n->children; k; k = k->next) {
		size_t l = strlen(k->name) + 1;

		if (len + l > sizeof(buf))
			return -E2BIG;
		memcpy(buf + len, k->name, l);
		len += l;
	}
	xs->send(xs->ctx, XS_DIRECTORY, req_id, tx_id, buf, (uint32_t)len);
	return 0;
}

static int xs_get_perms(struct xenstore *xs, struct xs_node *n, unsigned domid, uint32_t req_id,
			uint32_t tx_id)
{
	static const char letter[] = {'n', 'r', 'w', 'b'};
	char buf[XS_MAX_PERMS * 8];
	size_t len = 0;

	if (!(xs_perm_of(n, domid) & XS_PERM_READ))
		return -EACCES;
	for (unsigned i = 0; i < n->nperms; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%c%u", letter[n->perms[i].perm & 3],
					n->perms[i].domid) + 1;
	xs->send(xs->ctx, XS_GET_PERMS, req_id, tx_id, buf, (uint32_t)len);
	return 0;
}

static int xs_set_perms(struct xs_node *n, unsigned domid, const char *buf, size_t len)
{
	struct xs_perm perms[XS_MAX_PERMS];
	int np = xs_perms_parse(buf, len, perms, XS_MAX_PERMS);

	if (np < 0)
		return -EINVAL;
	if (domid != 0 && n->perms[0].domid != domid)
		return -EACCES; /* only the owner (or domain 0) */
	if (domid != 0 && perms[0].domid != domid)
		return -EPERM; /* a guest cannot give its nodes away */
	memcpy(n->perms, perms, sizeof(perms));
	n->nperms = (unsigned)np;
	return 0;
}

/* The operations on one node, in a transaction's tree or the store's. */
static int xs_node_op(struct xenstore *xs, struct xs_tx *tx, unsigned domid, uint32_t type,
		      uint32_t req_id, uint32_t tx_id, const char *abs, const char *rest,
		      size_t rest_len)
{
	struct xs_node *root = tx ? tx->root : xs->root;
	struct xs_node *n = xs_lookup(root, abs);
	int rc;

	switch (type) {
	case XS_READ:
		if (!n)
			return -ENOENT;
		if (!(xs_perm_of(n, domid) & XS_PERM_READ))
			return -EACCES;
		xs->send(xs->ctx, XS_READ, req_id, tx_id, n->value, n->vlen);
		return 0;
	case XS_DIRECTORY:
		return n ? xs_directory(xs, n, domid, req_id, tx_id) : -ENOENT;
	case XS_GET_PERMS:
		return n ? xs_get_perms(xs, n, domid, req_id, tx_id) : -ENOENT;
	case XS_WRITE:
	case XS_MKDIR:
		if (type == XS_MKDIR && n) {
			xs_ok(xs, type, req_id, tx_id);
			return 0;
		}
		rc = xs_tree_write(root, domid, abs, (const uint8_t *)rest, (uint32_t)rest_len,
				   type == XS_MKDIR);
		break;
	case XS_RM:
		rc = xs_tree_rm(root, domid, abs);
		/* Removing what is not there is fine when its parent exists (as xenstored). */
		if (rc == -ENOENT) {
			char parent[XS_PATH_BUF];

			snprintf(parent, sizeof(parent), "%.*s", (int)(strrchr(abs, '/') - abs), abs);
			if (!parent[0] || xs_lookup(root, parent)) {
				xs_ok(xs, type, req_id, tx_id);
				return 0;
			}
		}
		break;
	case XS_SET_PERMS:
		rc = n ? xs_set_perms(n, domid, rest, rest_len) : -ENOENT;
		break;
	default:
		return -ENOSYS;
	}
	if (rc)
		return rc;
	xs_ok(xs, type, req_id, tx_id);
	xs_changed(xs, tx, abs);
	return 0;
}

/* Split the payload into its first string (NUL-terminated, or the whole payload) and the rest. */
static const char *xs_first(const char *p, uint32_t len, const char **rest, size_t *rest_len)
{
	size_t n = strnlen(p, len);

	*rest = n < len ? p + n + 1 : p + len;
	*rest_len = n < len ? len - n - 1 : 0;
	return p;
}

static int xs_dispatch(struct xenstore *xs, unsigned domid, uint32_t type, uint32_t req_id,
		       uint32_t tx_id, const char *p, uint32_t len)
{
	char abs[XS_PATH_BUF], out[32];
	struct xs_tx **slot = NULL;
	const char *rest;
	size_t rest_len;
	const char *arg = xs_first(p, len, &rest, &rest_len);
	uint32_t id;
	int rc;

	if (tx_id) {
		slot = xs_tx_find(xs, domid, tx_id);
		if (!slot)
			return -ENOENT;
	}
	switch (type) {
	case XS_READ:
	case XS_WRITE:
	case XS_MKDIR:
	case XS_RM:
	case XS_DIRECTORY:
	case XS_GET_PERMS:
	case XS_SET_PERMS:
		if (type == XS_WRITE && !memchr(p, '\0', len))
			return -EINVAL; /* "path\0value": the separator is required */
		if (xs_path_canon(domid, arg, false, abs, sizeof(abs)))
			return -EINVAL;
		return xs_node_op(xs, slot ? *slot : NULL, domid, type, req_id, tx_id, abs, rest,
				  rest_len);
	case XS_WATCH:
	case XS_UNWATCH:
		if (!memchr(rest, '\0', rest_len) ||
		    xs_path_canon(domid, arg, true, abs, sizeof(abs)))
			return -EINVAL;
		rc = type == XS_WATCH ? xs_watch_add(xs, domid, arg, rest, abs)
				      : xs_unwatch(xs, domid, arg, rest);
		if (rc)
			return rc;
		xs_ok(xs, type, req_id, tx_id);
		/* A new watch fires once at once (if the guest may see the node). */
		if (type == XS_WATCH) {
			struct xs_node *n = abs[0] == '@' ? NULL : xs_lookup(xs->root, abs);

			if (!n || (xs_perm_of(n, domid) & XS_PERM_READ))
				xs_send_event(xs, &xs->watches[xs->nwatches - 1], abs);
		}
		return 0;
	case XS_TRANSACTION_START:
		if (tx_id)
			return -EINVAL; /* no nesting */
		rc = xs_tx_start(xs, domid, &id);
		if (rc)
			return rc;
		xs->send(xs->ctx, type, req_id, 0, out,
			 (uint32_t)snprintf(out, sizeof(out), "%u", id) + 1);
		return 0;
	case XS_TRANSACTION_END:
		if (!slot || (strcmp(arg, "T") && strcmp(arg, "F")))
			return slot ? -EINVAL : -ENOENT;
		return xs_tx_end(xs, slot, arg[0] == 'T', req_id);
	case XS_GET_DOMAIN_PATH:
		if (!len || strspn(arg, "0123456789") != strlen(arg) || strlen(arg) > 5 ||
		    !arg[0] || atoi(arg) > 0xffff)
			return -EINVAL;
		snprintf(abs, sizeof(abs), "/local/domain/%d", atoi(arg));
		xs->send(xs->ctx, type, req_id, tx_id, abs, (uint32_t)strlen(abs) + 1);
		return 0;
	case XS_IS_DOMAIN_INTRODUCED:
		id = (uint32_t)atoi(arg);
		xs->send(xs->ctx, type, req_id, tx_id, id == 0 || id == xs->guest_domid ? "T" : "F",
			 2);
		return 0;
	case XS_RESET_WATCHES:
		for (unsigned i = xs->nwatches; i-- > 0;)
			if (xs->watches[i].domid == domid)
				xs_watch_del(xs, i);
		xs_ok(xs, type, req_id, tx_id);
		return 0;
	case XS_INTRODUCE:
	case XS_RELEASE:
	case XS_RESUME:
	case XS_SET_TARGET:
	case XS_CONTROL:
		if (domid != 0)
			return -EACCES; /* the toolstack's operations */
		xs_ok(xs, type, req_id, tx_id);
		return 0;
	default:
		return -ENOSYS;
	}
}

void xenstore_request(struct xenstore *xs, unsigned domid, uint32_t type, uint32_t req_id,
		      uint32_t tx_id, const uint8_t *payload, uint32_t len)
{
	char p[XENSTORE_PAYLOAD_MAX + 1];
	int rc;

	if (len > XENSTORE_PAYLOAD_MAX) {
		xs_error(xs, req_id, tx_id, -E2BIG);
		return;
	}
	/* A private, terminated copy: the guest may change the ring while we parse. */
	memcpy(p, payload, len);
	p[len] = '\0';
	rc = xs_dispatch(xs, domid, type, req_id, tx_id, p, len);
	if (rc)
		xs_error(xs, req_id, tx_id, rc);
}

int xenstore_write(struct xenstore *xs, const char *path, const char *value)
{
	int rc = xs_tree_write(xs->root, 0, path, (const uint8_t *)value, (uint32_t)strlen(value),
			       false);

	if (!rc)
		xs_changed(xs, NULL, path);
	return rc;
}

int xenstore_set_perms(struct xenstore *xs, const char *path, const char *const *perms,
		       unsigned n)
{
	char buf[XS_MAX_PERMS * 8];
	size_t len = 0;
	struct xs_node *node = xs_lookup(xs->root, path);

	if (!node)
		return -ENOENT;
	for (unsigned i = 0; i < n && i < XS_MAX_PERMS; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s", perms[i]) + 1;
	return xs_set_perms(node, 0, buf, len);
}

int xenstore_watch(struct xenstore *xs, const char *path, xenstore_watch_fn fn, void *ctx)
{
	if (xs->nown == XS_MAX_OWN_WATCHES)
		return -ENOSPC;
	xs->own[xs->nown].abs = strdup(path);
	if (!xs->own[xs->nown].abs)
		return -ENOMEM;
	xs->own[xs->nown].fn = fn;
	xs->own[xs->nown].ctx = ctx;
	xs->nown++;
	return 0;
}

int xenstore_read(struct xenstore *xs, const char *path, char *buf, size_t len)
{
	struct xs_node *n = xs_lookup(xs->root, path);
	size_t l;

	if (!n || !len)
		return -ENOENT;
	l = n->vlen < len - 1 ? n->vlen : len - 1;
	memcpy(buf, n->value, l);
	buf[l] = '\0';
	return (int)n->vlen;
}

/* What a toolstack writes for a new domain: the guest reads its own directory and may write in
 * control/, data/ and device/ frontends only where it owns nodes; backends are domain 0's. */
static int xs_layout(struct xenstore *xs, unsigned domid, const char *name)
{
	char dom[48], path[96], id[16], owner_read[16];
	const char *dom_perms[] = {"n0", owner_read};
	const char *own[] = {owner_read};
	int rc;

	snprintf(dom, sizeof(dom), "/local/domain/%u", domid);
	snprintf(id, sizeof(id), "%u", domid);
	snprintf(owner_read, sizeof(owner_read), "r%u", domid);
	rc = xenstore_write(xs, "/local/domain/0/name", "Domain-0");
	rc = rc ? rc : xenstore_write(xs, "/local/domain/0/domid", "0");
	rc = rc ? rc : xenstore_write(xs, "/local/domain/0/backend", "");
	rc = rc ? rc : xenstore_write(xs, dom, "");
	rc = rc ? rc : xenstore_set_perms(xs, dom, dom_perms, 2);
	snprintf(path, sizeof(path), "%s/name", dom);
	rc = rc ? rc : xenstore_write(xs, path, name);
	snprintf(path, sizeof(path), "%s/domid", dom);
	rc = rc ? rc : xenstore_write(xs, path, id);
	snprintf(path, sizeof(path), "%s/device", dom);
	rc = rc ? rc : xenstore_write(xs, path, "");
	snprintf(path, sizeof(path), "%s/console/type", dom);
	rc = rc ? rc : xenstore_write(xs, path, "xenconsoled");
	/* The guest's own areas: owned by it ("b" for the owner is implied). */
	snprintf(owner_read, sizeof(owner_read), "n%u", domid);
	snprintf(path, sizeof(path), "%s/control", dom);
	rc = rc ? rc : xenstore_write(xs, path, "");
	rc = rc ? rc : xenstore_set_perms(xs, path, own, 1);
	snprintf(path, sizeof(path), "%s/data", dom);
	rc = rc ? rc : xenstore_write(xs, path, "");
	rc = rc ? rc : xenstore_set_perms(xs, path, own, 1);
	return rc;
}

int xenstore_create(struct xenstore **out, unsigned guest_domid, const char *guest_name,
		    xenstore_send_fn send, void *ctx)
{
	struct xenstore *xs = calloc(1, sizeof(*xs));

	if (!xs)
		return -ENOMEM;
	xs->guest_domid = guest_domid;
	xs->send = send;
	xs->ctx = ctx;
	xs->root = xs_node_new("", 0, NULL);
	if (!xs->root) {
		free(xs);
		return -ENOMEM;
	}
	xs->root->perms[0] = (struct xs_perm){.domid = 0, .perm = 0};
	xs->root->nperms = 1;
	if (xs_layout(xs, guest_domid, guest_name)) {
		xenstore_destroy(xs);
		return -ENOMEM;
	}
	*out = xs;
	return 0;
}

void xenstore_destroy(struct xenstore *xs)
{
	if (!xs)
		return;
	for (unsigned i = 0; i < XS_MAX_TX; i++)
		xs_tx_free(xs->tx[i]);
	while (xs->nwatches)
		xs_watch_del(xs, xs->nwatches - 1);
	for (unsigned i = 0; i < xs->nown; i++)
		free(xs->own[i].abs);
	xs_node_free(xs->root);
	free(xs);
}
