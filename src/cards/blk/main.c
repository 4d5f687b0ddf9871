/* azote-blk: a vhost-user-blk backend over a raw disk image. azote starts one per disk on a
 * socketpair (--fd); it also serves QEMU's `-device vhost-user-blk-pci` (--socket). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cards/blk/blk_dev.h"
#include "cards/blk/blk_xen.h"
#include "cards/card_main.h"
#include "util/log.h"
#include "util/size.h"

/* Default queue count when the frontend does not say: one per host CPU, capped. */
#define BLK_DEFAULT_QUEUES_MAX 8
/* Files a card may hold: its sockets, image, signals, epoll and stats (and the guest's memory
 * regions, 8 at most, while it maps them), then per queue a kick, a call and an io_uring fd. */
#define BLK_CARD_FDS(queues) (64 + 4 * (queues))

struct blk_cli {
	struct blk_options blk;
	const char *socket_path;
	int fd;
	int stats_fd; /* azote's counters page, or -1 */
	bool verbose;
	int seccomp_level;
	bool print_seccomp;
	const char *file_name; /* --file-name: the image's name in messages, with --file-fd */
	char fd_name[32];      /* "fd N" without --file-name */
	bool sandbox;
	bool xen; /* --xen-blkif: a Xen blkif ring for azote instead of vhost-user */
	struct blk_xen_options xo;
};

static void blk_usage(void)
{
	printf("usage: azote-blk (--socket PATH | --fd N) (--file IMG | --file-fd N [--file-name IMG])\n"
	       "                 [--ro] [--queues N] [--serial ID] [--sandbox on|off] [--verbose]\n"
	       "\n"
	       "Serve a raw disk image (regular file or block device) as a vhost-user-blk device.\n"
	       "  --socket PATH   listen on this unix socket, one frontend at a time (QEMU:\n"
	       "                  -chardev socket,path=PATH -device vhost-user-blk-pci)\n"
	       "  --fd N          use the already-connected socket N; exit when it closes\n"
	       "  --file IMG      the disk image; locked while in use (OFD lock)\n"
	       "  --file-fd N     the disk image, already open (read-write, or read-only with\n"
	       "                  --ro); azote opens it and passes it so\n"
	       "  --file-name IMG the image's name in messages, with --file-fd\n"
	       "  --ro            read-only disk: writes fail with an I/O error\n"
	       "  --queues N      most queues a frontend may use, 1..%d (default: host CPUs,\n"
	       "                  at most %d); each running queue has its own thread\n"
	       "  --serial ID     device ID the guest reads, at most 20 bytes (default: IMG's\n"
	       "                  file name)\n"
	       "  --stats-fd N    publish the disk's counters in this memfd page (azote\n"
	       "                  passes one for its metrics)\n"
	       "  --sandbox on|off  on (default): once serving, no host file, network or\n"
	       "                  capability is left (namespaces, empty root, no privileges)\n"
	       "  --verbose       log every vhost-user message\n"
	       "  --seccomp-level N  0 no seccomp filter, 1 syscall numbers, 2 numbers and\n"
	       "                  arguments (default %d); installed once serving\n"
	       "  --print-seccomp print the filter (at --seccomp-level) and exit\n"
	       "  --print-capabilities  print the vhost-user backend capabilities (JSON)\n"
	       "  --xen-blkif     serve a Xen PV block ring for azote --xen (with --fd and\n"
	       "                  --xen-ram-fd, --xen-ram-region GPA,SIZE,OFFSET (1 or 2),\n"
	       "                  --xen-gnt-fd, --xen-kick-fd, --xen-call-fd: what azote passes)\n"
	       "Also accepted: --socket-path, --blk-file, --read-only (vhost-user conventions).\n"
	       "Exit status: 0 on SIGTERM/SIGINT or when the --fd frontend leaves, 1 runtime\n"
	       "failure, 2 bad input or unusable image (one line on stderr says why).\n",
	       BLK_QUEUES_MAX, BLK_DEFAULT_QUEUES_MAX, SECCOMP_LEVEL_DEFAULT);
}

enum {
	OPT_SOCKET = 256,
	OPT_FD,
	OPT_FILE,
	OPT_RO,
	OPT_QUEUES,
	OPT_SERIAL,
	OPT_STATS_FD,
	OPT_VERBOSE,
	OPT_HELP,
	OPT_CAPS,
	OPT_SECCOMP_LEVEL,
	OPT_PRINT_SECCOMP,
	OPT_FILE_FD,
	OPT_FILE_NAME,
	OPT_SANDBOX,
	OPT_XEN,
	OPT_XEN_RAM_FD,
	OPT_XEN_RAM_REGION,
	OPT_XEN_GNT_FD,
	OPT_XEN_KICK_FD,
	OPT_XEN_CALL_FD
};

static const struct option blk_options_table[] = {
    {"socket", required_argument, NULL, OPT_SOCKET},
    {"socket-path", required_argument, NULL, OPT_SOCKET},
    {"fd", required_argument, NULL, OPT_FD},
    {"file", required_argument, NULL, OPT_FILE},
    {"blk-file", required_argument, NULL, OPT_FILE},
    {"ro", no_argument, NULL, OPT_RO},
    {"read-only", no_argument, NULL, OPT_RO},
    {"queues", required_argument, NULL, OPT_QUEUES},
    {"serial", required_argument, NULL, OPT_SERIAL},
    {"stats-fd", required_argument, NULL, OPT_STATS_FD},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"help", no_argument, NULL, OPT_HELP},
    {"print-capabilities", no_argument, NULL, OPT_CAPS},
    {"seccomp-level", required_argument, NULL, OPT_SECCOMP_LEVEL},
    {"print-seccomp", no_argument, NULL, OPT_PRINT_SECCOMP},
    {"file-fd", required_argument, NULL, OPT_FILE_FD},
    {"file-name", required_argument, NULL, OPT_FILE_NAME},
    {"sandbox", required_argument, NULL, OPT_SANDBOX},
    {"xen-blkif", no_argument, NULL, OPT_XEN},
    {"xen-ram-fd", required_argument, NULL, OPT_XEN_RAM_FD},
    {"xen-ram-region", required_argument, NULL, OPT_XEN_RAM_REGION},
    {"xen-gnt-fd", required_argument, NULL, OPT_XEN_GNT_FD},
    {"xen-kick-fd", required_argument, NULL, OPT_XEN_KICK_FD},
    {"xen-call-fd", required_argument, NULL, OPT_XEN_CALL_FD},
    {NULL, 0, NULL, 0},
};

static unsigned blk_default_queues(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > BLK_DEFAULT_QUEUES_MAX ? BLK_DEFAULT_QUEUES_MAX : (unsigned)n;
}

static int blk_cli_fail(const char *fmt, const char *arg)
{
	fprintf(stderr, "azote-blk: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see --help)\n");
	return 2;
}

/* One --xen-ram-region GPA,SIZE,OFFSET. 0 or -EINVAL. */
static int blk_cli_region(const char *arg, struct blk_xen_options *xo)
{
	unsigned long long gpa, size, off;
	int n = 0;

	if (xo->nregions == GUEST_MEM_MAX_REGIONS ||
	    sscanf(arg, "%llu,%llu,%llu%n", &gpa, &size, &off, &n) != 3 || arg[n] || !size)
		return -EINVAL;
	xo->regions[xo->nregions++] = (struct guest_region){.gpa = gpa, .size = size,
							    .fd_offset = off};
	return 0;
}

/* Parse argv into cli. Returns -1 to go on, or the exit status (0 after --help). */
static int blk_cli_parse(int argc, char **argv, struct blk_cli *cli)
{
	uint64_t v;
	int opt;

	*cli = (struct blk_cli){.fd = -1,
				.xo = {.ram_fd = -1, .gnt_fd = -1, .kick_fd = -1, .call_fd = -1},
				.stats_fd = -1,
				.blk.queues = blk_default_queues(),
				.seccomp_level = SECCOMP_LEVEL_DEFAULT,
				.sandbox = true};
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", blk_options_table, NULL)) != -1) {
		switch (opt) {
		case OPT_SOCKET:
			cli->socket_path = optarg;
			break;
		case OPT_FD:
			if (uint_parse(optarg, 0, INT32_MAX, &v))
				return blk_cli_fail("--fd %s: not a file descriptor number",
						    optarg);
			cli->fd = (int)v;
			break;
		case OPT_FILE:
			cli->blk.path = optarg;
			break;
		case OPT_STATS_FD:
			if (uint_parse(optarg, 0, INT32_MAX, &v))
				return blk_cli_fail("--stats-fd %s: not a file descriptor number",
						    optarg);
			cli->stats_fd = (int)v;
			break;
		case OPT_RO:
			cli->blk.ro = true;
			break;
		case OPT_QUEUES:
			if (uint_parse(optarg, 1, BLK_QUEUES_MAX, &v))
				return blk_cli_fail("--queues %s: not a number from 1 to 256",
						    optarg);
			cli->blk.queues = (unsigned)v;
			break;
		case OPT_SERIAL:
			if (strlen(optarg) > BLK_ID_BYTES)
				return blk_cli_fail("--serial %s: longer than 20 bytes", optarg);
			cli->blk.serial = optarg;
			break;
		case OPT_VERBOSE:
			cli->verbose = true;
			break;
		case OPT_HELP:
			blk_usage();
			return 0;
		case OPT_SECCOMP_LEVEL:
			cli->seccomp_level = seccomp_level_parse(optarg);
			if (cli->seccomp_level < 0)
				return blk_cli_fail("--seccomp-level %s: must be 0, 1 or 2", optarg);
			break;
		case OPT_PRINT_SECCOMP:
			cli->print_seccomp = true;
			break;
		case OPT_FILE_FD:
			if (uint_parse(optarg, 0, INT32_MAX, &v))
				return blk_cli_fail("--file-fd %s: not a file descriptor number",
						    optarg);
			cli->blk.fd = (int)v;
			cli->blk.from_fd = true;
			break;
		case OPT_FILE_NAME:
			cli->file_name = optarg;
			break;
		case OPT_SANDBOX:
			if (card_option_on_off(optarg, &cli->sandbox))
				return blk_cli_fail("--sandbox %s: must be on or off", optarg);
			break;
		case OPT_XEN:
			cli->xen = true;
			break;
		case OPT_XEN_RAM_FD:
		case OPT_XEN_GNT_FD:
		case OPT_XEN_KICK_FD:
		case OPT_XEN_CALL_FD:
			if (uint_parse(optarg, 0, INT32_MAX, &v))
				return blk_cli_fail("%s: not a file descriptor number", optarg);
			*(opt == OPT_XEN_RAM_FD	   ? &cli->xo.ram_fd
			  : opt == OPT_XEN_GNT_FD  ? &cli->xo.gnt_fd
			  : opt == OPT_XEN_KICK_FD ? &cli->xo.kick_fd
						   : &cli->xo.call_fd) = (int)v;
			break;
		case OPT_XEN_RAM_REGION:
			if (blk_cli_region(optarg, &cli->xo))
				return blk_cli_fail("--xen-ram-region %s: expected GPA,SIZE,OFFSET "
						    "(at most 2)", optarg);
			break;
		case OPT_CAPS:
			printf("{\"type\": \"block-device\", \"features\": [\"read-only\", "
			       "\"blk-file\"]}\n");
			return 0;
		default:
			return blk_cli_fail("unknown or incomplete option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return blk_cli_fail("unexpected argument %s", argv[optind]);
	if (cli->print_seccomp)
		return seccomp_print(SECCOMP_ROLE_BLK, cli->seccomp_level, STDOUT_FILENO) ? 1 : 0;
	if (!cli->blk.path == !cli->blk.from_fd)
		return blk_cli_fail("%s", "give exactly one of --file IMG and --file-fd N");
	if (cli->file_name && !cli->blk.from_fd)
		return blk_cli_fail("%s", "--file-name goes with --file-fd");
	if (cli->blk.from_fd) {
		snprintf(cli->fd_name, sizeof(cli->fd_name), "fd %d", cli->blk.fd);
		cli->blk.path = cli->file_name ? cli->file_name : cli->fd_name;
	}
	if (!cli->socket_path == (cli->fd < 0))
		return blk_cli_fail("%s", "give exactly one of --socket PATH and --fd N");
	if (cli->xen && (cli->fd < 0 || cli->xo.ram_fd < 0 || cli->xo.gnt_fd < 0 ||
			 cli->xo.kick_fd < 0 || cli->xo.call_fd < 0 || !cli->xo.nregions))
		return blk_cli_fail("%s", "--xen-blkif needs --fd, --xen-ram-fd, --xen-ram-region, "
				    "--xen-gnt-fd, --xen-kick-fd and --xen-call-fd");
	return -1;
}

static void blk_fill_stats(void *ctx, struct card_stats_page *page)
{
	struct blk_counters *c = &((struct blk_dev *)ctx)->ctr;

	card_stats_set(page, "read_ops", atomic_load_explicit(&c->read_ops, memory_order_relaxed));
	card_stats_set(page, "read_bytes",
		       atomic_load_explicit(&c->read_bytes, memory_order_relaxed));
	card_stats_set(page, "write_ops",
		       atomic_load_explicit(&c->write_ops, memory_order_relaxed));
	card_stats_set(page, "write_bytes",
		       atomic_load_explicit(&c->write_bytes, memory_order_relaxed));
	card_stats_set(page, "flush_ops",
		       atomic_load_explicit(&c->flush_ops, memory_order_relaxed));
	card_stats_set(page, "discard_ops",
		       atomic_load_explicit(&c->discard_ops, memory_order_relaxed));
	card_stats_set(page, "write_zeroes_ops",
		       atomic_load_explicit(&c->write_zeroes_ops, memory_order_relaxed));
	card_stats_set(page, "errors", atomic_load_explicit(&c->errors, memory_order_relaxed));
}

int main(int argc, char **argv)
{
	struct blk_cli cli;
	struct blk_dev *dev;
	char msg[PATH_MAX + 96];
	int status, sfd;

	status = blk_cli_parse(argc, argv, &cli);
	if (status >= 0)
		return status;
	sfd = card_begin("azote-blk", cli.verbose);
	if (sfd < 0)
		return 2;
	if (blk_dev_create(&cli.blk, &dev)) {
		close(sfd);
		return 2;
	}
	if (cli.xen) {
		cli.xo.sock = cli.fd;
		cli.xo.seccomp_level = cli.seccomp_level;
		cli.xo.sandbox = cli.sandbox;
		cli.xo.sb = (struct card_sandbox){.max_fds = BLK_CARD_FDS(1),
						  .selftest_path = cli.blk.path};
		status = blk_xen_serve(dev, &cli.xo, sfd);
		blk_dev_destroy(dev);
		return status;
	}
	snprintf(msg, sizeof(msg), "%s: %llu sectors%s, up to %u queues", cli.blk.path,
		 (unsigned long long)dev->lim.capacity, dev->lim.ro ? ", read-only" : "",
		 cli.blk.queues);
	status = card_serve(&(struct card_run){.socket_path = cli.socket_path,
					       .fd = cli.fd,
					       .stats_fd = cli.stats_fd,
					       .ops = &blk_ops,
					       .params = &dev->params,
					       .dev = dev,
					       .fill_stats = blk_fill_stats,
					       .ready_msg = msg,
					       .seccomp_role = SECCOMP_ROLE_BLK,
					       .seccomp_level = cli.seccomp_level,
					       .sandbox = cli.sandbox,
					       .sb = {.max_fds = BLK_CARD_FDS(cli.blk.queues),
						      .selftest_path = cli.blk.path}},
			    sfd);
	/* card_serve stopped the queues: requests in flight are complete. */
	blk_dev_destroy(dev);
	return status;
}
