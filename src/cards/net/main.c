/* azote-net: a vhost-user-net backend bound to an existing TAP interface. azote starts one per
 * network interface on a socketpair (--fd); it also serves QEMU's
 * `-netdev vhost-user -device virtio-net-pci` (--socket). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cards/card_main.h"
#include "cards/net/net_dev.h"
#include "util/log.h"
#include "util/size.h"

struct net_cli {
	struct net_options net;
	const char *socket_path;
	int fd;
	int stats_fd; /* azote's counters page, or -1 */
	bool verbose;
	int seccomp_level;
	bool print_seccomp;
	bool sandbox;
};

/* Files a card may hold: its sockets, signals, epoll and stats (and the guest's memory regions,
 * 8 at most, while it maps them), then per queue a kick, a call, a tap queue and a wake-up. */
#define NET_CARD_FDS(pairs) (64 + 4 * (2 * (pairs) + 1))

static void net_usage(void)
{
	printf("usage: azote-net (--socket PATH | --fd N) (--tap NAME | --tap-fd N[,N...])\n"
	       "                 [--mac MAC] [--queue-pairs N] [--mtu N] [--sandbox on|off] [-v]\n"
	       "\n"
	       "Serve an existing tap interface as a vhost-user-net device.\n"
	       "  --socket PATH     listen on this unix socket, one frontend at a time (QEMU:\n"
	       "                    -chardev socket,path=PATH -netdev vhost-user,chardev=...)\n"
	       "  --fd N            use the already-connected socket N; exit when it closes\n"
	       "  --tap NAME        the tap interface, which must exist (ip tuntap add NAME\n"
	       "                    mode tap multi_queue); one tap queue per queue pair\n"
	       "  --tap-fd N,...    already-open tap queues (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR),\n"
	       "                    one per queue pair\n"
	       "  --mac MAC         the guest's MAC address, aa:bb:cc:dd:ee:ff (default: the\n"
	       "                    guest driver picks a random one)\n"
	       "  --queue-pairs N   rx/tx queue pairs, 1..%d (default 1); each has a thread\n"
	       "  --mtu N           MTU advised to the guest, %d..%d (default %d)\n"
	       "  --stats-fd N      publish the interface's counters in this memfd page\n"
	       "                    (azote passes one for its metrics)\n"
	       "  --sandbox on|off  on (default): once serving, no host file, network or\n"
	       "                    capability is left (namespaces, empty root, no privileges)\n"
	       "  -v, --verbose     log every vhost-user message and the counters at exit\n"
	       "  --seccomp-level N 0 no seccomp filter, 1 syscall numbers, 2 numbers and\n"
	       "                    arguments (default %d); installed once serving\n"
	       "  --print-seccomp   print the filter (at --seccomp-level) and exit\n"
	       "Exit status: 0 on SIGTERM/SIGINT or when the --fd frontend leaves, 1 runtime\n"
	       "failure, 2 bad input or unusable tap (one line on stderr says why).\n",
	       NET_PAIRS_MAX, NET_MTU_MIN, NET_MTU_MAX, NET_MTU_DEFAULT, SECCOMP_LEVEL_DEFAULT);
}

enum { OPT_SOCKET = 256, OPT_FD, OPT_TAP, OPT_TAP_FD, OPT_MAC, OPT_PAIRS, OPT_MTU, OPT_STATS_FD, OPT_HELP,
       OPT_SECCOMP_LEVEL, OPT_PRINT_SECCOMP, OPT_SANDBOX };

static const struct option net_options_table[] = {
    {"socket", required_argument, NULL, OPT_SOCKET},
    {"socket-path", required_argument, NULL, OPT_SOCKET},
    {"fd", required_argument, NULL, OPT_FD},
    {"tap", required_argument, NULL, OPT_TAP},
    {"tap-fd", required_argument, NULL, OPT_TAP_FD},
    {"mac", required_argument, NULL, OPT_MAC},
    {"queue-pairs", required_argument, NULL, OPT_PAIRS},
    {"mtu", required_argument, NULL, OPT_MTU},
    {"stats-fd", required_argument, NULL, OPT_STATS_FD},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, OPT_HELP},
    {"seccomp-level", required_argument, NULL, OPT_SECCOMP_LEVEL},
    {"print-seccomp", no_argument, NULL, OPT_PRINT_SECCOMP},
    {"sandbox", required_argument, NULL, OPT_SANDBOX},
    {NULL, 0, NULL, 0},
};

static int net_cli_fail(const char *fmt, const char *arg)
{
	fprintf(stderr, "azote-net: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see --help)\n");
	return 2;
}

/* "3,4,5" -> fds. 0 or -EINVAL. */
static int net_parse_fds(const char *text, struct net_options *o)
{
	const char *p = text;

	o->ntap_fds = 0;
	for (;;) {
		char num[16];
		size_t len = strcspn(p, ",");
		uint64_t v;

		if (len == 0 || len >= sizeof(num) || o->ntap_fds == NET_PAIRS_MAX)
			return -EINVAL;
		memcpy(num, p, len);
		num[len] = '\0';
		if (uint_parse(num, 0, INT32_MAX, &v))
			return -EINVAL;
		o->tap_fds[o->ntap_fds++] = (int)v;
		if (p[len] == '\0')
			return 0;
		p += len + 1;
	}
}

static int net_cli_mac(const char *arg, struct net_options *o)
{
	int rc = net_mac_parse(arg, o->mac);

	if (rc == -EDOM)
		return net_cli_fail("--mac %s: a multicast address (the first byte must be even)",
				    arg);
	if (rc == -ERANGE)
		return net_cli_fail("--mac %s: the all-zero address is not a MAC", arg);
	if (rc)
		return net_cli_fail("--mac %s: not a MAC address like 52:54:00:12:34:56", arg);
	o->has_mac = true;
	return -1;
}

/* One option. Returns -1 to go on, or the exit status. */
static int net_cli_option(int opt, const char *arg, struct net_cli *cli, bool *pairs_given)
{
	uint64_t v;

	switch (opt) {
	case OPT_SOCKET:
		cli->socket_path = arg;
		return -1;
	case OPT_FD:
		if (uint_parse(arg, 0, INT32_MAX, &v))
			return net_cli_fail("--fd %s: not a file descriptor number", arg);
		cli->fd = (int)v;
		return -1;
	case OPT_TAP:
		cli->net.tap = arg;
		return -1;
	case OPT_STATS_FD:
		if (uint_parse(arg, 0, INT32_MAX, &v))
			return net_cli_fail("--stats-fd %s: not a file descriptor number", arg);
		cli->stats_fd = (int)v;
		return -1;
	case OPT_TAP_FD:
		if (net_parse_fds(arg, &cli->net))
			return net_cli_fail("--tap-fd %s: not a list of 1 to 16 fd numbers", arg);
		return -1;
	case OPT_MAC:
		return net_cli_mac(arg, &cli->net);
	case OPT_PAIRS:
		if (uint_parse(arg, 1, NET_PAIRS_MAX, &v))
			return net_cli_fail("--queue-pairs %s: not a number from 1 to 16", arg);
		cli->net.pairs = (unsigned)v;
		*pairs_given = true;
		return -1;
	case OPT_MTU:
		if (uint_parse(arg, NET_MTU_MIN, NET_MTU_MAX, &v))
			return net_cli_fail("--mtu %s: not a number from 68 to 65535", arg);
		cli->net.mtu = (unsigned)v;
		return -1;
	case 'v':
		cli->verbose = true;
		return -1;
	case OPT_SECCOMP_LEVEL:
		cli->seccomp_level = seccomp_level_parse(arg);
		if (cli->seccomp_level < 0)
			return net_cli_fail("--seccomp-level %s: must be 0, 1 or 2", arg);
		return -1;
	case OPT_PRINT_SECCOMP:
		cli->print_seccomp = true;
		return -1;
	case OPT_SANDBOX:
		if (card_option_on_off(arg, &cli->sandbox))
			return net_cli_fail("--sandbox %s: must be on or off", arg);
		return -1;
	case OPT_HELP:
		net_usage();
		return 0;
	default:
		return net_cli_fail("unknown or incomplete option %s", arg);
	}
}

/* Parse argv into cli. Returns -1 to go on, or the exit status (0 after --help). */
static int net_cli_parse(int argc, char **argv, struct net_cli *cli)
{
	bool pairs_given = false;
	int opt;

	*cli = (struct net_cli){.fd = -1,
				.stats_fd = -1,
				.net = {.pairs = 1, .mtu = NET_MTU_DEFAULT},
				.seccomp_level = SECCOMP_LEVEL_DEFAULT,
				.sandbox = true};
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "v", net_options_table, NULL)) != -1) {
		int status =
		    net_cli_option(opt, opt == '?' ? argv[optind - 1] : optarg, cli, &pairs_given);

		if (status >= 0)
			return status;
	}
	if (optind < argc)
		return net_cli_fail("unexpected argument %s", argv[optind]);
	if (cli->print_seccomp)
		return seccomp_print(SECCOMP_ROLE_NET, cli->seccomp_level, STDOUT_FILENO) ? 1 : 0;
	if (!cli->net.tap == (cli->net.ntap_fds == 0))
		return net_cli_fail("%s", "give exactly one of --tap NAME and --tap-fd N[,N...]");
	if (!cli->socket_path == (cli->fd < 0))
		return net_cli_fail("%s", "give exactly one of --socket PATH and --fd N");
	/* With --tap-fd the fds say how many pairs, unless --queue-pairs insists. */
	if (cli->net.ntap_fds && !pairs_given)
		cli->net.pairs = 0;
	return -1;
}

static void net_fill_stats(void *ctx, struct card_stats_page *page)
{
	struct net_stats st;

	net_dev_stats(ctx, &st);
	card_stats_set(page, "rx_packets", st.rx_packets);
	card_stats_set(page, "rx_bytes", st.rx_bytes);
	card_stats_set(page, "rx_drops", st.rx_drops);
	card_stats_set(page, "rx_errors", st.rx_errors);
	card_stats_set(page, "tx_packets", st.tx_packets);
	card_stats_set(page, "tx_bytes", st.tx_bytes);
	card_stats_set(page, "tx_drops", st.tx_drops);
	card_stats_set(page, "tx_errors", st.tx_errors);
}

int main(int argc, char **argv)
{
	struct net_cli cli;
	struct net_dev *dev;
	char msg[128];
	int status, sfd;

	status = net_cli_parse(argc, argv, &cli);
	if (status >= 0)
		return status;
	sfd = card_begin("azote-net", cli.verbose);
	if (sfd < 0)
		return 2;
	if (net_dev_create(&cli.net, &dev)) {
		close(sfd);
		return 2;
	}
	snprintf(msg, sizeof(msg), "tap %s: %u queue pair%s%s", dev->name, dev->pairs,
		 dev->pairs > 1 ? "s" : "", dev->mq_tap ? "" : " (single-queue tap)");
	status = card_serve(&(struct card_run){.socket_path = cli.socket_path,
					       .fd = cli.fd,
					       .stats_fd = cli.stats_fd,
					       .ops = &net_ops,
					       .params = &dev->params,
					       .dev = dev,
					       .fill_stats = net_fill_stats,
					       .ready_msg = msg,
					       .seccomp_role = SECCOMP_ROLE_NET,
					       .seccomp_level = cli.seccomp_level,
					       .sandbox = cli.sandbox,
					       .sb = {.max_fds = NET_CARD_FDS(dev->pairs),
						      .selftest_path = "/dev/net/tun"}},
			    sfd);
	net_dev_destroy(dev);
	return status;
}
