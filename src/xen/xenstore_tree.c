/* The xenstore tree: paths, nodes, permissions, bounded creation and removal. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xen/xen_abi.h"
#include "xen/xenstore_priv.h"

static bool xs_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '/' || c == '_' || c == '@';
}

int xs_path_canon(unsigned domid, const char *path, bool allow_special, char *out, size_t size)
{
	size_t len = strlen(path);
	int n;

	if (!len)
		return -EINVAL;
	if (path[0] == '@') {
		if (!allow_special || strchr(path, '/') || len >= size)
			return -EINVAL;
		for (size_t i = 1; i < len; i++)
			if (!xs_char_ok(path[i]))
				return -EINVAL;
		memcpy(out, path, len + 1);
		return 0;
	}
	if (path[0] == '/')
		n = snprintf(out, size, "%s", path);
	else
		n = snprintf(out, size, "/local/domain/%u/%s", domid, path);
	if (n < 0 || (size_t)n >= size || (size_t)n > XENSTORE_ABS_PATH_MAX)
		return -EINVAL;
	for (int i = 0; i < n; i++) {
		if (!xs_char_ok(out[i]) || (out[i] == '/' && out[i + 1] == '/'))
			return -EINVAL;
	}
	if (n > 1 && out[n - 1] == '/')
		return -EINVAL;
	return 0;
}

struct xs_node *xs_node_new(const char *name, size_t nlen, struct xs_node *parent)
{
	struct xs_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->name = strndup(name, nlen);
	if (!n->name) {
		free(n);
		return NULL;
	}
	n->parent = parent;
	if (parent) {
		memcpy(n->perms, parent->perms, sizeof(n->perms));
		n->nperms = parent->nperms;
		n->next = parent->children;
		parent->children = n;
	}
	return n;
}

void xs_node_free(struct xs_node *n)
{
	while (n) {
		struct xs_node *next = n->next;

		xs_node_free(n->children);
		free(n->name);
		free(n->value);
		free(n);
		n = next;
	}
}

/* Copy n and its subtree (not its siblings). */
struct xs_node *xs_node_copy(const struct xs_node *n, struct xs_node *parent)
{
	struct xs_node *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	*c = *n;
	c->parent = parent;
	c->children = c->next = NULL;
	c->name = strdup(n->name);
	c->value = n->vlen ? malloc(n->vlen) : NULL;
	if (!c->name || (n->vlen && !c->value)) {
		free(c->name);
		free(c->value);
		free(c);
		return NULL;
	}
	if (n->vlen)
		memcpy(c->value, n->value, n->vlen);
	/* Children end up in reverse order; order carries no meaning in xenstore. */
	for (const struct xs_node *k = n->children; k; k = k->next) {
		struct xs_node *kc = xs_node_copy(k, c);

		if (!kc) {
			xs_node_free(c);
			return NULL;
		}
		kc->next = c->children;
		c->children = kc;
	}
	return c;
}

static struct xs_node *xs_child(struct xs_node *n, const char *name, size_t len)
{
	for (struct xs_node *k = n->children; k; k = k->next)
		if (strlen(k->name) == len && !memcmp(k->name, name, len))
			return k;
	return NULL;
}

struct xs_node *xs_lookup_closest(struct xs_node *root, const char *abs)
{
	struct xs_node *n = root;
	const char *p = abs + 1;

	while (*p) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		struct xs_node *k = xs_child(n, p, len);

		if (!k)
			break;
		n = k;
		p += len + (end ? 1 : 0);
	}
	return n;
}

struct xs_node *xs_lookup(struct xs_node *root, const char *abs)
{
	struct xs_node *n = root;
	const char *p = abs + 1;

	while (n && *p) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		n = xs_child(n, p, len);
		p += len + (end ? 1 : 0);
	}
	return n;
}

unsigned xs_perm_of(const struct xs_node *n, unsigned domid)
{
	if (domid == 0 || n->perms[0].domid == domid)
		return XS_PERM_READ | XS_PERM_WRITE;
	for (unsigned i = 1; i < n->nperms; i++)
		if (n->perms[i].domid == domid)
			return n->perms[i].perm;
	return n->perms[0].perm;
}

void xs_count(const struct xs_node *n, unsigned *nodes, uint64_t *bytes)
{
	*nodes += 1;
	*bytes += n->vlen;
	for (const struct xs_node *k = n->children; k; k = k->next)
		xs_count(k, nodes, bytes);
}

static int xs_set_value(struct xs_node *n, const uint8_t *value, uint32_t vlen)
{
	uint8_t *v = NULL;

	if (vlen) {
		v = malloc(vlen);
		if (!v)
			return -ENOMEM;
		memcpy(v, value, vlen);
	}
	free(n->value);
	n->value = v;
	n->vlen = vlen;
	return 0;
}

int xs_tree_write(struct xs_node *root, unsigned domid, const char *abs, const uint8_t *value,
		  uint32_t vlen, bool only_create)
{
	struct xs_node *n = xs_lookup_closest(root, abs);
	unsigned nodes = 0;
	uint64_t bytes = 0;
	const char *p;

	if (!(xs_perm_of(n, domid) & XS_PERM_WRITE))
		return -EACCES;
	xs_count(root, &nodes, &bytes);
	if (value && bytes + vlen > XS_MAX_BYTES)
		return -ENOSPC;
	/* Walk down again, creating what is missing below the closest existing node. */
	n = root;
	p = abs + 1;
	while (*p) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		struct xs_node *k = xs_child(n, p, len);

		if (!k) {
			if (++nodes > XS_MAX_NODES)
				return -ENOSPC;
			k = xs_node_new(p, len, n);
			if (!k)
				return -ENOMEM;
			if (domid != 0)
				k->perms[0].domid = (uint16_t)domid;
		}
		n = k;
		p += len + (end ? 1 : 0);
	}
	if (only_create || !value)
		return 0;
	return xs_set_value(n, value, vlen);
}

int xs_tree_rm(struct xs_node *root, unsigned domid, const char *abs)
{
	struct xs_node *n = xs_lookup(root, abs), **pp;

	if (n == root)
		return -EINVAL;
	if (!n)
		return -ENOENT;
	if (!(xs_perm_of(n, domid) & XS_PERM_WRITE))
		return -EACCES;
	for (pp = &n->parent->children; *pp != n; pp = &(*pp)->next)
		;
	*pp = n->next;
	n->next = NULL;
	xs_node_free(n);
	return 0;
}

int xs_perms_parse(const char *buf, size_t len, struct xs_perm *perms, unsigned max)
{
	unsigned n = 0;
	size_t i = 0;

	while (i < len) {
		const char *e = buf + i;
		size_t elen = strnlen(e, len - i);
		unsigned long id = 0;

		if (elen < 2 || elen > 6 || n == max)
			return -EINVAL;
		for (size_t j = 1; j < elen; j++) {
			if (e[j] < '0' || e[j] > '9')
				return -EINVAL;
			id = id * 10 + (unsigned long)(e[j] - '0');
		}
		if (id > 0xffff)
			return -EINVAL;
		switch (e[0]) {
		case 'n': perms[n].perm = 0; break;
		case 'r': perms[n].perm = XS_PERM_READ; break;
		case 'w': perms[n].perm = XS_PERM_WRITE; break;
		case 'b': perms[n].perm = XS_PERM_READ | XS_PERM_WRITE; break;
		default: return -EINVAL;
		}
		perms[n++].domid = (uint16_t)id;
		i += elen + 1;
	}
	return n ? (int)n : -EINVAL;
}
