/* A Xen virtual block device (vbd) as a toolstack and a backend driver present it: the xenstore
 * nodes of both ends (/local/domain/0/backend/vbd/<dom>/<devid> and
 * /local/domain/<dom>/device/vbd/<devid>), the xenbus handshake driven by a watch on the
 * frontend's state (InitWait -> Connected, Closing -> Closed, and back for a reconnect), and
 * the frontend's event channel bound to azote's side. The ring itself is served by a device
 * process (azote-blk --xen-blkif) over its socket (xen/xen_blkif_abi.h): azote hands it the
 * ring's grant reference and never touches a request. */
#ifndef AZOTE_XEN_XEN_VBD_H
#define AZOTE_XEN_XEN_VBD_H

#include <stdbool.h>
#include <stdint.h>

#include "util/evloop.h"

struct xen_hv;
struct xenstore;

struct xen_vbd_config {
	const char *name;  /* "disk xvda": the prefix of messages */
	const char *path;  /* the image, for the backend's params node */
	unsigned index;	   /* 0 for xvda, 1 for xvdb... */
	unsigned dom0_port; /* azote's end of the vbd's event channel */
	uint64_t sectors;
	bool ro;
	int sock;     /* the device process's socket (not owned) */
	int kick_efd; /* KVM signals it on the guest's notifications (owned) */
	int call_efd; /* the device process signals it to notify the guest (owned) */
};

struct xen_vbd;

/* Write both ends' nodes (backend in InitWait) and watch the frontend. 0 or -errno. */
__attribute__((warn_unused_result)) int xen_vbd_create(struct xen_vbd **out, struct xen_hv *hv,
						       struct xenstore *xs, unsigned domid,
						       const struct xen_vbd_config *c);
/* Serve the device process's replies and its notifications on loop. 0 or -errno. */
__attribute__((warn_unused_result)) int xen_vbd_attach(struct xen_vbd *v, struct evloop *loop);
void xen_vbd_detach(struct xen_vbd *v, struct evloop *loop);
/* Free it (closes the eventfds, not the socket). Accepts NULL. */
void xen_vbd_destroy(struct xen_vbd *v);

#endif
