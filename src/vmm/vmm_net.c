/* A network interface: azote-net serving a TAP device, or a running vhost-user-net backend's
 * socket. azote owns the guest-visible config (MAC, link status, queue pairs), as vhost-user-net
 * backends commonly do not offer one; the control queue goes to the backend like any other. */
#include <errno.h>
#include <linux/virtio_net.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "cards/net/net_tap.h"
#include "util/log.h"
#include "vmm/vmm.h"

#define NET_QUEUE_SIZE 256
#define NET_MAX_PAIRS  16
/* mac, status, max_virtqueue_pairs, mtu: the fields azote's features use. */
#define NET_CONFIG_LEN 12
#define BIT(n)         (1ull << (n))
/* Features that need the control queue. */
#define NET_CTRL_FEATURES                                                                          \
	(BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_CTRL_RX) | BIT(VIRTIO_NET_F_CTRL_VLAN) |     \
	 BIT(VIRTIO_NET_F_GUEST_ANNOUNCE) | BIT(VIRTIO_NET_F_MQ) |                                  \
	 BIT(VIRTIO_NET_F_CTRL_MAC_ADDR) | BIT(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS))

/* A MAC of the locally administered unicast range (02:...), fresh for each VM. */
static void net_random_mac(uint8_t mac[6])
{
	if (getrandom(mac, 6, 0) != 6)
		memset(mac, 0x5a, 6);
	mac[0] = (uint8_t)((mac[0] & 0xfc) | 0x02);
}

/* Queues and features as the guest will see them: rx/tx pairs, then the control queue (only
 * when the backend has a slot for it, i.e. an odd number of queues). */
static void net_shape(struct vmm_card *card, const uint8_t mac[6], bool mac_known)
{
	struct vhost_frontend *fe = &card->fe;
	struct virtio_net_config c = {.status = VIRTIO_NET_S_LINK_UP};
	uint16_t pairs = fe->nqueues / 2;
	bool ctrl = (fe->backend_features & BIT(VIRTIO_NET_F_CTRL_VQ)) && (fe->nqueues & 1);

	if (!ctrl) {
		fe->feature_mask &= ~NET_CTRL_FEATURES;
		pairs = 1;
	} else if (pairs <= 1) {
		fe->feature_mask &= ~BIT(VIRTIO_NET_F_MQ);
	}
	fe->nqueues = (uint16_t)(2 * pairs + (ctrl ? 1 : 0));
	/* The backend's own config, when it has one, supplies what azote does not decide. */
	if (fe->config_len >= NET_CONFIG_LEN)
		memcpy(&c, fe->config, NET_CONFIG_LEN);
	else if (fe->backend_features & BIT(VIRTIO_NET_F_MTU))
		fe->feature_mask &= ~BIT(VIRTIO_NET_F_MTU); /* no MTU value to give */
	if (mac_known)
		memcpy(c.mac, mac, 6);
	else if (fe->config_len < NET_CONFIG_LEN)
		fe->feature_mask &= ~BIT(VIRTIO_NET_F_MAC); /* the guest picks one */
	c.status = VIRTIO_NET_S_LINK_UP;
	c.max_virtqueue_pairs = pairs;
	memcpy(fe->config, &c, NET_CONFIG_LEN);
	fe->config_len = NET_CONFIG_LEN;
	if (!(fe->backend_features & BIT(VIRTIO_NET_F_STATUS)))
		log_debug("%s: the backend has no link status; the link reads as up", card->name);
}

int vmm_net_create(struct vmm *vmm, struct vmm_card *card, const struct net_config *cfg)
{
	unsigned pairs = vmm->cfg->cpus < NET_MAX_PAIRS ? vmm->cfg->cpus : NET_MAX_PAIRS;
	uint8_t mac[6];
	char mac_arg[18], fds_arg[NET_MAX_PAIRS * 4];
	char *args[] = {"--tap-fd", fds_arg, "--mac", mac_arg, "--sandbox", "on", NULL};
	int fds[NET_MAX_PAIRS], rc;
	bool mq;
	struct vhost_frontend_params p = {
		.name = card->name,
		.mem = &vmm->mem,
		.config_len = NET_CONFIG_LEN,
		.config_optional = true,
		.max_queues = (uint16_t)(2 * pairs + 1), /* a pair per vCPU and the control queue */
		.queue_size = NET_QUEUE_SIZE,
	};

	snprintf(card->name, sizeof(card->name), "net %s", cfg->id);
	if (cfg->mac_set)
		memcpy(mac, cfg->mac, 6);
	else
		net_random_mac(mac);
	snprintf(mac_arg, sizeof(mac_arg), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
		 mac[3], mac[4], mac[5]);
	/* azote opens the tap queues (one per pair, one in all for a tap made without
	 * multi_queue): the card gets them as fds and never sees /dev/net/tun. */
	if (!cfg->socket) {
		rc = net_tap_open(cfg->tap, &pairs, fds, &mq);
		if (rc)
			return rc;
	}
	fds_arg[0] = '\0';
	for (unsigned i = 0; !cfg->socket && i < pairs; i++)
		snprintf(fds_arg + strlen(fds_arg), sizeof(fds_arg) - strlen(fds_arg), "%s%d",
			 i ? "," : "", VMM_CARD_PASS_FD + (int)i);
	rc = vmm_card_open(card, "azote-net", args, fds, cfg->socket ? 0 : pairs, cfg->socket, &p);
	if (rc)
		return rc;
	net_shape(card, mac, cfg->tap != NULL);
	return vmm_card_add_pci(card, &vhost_frontend_net_ops);
}
