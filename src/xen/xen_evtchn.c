/* event_channel_op: the 2-level port table. Ports are interdomain (to the guest itself or to
 * azote, "dom0"), VIRQ or IPI. KVM delivers events and, for ports routed to it, the guest's
 * EVTCHNOP_send without an exit; this file keeps the table and tells KVM what to route. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "xen/xen_hv.h"

static bool xen_port_valid(const struct xen_hv *hv, uint64_t port)
{
	return port > 0 && port < XEN_EVTCHN_PORTS && hv->ports[port].state != EVTCHNSTAT_closed;
}

/* The lowest free port (port 0 is never used: it means "none" to guests). */
static int xen_port_alloc(struct xen_hv *hv, uint32_t *out)
{
	for (uint32_t p = 1; p < XEN_EVTCHN_PORTS; p++) {
		if (hv->ports[p].state == EVTCHNSTAT_closed) {
			hv->ports[p] = (struct xen_port){.state = EVTCHNSTAT_unbound};
			*out = p;
			return 0;
		}
	}
	return -ENOSPC;
}

/* Let KVM handle EVTCHNOP_send on port: to another guest port, or to an eventfd. */
static int xen_port_route(struct xen_hv *hv, uint32_t port, uint32_t type, uint32_t to_port,
			  uint32_t to_vcpu, int efd, bool update)
{
	struct kvm_xen_hvm_attr a = {.type = KVM_XEN_ATTR_TYPE_EVTCHN};
	int rc;

	a.u.evtchn.send_port = port;
	a.u.evtchn.type = type;
	a.u.evtchn.flags = update ? KVM_XEN_EVTCHN_UPDATE : 0;
	if (efd >= 0) {
		a.u.evtchn.deliver.eventfd.port = 0;
		a.u.evtchn.deliver.eventfd.fd = efd;
	} else {
		a.u.evtchn.deliver.port.port = to_port;
		a.u.evtchn.deliver.port.vcpu = to_vcpu;
		a.u.evtchn.deliver.port.priority = KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL;
	}
	rc = hv->ops->vm_attr(hv->ctx, &a);
	if (!rc)
		hv->ports[port].routed = true;
	return rc;
}

static void xen_port_unroute(struct xen_hv *hv, uint32_t port)
{
	struct kvm_xen_hvm_attr a = {.type = KVM_XEN_ATTR_TYPE_EVTCHN};

	if (!hv->ports[port].routed)
		return;
	a.u.evtchn.send_port = port;
	a.u.evtchn.flags = KVM_XEN_EVTCHN_DEASSIGN;
	hv->ops->vm_attr(hv->ctx, &a);
	hv->ports[port].routed = false;
}

/* Point the VIRQ_TIMER of vcpu at port (0: no timer): KVM then runs the guest's singleshot
 * timer hypercalls and raises the port itself. */
static int xen_timer_port(struct xen_hv *hv, unsigned self, uint32_t vcpu, uint32_t port)
{
	struct kvm_xen_vcpu_attr a = {.type = KVM_XEN_VCPU_ATTR_TYPE_TIMER};

	a.u.timer.port = port;
	a.u.timer.priority = KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL;
	return hv->ops->vcpu_attr(hv->ctx, self, vcpu, &a);
}

static void xen_port_close(struct xen_hv *hv, unsigned self, uint32_t port)
{
	struct xen_port *p = &hv->ports[port];

	xen_port_unroute(hv, port);
	if (p->state == EVTCHNSTAT_virq && p->virq == XEN_VIRQ_TIMER)
		xen_timer_port(hv, self, p->vcpu, 0);
	if (p->state == EVTCHNSTAT_interdomain && p->remote_dom == 0 &&
	    p->remote_port < XEN_DOM0_PORTS && hv->dom0_peer[p->remote_port] == port)
		hv->dom0_peer[p->remote_port] = 0;
	/* A loopback peer goes back to waiting for a binding, as in Xen. */
	if (p->state == EVTCHNSTAT_interdomain && p->remote_dom == hv->p.domid &&
	    xen_port_valid(hv, p->remote_port)) {
		struct xen_port *q = &hv->ports[p->remote_port];

		xen_port_unroute(hv, p->remote_port);
		q->state = EVTCHNSTAT_unbound;
		q->remote_port = 0;
	}
	*p = (struct xen_port){0};
}

/* Each op reads its fixed-size argument, acts, and writes back the OUT fields. */
static int64_t xen_ev_alloc_unbound(struct xen_hv *hv, unsigned self, uint64_t arg)
{
	uint8_t b[8];
	uint16_t dom, remote;
	uint32_t port;

	if (xen_guest_read(hv, self, arg, b, sizeof(b)))
		return -EFAULT;
	memcpy(&dom, b, 2);
	memcpy(&remote, b + 2, 2);
	if (dom != XEN_DOMID_SELF && dom != hv->p.domid)
		return -EPERM;
	if (remote == XEN_DOMID_SELF)
		remote = hv->p.domid;
	if (remote != 0 && remote != hv->p.domid)
		return -ESRCH;
	if (xen_port_alloc(hv, &port))
		return -ENOSPC;
	hv->ports[port].remote_dom = remote;
	if (xen_guest_write(hv, self, arg + 4, &port, 4)) {
		xen_port_close(hv, self, port);
		return -EFAULT;
	}
	return 0;
}

/* Loopback: the guest connects a new port to one of its own unbound ports. */
static int64_t xen_ev_bind_interdomain(struct xen_hv *hv, unsigned self, uint64_t arg)
{
	uint8_t b[12];
	uint16_t remote;
	uint32_t rport, port;
	struct xen_port *r;

	if (xen_guest_read(hv, self, arg, b, sizeof(b)))
		return -EFAULT;
	memcpy(&remote, b, 2);
	memcpy(&rport, b + 4, 4);
	if (remote == XEN_DOMID_SELF)
		remote = hv->p.domid;
	if (remote != hv->p.domid)
		return remote == 0 ? -EINVAL : -ESRCH; /* azote binds to the guest, never waits */
	if (!xen_port_valid(hv, rport))
		return -EINVAL;
	r = &hv->ports[rport];
	if (r->state != EVTCHNSTAT_unbound || r->remote_dom != hv->p.domid)
		return -EINVAL;
	if (xen_port_alloc(hv, &port))
		return -ENOSPC;
	hv->ports[port] = (struct xen_port){.state = EVTCHNSTAT_interdomain,
					    .remote_dom = remote,
					    .remote_port = rport};
	*r = (struct xen_port){.state = EVTCHNSTAT_interdomain,
			       .remote_dom = remote,
			       .remote_port = port,
			       .vcpu = r->vcpu};
	xen_port_route(hv, port, EVTCHNSTAT_interdomain, rport, r->vcpu, -1, false);
	xen_port_route(hv, rport, EVTCHNSTAT_interdomain, port, 0, -1, false);
	if (xen_guest_write(hv, self, arg + 8, &port, 4)) {
		xen_port_close(hv, self, port);
		return -EFAULT;
	}
	return 0;
}

static int64_t xen_ev_bind_virq(struct xen_hv *hv, unsigned self, uint64_t arg)
{
	uint32_t b[3], port;

	if (xen_guest_read(hv, self, arg, b, sizeof(b)))
		return -EFAULT;
	if (b[0] >= XEN_NR_VIRQS)
		return -EINVAL;
	if (b[1] >= hv->p.ncpus)
		return -ENOENT;
	for (uint32_t p = 1; p < XEN_EVTCHN_PORTS; p++)
		if (hv->ports[p].state == EVTCHNSTAT_virq && hv->ports[p].virq == b[0] &&
		    hv->ports[p].vcpu == b[1])
			return -EEXIST;
	if (xen_port_alloc(hv, &port))
		return -ENOSPC;
	hv->ports[port] = (struct xen_port){
		.state = EVTCHNSTAT_virq, .virq = (uint8_t)b[0], .vcpu = b[1]};
	/* Only the timer ever fires; the other VIRQs (debug, console...) stay quiet. */
	if (b[0] == XEN_VIRQ_TIMER && xen_timer_port(hv, self, b[1], port)) {
		xen_port_close(hv, self, port);
		return -EIO;
	}
	if (xen_guest_write(hv, self, arg + 8, &port, 4)) {
		xen_port_close(hv, self, port);
		return -EFAULT;
	}
	return 0;
}

static int64_t xen_ev_bind_ipi(struct xen_hv *hv, unsigned self, uint64_t arg)
{
	uint32_t vcpu, port;

	if (xen_guest_read(hv, self, arg, &vcpu, 4))
		return -EFAULT;
	if (vcpu >= hv->p.ncpus)
		return -ENOENT;
	if (xen_port_alloc(hv, &port))
		return -ENOSPC;
	hv->ports[port] = (struct xen_port){.state = EVTCHNSTAT_ipi, .vcpu = vcpu};
	/* IPIs are hot: KVM loops them back without an exit. */
	xen_port_route(hv, port, EVTCHNSTAT_ipi, port, vcpu, -1, false);
	if (xen_guest_write(hv, self, arg + 4, &port, 4)) {
		xen_port_close(hv, self, port);
		return -EFAULT;
	}
	return 0;
}

/* A send that KVM did not handle in the kernel. */
static int64_t xen_ev_send(struct xen_hv *hv, uint32_t port)
{
	struct xen_port *p = &hv->ports[port];

	switch (p->state) {
	case EVTCHNSTAT_ipi:
		return hv->ops->send(hv->ctx, port, p->vcpu) < 0 ? -EIO : 0;
	case EVTCHNSTAT_interdomain:
		if (p->remote_dom == 0) {
			hv->ops->dom0_notify(hv->ctx, p->remote_port);
			return 0;
		}
		return hv->ops->send(hv->ctx, p->remote_port, hv->ports[p->remote_port].vcpu) < 0
			       ? -EIO
			       : 0;
	case EVTCHNSTAT_unbound:
		return 0; /* nobody listens yet: dropped, as in Xen */
	default:
		return -EINVAL;
	}
}

/* EVTCHNOP_unmask: clear the mask bit; a port that became pending while masked is raised
 * again so that the guest gets its upcall. */
static int64_t xen_ev_unmask(struct xen_hv *hv, uint32_t port)
{
	uint64_t bit = 1ull << (port % 64), old;
	uint64_t *pending, *mask;

	if (!hv->shinfo_mapped)
		return 0;
	pending = xen_gpa_ptr(hv, (hv->shinfo_gfn << XEN_PAGE_SHIFT) + XEN_SHINFO_EVTCHN_PENDING +
					   8 * (port / 64), 8);
	mask = xen_gpa_ptr(hv, (hv->shinfo_gfn << XEN_PAGE_SHIFT) + XEN_SHINFO_EVTCHN_MASK +
					8 * (port / 64), 8);
	if (!pending || !mask)
		return -EFAULT;
	__atomic_fetch_and(mask, ~bit, __ATOMIC_SEQ_CST);
	old = __atomic_fetch_and(pending, ~bit, __ATOMIC_SEQ_CST);
	if (old & bit)
		hv->ops->send(hv->ctx, port, hv->ports[port].vcpu);
	return 0;
}

static int64_t xen_ev_status(struct xen_hv *hv, unsigned self, uint64_t arg)
{
	uint8_t b[24];
	uint16_t dom;
	uint32_t port, v;
	struct xen_port *p;

	if (xen_guest_read(hv, self, arg, b, sizeof(b)))
		return -EFAULT;
	memcpy(&dom, b, 2);
	memcpy(&port, b + 4, 4);
	if (dom != XEN_DOMID_SELF && dom != hv->p.domid)
		return -EPERM;
	if (port >= XEN_EVTCHN_PORTS)
		return -EINVAL;
	p = &hv->ports[port];
	memset(b + 8, 0, 16);
	v = p->state;
	memcpy(b + 8, &v, 4);
	memcpy(b + 12, &p->vcpu, 4);
	if (p->state == EVTCHNSTAT_unbound || p->state == EVTCHNSTAT_interdomain) {
		memcpy(b + 16, &p->remote_dom, 2);
		memcpy(b + 20, &p->remote_port, 4);
	} else if (p->state == EVTCHNSTAT_virq) {
		v = p->virq;
		memcpy(b + 16, &v, 4);
	}
	return xen_guest_write(hv, self, arg, b, sizeof(b)) ? -EFAULT : 0;
}

/* EVTCHNOP_bind_vcpu: where an interdomain or VIRQ (not timer) port's events go. */
static int64_t xen_ev_bind_vcpu(struct xen_hv *hv, uint32_t port, uint32_t vcpu)
{
	struct xen_port *p = &hv->ports[port];

	if (vcpu >= hv->p.ncpus)
		return -ENOENT;
	if (p->state == EVTCHNSTAT_ipi || (p->state == EVTCHNSTAT_virq && p->virq == XEN_VIRQ_TIMER))
		return -EINVAL; /* per-vCPU by nature */
	p->vcpu = vcpu;
	/* A loopback peer's KVM route names the vCPU to raise. */
	if (p->state == EVTCHNSTAT_interdomain && p->remote_dom == hv->p.domid &&
	    hv->ports[p->remote_port].routed)
		xen_port_route(hv, p->remote_port, EVTCHNSTAT_interdomain, port, vcpu, -1, true);
	return 0;
}

int64_t xen_evtchn_op(struct xen_hv *hv, unsigned self, uint64_t cmd, uint64_t arg)
{
	uint32_t b[2];

	switch (cmd) {
	case EVTCHNOP_alloc_unbound: return xen_ev_alloc_unbound(hv, self, arg);
	case EVTCHNOP_bind_interdomain: return xen_ev_bind_interdomain(hv, self, arg);
	case EVTCHNOP_bind_virq: return xen_ev_bind_virq(hv, self, arg);
	case EVTCHNOP_bind_ipi: return xen_ev_bind_ipi(hv, self, arg);
	case EVTCHNOP_status: return xen_ev_status(hv, self, arg);
	case EVTCHNOP_close:
	case EVTCHNOP_send:
	case EVTCHNOP_unmask:
	case EVTCHNOP_bind_vcpu:
		if (xen_guest_read(hv, self, arg, b, cmd == EVTCHNOP_bind_vcpu ? 8 : 4))
			return -EFAULT;
		if (!xen_port_valid(hv, b[0]))
			return -EINVAL;
		if (cmd == EVTCHNOP_close) {
			xen_port_close(hv, self, b[0]);
			return 0;
		}
		if (cmd == EVTCHNOP_send)
			return xen_ev_send(hv, b[0]);
		if (cmd == EVTCHNOP_unmask)
			return xen_ev_unmask(hv, b[0]);
		return xen_ev_bind_vcpu(hv, b[0], b[1]);
	case EVTCHNOP_reset:
		for (uint32_t p = 1; p < XEN_EVTCHN_PORTS; p++)
			if (hv->ports[p].state != EVTCHNSTAT_closed &&
			    !(hv->ports[p].state == EVTCHNSTAT_interdomain &&
			      hv->ports[p].remote_dom == 0))
				xen_port_close(hv, self, p);
		return 0;
	default:
		/* init_control (FIFO ABI): -ENOSYS keeps guests on the 2-level ABI KVM runs. */
		return -ENOSYS;
	}
}

int xen_evtchn_bind_dom0(struct xen_hv *hv, unsigned dom0_port, int efd, uint32_t *guest_port)
{
	uint32_t port;
	int rc;

	if (dom0_port == 0 || dom0_port >= XEN_DOM0_PORTS)
		return -EINVAL;
	pthread_mutex_lock(&hv->lock);
	rc = hv->dom0_peer[dom0_port] ? -EBUSY : xen_port_alloc(hv, &port);
	if (!rc) {
		hv->ports[port] = (struct xen_port){
			.state = EVTCHNSTAT_interdomain, .remote_dom = 0, .remote_port = dom0_port};
		hv->dom0_peer[dom0_port] = port;
		if (efd >= 0)
			rc = xen_port_route(hv, port, EVTCHNSTAT_interdomain, 0, 0, efd, false);
		if (rc)
			xen_port_close(hv, 0, port);
		else
			*guest_port = port;
	}
	pthread_mutex_unlock(&hv->lock);
	return rc;
}

int xen_evtchn_bind_guest(struct xen_hv *hv, unsigned dom0_port, uint32_t guest_port, int efd)
{
	struct xen_port *p;
	int rc = 0;

	if (dom0_port == 0 || dom0_port >= XEN_DOM0_PORTS || efd < 0)
		return -EINVAL;
	pthread_mutex_lock(&hv->lock);
	p = xen_port_valid(hv, guest_port) ? &hv->ports[guest_port] : NULL;
	if (hv->dom0_peer[dom0_port])
		rc = -EBUSY;
	else if (!p || p->state != EVTCHNSTAT_unbound || p->remote_dom != 0)
		rc = -EINVAL;
	if (!rc) {
		p->state = EVTCHNSTAT_interdomain;
		p->remote_port = dom0_port;
		hv->dom0_peer[dom0_port] = guest_port;
		rc = xen_port_route(hv, guest_port, EVTCHNSTAT_interdomain, 0, 0, efd, false);
		if (rc) {
			p->state = EVTCHNSTAT_unbound;
			p->remote_port = 0;
			hv->dom0_peer[dom0_port] = 0;
		}
	}
	pthread_mutex_unlock(&hv->lock);
	return rc;
}

void xen_evtchn_unbind_dom0(struct xen_hv *hv, unsigned dom0_port)
{
	uint32_t port;

	if (dom0_port == 0 || dom0_port >= XEN_DOM0_PORTS)
		return;
	pthread_mutex_lock(&hv->lock);
	port = hv->dom0_peer[dom0_port];
	if (port) {
		xen_port_unroute(hv, port);
		hv->ports[port].state = EVTCHNSTAT_unbound;
		hv->ports[port].remote_port = 0;
		hv->dom0_peer[dom0_port] = 0;
	}
	pthread_mutex_unlock(&hv->lock);
}

int xen_evtchn_notify_guest(struct xen_hv *hv, unsigned dom0_port)
{
	int rc = -ENOTCONN;

	if (dom0_port >= XEN_DOM0_PORTS)
		return -EINVAL;
	pthread_mutex_lock(&hv->lock);
	if (hv->dom0_peer[dom0_port]) {
		uint32_t port = hv->dom0_peer[dom0_port];

		rc = hv->ops->send(hv->ctx, port, hv->ports[port].vcpu);
	}
	pthread_mutex_unlock(&hv->lock);
	return rc;
}
