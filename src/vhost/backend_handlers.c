/* The vhost-user requests a backend implements, one small handler each, and the table that
 * maps request codes to them with their payload sizes. */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "vhost/backend_priv.h"

/* DEVICE_NEEDS_RESET in the virtio status byte (virtio 1.2 2.1). */
#define VHOST_STATUS_NEEDS_RESET 0x40

static uint64_t vhost_offered_features(const struct vhost_backend *be)
{
	return be->params.features | (1ull << VHOST_USER_F_PROTOCOL_FEATURES);
}

static int vhost_reply_u64(struct vhost_backend *be, struct vhost_msg *msg, uint64_t v)
{
	return vhost_backend_reply(be, msg->m.hdr.request, &v, sizeof(v)) ? -EPIPE : 0;
}

/* The queue a state/u64 index designates, or NULL (logged). */
static struct vhost_queue *vhost_queue_at(struct vhost_backend *be, uint64_t index)
{
	if (index >= be->params.max_queues) {
		log_warn("vhost-user: queue index %llu out of range (%u queues)",
			 (unsigned long long)index, be->params.max_queues);
		return NULL;
	}
	return &be->queues[index];
}

static int vhost_get_features(struct vhost_backend *be, struct vhost_msg *msg)
{
	return vhost_reply_u64(be, msg, vhost_offered_features(be));
}

static int vhost_set_features(struct vhost_backend *be, struct vhost_msg *msg)
{
	uint64_t f = msg->m.payload.u64;

	if (f & ~vhost_offered_features(be)) {
		log_error("vhost-user: SET_FEATURES %#llx: not offered: %#llx",
			  (unsigned long long)f,
			  (unsigned long long)(f & ~vhost_offered_features(be)));
		return -EINVAL;
	}
	/* The rings read negotiated ring features (event idx, indirect) when they start. */
	vhost_backend_stop_all(be);
	be->features = f;
	if (be->ops->features_set) {
		int rc = be->ops->features_set(be->dev, f);

		if (rc) {
			atomic_store(&be->needs_reset, true);
			return rc;
		}
	}
	/* Without protocol features there is no SET_VRING_ENABLE: rings are enabled at once.
	 * Setting features never disables a ring. */
	if (!(f & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)))
		for (unsigned i = 0; i < be->params.max_queues; i++)
			be->queues[i].enabled = true;
	return vhost_backend_update_all(be);
}

static int vhost_get_protocol_features(struct vhost_backend *be, struct vhost_msg *msg)
{
	return vhost_reply_u64(be, msg, VHOST_BACKEND_PROTOCOL_FEATURES);
}

static int vhost_set_protocol_features(struct vhost_backend *be, struct vhost_msg *msg)
{
	uint64_t f = msg->m.payload.u64;

	be->protocol_features = f & VHOST_BACKEND_PROTOCOL_FEATURES;
	return f & ~VHOST_BACKEND_PROTOCOL_FEATURES ? -EINVAL : 0;
}

static int vhost_set_owner(struct vhost_backend *be, struct vhost_msg *msg)
{
	return 0;
}

/* RESET_OWNER is deprecated; the spec recommends reading it as "disable all rings". */
static int vhost_reset_owner(struct vhost_backend *be, struct vhost_msg *msg)
{
	for (unsigned i = 0; i < be->params.max_queues; i++)
		be->queues[i].enabled = false;
	return vhost_backend_update_all(be);
}

static int vhost_reset_device(struct vhost_backend *be, struct vhost_msg *msg)
{
	vhost_backend_reset_state(be);
	be->features = 0;
	be->status = 0;
	atomic_store(&be->needs_reset, false);
	return 0;
}

static int vhost_get_queue_num(struct vhost_backend *be, struct vhost_msg *msg)
{
	return vhost_reply_u64(be, msg, be->params.max_queues);
}

static int vhost_get_max_mem_slots(struct vhost_backend *be, struct vhost_msg *msg)
{
	return vhost_reply_u64(be, msg, GMEM_MAX_REGIONS);
}

static int vhost_set_vring_num(struct vhost_backend *be, struct vhost_msg *msg)
{
	const struct vhost_user_vring_state *s = &msg->m.payload.state;
	struct vhost_queue *q = vhost_queue_at(be, s->index);

	if (!q)
		return -EINVAL;
	if (s->num == 0 || s->num > be->params.max_queue_size || (s->num & (s->num - 1))) {
		log_error("vhost-user: queue %u: size %u refused (a power of 2 up to %u)", s->index,
			  s->num, be->params.max_queue_size);
		return -EINVAL;
	}
	vhost_queue_stop(q);
	q->num = (uint16_t)s->num;
	return vhost_queue_update(q);
}

static int vhost_set_vring_addr(struct vhost_backend *be, struct vhost_msg *msg)
{
	const struct vhost_user_vring_addr *a = &msg->m.payload.addr;
	struct vhost_queue *q = vhost_queue_at(be, a->index);

	if (!q)
		return -EINVAL;
	vhost_queue_stop(q);
	q->desc_uaddr = a->desc_user_addr;
	q->avail_uaddr = a->avail_user_addr;
	q->used_uaddr = a->used_user_addr;
	q->addr_set = true;
	return vhost_queue_update(q);
}

static int vhost_set_vring_base(struct vhost_backend *be, struct vhost_msg *msg)
{
	const struct vhost_user_vring_state *s = &msg->m.payload.state;
	struct vhost_queue *q = vhost_queue_at(be, s->index);

	if (!q)
		return -EINVAL;
	if (s->num > UINT16_MAX) {
		log_error("vhost-user: queue %u: base %u refused (split rings only)", s->index,
			  s->num);
		return -EINVAL;
	}
	vhost_queue_stop(q);
	q->base = (uint16_t)s->num;
	return vhost_queue_update(q);
}

/* Stops the ring and hands back where the frontend must resume. */
static int vhost_get_vring_base(struct vhost_backend *be, struct vhost_msg *msg)
{
	struct vhost_user_vring_state s = msg->m.payload.state;
	struct vhost_queue *q = vhost_queue_at(be, s.index);

	if (!q)
		return vhost_backend_reply(be, msg->m.hdr.request, NULL, 0) ? -EPIPE : -EINVAL;
	vhost_queue_stop(q);
	/* Stopped until the next SET_VRING_KICK. */
	if (q->kick_fd >= 0)
		close(q->kick_fd);
	q->kick_fd = -1;
	s.num = q->base;
	return vhost_backend_reply(be, msg->m.hdr.request, &s, sizeof(s)) ? -EPIPE : 0;
}

/* The queue a SET_VRING_KICK/CALL/ERR designates and the fd it carries (-1 with NOFD). */
static struct vhost_queue *vhost_vring_fd(struct vhost_backend *be, struct vhost_msg *msg, int *fd)
{
	uint64_t v = msg->m.payload.u64;
	struct vhost_queue *q;

	*fd = -1;
	if (v & ~(VHOST_USER_VRING_IDX_MASK | VHOST_USER_VRING_NOFD))
		return NULL;
	q = vhost_queue_at(be, v & VHOST_USER_VRING_IDX_MASK);
	if (!q)
		return NULL;
	if (!(v & VHOST_USER_VRING_NOFD)) {
		*fd = vhost_msg_take_fd(msg);
		if (*fd < 0) {
			log_error("vhost-user: %s for queue %u without exactly one fd",
				  vhost_request_name(msg->m.hdr.request), q->index);
			return NULL;
		}
		/* A pipe the frontend never drains must not block a worker in write(). */
		if (fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) | O_NONBLOCK) < 0)
			log_warn("vhost-user: queue %u: cannot make its eventfd nonblocking",
				 q->index);
	}
	return q;
}

static int vhost_set_vring_kick(struct vhost_backend *be, struct vhost_msg *msg)
{
	int fd;
	struct vhost_queue *q = vhost_vring_fd(be, msg, &fd);

	if (!q)
		return -EINVAL;
	vhost_queue_stop(q);
	if (q->kick_fd >= 0)
		close(q->kick_fd);
	q->kick_fd = fd;
	if (fd < 0) {
		log_error("vhost-user: queue %u: polling mode (no kick fd) is not supported",
			  q->index);
		return -ENOTSUP;
	}
	return vhost_queue_update(q);
}

static int vhost_set_vring_call(struct vhost_backend *be, struct vhost_msg *msg)
{
	int fd;
	struct vhost_queue *q = vhost_vring_fd(be, msg, &fd);

	if (!q)
		return -EINVAL;
	vhost_queue_set_call(q, fd);
	return 0;
}

static int vhost_set_vring_err(struct vhost_backend *be, struct vhost_msg *msg)
{
	int fd;
	struct vhost_queue *q = vhost_vring_fd(be, msg, &fd);

	if (!q)
		return -EINVAL;
	vhost_queue_set_err(q, fd);
	return 0;
}

static int vhost_set_vring_enable(struct vhost_backend *be, struct vhost_msg *msg)
{
	const struct vhost_user_vring_state *s = &msg->m.payload.state;
	struct vhost_queue *q = vhost_queue_at(be, s->index);

	if (!q || s->num > 1)
		return -EINVAL;
	q->enabled = s->num;
	return vhost_queue_update(q);
}

/* GET_CONFIG: bytes past the device's config space read as zero; a bad request gets an
 * empty payload, the protocol's way to say "failed". */
static int vhost_get_config(struct vhost_backend *be, struct vhost_msg *msg)
{
	struct vhost_user_config *c = &msg->m.payload.config;
	uint32_t size = msg->m.hdr.size, end;

	if (size < VHOST_USER_CONFIG_HDR_SIZE || c->size > VHOST_USER_CONFIG_MAX ||
	    size != VHOST_USER_CONFIG_HDR_SIZE + c->size || c->offset > VHOST_USER_CONFIG_MAX) {
		log_warn("vhost-user: GET_CONFIG: malformed request");
		return vhost_backend_reply(be, msg->m.hdr.request, NULL, 0) ? -EPIPE : -EINVAL;
	}
	memset(c->payload, 0, c->size);
	end = c->offset + c->size;
	if (c->offset < be->params.config_size)
		be->ops->config_read(be->dev, c->offset, c->payload,
				     (end < be->params.config_size ? end : be->params.config_size) -
					 c->offset);
	return vhost_backend_reply(be, msg->m.hdr.request, c, size) ? -EPIPE : 0;
}

static int vhost_set_config(struct vhost_backend *be, struct vhost_msg *msg)
{
	const struct vhost_user_config *c = &msg->m.payload.config;
	uint32_t size = msg->m.hdr.size;

	if (size < VHOST_USER_CONFIG_HDR_SIZE || c->size > VHOST_USER_CONFIG_MAX ||
	    size != VHOST_USER_CONFIG_HDR_SIZE + c->size)
		return -EINVAL;
	if (!be->ops->config_write || c->offset > be->params.config_size ||
	    c->size > be->params.config_size - c->offset)
		return -EPERM;
	return be->ops->config_write(be->dev, c->offset, c->payload, c->size);
}

static int vhost_set_status(struct vhost_backend *be, struct vhost_msg *msg)
{
	if (msg->m.payload.u64 > UINT8_MAX)
		return -EINVAL;
	be->status = (uint8_t)msg->m.payload.u64;
	return 0;
}

static int vhost_get_status(struct vhost_backend *be, struct vhost_msg *msg)
{
	uint64_t s = be->status;

	if (atomic_load(&be->needs_reset))
		s |= VHOST_STATUS_NEEDS_RESET;
	return vhost_reply_u64(be, msg, s);
}

#define STATE_SIZE  sizeof(struct vhost_user_vring_state)
#define REGION_SIZE sizeof(struct vhost_user_mem_region_single)
#define U64	    sizeof(uint64_t)

static const struct vhost_request_info vhost_requests[VHOST_USER_REQUEST_MAX] = {
    [VHOST_USER_GET_FEATURES] = {"GET_FEATURES", vhost_get_features, 0, true},
    [VHOST_USER_SET_FEATURES] = {"SET_FEATURES", vhost_set_features, U64, false},
    [VHOST_USER_SET_OWNER] = {"SET_OWNER", vhost_set_owner, 0, false},
    [VHOST_USER_RESET_OWNER] = {"RESET_OWNER", vhost_reset_owner, 0, false},
    [VHOST_USER_SET_MEM_TABLE] = {"SET_MEM_TABLE", vhost_mem_set_table, VHOST_SIZE_VARIABLE, false},
    [VHOST_USER_SET_VRING_NUM] = {"SET_VRING_NUM", vhost_set_vring_num, STATE_SIZE, false},
    [VHOST_USER_SET_VRING_ADDR] = {"SET_VRING_ADDR", vhost_set_vring_addr,
				   sizeof(struct vhost_user_vring_addr), false},
    [VHOST_USER_SET_VRING_BASE] = {"SET_VRING_BASE", vhost_set_vring_base, STATE_SIZE, false},
    [VHOST_USER_GET_VRING_BASE] = {"GET_VRING_BASE", vhost_get_vring_base, STATE_SIZE, true},
    [VHOST_USER_SET_VRING_KICK] = {"SET_VRING_KICK", vhost_set_vring_kick, U64, false},
    [VHOST_USER_SET_VRING_CALL] = {"SET_VRING_CALL", vhost_set_vring_call, U64, false},
    [VHOST_USER_SET_VRING_ERR] = {"SET_VRING_ERR", vhost_set_vring_err, U64, false},
    [VHOST_USER_GET_PROTOCOL_FEATURES] = {"GET_PROTOCOL_FEATURES", vhost_get_protocol_features, 0,
					  true},
    [VHOST_USER_SET_PROTOCOL_FEATURES] = {"SET_PROTOCOL_FEATURES", vhost_set_protocol_features, U64,
					  false},
    [VHOST_USER_GET_QUEUE_NUM] = {"GET_QUEUE_NUM", vhost_get_queue_num, 0, true},
    [VHOST_USER_SET_VRING_ENABLE] = {"SET_VRING_ENABLE", vhost_set_vring_enable, STATE_SIZE, false},
    [VHOST_USER_GET_CONFIG] = {"GET_CONFIG", vhost_get_config, VHOST_SIZE_VARIABLE, true},
    [VHOST_USER_SET_CONFIG] = {"SET_CONFIG", vhost_set_config, VHOST_SIZE_VARIABLE, false},
    [VHOST_USER_RESET_DEVICE] = {"RESET_DEVICE", vhost_reset_device, 0, false},
    [VHOST_USER_GET_MAX_MEM_SLOTS] = {"GET_MAX_MEM_SLOTS", vhost_get_max_mem_slots, 0, true},
    [VHOST_USER_ADD_MEM_REG] = {"ADD_MEM_REG", vhost_mem_add_region, REGION_SIZE, false},
    [VHOST_USER_REM_MEM_REG] = {"REM_MEM_REG", vhost_mem_remove_region, REGION_SIZE, false},
    [VHOST_USER_SET_STATUS] = {"SET_STATUS", vhost_set_status, U64, false},
    [VHOST_USER_GET_STATUS] = {"GET_STATUS", vhost_get_status, 0, true},
};

/* Names of requests we recognise but do not implement, for log lines. */
static const char *const vhost_unimplemented[VHOST_USER_REQUEST_MAX] = {
    [VHOST_USER_SET_LOG_BASE] = "SET_LOG_BASE",
    [VHOST_USER_SET_LOG_FD] = "SET_LOG_FD",
    [VHOST_USER_SEND_RARP] = "SEND_RARP",
    [VHOST_USER_NET_SET_MTU] = "NET_SET_MTU",
    [VHOST_USER_SET_BACKEND_REQ_FD] = "SET_BACKEND_REQ_FD",
    [VHOST_USER_IOTLB_MSG] = "IOTLB_MSG",
    [VHOST_USER_SET_VRING_ENDIAN] = "SET_VRING_ENDIAN",
    [VHOST_USER_GET_INFLIGHT_FD] = "GET_INFLIGHT_FD",
    [VHOST_USER_SET_INFLIGHT_FD] = "SET_INFLIGHT_FD",
    [VHOST_USER_VRING_KICK] = "VRING_KICK",
};

const struct vhost_request_info *vhost_request_lookup(uint32_t request)
{
	if (request >= VHOST_USER_REQUEST_MAX || !vhost_requests[request].fn)
		return NULL;
	return &vhost_requests[request];
}

const char *vhost_request_name(uint32_t request)
{
	if (request >= VHOST_USER_REQUEST_MAX)
		return "unknown";
	if (vhost_requests[request].name)
		return vhost_requests[request].name;
	return vhost_unimplemented[request] ? vhost_unimplemented[request] : "unknown";
}
