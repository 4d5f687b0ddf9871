/* Sending and receiving vhost-user messages with file descriptors, with a deadline. */
#ifndef AZOTE_VHOST_FRONTEND_MSG_H
#define AZOTE_VHOST_FRONTEND_MSG_H

#include <stddef.h>

#include "vhost/vhost_user_proto.h"

/* How long a backend may take to answer before it is declared stuck; GET_VRING_BASE waits for
 * the requests in flight, which a slow disk may take a while to finish. */
#define VHOST_REPLY_TIMEOUT_MS 30000

/* Send msg (header + hdr.size payload bytes) with nfds descriptors. 0 or -errno. */
__attribute__((warn_unused_result)) int vhost_msg_send(int sock, const struct vhost_user_msg *msg,
						       const int *fds, size_t nfds);
/* Receive the reply to `request`: checks the reply flag, the request code and that the payload
 * size is exactly `size`. Descriptors sent along are closed. 0, -ETIMEDOUT, -EPROTO or -errno. */
__attribute__((warn_unused_result)) int vhost_msg_recv_reply(int sock, uint32_t request,
							     struct vhost_user_msg *msg,
							     uint32_t size);

#endif
