/* The API's listening socket: creating it safely, accepting within the limits, and the one
 * timer that enforces every connection's deadline. */
#include "api/http_server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api/http_priv.h"
#include "util/log.h"

/* Connections taken per wake-up of the listening socket, so that one burst of clients does not
 * hold up the rest of the loop. */
#define HTTP_ACCEPT_BATCH 16
/* After accept() fails for lack of fds or memory, wait this long before trying again. */
#define HTTP_ACCEPT_RETRY_MS 100

uint64_t http_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void http_limits_default(struct http_limits *lim)
{
	*lim = (struct http_limits){
	    .max_header_bytes = 8192,
	    .max_body_bytes = 51200,
	    .max_connections = 16,
	    .idle_timeout_ms = 60000,
	    .request_timeout_ms = 10000,
	};
}

static void http_server_on_timer(void *opaque, int fd, uint32_t events)
{
	struct http_server *s = opaque;
	uint64_t now = http_now_ms(), ticks;
	struct http_conn *next;

	if (read(fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		log_warn("api: reading the timer: %s", strerror(errno));
	s->timer_armed_ms = UINT64_MAX;
	for (struct http_conn *c = s->conns; c; c = next) {
		next = c->next;
		if (c->deadline_ms <= now)
			http_conn_expire(c);
	}
	if (s->accept_paused && s->accept_retry_ms <= now &&
	    !evloop_mod(s->loop, s->listen_fd, EPOLLIN))
		s->accept_paused = false;
	http_server_rearm(s);
}

void http_server_rearm(struct http_server *s)
{
	uint64_t next = UINT64_MAX;
	struct itimerspec its = {0};

	for (const struct http_conn *c = s->conns; c; c = c->next)
		if (c->deadline_ms < next)
			next = c->deadline_ms;
	if (s->accept_paused && s->accept_retry_ms < next)
		next = s->accept_retry_ms;
	if (next == s->timer_armed_ms)
		return;
	if (next != UINT64_MAX) {
		its.it_value.tv_sec = (time_t)(next / 1000);
		its.it_value.tv_nsec = (long)(next % 1000) * 1000000;
		/* An all-zero value would disarm the timer instead of firing it at once. */
		if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
			its.it_value.tv_nsec = 1;
	}
	if (timerfd_settime(s->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
		log_warn("api: arming the timer: %s", strerror(errno));
		return;
	}
	s->timer_armed_ms = next;
}

int http_server_create(struct http_server **out, struct evloop *loop, const struct http_limits *lim,
		       http_handler_fn fn, void *ctx)
{
	struct http_server *s;
	int rc;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (lim)
		s->lim = *lim;
	else
		http_limits_default(&s->lim);
	s->loop = loop;
	s->fn = fn;
	s->ctx = ctx;
	s->listen_fd = -1;
	s->timer_armed_ms = UINT64_MAX;
	if (!s->lim.max_header_bytes || !s->lim.max_connections || !s->lim.idle_timeout_ms ||
	    !s->lim.request_timeout_ms || !fn) {
		free(s);
		return -EINVAL;
	}
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->timer_fd < 0) {
		rc = -errno;
		free(s);
		return rc;
	}
	rc = evloop_add(loop, s->timer_fd, EPOLLIN, http_server_on_timer, s);
	if (rc) {
		close(s->timer_fd);
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int http_server_adopt(struct http_server *s, int fd)
{
	struct http_conn *c = http_conn_create(s, fd);
	int rc = c ? evloop_add(s->loop, fd, EPOLLIN, http_conn_on_event, c) : -ENOMEM;

	if (rc) {
		free(c ? c->url : NULL);
		free(c);
		close(fd);
		s->stats.rejected_connections++;
		return rc;
	}
	c->next = s->conns;
	s->conns = c;
	s->nconns++;
	s->stats.connections++;
	http_server_rearm(s);
	return 0;
}

/* Over the connection limit: say so and hang up. */
static void http_server_refuse(struct http_server *s, int fd)
{
	char buf[512], scratch[1024];
	size_t n = http_format_refusal(buf, sizeof(buf), 503, "Too many open API connections.");

	/* A fresh socket's send buffer is empty: this cannot block or come up short. */
	if (send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("api: refusing a connection: %s", strerror(errno));
	/* Closing a Unix socket with unread input resets the peer, which may then lose our
	 * answer: take what the client has sent already. */
	while (recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT) > 0)
		;
	close(fd);
	s->stats.rejected_connections++;
}

static void http_server_on_accept(void *opaque, int fd, uint32_t events)
{
	struct http_server *s = opaque;

	for (unsigned i = 0; i < HTTP_ACCEPT_BATCH; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN)
				break;
			/* Out of fds or memory: the socket stays readable, so stop watching it
			 * for a while instead of spinning. */
			log_warn("api: accepting a connection: %s", strerror(errno));
			if (!evloop_mod(s->loop, fd, 0)) {
				s->accept_paused = true;
				s->accept_retry_ms = http_now_ms() + HTTP_ACCEPT_RETRY_MS;
			}
			break;
		}
		if (s->nconns >= s->lim.max_connections)
			http_server_refuse(s, cfd);
		else if (http_server_adopt(s, cfd))
			log_warn("api: no room for another connection");
	}
	http_server_rearm(s);
}

/* bind() with a umask that makes the socket file 0600 from its creation: no window in which
 * another user could connect. The umask is the process's, but only for these two calls, and it
 * can only make a concurrently created file more private. */
static int http_bind_private(int fd, const struct sockaddr_un *sa)
{
	mode_t old = umask(0177);
	int rc = bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 ? -errno : 0;

	umask(old);
	return rc;
}

/* Something exists at the path: remove it if it is a socket nobody listens on.
 * Returns 0 (gone), -EADDRINUSE (a live listener) or -EEXIST (not a socket). */
static int http_remove_stale(const struct sockaddr_un *sa)
{
	struct stat st;
	int probe, err;

	if (lstat(sa->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (probe < 0)
		return -errno;
	err = connect(probe, (const struct sockaddr *)sa, sizeof(*sa)) < 0 ? errno : 0;
	close(probe);
	/* Only a refusal proves the socket dead; a full backlog (EAGAIN) is a live one. */
	if (err != ECONNREFUSED)
		return -EADDRINUSE;
	return unlink(sa->sun_path) < 0 && errno != ENOENT ? -errno : 0;
}

static int http_server_bind(struct http_server *s, const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	s->path = strdup(path);
	if (!s->path)
		return -ENOMEM;
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0)
		return -errno;
	rc = http_bind_private(s->listen_fd, &sa);
	if (rc == -EADDRINUSE) {
		rc = http_remove_stale(&sa);
		if (!rc)
			rc = http_bind_private(s->listen_fd, &sa);
	}
	if (rc)
		return rc;
	/* Remember which file is ours, so that destroy never unlinks a successor's socket. */
	if (stat(path, &st) == 0) {
		s->sock_dev = st.st_dev;
		s->sock_ino = st.st_ino;
	}
	if (listen(s->listen_fd, SOMAXCONN) < 0)
		return -errno;
	return evloop_add(s->loop, s->listen_fd, EPOLLIN, http_server_on_accept, s);
}

int http_server_listen(struct http_server **out, struct evloop *loop, const char *socket_path,
		       const struct http_limits *lim, http_handler_fn fn, void *ctx)
{
	struct http_server *s;
	int rc = http_server_create(&s, loop, lim, fn, ctx);

	*out = NULL;
	if (rc) {
		log_error("API socket %s: %s", socket_path, strerror(-rc));
		return rc;
	}
	rc = http_server_bind(s, socket_path);
	if (rc) {
		if (rc == -EADDRINUSE)
			log_error("API socket %s: another process is listening on it", socket_path);
		else if (rc == -EEXIST)
			log_error("API socket %s: exists and is not a socket", socket_path);
		else
			log_error("API socket %s: %s", socket_path, strerror(-rc));
		http_server_destroy(s);
		return rc;
	}
	*out = s;
	return 0;
}

void http_server_destroy(struct http_server *s)
{
	struct stat st;

	if (!s)
		return;
	while (s->conns)
		http_conn_destroy(s->conns);
	if (s->listen_fd >= 0) {
		evloop_del(s->loop, s->listen_fd);
		close(s->listen_fd);
	}
	evloop_del(s->loop, s->timer_fd);
	close(s->timer_fd);
	if (s->path && s->sock_ino && lstat(s->path, &st) == 0 && st.st_dev == s->sock_dev &&
	    st.st_ino == s->sock_ino)
		unlink(s->path);
	free(s->path);
	free(s);
}

void http_server_get_stats(const struct http_server *s, struct http_server_stats *out)
{
	*out = s->stats;
}

unsigned http_server_connections(const struct http_server *s)
{
	return s->nconns;
}
