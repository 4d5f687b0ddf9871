/* The vhost-user frontend: azote's side of the socket to a device process (azote-blk, azote-net
 * or any standard vhost-user backend). It negotiates, hands over guest RAM (memfds) and the
 * queues' eventfds, and implements the virtio-pci transport's backend operations. The data path
 * never comes here: kicks and interrupts go between KVM and the device process. */
#ifndef AZOTE_VHOST_FRONTEND_H
#define AZOTE_VHOST_FRONTEND_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio_backend.h"
#include "kvm/guest_mem.h"
#include "vhost/vhost_user_proto.h"

#define VHOST_FRONTEND_MAX_QUEUES 64

struct vhost_frontend {
	char name[32];           /* for messages: "disk vda" */
	int sock;                /* connected vhost-user socket */
	int err_fd;              /* eventfd the backend signals when the guest broke a ring */
	pthread_mutex_t lock;    /* one request/reply exchange at a time */
	const struct guest_mem *mem;
	uint64_t backend_features;
	uint64_t feature_mask;      /* device features the VMM lets the guest see */
	uint64_t protocol_features; /* negotiated */
	uint16_t nqueues;        /* queues offered to the guest */
	uint16_t queue_max_size;
	uint8_t config[VHOST_USER_CONFIG_MAX];
	uint32_t config_len;     /* bytes of device config the backend gave */
	bool started;
	bool dead;               /* the socket failed: every operation fails until reset */
};

/* Parameters for connecting one device. */
struct vhost_frontend_params {
	const char *name;
	int sock;                /* connected socket; ownership passes to the frontend */
	const struct guest_mem *mem;
	uint32_t config_len;     /* size of the device config struct to fetch */
	bool config_optional;    /* a backend without VHOST_USER_PROTOCOL_F_CONFIG is fine: the
				  * VMM fills fe->config itself (vhost-user-net backends) */
	uint16_t max_queues;     /* at most this many queues (e.g. one per vCPU) */
	uint16_t queue_size;     /* largest queue size to offer */
};

/* Negotiate with the backend on p->sock: features, protocol features (MQ, REPLY_ACK, CONFIG),
 * queue count, owner, device config and the memory table. Logs what failed and returns -errno
 * (the socket is closed on failure). */
__attribute__((warn_unused_result)) int vhost_frontend_init(struct vhost_frontend *fe,
							    const struct vhost_frontend_params *p);
/* Stop the queues (if started) and close the socket. Accepts a zeroed frontend. */
void vhost_frontend_fini(struct vhost_frontend *fe);
/* The operations the virtio-pci transport calls for a block or network device; ctx is the
 * frontend. */
extern const struct virtio_backend_ops vhost_frontend_blk_ops;
extern const struct virtio_backend_ops vhost_frontend_net_ops;
/* Does the backend offer the protocol feature (VHOST_USER_PROTOCOL_F_*), as negotiated? */
bool vhost_frontend_has_protocol(const struct vhost_frontend *fe, unsigned bit);
/* Mark the backend gone (its socket hung up): later operations fail fast. */
void vhost_frontend_mark_dead(struct vhost_frontend *fe);

#endif
