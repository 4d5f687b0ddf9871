#include "vhost/frontend.h"

#include <errno.h>
#include <linux/virtio_ids.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/log.h"
#include "vhost/frontend_msg.h"

#define BIT(n) (1ull << (n))
#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX     29
#define VIRTIO_F_VERSION_1          32

/* Features the transport can carry to the guest: the device-specific ones, indirect
 * descriptors, event index and virtio 1. Others (packed ring, notification data, platform
 * IOMMU...) need transport support azote does not have, whatever the backend offers. */
#define FRONTEND_GUEST_FEATURES                                                                    \
	((BIT(24) - 1) | BIT(VIRTIO_F_RING_INDIRECT_DESC) | BIT(VIRTIO_F_RING_EVENT_IDX) |          \
	 BIT(VIRTIO_F_VERSION_1))

#define WANTED_PROTOCOL_FEATURES                                                                   \
	(BIT(VHOST_USER_PROTOCOL_F_MQ) | BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK) |                    \
	 BIT(VHOST_USER_PROTOCOL_F_CONFIG))

static bool fe_has(const struct vhost_frontend *fe, unsigned protocol_bit)
{
	return fe->protocol_features & BIT(protocol_bit);
}

bool vhost_frontend_has_protocol(const struct vhost_frontend *fe, unsigned bit)
{
	return fe_has(fe, bit);
}

/* One exchange with the backend; called with fe->lock held. `reply_size` > 0 reads a reply of
 * that size into *reply; otherwise, when REPLY_ACK was negotiated, waits for the ack. */
static int fe_call(struct vhost_frontend *fe, uint32_t request, const void *payload,
		   uint32_t size, const int *fds, size_t nfds, struct vhost_user_msg *reply,
		   uint32_t reply_size)
{
	struct vhost_user_msg msg = {.hdr = {.request = request,
					     .flags = VHOST_USER_VERSION,
					     .size = size}};
	struct vhost_user_msg ack;
	bool want_ack = !reply_size && fe_has(fe, VHOST_USER_PROTOCOL_F_REPLY_ACK);
	int rc;

	if (fe->dead)
		return -EPIPE;
	if (size > sizeof(msg.payload))
		return -EINVAL;
	if (size)
		memcpy(&msg.payload, payload, size);
	if (want_ack)
		msg.hdr.flags |= VHOST_USER_FLAG_NEED_REPLY;
	rc = vhost_msg_send(fe->sock, &msg, fds, nfds);
	if (!rc && reply_size)
		rc = vhost_msg_recv_reply(fe->sock, request, reply, reply_size);
	else if (!rc && want_ack) {
		rc = vhost_msg_recv_reply(fe->sock, request, &ack, sizeof(uint64_t));
		if (!rc && ack.payload.u64)
			rc = -EREMOTEIO; /* the backend refused the request */
	}
	if (rc && rc != -EREMOTEIO) {
		log_error("%s: device process stopped answering (request %u: %s)", fe->name,
			  request, strerror(-rc));
		fe->dead = true;
	} else if (rc) {
		log_error("%s: device process refused request %u", fe->name, request);
	}
	return rc;
}

static int fe_get_u64(struct vhost_frontend *fe, uint32_t request, uint64_t *value)
{
	struct vhost_user_msg reply;
	int rc = fe_call(fe, request, NULL, 0, NULL, 0, &reply, sizeof(uint64_t));

	if (!rc)
		*value = reply.payload.u64;
	return rc;
}

static int fe_set_u64(struct vhost_frontend *fe, uint32_t request, uint64_t value,
		      const int *fds, size_t nfds)
{
	return fe_call(fe, request, &value, sizeof(value), fds, nfds, NULL, 0);
}

static int fe_negotiate(struct vhost_frontend *fe, const struct vhost_frontend_params *p)
{
	uint64_t pf = 0, queues = 1;
	int rc = fe_get_u64(fe, VHOST_USER_GET_FEATURES, &fe->backend_features);

	if (!rc && (fe->backend_features & BIT(VHOST_USER_F_PROTOCOL_FEATURES))) {
		rc = fe_get_u64(fe, VHOST_USER_GET_PROTOCOL_FEATURES, &pf);
		if (!rc)
			rc = fe_set_u64(fe, VHOST_USER_SET_PROTOCOL_FEATURES,
					pf & WANTED_PROTOCOL_FEATURES, NULL, 0);
		if (!rc)
			fe->protocol_features = pf & WANTED_PROTOCOL_FEATURES;
	}
	if (!rc)
		rc = fe_call(fe, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0, NULL, 0);
	if (!rc && fe_has(fe, VHOST_USER_PROTOCOL_F_MQ))
		rc = fe_get_u64(fe, VHOST_USER_GET_QUEUE_NUM, &queues);
	if (rc)
		return rc;
	if (queues == 0 || queues > VHOST_FRONTEND_MAX_QUEUES)
		queues = queues ? VHOST_FRONTEND_MAX_QUEUES : 1;
	fe->nqueues = (uint16_t)(queues < p->max_queues ? queues : p->max_queues);
	return 0;
}

static int fe_fetch_config(struct vhost_frontend *fe, uint32_t len, bool optional)
{
	struct vhost_user_config req = {.offset = 0, .size = len};
	struct vhost_user_msg reply;
	const uint32_t head = offsetof(struct vhost_user_config, payload);
	int rc;

	if (!len || (optional && !fe_has(fe, VHOST_USER_PROTOCOL_F_CONFIG)))
		return 0;
	if (!fe_has(fe, VHOST_USER_PROTOCOL_F_CONFIG)) {
		log_error("%s: the backend does not offer its device configuration "
			  "(VHOST_USER_PROTOCOL_F_CONFIG)", fe->name);
		return -ENOTSUP;
	}
	if (len > VHOST_USER_CONFIG_MAX)
		return -EINVAL;
	rc = fe_call(fe, VHOST_USER_GET_CONFIG, &req, head + len, NULL, 0, &reply, head + len);
	if (rc)
		return rc;
	memcpy(fe->config, reply.payload.config.payload, len);
	fe->config_len = len;
	return 0;
}

/* Guest RAM as the backend must map it: each region's memfd and offset, and where it lives in
 * our address space (vring addresses are given in that space). */
static int fe_send_mem_table(struct vhost_frontend *fe)
{
	struct vhost_user_mem_table table = {.nregions = fe->mem->nregions};
	int fds[GUEST_MEM_MAX_REGIONS];

	for (unsigned i = 0; i < fe->mem->nregions; i++) {
		const struct guest_region *r = &fe->mem->regions[i];
		table.regions[i] = (struct vhost_user_mem_region){
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uint64_t)(uintptr_t)r->host,
			.mmap_offset = r->fd_offset,
		};
		fds[i] = fe->mem->memfd;
	}
	return fe_call(fe, VHOST_USER_SET_MEM_TABLE, &table,
		       (uint32_t)(offsetof(struct vhost_user_mem_table, regions) +
				  table.nregions * sizeof(table.regions[0])),
		       fds, fe->mem->nregions, NULL, 0);
}

int vhost_frontend_init(struct vhost_frontend *fe, const struct vhost_frontend_params *p)
{
	int rc;

	memset(fe, 0, sizeof(*fe));
	snprintf(fe->name, sizeof(fe->name), "%s", p->name);
	fe->sock = p->sock;
	fe->err_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	fe->mem = p->mem;
	fe->queue_max_size = p->queue_size;
	fe->feature_mask = ~0ull;
	pthread_mutex_init(&fe->lock, NULL);
	rc = fe_negotiate(fe, p);
	if (!rc)
		rc = fe_fetch_config(fe, p->config_len, p->config_optional);
	if (!rc)
		rc = fe_send_mem_table(fe);
	if (!rc && fe->err_fd < 0)
		rc = -errno;
	if (rc) {
		log_error("%s: vhost-user negotiation failed: %s", fe->name, strerror(-rc));
		vhost_frontend_fini(fe);
	}
	return rc;
}

void vhost_frontend_mark_dead(struct vhost_frontend *fe)
{
	pthread_mutex_lock(&fe->lock);
	fe->dead = true;
	pthread_mutex_unlock(&fe->lock);
}

void vhost_frontend_fini(struct vhost_frontend *fe)
{
	/* A zeroed frontend (never initialised) has no name and owns nothing. */
	if (!fe->name[0])
		return;
	if (fe->sock >= 0)
		close(fe->sock);
	if (fe->err_fd >= 0)
		close(fe->err_fd);
	fe->sock = fe->err_fd = -1;
	pthread_mutex_destroy(&fe->lock);
	fe->name[0] = '\0';
}

/* --- virtio_backend_ops --- */

static uint64_t fe_features(void *ctx)
{
	struct vhost_frontend *fe = ctx;

	return fe->backend_features & fe->feature_mask & FRONTEND_GUEST_FEATURES;
}

static uint16_t fe_num_queues(void *ctx)
{
	return ((struct vhost_frontend *)ctx)->nqueues;
}

static uint16_t fe_queue_max_size(void *ctx)
{
	return ((struct vhost_frontend *)ctx)->queue_max_size;
}

static int fe_config_read(void *ctx, uint32_t offset, uint8_t *data, uint32_t len)
{
	struct vhost_frontend *fe = ctx;

	for (uint32_t i = 0; i < len; i++)
		data[i] = offset < fe->config_len && i < fe->config_len - offset
				  ? fe->config[offset + i]
				  : 0;
	return 0;
}

static int fe_config_write(void *ctx, uint32_t offset, const uint8_t *data, uint32_t len)
{
	struct vhost_frontend *fe = ctx;
	struct vhost_user_config req = {.offset = offset, .size = len};
	int rc;

	if (offset >= fe->config_len || len > fe->config_len - offset ||
	    !fe_has(fe, VHOST_USER_PROTOCOL_F_CONFIG))
		return 0; /* outside the device's (writable) config: ignored, as on hardware */
	memcpy(req.payload, data, len);
	pthread_mutex_lock(&fe->lock);
	rc = fe_call(fe, VHOST_USER_SET_CONFIG, &req,
		     (uint32_t)offsetof(struct vhost_user_config, payload) + len, NULL, 0, NULL, 0);
	if (!rc)
		memcpy(fe->config + offset, data, len);
	pthread_mutex_unlock(&fe->lock);
	return rc;
}

/* Vring addresses travel in our address space; each part must lie in guest RAM. */
static int fe_vring_addr(struct vhost_frontend *fe, const struct virtio_queue_setup *q,
			 struct vhost_user_vring_addr *a)
{
	void *desc = guest_mem_ptr(fe->mem, q->desc_gpa, 16ull * q->size);
	void *avail = guest_mem_ptr(fe->mem, q->avail_gpa, 6 + 2ull * q->size);
	void *used = guest_mem_ptr(fe->mem, q->used_gpa, 6 + 8ull * q->size);

	if (!desc || !avail || !used) {
		log_error("%s: queue %u placed outside guest RAM", fe->name, q->index);
		return -EFAULT;
	}
	*a = (struct vhost_user_vring_addr){.index = q->index,
					    .desc_user_addr = (uint64_t)(uintptr_t)desc,
					    .avail_user_addr = (uint64_t)(uintptr_t)avail,
					    .used_user_addr = (uint64_t)(uintptr_t)used};
	return 0;
}

static int fe_start_queue(struct vhost_frontend *fe, const struct virtio_queue_setup *q)
{
	struct vhost_user_vring_state num = {.index = q->index, .num = q->size};
	struct vhost_user_vring_state base = {.index = q->index, .num = 0};
	struct vhost_user_vring_state enable = {.index = q->index, .num = 1};
	struct vhost_user_vring_addr addr;
	int rc = fe_vring_addr(fe, q, &addr);

	if (!rc)
		rc = fe_call(fe, VHOST_USER_SET_VRING_NUM, &num, sizeof(num), NULL, 0, NULL, 0);
	if (!rc)
		rc = fe_call(fe, VHOST_USER_SET_VRING_ADDR, &addr, sizeof(addr), NULL, 0, NULL, 0);
	if (!rc)
		rc = fe_call(fe, VHOST_USER_SET_VRING_BASE, &base, sizeof(base), NULL, 0, NULL, 0);
	if (!rc)
		rc = fe_set_u64(fe, VHOST_USER_SET_VRING_CALL, q->index, &q->call_fd, 1);
	if (!rc)
		rc = fe_set_u64(fe, VHOST_USER_SET_VRING_ERR, q->index, &fe->err_fd, 1);
	if (!rc)
		rc = fe_set_u64(fe, VHOST_USER_SET_VRING_KICK, q->index, &q->kick_fd, 1);
	/* With protocol features, rings start disabled until enabled explicitly. */
	if (!rc && (fe->backend_features & BIT(VHOST_USER_F_PROTOCOL_FEATURES)))
		rc = fe_call(fe, VHOST_USER_SET_VRING_ENABLE, &enable, sizeof(enable), NULL, 0,
			     NULL, 0);
	return rc;
}

static int fe_start(void *ctx, uint64_t features, const struct virtio_queue_setup *queues,
		    unsigned nqueues)
{
	struct vhost_frontend *fe = ctx;
	uint64_t wire = features & fe_features(fe);
	int rc;

	if (fe->backend_features & BIT(VHOST_USER_F_PROTOCOL_FEATURES))
		wire |= BIT(VHOST_USER_F_PROTOCOL_FEATURES);
	pthread_mutex_lock(&fe->lock);
	rc = fe_set_u64(fe, VHOST_USER_SET_FEATURES, wire, NULL, 0);
	for (unsigned i = 0; !rc && i < nqueues; i++)
		rc = queues[i].index < fe->nqueues ? fe_start_queue(fe, &queues[i]) : -EINVAL;
	fe->started = !rc;
	pthread_mutex_unlock(&fe->lock);
	return rc;
}

/* GET_VRING_BASE stops a ring in the backend; after a guest reset the rings start from 0. */
static void fe_reset(void *ctx)
{
	struct vhost_frontend *fe = ctx;
	struct vhost_user_msg reply;

	pthread_mutex_lock(&fe->lock);
	for (uint16_t i = 0; fe->started && !fe->dead && i < fe->nqueues; i++) {
		struct vhost_user_vring_state st = {.index = i};
		if (fe_call(fe, VHOST_USER_GET_VRING_BASE, &st, sizeof(st), NULL, 0, &reply,
			    sizeof(st)))
			break;
	}
	fe->started = false;
	pthread_mutex_unlock(&fe->lock);
}

#define FRONTEND_OPS(id)                                                                           \
	{                                                                                          \
		.device_id = (id), .features = fe_features, .num_queues = fe_num_queues,          \
		.queue_max_size = fe_queue_max_size, .config_read = fe_config_read,               \
		.config_write = fe_config_write, .start = fe_start, .reset = fe_reset,            \
	}

const struct virtio_backend_ops vhost_frontend_blk_ops = FRONTEND_OPS(VIRTIO_ID_BLOCK);
const struct virtio_backend_ops vhost_frontend_net_ops = FRONTEND_OPS(VIRTIO_ID_NET);
