/* azote-blk --xen-blkif: serve one Xen PV block ring (a vbd azote presents with --xen) instead
 * of vhost-user. azote passes the guest's RAM (memfd and where its regions sit), the grant
 * table's frames (memfd), an eventfd KVM signals when the guest notifies the ring's event
 * channel (kick) and one azote turns into an event to the guest (call); the frontend's ring
 * comes later, as a grant reference in a CONNECT message on the card's socket
 * (xen/xen_blkif_abi.h). Requests run on the image through io_uring, from the main loop. */
#ifndef AZOTE_CARDS_BLK_BLK_XEN_H
#define AZOTE_CARDS_BLK_BLK_XEN_H

#include <stdbool.h>

#include "cards/blk/blk_dev.h"
#include "kvm/guest_mem.h"
#include "sandbox/card_sandbox.h"

#define BLK_XEN_GNT_FRAMES 64 /* grant frames azote shares (XEN_GNTTAB_MAX_FRAMES) */

struct blk_xen_options {
	int sock; /* the card's socket to azote (--fd) */
	int ram_fd, gnt_fd, kick_fd, call_fd;
	struct guest_region regions[GUEST_MEM_MAX_REGIONS]; /* gpa, size, fd_offset */
	unsigned nregions;
	int seccomp_level;
	bool sandbox;
	struct card_sandbox sb;
};

/* Map what azote passed, tell azote the disk is ready, enter the sandbox and serve until a
 * signal (signal_fd, closed here) or azote's hang-up. Returns the exit status (0, 1 or 2). */
int blk_xen_serve(struct blk_dev *dev, const struct blk_xen_options *o, int signal_fd);

#endif
