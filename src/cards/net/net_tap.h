/* The host side of azote-net: queues of an existing TAP interface (Linux tun/tap driver), opened
 * with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR so that every frame carries the 12-byte
 * struct virtio_net_hdr_v1 the guest uses, non-blocking. Never creates an interface. */
#ifndef AZOTE_CARDS_NET_NET_TAP_H
#define AZOTE_CARDS_NET_NET_TAP_H

#include <stdbool.h>
#include <stdint.h>

/* Open up to *pairs queues of tap interface `name` into fds. An interface made without
 * multi_queue gets one queue (*pairs becomes 1, logged at info level); *mq tells whether
 * queues can be detached. 0 or -errno, with one error line naming the problem. */
__attribute__((warn_unused_result)) int net_tap_open(const char *name, unsigned *pairs, int *fds,
						     bool *mq);
/* Check and prepare already-open tap queues (--tap-fd); `name` receives the interface name
 * (IF_NAMESIZE bytes). 0 or -errno (logged). */
__attribute__((warn_unused_result)) int net_tap_adopt(const int *fds, unsigned n, char *name,
						      bool *mq);
/* Attach (on) or detach a queue of a multi-queue tap (TUNSETQUEUE). 0 or -errno. */
int net_tap_attach(int fd, bool on);
/* The tap offloads (TUN_F_*) matching the driver's negotiated virtio-net features. */
unsigned net_tap_offload(uint64_t features);
/* Set the interface's offloads through queue fd. 0 or -errno. */
int net_tap_set_offload(int fd, unsigned offload);

#endif
