#include "cards/card_main.h"

#include <errno.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/evloop.h"
#include "util/log.h"

static int card_signals_block(void)
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

int card_begin(const char *name, bool verbose)
{
	int sfd;

	log_set_name(name);
	log_set_level(verbose ? LOG_DEBUG : LOG_INFO);
	sfd = card_signals_block();
	if (sfd < 0)
		log_error("cannot set up signal handling: %s", strerror(-sfd));
	return sfd < 0 ? -1 : sfd;
}

static void card_on_signal(void *opaque, int fd, uint32_t events)
{
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		log_info("signal %u: stopping", si.ssi_signo);
	evloop_stop(opaque);
}

int card_option_on_off(const char *arg, bool *on)
{
	if (strcmp(arg, "on") && strcmp(arg, "off"))
		return -EINVAL;
	*on = !strcmp(arg, "on");
	return 0;
}

/* Remove the socket file the child listened on, unless another backend listens there now (the
 * child failed because of it). */
static void card_socket_remove(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct stat st;
	int probe;

	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode) || strlen(path) >= sizeof(addr.sun_path))
		return;
	strcpy(addr.sun_path, path);
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe < 0)
		return;
	if (connect(probe, (struct sockaddr *)&addr, sizeof(addr)) < 0 && errno == ECONNREFUSED)
		unlink(path);
	close(probe);
}

/* The parent half (--socket with the sandbox): pass signals on to the child, wait for it, remove
 * the socket, end the way it ended. */
static int card_supervise(pid_t child, const char *socket_path)
{
	sigset_t set;
	int sfd, ws = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	for (;;) {
		struct pollfd pfd = {.fd = sfd, .events = POLLIN};
		struct signalfd_siginfo si;

		if (waitpid(child, &ws, WNOHANG) == child)
			break;
		if (sfd >= 0 && poll(&pfd, 1, -1) < 0 && errno != EINTR) {
			waitpid(child, &ws, 0);
			break;
		}
		while (sfd >= 0 && read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			if (si.ssi_signo != SIGCHLD)
				kill(child, (int)si.ssi_signo);
		if (sfd < 0)
			usleep(100000);
	}
	if (sfd >= 0)
		close(sfd);
	card_socket_remove(socket_path);
	if (WIFSIGNALED(ws)) {
		/* The child's death, not a dump of this half. */
		setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
		signal(WTERMSIG(ws), SIG_DFL);
		sigemptyset(&set);
		sigaddset(&set, WTERMSIG(ws));
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		raise(WTERMSIG(ws));
	}
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : 1;
}

/* Fork, before anything the child serves exists. Returns -1 in the child (go on serving), or the
 * exit status in the parent. */
static int card_split(const char *socket_path)
{
	sigset_t chld, old;
	pid_t parent = getpid(), pid;

	/* Blocked before the fork, so that the child's exit cannot go unnoticed. */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	pid = fork();
	if (pid < 0) {
		log_error("cannot fork the sandboxed half: %s", strerror(errno));
		return 2;
	}
	if (pid > 0)
		return card_supervise(pid, socket_path);
	sigprocmask(SIG_SETMASK, &old, NULL);
	/* Dies with its parent, e.g. when the parent is killed with SIGKILL. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
		_exit(1);
	return -1;
}

/* Batch scheduling, inherited by the queue threads and io_uring's workers: a kick or a
 * completion then does not preempt the vCPU that shares our CPU (a batch thread waits for it
 * to halt, or for the tick). The guest adds more requests or packets meanwhile, without kicking
 * (the event index already passed), and takes more completions per interrupt: every kick and
 * interrupt is a guest exit, which costs more than the wait. With a CPU to spare, nothing
 * changes. */
static void card_sched_batch(void)
{
	struct sched_param sp = {0};

	if (sched_setscheduler(0, SCHED_BATCH, &sp) < 0)
		log_debug("SCHED_BATCH: %s", strerror(errno));
}

int card_serve(const struct card_run *run, int signal_fd)
{
	struct card_stats_pub stats = {.tfd = -1};
	struct vhost_backend *be = NULL;
	struct evloop loop;
	int rc;

	if (run->sandbox && run->socket_path) {
		rc = card_split(run->socket_path);
		if (rc >= 0) {
			close(signal_fd);
			return rc;
		}
	}
	card_sched_batch(); /* before any thread starts: they inherit it */
	rc = evloop_init(&loop);
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
	/* Every fd the card needs exists: leave the host before the first guest request. */
	if (run->sandbox && card_sandbox_enter(&run->sb)) {
		card_stats_stop(&stats);
		goto out;
	}
	log_info("%s, on %s", run->ready_msg, run->socket_path ? run->socket_path : "the given socket");
	rc = seccomp_install(run->seccomp_role, run->seccomp_level);
	if (!rc)
		card_sandbox_selftest(&run->sb);
	if (!rc)
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
