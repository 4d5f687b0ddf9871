/* xenstore served by azote: the tree of nodes with permissions, transactions and watches, as the
 * xenstore wire protocol (io/xs_wire.h) asks for them. Transport-free: requests come in as
 * decoded messages (xs_ring.c reads them from the guest's ring page) and replies and watch
 * events go out through a send callback.
 *
 * Everything a guest sends is untrusted: paths are checked (characters, length, no empty
 * elements), permissions are enforced for every domain but 0 (azote itself), and the tree is
 * bounded (node count, bytes of values, watches, transactions), so a guest gets an error reply
 * ("EINVAL", "EACCES", "ENOENT", "ENOSPC", "E2BIG", "EAGAIN"...) and never a crash.
 *
 * Transactions are optimistic: a transaction works on its own copy of the tree and commits only
 * if nothing changed the tree since it started; otherwise the commit fails with EAGAIN and the
 * guest retries, as xenstore clients do. Single-threaded: the VMM's event loop owns it. */
#ifndef AZOTE_XEN_XENSTORE_H
#define AZOTE_XEN_XENSTORE_H

#include <stddef.h>
#include <stdint.h>

#define XS_MAX_NODES	  2048
#define XS_MAX_BYTES	  (512u << 10) /* bytes of values in one tree */
#define XS_MAX_WATCHES	  128
#define XS_MAX_TX	  16
#define XS_MAX_PERMS	  8
#define XS_MAX_OWN_WATCHES 16

struct xenstore;

/* Sends one message (a reply or a watch event) to the guest's connection. */
typedef void (*xenstore_send_fn)(void *ctx, uint32_t type, uint32_t req_id, uint32_t tx_id,
				 const void *payload, uint32_t len);

/* azote's own watch: called after a change at, above or below path (and when the subtree
 * goes away), once the change is in the tree; it may read and write the store. */
typedef void (*xenstore_watch_fn)(void *ctx, const char *path);

/* A store with "/" and the standard layout for guest domid (name, domid, device, control, data,
 * console, and /local/domain/0 for the backends). 0 or -ENOMEM. */
__attribute__((warn_unused_result)) int xenstore_create(struct xenstore **out, unsigned guest_domid,
							const char *guest_name,
							xenstore_send_fn send, void *ctx);
/* Free everything. Accepts NULL. */
void xenstore_destroy(struct xenstore *xs);

/* Handle one request from domain domid's connection; answers it through send (exactly one reply
 * or error), then sends the watch events it caused. payload holds len bytes (len <= 4096). */
void xenstore_request(struct xenstore *xs, unsigned domid, uint32_t type, uint32_t req_id,
		      uint32_t tx_id, const uint8_t *payload, uint32_t len);

/* azote's own (domain 0) writes, outside transactions: value, and permissions in the wire form
 * ("n0", "r1"...: the first entry names the owner). 0 or -errno. */
__attribute__((warn_unused_result)) int xenstore_write(struct xenstore *xs, const char *path,
						       const char *value);
__attribute__((warn_unused_result)) int xenstore_set_perms(struct xenstore *xs, const char *path,
							   const char *const *perms, unsigned n);
/* Watch path (absolute) as domain 0 with fn; no event at once. 0 or -ENOSPC/-ENOMEM. */
__attribute__((warn_unused_result)) int xenstore_watch(struct xenstore *xs, const char *path,
						       xenstore_watch_fn fn, void *ctx);
/* Read path's value as domain 0 into buf (NUL-terminated, truncated). Length or -ENOENT. */
int xenstore_read(struct xenstore *xs, const char *path, char *buf, size_t len);

#endif
