/* The Xen PV block protocol (io/blkif.h, io/ring.h) as azote speaks it, x86_64 ABI only, and
 * the small control protocol between azote (the xenbus side of a vbd) and the device process
 * that serves its ring (azote-blk --xen-blkif). One ring page (no max-ring-page-order), no
 * indirect segments, no persistent grants, no discard: what the backend nodes advertise.
 * Guest structures are read and written as bytes at these offsets. */
#ifndef AZOTE_XEN_XEN_BLKIF_ABI_H
#define AZOTE_XEN_XEN_BLKIF_ABI_H

#include <stdint.h>

/* Request operations. */
#define BLKIF_OP_READ		 0
#define BLKIF_OP_WRITE		 1
#define BLKIF_OP_WRITE_BARRIER	 2
#define BLKIF_OP_FLUSH_DISKCACHE 3
#define BLKIF_OP_DISCARD	 5
#define BLKIF_OP_INDIRECT	 6

/* Response statuses. */
#define BLKIF_RSP_EOPNOTSUPP (-2)
#define BLKIF_RSP_ERROR	     (-1)
#define BLKIF_RSP_OKAY	     0

#define BLKIF_MAX_SEGMENTS 11 /* per direct request */
#define BLKIF_SECTOR	   512u
#define BLKIF_SECTORS_PER_PAGE 8u

/* The shared ring page: a 64-byte header (req_prod, req_event, rsp_prod, rsp_event, padding),
 * then entries, each the union of a request (112 bytes) and a response (16 bytes). */
#define BLKIF_SRING_REQ_PROD  0
#define BLKIF_SRING_REQ_EVENT 4
#define BLKIF_SRING_RSP_PROD  8
#define BLKIF_SRING_RSP_EVENT 12
#define BLKIF_SRING_HDR	      64
#define BLKIF_ENTRY_SIZE      112
/* (4096 - 64) / 112 = 36 entries, rounded down to a power of two. */
#define BLKIF_RING_SIZE 32u

/* Request fields: operation, nr_segments (discard: flag), handle, id, sector_number, then the
 * segments (grant ref, first_sect, last_sect) or, for discard, nr_sectors. */
#define BLKIF_REQ_OP	     0
#define BLKIF_REQ_NSEG	     1
#define BLKIF_REQ_ID	     8
#define BLKIF_REQ_SECTOR     16
#define BLKIF_REQ_SEG	     24
#define BLKIF_SEG_SIZE	     8
#define BLKIF_SEG_GREF	     0
#define BLKIF_SEG_FIRST	     4
#define BLKIF_SEG_LAST	     5
/* Response fields: id, operation, status (int16). */
#define BLKIF_RSP_ID	 0
#define BLKIF_RSP_OPER	 8
#define BLKIF_RSP_STATUS 10
#define BLKIF_RSP_SIZE	 16

/* xenbus states (io/xenbus.h). */
enum xenbus_state {
	XenbusStateUnknown = 0,
	XenbusStateInitialising = 1,
	XenbusStateInitWait = 2,
	XenbusStateInitialised = 3,
	XenbusStateConnected = 4,
	XenbusStateClosing = 5,
	XenbusStateClosed = 6,
};

/* vbd info bits (io/blkif.h). */
#define VDISK_READONLY 4u
/* Xen's virtual-device numbers for xvdX: major 202, 16 minors per disk. */
#define XEN_VBD_XVD(index) ((202u << 8) | ((unsigned)(index) << 4))

/* azote <-> azote-blk --xen-blkif, on the card's socket: fixed-size messages. The card sends
 * READY once (with the disk's size) when it serves; azote sends CONNECT (the frontend's ring
 * grant reference) and DISCONNECT, each answered by the card with the same op and a status
 * (0 or -errno). */
enum xen_blkif_ctl_op {
	XEN_BLKIF_CTL_READY = 1,
	XEN_BLKIF_CTL_CONNECT = 2,
	XEN_BLKIF_CTL_DISCONNECT = 3,
};

struct xen_blkif_ctl {
	uint32_t op;
	int32_t status;
	uint32_t ring_ref;
	uint32_t ro;
	uint64_t sectors;
};

#endif
