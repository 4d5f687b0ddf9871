/* xenstore internals shared by the tree (xenstore_tree.c) and the protocol (xenstore.c). */
#ifndef AZOTE_XEN_XENSTORE_PRIV_H
#define AZOTE_XEN_XENSTORE_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "xen/xenstore.h"

#define XS_PERM_READ  1u
#define XS_PERM_WRITE 2u

struct xs_perm {
	uint16_t domid;
	uint8_t perm; /* XS_PERM_* */
};

struct xs_node {
	char *name; /* path element ("" for the root) */
	uint8_t *value;
	uint32_t vlen;
	struct xs_perm perms[XS_MAX_PERMS]; /* [0]: owner, and what other domains get by default */
	unsigned nperms;
	struct xs_node *parent, *children, *next;
};

/* Paths: canonical absolute form of path for domid (relative paths are under
 * /local/domain/<domid>). 0 or -EINVAL. Special "@..." watch paths are accepted if allow_special. */
int xs_path_canon(unsigned domid, const char *path, bool allow_special, char *out, size_t size);

struct xs_node *xs_node_new(const char *name, size_t nlen, struct xs_node *parent);
void xs_node_free(struct xs_node *n);
struct xs_node *xs_node_copy(const struct xs_node *n, struct xs_node *parent);
struct xs_node *xs_lookup(struct xs_node *root, const char *abs);
/* The deepest existing node on abs's way down (root at worst). */
struct xs_node *xs_lookup_closest(struct xs_node *root, const char *abs);
unsigned xs_perm_of(const struct xs_node *n, unsigned domid);
/* Nodes and bytes of values under (and including) n. */
void xs_count(const struct xs_node *n, unsigned *nodes, uint64_t *bytes);

/* Create abs and missing ancestors (new nodes inherit their parent's permissions, owned by
 * domid unless 0) and set its value if value is not NULL. 0 or -EACCES/-ENOSPC/-ENOMEM. */
int xs_tree_write(struct xs_node *root, unsigned domid, const char *abs, const uint8_t *value,
		  uint32_t vlen, bool only_create);
/* Remove abs and its subtree. 0, -ENOENT, -EACCES or -EINVAL (the root). */
int xs_tree_rm(struct xs_node *root, unsigned domid, const char *abs);
/* Parse the wire form of permissions (entries separated by NULs) into perms. Count or -EINVAL. */
int xs_perms_parse(const char *buf, size_t len, struct xs_perm *perms, unsigned max);

#endif
