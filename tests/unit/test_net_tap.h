/* Shared by the net unit tests: a private network namespace with one persistent multi-queue
 * tap (TAP), up and silent (no IPv6, no ARP), so that whatever reaches its queues is what a
 * test sent. The test process itself moves to the new namespace: no host interface is
 * touched, and the tap goes away with the process. */
#ifndef AZOTE_TESTS_UNIT_TEST_NET_TAP_H
#define AZOTE_TESTS_UNIT_TEST_NET_TAP_H

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define TAP "aznet0"

static int tap_ifindex;

/* Make the namespace and the tap: false when not allowed (not root, no /dev/net/tun). */
static bool make_tap(void)
{
	struct ifreq ifr;
	int fd, s;

	if (unshare(CLONE_NEWNET) < 0)
		return false;
	fd = open("/proc/sys/net/ipv6/conf/default/disable_ipv6", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "1", 1) != 1)
			return false;
		close(fd);
	}
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, TAP);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0)
		return false;
	close(fd);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, TAP);
	ifr.ifr_flags = IFF_UP | IFF_NOARP;
	if (s < 0 || ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		return false;
	close(s);
	tap_ifindex = (int)if_nametoindex(TAP);
	return tap_ifindex > 0;
}

#endif
