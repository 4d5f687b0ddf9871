#include "cards/card_main.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "util/evloop.h"
#include "util/log.h"

int card_signals_block(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

static void card_on_signal(void *opaque, int fd, uint32_t events)
{
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		log_info("signal %u: stopping", si.ssi_signo);
	evloop_stop(opaque);
}

int card_serve(const struct card_run *run, int signal_fd)
{
	struct card_stats_pub stats = {.tfd = -1};
	struct vhost_backend *be = NULL;
	struct evloop loop;
	int rc = evloop_init(&loop);

	if (!rc)
		rc = evloop_add(&loop, signal_fd, EPOLLIN, card_on_signal, &loop);
	if (rc) {
		log_error("cannot set up signal handling: %s", strerror(-rc));
		goto out;
	}
	rc = vhost_backend_create(run->ops, run->params, run->dev, &be);
	if (rc) {
		log_error("cannot set up the vhost-user backend: %s", strerror(-rc));
		goto out;
	}
	rc = run->socket_path ? vhost_backend_listen(be, &loop, run->socket_path)
			      : vhost_backend_serve_fd(be, &loop, run->fd);
	if (rc)
		goto out;
	if (run->stats_fd >= 0 && run->fill_stats &&
	    card_stats_start(&stats, &loop, run->stats_fd, run->fill_stats, run->dev))
		log_warn("--stats-fd %d: cannot publish counters", run->stats_fd);
	log_info("%s, on %s", run->ready_msg, run->socket_path ? run->socket_path : "the given socket");
	rc = evloop_run(&loop);
	if (rc)
		log_error("event loop failed: %s", strerror(-rc));
	/* Completes requests in flight (queue_stop) before the device is destroyed. */
	vhost_backend_destroy(be);
	be = NULL;
	card_stats_stop(&stats);
	evloop_fini(&loop);
	close(signal_fd);
	return rc ? 1 : 0;
out:
	vhost_backend_destroy(be);
	evloop_fini(&loop);
	close(signal_fd);
	return 2;
}
