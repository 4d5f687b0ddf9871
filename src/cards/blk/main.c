/* azote-blk: a vhost-user-blk backend over a raw disk image. azote starts one per disk on a
 * socketpair (--fd); it also serves QEMU's `-device vhost-user-blk-pci` (--socket). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cards/blk/blk_dev.h"
#include "cards/card_main.h"
#include "util/log.h"
#include "util/size.h"

/* Default queue count when the frontend does not say: one per host CPU, capped. */
#define BLK_DEFAULT_QUEUES_MAX 8

struct blk_cli {
	struct blk_options blk;
	const char *socket_path;
	int fd;
	int stats_fd; /* azote's counters page, or -1 */
	bool verbose;
};

static void blk_usage(void)
{
	printf("usage: azote-blk (--socket PATH | --fd N) --file IMG [--ro] [--queues N]\n"
	       "                 [--serial ID] [--verbose]\n"
	       "\n"
	       "Serve a raw disk image (regular file or block device) as a vhost-user-blk device.\n"
	       "  --socket PATH   listen on this unix socket, one frontend at a time (QEMU:\n"
	       "                  -chardev socket,path=PATH -device vhost-user-blk-pci)\n"
	       "  --fd N          use the already-connected socket N; exit when it closes\n"
	       "  --file IMG      the disk image; locked while in use (OFD lock)\n"
	       "  --ro            read-only disk: writes fail with an I/O error\n"
	       "  --queues N      most queues a frontend may use, 1..%d (default: host CPUs,\n"
	       "                  at most %d); each running queue has its own thread\n"
	       "  --serial ID     device ID the guest reads, at most 20 bytes (default: IMG's\n"
	       "                  file name)\n"
	       "  --stats-fd N    publish the disk's counters in this memfd page (azote\n"
	       "                  passes one for its metrics)\n"
	       "  --verbose       log every vhost-user message\n"
	       "  --print-capabilities  print the vhost-user backend capabilities (JSON)\n"
	       "Also accepted: --socket-path, --blk-file, --read-only (vhost-user conventions).\n"
	       "Exit status: 0 on SIGTERM/SIGINT or when the --fd frontend leaves, 1 runtime\n"
	       "failure, 2 bad input or unusable image (one line on stderr says why).\n",
	       BLK_QUEUES_MAX, BLK_DEFAULT_QUEUES_MAX);
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
	OPT_CAPS
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

/* Parse argv into cli. Returns -1 to go on, or the exit status (0 after --help). */
static int blk_cli_parse(int argc, char **argv, struct blk_cli *cli)
{
	uint64_t v;
	int opt;

	*cli = (struct blk_cli){.fd = -1, .stats_fd = -1, .blk.queues = blk_default_queues()};
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
	if (!cli->blk.path)
		return blk_cli_fail("%s", "--file IMG is required");
	if (!cli->socket_path == (cli->fd < 0))
		return blk_cli_fail("%s", "give exactly one of --socket PATH and --fd N");
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

/* Batch scheduling, inherited by the queue threads and io_uring's workers: a kick or a
 * completion then does not preempt the vCPU that shares our CPU (a batch thread waits for it
 * to halt, or for the tick). The guest adds more requests meanwhile, without kicking (the
 * event index already passed), and takes more completions per interrupt: every kick and
 * interrupt is a guest exit, which costs more than the wait. With a CPU to spare, nothing
 * changes. */
static void blk_sched_batch(void)
{
	struct sched_param sp = {0};

	if (sched_setscheduler(0, SCHED_BATCH, &sp) < 0)
		log_debug("SCHED_BATCH: %s", strerror(errno));
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
	log_set_name("azote-blk");
	log_set_level(cli.verbose ? LOG_DEBUG : LOG_INFO);
	sfd = card_signals_block();
	if (sfd < 0) {
		log_error("cannot set up signal handling: %s", strerror(-sfd));
		return 2;
	}
	if (blk_dev_create(&cli.blk, &dev)) {
		close(sfd);
		return 2;
	}
	blk_sched_batch();
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
					       .ready_msg = msg},
			    sfd);
	/* card_serve stopped the queues: requests in flight are complete. */
	blk_dev_destroy(dev);
	return status;
}
