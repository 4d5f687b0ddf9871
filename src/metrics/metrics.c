#include "metrics/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "api/http_server.h"
#include "cards/card_stats.h"
#include "kvm/vcpu.h"
#include "util/log.h"
#include "vmm/vmm.h"

#define METRICS_PERIOD_S 60 /* Firecracker's period */
#define API_SLOTS	 96

struct api_slot {
	char method[8];
	char endpoint[24];
	int status;
	uint64_t count, flushed;
};

struct metrics {
	struct vmm *vmm;
	struct http_server *http;
	int fd;	 /* the metrics file, -1 until PUT /metrics */
	int tfd; /* the periodic flush */
	uint64_t started_ns;
	struct api_slot api[API_SLOTS];
	unsigned napi;
	/* What the previous line reported, for deltas. */
	uint64_t prev_exits[VCPU_EXIT_REASONS];
	struct http_server_stats prev_http;
	uint64_t prev_card[VMM_MAX_CARDS][CARD_STATS_MAX];
};

static uint64_t now_ns(int clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int metrics_create(struct metrics **out, struct vmm *vmm)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->vmm = vmm;
	m->fd = m->tfd = -1;
	*out = m;
	return 0;
}

void metrics_destroy(struct metrics *m)
{
	if (!m)
		return;
	if (m->tfd >= 0) {
		evloop_del(&m->vmm->loop, m->tfd);
		close(m->tfd);
	}
	if (m->fd >= 0) {
		metrics_flush(m); /* the last counts, like Firecracker at exit */
		close(m->fd);
	}
	free(m);
}

static void metrics_on_timer(void *opaque, int fd, uint32_t events)
{
	struct metrics *m = opaque;
	uint64_t ticks;
	int rc;

	if (read(fd, &ticks, sizeof(ticks)) < 0)
		return;
	rc = metrics_flush(m);
	if (rc)
		log_warn("metrics: cannot write: %s", strerror(-rc));
}

int metrics_set_path(struct metrics *m, const char *path)
{
	struct itimerspec every = {.it_interval = {.tv_sec = METRICS_PERIOD_S},
				   .it_value = {.tv_sec = METRICS_PERIOD_S}};
	int rc;

	m->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0600);
	if (m->fd < 0)
		return -errno;
	m->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (m->tfd < 0 || timerfd_settime(m->tfd, 0, &every, NULL) < 0)
		rc = -errno;
	else
		rc = evloop_add(&m->vmm->loop, m->tfd, EPOLLIN, metrics_on_timer, m);
	if (rc) {
		if (m->tfd >= 0)
			close(m->tfd);
		close(m->fd);
		m->fd = m->tfd = -1;
	}
	return rc;
}

void metrics_set_http(struct metrics *m, struct http_server *http)
{
	m->http = http;
}

void metrics_vm_started(struct metrics *m)
{
	m->started_ns = now_ns(CLOCK_MONOTONIC);
}

void metrics_count_api(struct metrics *m, const char *method, const char *endpoint, int status)
{
	struct api_slot *s = NULL;

	for (unsigned i = 0; i < m->napi && !s; i++)
		if (m->api[i].status == status && !strcmp(m->api[i].method, method) &&
		    !strcmp(m->api[i].endpoint, endpoint))
			s = &m->api[i];
	if (!s && m->napi < API_SLOTS) {
		s = &m->api[m->napi++];
		snprintf(s->method, sizeof(s->method), "%s", method);
		snprintf(s->endpoint, sizeof(s->endpoint), "%s", endpoint);
		s->status = status;
	}
	if (!s) /* table full: the last slot stands for everything else */
		s = &m->api[API_SLOTS - 1];
	s->count++;
}

/* The card's page, with a bounded count (the card is not trusted). */
static unsigned card_count(const struct card_stats_page *p)
{
	uint32_t n;

	if (!p || p->magic != CARD_STATS_MAGIC)
		return 0;
	n = __atomic_load_n(&p->count, __ATOMIC_ACQUIRE);
	return n < CARD_STATS_MAX ? n : CARD_STATS_MAX;
}

static void card_name(const struct card_stat *s, char *name)
{
	memcpy(name, s->name, CARD_STATS_NAME);
	name[CARD_STATS_NAME - 1] = '\0';
	for (char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
			*c = '_';
}

static const char *card_kind(const struct vmm_card *c)
{
	return !strncmp(c->name, "disk ", 5) ? "block" : "net";
}

static uint64_t vcpu_exits(const struct vmm *vmm, unsigned reason)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < vmm->nvcpus_ready; i++)
		sum += __atomic_load_n(&vmm->vcpus[i].exits[reason], __ATOMIC_RELAXED);
	return sum;
}

static json_t *api_group(struct metrics *m, const char *method)
{
	json_t *g = json_object();
	char key[48];

	for (unsigned i = 0; i < m->napi; i++) {
		struct api_slot *s = &m->api[i];
		json_t *old;
		uint64_t d = s->count - s->flushed;

		if (strcmp(s->method, method))
			continue;
		snprintf(key, sizeof(key), "%s_%s", s->endpoint, s->status >= 400 ? "fails" : "count");
		old = json_object_get(g, key);
		json_object_set_new(g, key, json_integer((json_int_t)(d + (old ? (uint64_t)json_integer_value(old) : 0))));
		if (s->status >= 400) { /* a failure is also a request */
			snprintf(key, sizeof(key), "%s_count", s->endpoint);
			old = json_object_get(g, key);
			json_object_set_new(g, key, json_integer((json_int_t)(d + (old ? (uint64_t)json_integer_value(old) : 0))));
		}
	}
	return g;
}

int metrics_flush(struct metrics *m)
{
	struct vmm *vmm = m->vmm;
	struct http_server_stats hs = {0};
	json_t *root = json_object(), *vcpu = json_object(), *http;
	char *line;
	size_t len;
	ssize_t w;

	if (m->fd < 0)
		return -EBADF;
	json_object_set_new(root, "utc_timestamp_ms",
			    json_integer((json_int_t)(now_ns(CLOCK_REALTIME) / 1000000)));
	if (m->http)
		http_server_get_stats(m->http, &hs);
	http = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "connections",
			 (json_int_t)(hs.connections - m->prev_http.connections), "requests",
			 (json_int_t)(hs.requests - m->prev_http.requests), "bad_requests",
			 (json_int_t)(hs.bad_requests - m->prev_http.bad_requests), "too_large",
			 (json_int_t)(hs.too_large - m->prev_http.too_large), "timeouts",
			 (json_int_t)(hs.timeouts - m->prev_http.timeouts), "rejected_connections",
			 (json_int_t)(hs.rejected_connections - m->prev_http.rejected_connections));
	json_object_set_new(root, "api_server", http);
	json_object_set_new(root, "get_api_requests", api_group(m, "GET"));
	json_object_set_new(root, "put_api_requests", api_group(m, "PUT"));
	json_object_set_new(root, "patch_api_requests", api_group(m, "PATCH"));
	for (unsigned r = 0; r < VCPU_EXIT_REASONS; r++) {
		uint64_t v = vcpu_exits(vmm, r);
		char key[48];

		if (!v && !m->prev_exits[r])
			continue;
		snprintf(key, sizeof(key), "exit_%s", vcpu_exit_name(r));
		json_object_set_new(vcpu, key, json_integer((json_int_t)(v - m->prev_exits[r])));
		m->prev_exits[r] = v;
	}
	json_object_set_new(root, "vcpu", vcpu);
	for (unsigned i = 0; i < vmm->ncards_ready; i++) {
		const struct vmm_card *c = &vmm->cards[i];
		unsigned n = card_count(c->stats);
		json_t *g = json_object();
		char key[64], name[CARD_STATS_NAME];

		for (unsigned j = 0; j < n; j++) {
			uint64_t v = __atomic_load_n(&c->stats->stats[j].value, __ATOMIC_RELAXED);

			card_name(&c->stats->stats[j], name);
			json_object_set_new(g, name, json_integer((json_int_t)(v - m->prev_card[i][j])));
			m->prev_card[i][j] = v;
		}
		snprintf(key, sizeof(key), "%s_%s", card_kind(c), strchr(c->name, ' ') + 1);
		json_object_set_new(root, key, g);
	}
	json_object_set_new(root, "guest",
			    json_pack("{s:I}", "uptime_ms",
				      (json_int_t)(m->started_ns ? (now_ns(CLOCK_MONOTONIC) -
								    m->started_ns) / 1000000
								 : 0)));
	line = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!line)
		return -ENOMEM;
	len = strlen(line);
	line[len++] = '\n'; /* json_dumps left room for the NUL */
	w = write(m->fd, line, len);
	free(line);
	for (unsigned i = 0; i < m->napi; i++)
		m->api[i].flushed = m->api[i].count;
	m->prev_http = hs;
	return w == (ssize_t)len ? 0 : (w < 0 ? -errno : -EIO);
}

/* --- Prometheus text --- */

struct text {
	char *buf;
	size_t len, cap;
	bool failed;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		char *bigger = realloc(t->buf, t->cap * 2);
		if (!bigger) {
			t->failed = true;
			return;
		}
		t->buf = bigger;
		t->cap *= 2;
	}
}

char *metrics_prometheus(struct metrics *m, size_t *len)
{
	struct vmm *vmm = m->vmm;
	struct http_server_stats hs = {0};
	struct text t = {.buf = malloc(4096), .cap = 4096};

	if (!t.buf)
		return NULL;
	t.buf[0] = '\0';
	text_add(&t, "# HELP azote_vcpu_exits_total VM exits handled by azote's vCPU threads, by KVM exit reason.\n"
		     "# TYPE azote_vcpu_exits_total counter\n");
	for (unsigned r = 0; r < VCPU_EXIT_REASONS; r++) {
		uint64_t v = vcpu_exits(vmm, r);

		if (v)
			text_add(&t, "azote_vcpu_exits_total{reason=\"%s\"} %llu\n", vcpu_exit_name(r),
				 (unsigned long long)v);
	}
	text_add(&t, "# HELP azote_api_requests_total API requests answered, by method, endpoint and status.\n"
		     "# TYPE azote_api_requests_total counter\n");
	for (unsigned i = 0; i < m->napi; i++)
		text_add(&t, "azote_api_requests_total{method=\"%s\",endpoint=\"%s\",status=\"%d\"} %llu\n",
			 m->api[i].method, m->api[i].endpoint, m->api[i].status,
			 (unsigned long long)m->api[i].count);
	if (m->http)
		http_server_get_stats(m->http, &hs);
	text_add(&t, "# TYPE azote_api_connections_total counter\nazote_api_connections_total %llu\n"
		     "# TYPE azote_api_bad_requests_total counter\nazote_api_bad_requests_total %llu\n"
		     "# TYPE azote_api_timeouts_total counter\nazote_api_timeouts_total %llu\n"
		     "# TYPE azote_api_rejected_connections_total counter\nazote_api_rejected_connections_total %llu\n",
		 (unsigned long long)hs.connections, (unsigned long long)(hs.bad_requests + hs.too_large),
		 (unsigned long long)hs.timeouts, (unsigned long long)hs.rejected_connections);
	text_add(&t, "# HELP azote_device_counter Counters of the device processes, by device.\n"
		     "# TYPE azote_device_counter counter\n");
	for (unsigned i = 0; i < vmm->ncards_ready; i++) {
		const struct vmm_card *c = &vmm->cards[i];
		unsigned n = card_count(c->stats);
		char name[CARD_STATS_NAME];

		for (unsigned j = 0; j < n; j++) {
			card_name(&c->stats->stats[j], name);
			text_add(&t, "azote_device_counter{kind=\"%s\",id=\"%s\",counter=\"%s\"} %llu\n",
				 card_kind(c), strchr(c->name, ' ') + 1, name,
				 (unsigned long long)__atomic_load_n(&c->stats->stats[j].value,
								    __ATOMIC_RELAXED));
		}
	}
	text_add(&t, "# HELP azote_guest_uptime_seconds Time since the guest started.\n"
		     "# TYPE azote_guest_uptime_seconds gauge\nazote_guest_uptime_seconds %.3f\n",
		 m->started_ns ? (double)(now_ns(CLOCK_MONOTONIC) - m->started_ns) / 1e9 : 0.0);
	if (t.failed) {
		free(t.buf);
		return NULL;
	}
	*len = t.len;
	return t.buf;
}
