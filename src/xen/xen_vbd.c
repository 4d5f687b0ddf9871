#include "xen/xen_vbd.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/log.h"
#include "xen/xen_blkif_abi.h"
#include "xen/xen_hv.h"
#include "xen/xenstore.h"

struct xen_vbd {
	struct xen_hv *hv;
	struct xenstore *xs;
	struct evloop *loop;
	struct xen_vbd_config c;
	char name[48];
	char fe[64], be[96]; /* the two ends' directories */
	enum xenbus_state state; /* the backend's, as written */
	uint32_t pending;	 /* the control op awaiting the card's reply, 0: none */
	bool dead;		 /* the device process is gone */
};

static int vbd_write(struct xen_vbd *v, const char *dir, const char *node, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int vbd_write(struct xen_vbd *v, const char *dir, const char *node, const char *fmt, ...)
{
	char path[160], value[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s%s%s", dir, node[0] ? "/" : "", node);
	return xenstore_write(v->xs, path, value);
}

static void vbd_set_state(struct xen_vbd *v, enum xenbus_state s)
{
	v->state = s;
	if (vbd_write(v, v->be, "state", "%d", (int)s))
		log_warn("%s: cannot write the backend state", v->name);
}

/* A frontend node as an unsigned number; -1 when absent or not a number. */
static long long vbd_read_uint(struct xen_vbd *v, const char *node)
{
	char path[160], buf[32], *end;
	unsigned long long n;

	snprintf(path, sizeof(path), "%s/%s", v->fe, node);
	if (xenstore_read(v->xs, path, buf, sizeof(buf)) <= 0)
		return -1;
	errno = 0;
	n = strtoull(buf, &end, 10);
	if (errno || *end || end == buf || n > UINT32_MAX)
		return -1;
	return (long long)n;
}

static int vbd_send(struct xen_vbd *v, uint32_t op, uint32_t ring_ref)
{
	struct xen_blkif_ctl m = {.op = op, .ring_ref = ring_ref};

	if (v->dead || write(v->c.sock, &m, sizeof(m)) != (ssize_t)sizeof(m))
		return -EIO;
	v->pending = op;
	return 0;
}

/* The frontend is Initialised: check what it published, bind its event channel, hand the ring
 * to the device process (Connected once it answers). */
static void vbd_connect(struct xen_vbd *v)
{
	long long ref = vbd_read_uint(v, "ring-ref"), port = vbd_read_uint(v, "event-channel");
	char path[160], proto[32];
	int rc;

	snprintf(path, sizeof(path), "%s/protocol", v->fe);
	if (xenstore_read(v->xs, path, proto, sizeof(proto)) >= 0 && strcmp(proto, "x86_64-abi")) {
		log_warn("%s: frontend protocol %s is not supported (x86_64-abi only)", v->name,
			 proto);
		vbd_set_state(v, XenbusStateClosing);
		return;
	}
	if (ref < 0 || port <= 0) {
		log_warn("%s: the frontend gave no usable ring-ref/event-channel", v->name);
		vbd_set_state(v, XenbusStateClosing);
		return;
	}
	rc = xen_evtchn_bind_guest(v->hv, v->c.dom0_port, (uint32_t)port, v->c.kick_efd);
	if (!rc)
		rc = vbd_send(v, XEN_BLKIF_CTL_CONNECT, (uint32_t)ref);
	if (rc) {
		log_warn("%s: cannot connect the frontend (event channel %lld): %s", v->name, port,
			 strerror(-rc));
		xen_evtchn_unbind_dom0(v->hv, v->c.dom0_port);
		vbd_set_state(v, XenbusStateClosing);
	}
}

/* Where the frontend's state and ours say to go; nothing while the card has not answered. */
static void vbd_step(struct xen_vbd *v)
{
	long long fs = vbd_read_uint(v, "state");

	if (v->pending || v->dead)
		return;
	switch (fs) {
	case XenbusStateInitialised:
	case XenbusStateConnected:
		if (v->state == XenbusStateInitWait)
			vbd_connect(v);
		break;
	case XenbusStateClosing:
	case XenbusStateClosed:
		if (v->state == XenbusStateConnected) {
			/* The card lets go of the ring before the frontend may free it. */
			if (vbd_send(v, XEN_BLKIF_CTL_DISCONNECT, 0))
				vbd_set_state(v, XenbusStateClosing);
			break;
		}
		if (fs == XenbusStateClosed && v->state != XenbusStateClosed)
			vbd_set_state(v, XenbusStateClosed);
		else if (fs == XenbusStateClosing && v->state == XenbusStateInitWait)
			vbd_set_state(v, XenbusStateClosing);
		break;
	case XenbusStateInitialising:
		if (v->state == XenbusStateClosed || v->state == XenbusStateClosing)
			vbd_set_state(v, XenbusStateInitWait); /* the frontend reconnects */
		break;
	default:
		break;
	}
}

static void vbd_on_frontend(void *ctx, const char *path)
{
	vbd_step(ctx);
}

static void vbd_gone(struct xen_vbd *v)
{
	if (v->dead)
		return;
	v->dead = true;
	v->pending = 0;
	evloop_del(v->loop, v->c.sock);
	xen_evtchn_unbind_dom0(v->hv, v->c.dom0_port);
	log_error("%s: device process is gone; the disk stops (the VM keeps running)", v->name);
	vbd_set_state(v, XenbusStateClosing);
}

/* The card's answer to CONNECT or DISCONNECT. */
static void vbd_on_sock(void *opaque, int fd, uint32_t events)
{
	struct xen_vbd *v = opaque;
	struct xen_blkif_ctl m;
	ssize_t n = read(fd, &m, sizeof(m));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n != (ssize_t)sizeof(m) || m.op != v->pending) {
		vbd_gone(v);
		return;
	}
	v->pending = 0;
	if (m.op == XEN_BLKIF_CTL_CONNECT && m.status == 0) {
		vbd_set_state(v, XenbusStateConnected);
	} else {
		if (m.op == XEN_BLKIF_CTL_CONNECT)
			log_warn("%s: the frontend's ring is not usable: %s", v->name,
				 strerror(-m.status));
		xen_evtchn_unbind_dom0(v->hv, v->c.dom0_port);
		vbd_set_state(v, XenbusStateClosing);
	}
	vbd_step(v);
}

/* The card answered requests: raise the frontend's port. */
static void vbd_on_call(void *opaque, int fd, uint32_t events)
{
	struct xen_vbd *v = opaque;
	eventfd_t val;

	if (eventfd_read(fd, &val) == 0)
		xen_evtchn_notify_guest(v->hv, v->c.dom0_port);
}

/* Both ends' nodes: the backend's are domain 0's (the guest reads them), the frontend's the
 * guest's (it writes its ring, channel and state there). */
static int vbd_nodes(struct xen_vbd *v, unsigned domid)
{
	char owner[16], reader[16];
	const char *be_perms[] = {"n0", reader}, *fe_perms[] = {owner, "r0"};
	unsigned devid = XEN_VBD_XVD(v->c.index);
	int rc;

	snprintf(reader, sizeof(reader), "r%u", domid);
	snprintf(owner, sizeof(owner), "n%u", domid);
	rc = vbd_write(v, v->be, "", "%s", "");
	rc = rc ? rc : xenstore_set_perms(v->xs, v->be, be_perms, 2);
	rc = rc ? rc : vbd_write(v, v->be, "frontend", "%s", v->fe);
	rc = rc ? rc : vbd_write(v, v->be, "frontend-id", "%u", domid);
	rc = rc ? rc : vbd_write(v, v->be, "online", "1");
	rc = rc ? rc : vbd_write(v, v->be, "params", "%s", v->c.path);
	rc = rc ? rc : vbd_write(v, v->be, "type", "phy");
	rc = rc ? rc : vbd_write(v, v->be, "mode", "%s", v->c.ro ? "r" : "w");
	rc = rc ? rc : vbd_write(v, v->be, "device-type", "disk");
	rc = rc ? rc : vbd_write(v, v->be, "dev", "xvd%c", 'a' + v->c.index);
	rc = rc ? rc : vbd_write(v, v->be, "sectors", "%" PRIu64, v->c.sectors);
	rc = rc ? rc : vbd_write(v, v->be, "sector-size", "%u", BLKIF_SECTOR);
	rc = rc ? rc : vbd_write(v, v->be, "physical-sector-size", "%u", BLKIF_SECTOR);
	rc = rc ? rc : vbd_write(v, v->be, "info", "%u", v->c.ro ? VDISK_READONLY : 0);
	rc = rc ? rc : vbd_write(v, v->be, "feature-flush-cache", "1");
	rc = rc ? rc : vbd_write(v, v->be, "state", "%d", XenbusStateInitWait);
	rc = rc ? rc : vbd_write(v, v->fe, "", "%s", "");
	rc = rc ? rc : xenstore_set_perms(v->xs, v->fe, fe_perms, 2);
	rc = rc ? rc : vbd_write(v, v->fe, "backend", "%s", v->be);
	rc = rc ? rc : vbd_write(v, v->fe, "backend-id", "0");
	rc = rc ? rc : vbd_write(v, v->fe, "virtual-device", "%u", devid);
	rc = rc ? rc : vbd_write(v, v->fe, "device-type", "disk");
	rc = rc ? rc : vbd_write(v, v->fe, "state", "%d", XenbusStateInitialising);
	return rc;
}

int xen_vbd_create(struct xen_vbd **out, struct xen_hv *hv, struct xenstore *xs, unsigned domid,
		   const struct xen_vbd_config *c)
{
	struct xen_vbd *v = calloc(1, sizeof(*v));
	char path[160];
	int rc;

	if (!v)
		return -ENOMEM;
	v->hv = hv;
	v->xs = xs;
	v->c = *c;
	snprintf(v->name, sizeof(v->name), "%s", c->name);
	v->c.name = v->name;
	snprintf(v->fe, sizeof(v->fe), "/local/domain/%u/device/vbd/%u", domid,
		 XEN_VBD_XVD(c->index));
	snprintf(v->be, sizeof(v->be), "/local/domain/0/backend/vbd/%u/%u", domid,
		 XEN_VBD_XVD(c->index));
	rc = vbd_nodes(v, domid);
	v->c.path = NULL; /* the caller's: only needed for the params node */
	v->state = XenbusStateInitWait;
	snprintf(path, sizeof(path), "%s/state", v->fe);
	if (!rc)
		rc = xenstore_watch(xs, path, vbd_on_frontend, v);
	if (rc) {
		log_error("%s: cannot write its xenstore nodes: %s", v->name, strerror(-rc));
		xen_vbd_destroy(v);
		return rc;
	}
	*out = v;
	return 0;
}

int xen_vbd_attach(struct xen_vbd *v, struct evloop *loop)
{
	int rc = evloop_add(loop, v->c.sock, EPOLLIN, vbd_on_sock, v);

	if (!rc)
		rc = evloop_add(loop, v->c.call_efd, EPOLLIN, vbd_on_call, v);
	if (!rc)
		v->loop = loop;
	return rc;
}

void xen_vbd_detach(struct xen_vbd *v, struct evloop *loop)
{
	if (!v || !v->loop)
		return;
	if (!v->dead)
		evloop_del(loop, v->c.sock);
	evloop_del(loop, v->c.call_efd);
	v->loop = NULL;
}

void xen_vbd_destroy(struct xen_vbd *v)
{
	if (!v)
		return;
	if (v->c.kick_efd >= 0)
		close(v->c.kick_efd);
	if (v->c.call_efd >= 0)
		close(v->c.call_efd);
	free(v);
}
