/* bench helper: a minimal HTTP/1.1 client for azote's API on a Unix socket (bench/api.sh).
 *
 * Usage:
 *   api-client latency SOCKET|- N METHOD PATH [BODY]
 *       Connects once, sends untimed warm-up requests (API_WARMUP, default 1000), then N
 *       requests one at a time on the same keep-alive connection (write the request, read
 *       exactly one response using its Content-Length, next), timing each with
 *       CLOCK_MONOTONIC. Prints one line:
 *         requests=N errors=E elapsed_s=S rps=R min_us= p50_us= p90_us= p99_us= p999_us=
 *         max_us= max_at=I over1ms=C top=I:US,I:US,... [client_cpu_us= client_runq_ms=]
 *         [server_cpu_us= server_runq_ms=]
 *       (top: the five slowest requests, by index and microseconds; *_cpu_us: CPU time per
 *       request of this client and, with API_SERVER_PID set, of every thread of the server;
 *       *_runq_ms: their total time waiting for a CPU during the loop, from
 *       /proc/.../schedstat). Any status other than 2xx counts as an error; a broken
 *       connection ends the run (exit 1).
 *       SOCKET "-": the same loop against a trivial server (a child process on a socketpair
 *       answering every request with a fixed 93-byte JSON body): the floor that the client,
 *       the kernel's Unix sockets and two wake-ups per request cost without azote.
 *   api-client sequence [-t SECONDS] [-d] [-o FILE] SOCKET METHOD PATH BODY [METHOD PATH BODY]...
 *       Waits (up to SECONDS, default 60) for SOCKET to accept a connection (inotify on its
 *       folder, so no busy polling while the VMM starts), then sends the requests in order
 *       on one connection (BODY "" for none) and prints, with CLOCK_REALTIME instants:
 *         ready t=S.US                      the connection was accepted
 *         req i=K method=M path=P status=N t=S.US    its response was read in full
 *         done ok=0|1
 *       -d: detach once the watch is in place (the parent exits 0 and prints the child's
 *       pid), so a script can start the VMM knowing that the client is already waiting.
 *       -o FILE: those lines (and errors) go to FILE instead of stdout.
 * Exit status: 0 when every response was 2xx; 1 otherwise; 2 on bad usage.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RESP_BUF 65536

struct conn {
	int fd;
	char buf[RESP_BUF];
	size_t len; /* bytes in buf: the response being read, then whatever followed it */
};

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void print_realtime(FILE *f, uint64_t ns)
{
	fprintf(f, "%" PRIu64 ".%06" PRIu64, ns / 1000000000u, ns % 1000000000u / 1000u);
}

static int sock_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The request's bytes into out (one write per request); returns its length or -1. */
static int format_request(char *out, size_t cap, const char *method, const char *path,
			  const char *body)
{
	size_t blen = body ? strlen(body) : 0;
	int n;

	if (blen)
		n = snprintf(out, cap,
			     "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
			     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			     method, path, blen, body);
	else
		n = snprintf(
		    out, cap,
		    "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n", method,
		    path);
	return n < 0 || (size_t)n >= cap ? -1 : n;
}

/* Read more bytes into c->buf; 0 on success, -1 on EOF, error or timeout (SO_RCVTIMEO, set
 * by conn_timeout: no extra system call per read). */
static int fill(struct conn *c)
{
	ssize_t r;

	if (c->len == sizeof(c->buf))
		return -1;
	do
		r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return -1;
	c->len += (size_t)r;
	return 0;
}

static void conn_timeout(struct conn *c, int seconds)
{
	struct timeval tv = {.tv_sec = seconds};

	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* Read exactly one response; returns its status, or -1 if the connection broke. */
static int read_response(struct conn *c)
{
	char *end;
	size_t head_len, body_len = 0, total;
	int status;

	for (;;) {
		end = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
		if (end)
			break;
		if (fill(c))
			return -1;
	}
	head_len = (size_t)(end - c->buf) + 4;
	if (sscanf(c->buf, "HTTP/1.%*d %d", &status) != 1)
		return -1;
	/* Content-Length, if any (204 and 304 have none: no body). */
	for (char *line = memchr(c->buf, '\n', head_len); line && line < end;
	     line = memchr(line + 1, '\n', (size_t)(end - line))) {
		if (!strncasecmp(line + 1, "Content-Length:", 15)) {
			body_len = strtoul(line + 16, NULL, 10);
			break;
		}
	}
	total = head_len + body_len;
	if (total > sizeof(c->buf))
		return -1;
	while (c->len < total)
		if (fill(c))
			return -1;
	memmove(c->buf, c->buf + total, c->len - total);
	c->len -= total;
	return status;
}

/* CPU time and run-queue wait (ns) of every thread of pid (0: this process), summed from
 * /proc/PID/task/TID/schedstat ("on-cpu-ns wait-ns timeslices"). Returns -1 if unavailable. */
static int sched_ns(int pid, uint64_t *cpu, uint64_t *wait)
{
	char path[64], line[128];
	DIR *d;
	struct dirent *e;
	int found = 0;

	*cpu = *wait = 0;
	snprintf(path, sizeof(path), pid ? "/proc/%d/task" : "/proc/self/task", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char p2[400];
		unsigned long long a, b;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(p2, sizeof(p2), "%s/%s/schedstat", path, e->d_name);
		f = fopen(p2, "re");
		if (!f)
			continue;
		if (fgets(line, sizeof(line), f) && sscanf(line, "%llu %llu", &a, &b) == 2) {
			*cpu += a;
			*wait += b;
			found = 1;
		}
		fclose(f);
	}
	closedir(d);
	return found ? 0 : -1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[n], q in (0, 1]. */
static double pct_us(const uint64_t *v, size_t n, double q)
{
	size_t k = (size_t)(q * (double)n + 0.999999);

	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return (double)v[k - 1] / 1000.0;
}

/* The floor: a child process on the other end of a Unix stream socketpair that reads each
 * request (req_len bytes) and answers with a fixed 200 response the size of GET
 * /machine-config's. What remains of azote's latency above this is azote's own work. */
static int floor_server(int req_len, pid_t *pid)
{
	static const char resp[] =
	    "HTTP/1.1 200 OK\r\nServer: azote API\r\nContent-Length: 93\r\n"
	    "Content-Type: application/json\r\n\r\n"
	    "{\"vcpu_count\":1,\"mem_size_mib\":256,\"smt\":false,\"track_dirty_pages\":false,"
	    "\"huge_pages\":\"None\"}";
	char buf[8192];
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || (*pid = fork()) < 0) {
		perror("api-client: floor server");
		return -1;
	}
	if (*pid > 0) {
		close(sv[1]);
		return sv[0];
	}
	close(sv[0]);
	for (;;) {
		int got = 0;

		while (got < req_len) {
			ssize_t r = read(sv[1], buf, sizeof(buf));

			if (r <= 0)
				_exit(0);
			got += (int)r;
		}
		if (write_all(sv[1], resp, sizeof(resp) - 1))
			_exit(0);
	}
}

static int cmd_latency(int argc, char **argv)
{
	struct conn *c;
	char req[8192];
	const char *warm_env = getenv("API_WARMUP");
	long n, warm = warm_env ? atol(warm_env) : 1000;
	uint64_t *lat, *sorted, t0, t1, start, elapsed;
	long errors = 0, over1ms = 0;
	int rlen;
	pid_t floor_pid = 0;

	if (argc < 5 || argc > 6) {
		fprintf(stderr, "usage: api-client latency SOCKET N METHOD PATH [BODY]\n");
		return 2;
	}
	n = atol(argv[2]);
	rlen = format_request(req, sizeof(req), argv[3], argv[4], argc > 5 ? argv[5] : NULL);
	lat = calloc((size_t)(n > 0 ? n : 1), sizeof(*lat));
	sorted = calloc((size_t)(n > 0 ? n : 1), sizeof(*sorted));
	c = calloc(1, sizeof(*c));
	if (n <= 0 || rlen < 0 || !lat || !sorted || !c) {
		fprintf(stderr, "api-client: bad count or request too long\n");
		return 2;
	}
	if (!strcmp(argv[1], "-")) {
		c->fd = floor_server(rlen, &floor_pid);
	} else {
		c->fd = sock_connect(argv[1]);
		if (c->fd < 0)
			fprintf(stderr, "api-client: %s: %s\n", argv[1], strerror(errno));
	}
	if (c->fd < 0)
		return 1;
	conn_timeout(c, 10);
	for (long i = 0; i < warm; i++) {
		if (write_all(c->fd, req, (size_t)rlen) || read_response(c) < 0) {
			fprintf(stderr, "api-client: connection broken during warm-up\n");
			return 1;
		}
	}
	const char *spid = getenv("API_SERVER_PID");
	int server = floor_pid ? floor_pid : spid ? atoi(spid) : -1;
	uint64_t c_cpu0, c_wait0, s_cpu0 = 0, s_wait0 = 0, c_cpu1, c_wait1, s_cpu1 = 0, s_wait1 = 0;
	bool have_c = !sched_ns(0, &c_cpu0, &c_wait0);
	bool have_s = server > 0 && !sched_ns(server, &s_cpu0, &s_wait0);

	start = now_ns(CLOCK_MONOTONIC);
	for (long i = 0; i < n; i++) {
		int status;

		t0 = now_ns(CLOCK_MONOTONIC);
		if (write_all(c->fd, req, (size_t)rlen) || (status = read_response(c)) < 0) {
			fprintf(stderr, "api-client: connection broken at request %ld\n", i);
			return 1;
		}
		t1 = now_ns(CLOCK_MONOTONIC);
		lat[i] = t1 - t0;
		if (status < 200 || status > 299)
			errors++;
		if (lat[i] > 1000000)
			over1ms++;
	}
	elapsed = now_ns(CLOCK_MONOTONIC) - start;
	have_c = have_c && !sched_ns(0, &c_cpu1, &c_wait1);
	have_s = have_s && !sched_ns(server, &s_cpu1, &s_wait1);
	close(c->fd);
	if (floor_pid)
		waitpid(floor_pid, NULL, 0);

	memcpy(sorted, lat, (size_t)n * sizeof(*lat));
	qsort(sorted, (size_t)n, sizeof(*sorted), cmp_u64);
	long max_at = 0;
	for (long i = 1; i < n; i++)
		if (lat[i] > lat[max_at])
			max_at = i;
	printf("requests=%ld errors=%ld elapsed_s=%.3f rps=%.0f min_us=%.1f p50_us=%.1f "
	       "p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f max_at=%ld over1ms=%ld top=",
	       n, errors, (double)elapsed / 1e9, (double)n * 1e9 / (double)elapsed,
	       (double)sorted[0] / 1000.0, pct_us(sorted, (size_t)n, 0.50),
	       pct_us(sorted, (size_t)n, 0.90), pct_us(sorted, (size_t)n, 0.99),
	       pct_us(sorted, (size_t)n, 0.999), (double)sorted[n - 1] / 1000.0, max_at, over1ms);
	/* The five slowest, by index: shows whether outliers cluster (start, a burst) or not. */
	for (int k = 0; k < 5 && k < n; k++) {
		long best = -1;

		for (long i = 0; i < n; i++)
			if (lat[i] != UINT64_MAX && (best < 0 || lat[i] > lat[best]))
				best = i;
		printf("%s%ld:%.0f", k ? "," : "", best, (double)lat[best] / 1000.0);
		lat[best] = UINT64_MAX;
	}
	/* Where the time went: CPU per request of each side, and how long each waited for a CPU
	 * (run queue) over the whole loop: an outlier with a large wait is CPU contention. */
	if (have_c)
		printf(" client_cpu_us=%.2f client_runq_ms=%.2f",
		       (double)(c_cpu1 - c_cpu0) / 1e3 / (double)n,
		       (double)(c_wait1 - c_wait0) / 1e6);
	if (have_s)
		printf(" server_cpu_us=%.2f server_runq_ms=%.2f",
		       (double)(s_cpu1 - s_cpu0) / 1e3 / (double)n,
		       (double)(s_wait1 - s_wait0) / 1e6);
	printf("\n");
	free(lat);
	free(sorted);
	free(c);
	return errors ? 1 : 0;
}

/* Connect to path, waiting up to deadline (CLOCK_MONOTONIC ns) for it to appear: inotify on
 * its folder while it does not exist, a short sleep while it exists but does not listen yet
 * (bind before listen). ino is a watch set up beforehand. */
static int wait_connect(const char *path, int ino, uint64_t deadline)
{
	char evbuf[4096];
	int fd;

	for (;;) {
		fd = sock_connect(path);
		if (fd >= 0)
			return fd;
		if (errno != ENOENT && errno != ECONNREFUSED)
			return -1;
		uint64_t now = now_ns(CLOCK_MONOTONIC);
		if (now >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno == ECONNREFUSED) {
			struct timespec ts = {0, 100000}; /* 100 us */

			nanosleep(&ts, NULL);
			continue;
		}
		struct pollfd p = {.fd = ino, .events = POLLIN};
		uint64_t left_ms = (deadline - now) / 1000000u + 1;

		if (poll(&p, 1, left_ms > 1000 ? 1000 : (int)left_ms) > 0)
			while (read(ino, evbuf, sizeof(evbuf)) > 0)
				;
	}
}

static int cmd_sequence(int argc, char **argv)
{
	int timeout_s = 60, argi = 1, ino, pipefd[2] = {-1, -1}, out = -1;
	bool detach = false, ok = true;
	struct conn *c = calloc(1, sizeof(*c));
	char req[8192], dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char *sock;

	while (argi < argc && argv[argi][0] == '-') {
		if (!strcmp(argv[argi], "-t") && argi + 1 < argc) {
			timeout_s = atoi(argv[argi + 1]);
			argi += 2;
		} else if (!strcmp(argv[argi], "-d")) {
			detach = true;
			argi++;
		} else if (!strcmp(argv[argi], "-o") && argi + 1 < argc) {
			out = open(argv[argi + 1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
			if (out < 0) {
				fprintf(stderr, "api-client: %s: %s\n", argv[argi + 1],
					strerror(errno));
				return 1;
			}
			argi += 2;
		} else {
			break;
		}
	}
	if (!c || argc - argi < 4 || (argc - argi - 1) % 3 || timeout_s <= 0) {
		fprintf(stderr, "usage: api-client sequence [-t SECONDS] [-d] [-o FILE] SOCKET "
				"METHOD PATH BODY "
				"[METHOD PATH BODY]...\n");
		return 2;
	}
	sock = argv[argi++];
	snprintf(dir, sizeof(dir), "%s", sock);
	ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ino < 0 || inotify_add_watch(ino, dirname(dir), IN_CREATE | IN_MOVED_TO) < 0) {
		fprintf(stderr, "api-client: inotify on the folder of %s: %s\n", sock,
			strerror(errno));
		return 1;
	}
	if (detach) {
		pid_t pid;

		if (pipe(pipefd) < 0 || (pid = fork()) < 0) {
			perror("api-client");
			return 1;
		}
		if (pid > 0) {
			char b;

			close(pipefd[1]);
			/* The child has its watch: the caller may start the VMM. */
			if (read(pipefd[0], &b, 1) != 1)
				return 1;
			printf("%d\n", (int)pid);
			return 0;
		}
		close(pipefd[0]);
		setsid();
	}
	/* Results (and errors) to FILE: a detached child must not hold the caller's pipes. */
	if (out >= 0 && (dup2(out, STDOUT_FILENO) < 0 || dup2(out, STDERR_FILENO) < 0)) {
		perror("api-client: -o");
		return 1;
	}
	if (detach) {
		if (write(pipefd[1], "", 1) != 1)
			_exit(1);
		close(pipefd[1]);
	}
	c->fd =
	    wait_connect(sock, ino, now_ns(CLOCK_MONOTONIC) + (uint64_t)timeout_s * 1000000000u);
	if (c->fd < 0) {
		printf("error waiting for %s: %s\ndone ok=0\n", sock, strerror(errno));
		return 1;
	}
	conn_timeout(c, timeout_s);
	close(ino);
	printf("ready t=");
	print_realtime(stdout, now_ns(CLOCK_REALTIME));
	printf("\n");
	for (int k = 1; argi + 2 < argc; argi += 3, k++) {
		const char *body = argv[argi + 2][0] ? argv[argi + 2] : NULL;
		int rlen = format_request(req, sizeof(req), argv[argi], argv[argi + 1], body),
		    status;

		if (rlen < 0 || write_all(c->fd, req, (size_t)rlen) ||
		    (status = read_response(c)) < 0) {
			printf("req i=%d method=%s path=%s status=none\n", k, argv[argi],
			       argv[argi + 1]);
			ok = false;
			break;
		}
		uint64_t t = now_ns(CLOCK_REALTIME);
		printf("req i=%d method=%s path=%s status=%d t=", k, argv[argi], argv[argi + 1],
		       status);
		print_realtime(stdout, t);
		printf("\n");
		if (status < 200 || status > 299) {
			ok = false;
			break;
		}
	}
	close(c->fd);
	printf("done ok=%d\n", ok);
	free(c);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	/* Lines go out as they happen when stdout is a file another process watches. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "latency"))
		return cmd_latency(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "sequence"))
		return cmd_sequence(argc - 1, argv + 1);
	fprintf(
	    stderr,
	    "usage: api-client latency SOCKET|- N METHOD PATH [BODY]\n"
	    "       api-client sequence [-t SECONDS] [-d] [-o FILE] SOCKET METHOD PATH BODY...\n");
	return 2;
}
