#include "cards/net/net_tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"

#define NET_TAP_FLAGS (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)
#define NET_TAP_HDR   12

static int net_tap_setiff(int fd, const char *name, short flags)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = flags;
	return ioctl(fd, TUNSETIFF, &ifr) < 0 ? -errno : 0;
}

/* What `name` is when the tun driver refuses to open it as a tap: "tun" for a tun interface,
 * "other" for a device of another driver. */
static const char *net_tap_kind(const char *name)
{
	struct ethtool_drvinfo info = {.cmd = ETHTOOL_GDRVINFO};
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc;

	if (s < 0)
		return "other";
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_data = (void *)&info;
	rc = ioctl(s, SIOCETHTOOL, &ifr);
	close(s);
	if (rc == 0 && !strcmp(info.driver, "tun") && !strcmp(info.bus_info, "tun"))
		return "tun";
	return "other";
}

/* Every queue: non-blocking (opened so), 12-byte headers, no offload until a driver says. */
static int net_tap_prepare(int fd, const char *what)
{
	int hdr = NET_TAP_HDR;

	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 || ioctl(fd, TUNSETOFFLOAD, 0) < 0) {
		int rc = -errno;

		log_error("%s: cannot set up the tap queue: %s", what, strerror(-rc));
		return rc;
	}
	return 0;
}

static int net_tap_open_fd(void)
{
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	int rc = -errno;

	if (fd >= 0)
		return fd;
	if (rc == -ENOENT || rc == -ENODEV)
		log_error("/dev/net/tun: missing (is the tun module loaded?)");
	else if (rc == -EACCES || rc == -EPERM)
		log_error("/dev/net/tun: permission denied (needs access to /dev/net/tun)");
	else
		log_error("/dev/net/tun: %s", strerror(-rc));
	return rc;
}

/* The first queue decides between multi-queue and single-queue. */
static int net_tap_first(const char *name, int fd, bool *mq)
{
	int rc = net_tap_setiff(fd, name, NET_TAP_FLAGS | IFF_MULTI_QUEUE);

	*mq = rc == 0;
	if (rc == -EINVAL) {
		rc = net_tap_setiff(fd, name, NET_TAP_FLAGS);
		if (rc == 0)
			log_info("tap %s: made without multi_queue: one queue pair", name);
	}
	if (rc == -EINVAL && !strcmp(net_tap_kind(name), "tun"))
		log_error("tap %s: a tun interface, not a tap (create it with `ip tuntap add %s "
			  "mode tap multi_queue`)",
			  name, name);
	else if (rc == -EINVAL)
		log_error("tap %s: not a tap interface", name);
	else if (rc == -EPERM || rc == -EACCES)
		log_error("tap %s: permission denied (the interface belongs to another user; "
			  "needs CAP_NET_ADMIN or `ip tuntap add ... user`)",
			  name);
	else if (rc == -EBUSY)
		log_error("tap %s: in use by another process (made without multi_queue)", name);
	else if (rc)
		log_error("tap %s: %s", name, strerror(-rc));
	return rc;
}

int net_tap_open(const char *name, unsigned *pairs, int *fds, bool *mq)
{
	unsigned n = 0;
	int rc;

	if (strlen(name) >= IF_NAMESIZE || name[0] == '\0') {
		log_error("tap %s: interface name empty or longer than %d bytes", name,
			  IF_NAMESIZE - 1);
		return -ENAMETOOLONG;
	}
	/* TUNSETIFF would create a missing interface: look first (in our network namespace). */
	if (if_nametoindex(name) == 0) {
		log_error("tap %s: no such interface (create it with `ip tuntap add %s mode tap "
			  "multi_queue`)",
			  name, name);
		return -ENODEV;
	}
	for (; n < *pairs; n++) {
		char what[IF_NAMESIZE + 16];

		fds[n] = net_tap_open_fd();
		if (fds[n] < 0) {
			rc = fds[n];
			goto fail;
		}
		rc = n == 0 ? net_tap_first(name, fds[n], mq)
			    : net_tap_setiff(fds[n], name, NET_TAP_FLAGS | IFF_MULTI_QUEUE);
		if (rc && n)
			log_error("tap %s: queue %u: %s", name, n, strerror(-rc));
		snprintf(what, sizeof(what), "tap %s", name);
		if (!rc)
			rc = net_tap_prepare(fds[n], what);
		if (rc) {
			close(fds[n]);
			goto fail;
		}
		if (!*mq) {
			*pairs = 1;
			return 0;
		}
	}
	return 0;

fail:
	while (n--)
		close(fds[n]);
	return rc;
}

int net_tap_adopt(const int *fds, unsigned n, char *name, bool *mq)
{
	*mq = true;
	for (unsigned i = 0; i < n; i++) {
		struct ifreq ifr;
		char what[32];
		int fl;

		snprintf(what, sizeof(what), "--tap-fd %d", fds[i]);
		memset(&ifr, 0, sizeof(ifr));
		if (ioctl(fds[i], TUNGETIFF, &ifr) < 0) {
			log_error("%s: not an open tap queue: %s", what, strerror(errno));
			return -EBADF;
		}
		if ((ifr.ifr_flags & (IFF_TAP | IFF_TUN)) != IFF_TAP ||
		    !(ifr.ifr_flags & IFF_NO_PI) || !(ifr.ifr_flags & IFF_VNET_HDR)) {
			log_error("%s: must be a tap queue opened with IFF_TAP|IFF_NO_PI|"
				  "IFF_VNET_HDR",
				  what);
			return -EINVAL;
		}
		if (!(ifr.ifr_flags & IFF_MULTI_QUEUE))
			*mq = false;
		if (i == 0)
			snprintf(name, IF_NAMESIZE, "%s", ifr.ifr_name);
		fl = fcntl(fds[i], F_GETFL);
		if (fl < 0 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) < 0 ||
		    fcntl(fds[i], F_SETFD, FD_CLOEXEC) < 0) {
			log_error("%s: %s", what, strerror(errno));
			return -EBADF;
		}
		if (net_tap_prepare(fds[i], what))
			return -EINVAL;
	}
	if (n > 1 && !*mq) {
		log_error("--tap-fd: %u queues of a tap made without multi_queue", n);
		return -EINVAL;
	}
	return 0;
}

int net_tap_attach(int fd, bool on)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = on ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
	return ioctl(fd, TUNSETQUEUE, &ifr) < 0 ? -errno : 0;
}

unsigned net_tap_offload(uint64_t features)
{
	unsigned off = 0;

	/* The tap takes TSO only with checksum offload, and ECN only with TSO. */
	if (!(features & (1ull << VIRTIO_NET_F_GUEST_CSUM)))
		return 0;
	off |= TUN_F_CSUM;
	if (features & (1ull << VIRTIO_NET_F_GUEST_TSO4))
		off |= TUN_F_TSO4;
	if (features & (1ull << VIRTIO_NET_F_GUEST_TSO6))
		off |= TUN_F_TSO6;
	if ((off & (TUN_F_TSO4 | TUN_F_TSO6)) && (features & (1ull << VIRTIO_NET_F_GUEST_ECN)))
		off |= TUN_F_TSO_ECN;
	if (features & (1ull << VIRTIO_NET_F_GUEST_UFO))
		off |= TUN_F_UFO;
	return off;
}

int net_tap_set_offload(int fd, unsigned offload)
{
	return ioctl(fd, TUNSETOFFLOAD, (unsigned long)offload) < 0 ? -errno : 0;
}
