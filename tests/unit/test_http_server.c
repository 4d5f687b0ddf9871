/* The API's HTTP/1.1 server, driven over a real Unix socket: the test is the client and runs the
 * server's event loop itself between its own reads and writes, so every step is deterministic. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/http_server.h"

#define BIG_LEN	   100000
#define WAIT_MS	   3000
#define CLIENT_BUF (1u << 20)

struct fx {
	struct evloop loop;
	struct http_server *srv;
	struct http_limits lim;
	char dir[64];
	char path[108];
	unsigned calls;
	/* The last request the handler saw. */
	enum http_verb method;
	char method_name[16];
	char rpath[2048];
	char query[256];
	char *body;
	size_t body_len;
	bool json;
	bool keep_alive;
};

struct client {
	int fd;
	char *buf;
	size_t len;
	bool eof;
};

struct resp {
	int status;
	char head[1024];
	char *body;
	size_t body_len;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static char *memdup0(const char *p, size_t n)
{
	char *d = malloc(n + 1);

	assert_non_null(d);
	memcpy(d, p, n);
	d[n] = '\0';
	return d;
}

/* Routes of the test API: what each one answers exercises one part of the transport. */
static void handler(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct fx *f = ctx;
	char buf[64];

	f->calls++;
	f->method = req->method;
	snprintf(f->method_name, sizeof(f->method_name), "%s", req->method_name);
	snprintf(f->rpath, sizeof(f->rpath), "%s", req->path);
	snprintf(f->query, sizeof(f->query), "%s", req->query);
	free(f->body);
	assert_int_equal(req->body[req->body_len], '\0');
	f->body = memdup0(req->body, req->body_len);
	f->body_len = req->body_len;
	f->json = req->has_json_content_type;
	f->keep_alive = req->keep_alive;

	resp->status = 200;
	if (!strcmp(req->path, "/echo")) {
		resp->status = req->body_len ? 200 : 204;
		resp->body = req->body_len ? memdup0(req->body, req->body_len) : NULL;
		resp->body_len = req->body_len;
	} else if (!strcmp(req->path, "/nocontent")) {
		resp->status = 204;
		resp->body = memdup0("{}", 2);
		resp->body_len = 2;
	} else if (!strcmp(req->path, "/big")) {
		resp->body = malloc(BIG_LEN);
		assert_non_null(resp->body);
		memset(resp->body, 'b', BIG_LEN);
		resp->body_len = BIG_LEN;
	} else if (!strcmp(req->path, "/fault")) {
		assert_int_equal(http_response_fault(resp, 400, "bad \"%s\"\n", "x"), 0);
	} else if (!strcmp(req->path, "/weird")) {
		resp->status = 99;
	} else {
		int n = snprintf(buf, sizeof(buf), "{\"n\": %u}", f->calls);
		resp->body = memdup0(buf, (size_t)n);
		resp->body_len = (size_t)n;
	}
}

static struct fx *fx_start(const struct http_limits *lim)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/azote-http-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/api.sock", f->dir);
	if (lim) {
		f->lim = *lim;
	} else {
		http_limits_default(&f->lim);
		f->lim.max_header_bytes = 1024;
		f->lim.max_body_bytes = 4096;
	}
	assert_int_equal(evloop_init(&f->loop), 0);
	assert_int_equal(http_server_listen(&f->srv, &f->loop, f->path, &f->lim, handler, f), 0);
	return f;
}

static void fx_stop(struct fx *f)
{
	http_server_destroy(f->srv);
	/* The socket file goes with the server. */
	assert_int_equal(access(f->path, F_OK), -1);
	evloop_fini(&f->loop);
	rmdir(f->dir);
	free(f->body);
	free(f);
}

static struct http_server_stats stats(struct fx *f)
{
	struct http_server_stats st;

	http_server_get_stats(f->srv, &st);
	return st;
}

static void pump(struct fx *f, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	do
		assert_true(evloop_poll(&f->loop, 1) >= 0);
	while (now_ms() < end);
}

static struct client *client_open(struct fx *f)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct client *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->buf = malloc(CLIENT_BUF);
	assert_non_null(c->buf);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c->fd >= 0);
	strcpy(sa.sun_path, f->path);
	assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(fcntl(c->fd, F_SETFL, O_NONBLOCK), 0);
	return c;
}

static void client_close(struct client *c)
{
	close(c->fd);
	free(c->buf);
	free(c);
}

/* Take what the server has sent; true if anything came. */
static bool client_fill(struct client *c)
{
	ssize_t n;

	if (c->eof || c->len == CLIENT_BUF)
		return false;
	n = read(c->fd, c->buf + c->len, CLIENT_BUF - c->len);
	if (n > 0) {
		c->len += (size_t)n;
		return true;
	}
	if (n == 0 || (errno != EAGAIN && errno != EINTR))
		c->eof = true;
	return false;
}

/* Send everything, running the server (and taking its answers) while the socket is full. */
static void client_send(struct fx *f, struct client *c, const char *data, size_t len)
{
	uint64_t end = now_ms() + WAIT_MS;

	while (len > 0) {
		ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);

		if (n > 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		assert_true(errno == EAGAIN);
		assert_true(now_ms() < end);
		client_fill(c);
		assert_true(evloop_poll(&f->loop, 1) >= 0);
	}
}

static void client_sends(struct fx *f, struct client *c, const char *s)
{
	client_send(f, c, s, strlen(s));
}

/* One response off the front of the client's buffer; head_only for the answer to HEAD. */
static bool take_response(struct client *c, struct resp *r, bool head_only)
{
	char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
	size_t head_len, body_len = 0;
	const char *cl;

	if (!end)
		return false;
	head_len = (size_t)(end - c->buf) + 4;
	assert_true(head_len < sizeof(r->head));
	memcpy(r->head, c->buf, head_len);
	r->head[head_len] = '\0';
	cl = strstr(r->head, "Content-Length: ");
	if (cl && !head_only)
		body_len = strtoul(cl + 16, NULL, 10);
	if (c->len < head_len + body_len)
		return false;
	assert_int_equal(sscanf(r->head, "HTTP/1.1 %d ", &r->status), 1);
	r->body = memdup0(c->buf + head_len, body_len);
	r->body_len = body_len;
	memmove(c->buf, c->buf + head_len + body_len, c->len - head_len - body_len);
	c->len -= head_len + body_len;
	return true;
}

/* Run the server until the next response arrives. Returns false on end of stream. */
static bool get_response2(struct fx *f, struct client *c, struct resp *r, bool head_only)
{
	uint64_t end = now_ms() + WAIT_MS;

	memset(r, 0, sizeof(*r));
	while (!take_response(c, r, head_only)) {
		if (!client_fill(c)) {
			if (c->eof)
				return false;
			assert_true(now_ms() < end);
			assert_true(evloop_poll(&f->loop, 1) >= 0);
		}
	}
	return true;
}

static bool get_response(struct fx *f, struct client *c, struct resp *r)
{
	return get_response2(f, c, r, false);
}

static void expect_response(struct fx *f, struct client *c, int status, const char *body)
{
	struct resp r;

	assert_true(get_response(f, c, &r));
	assert_int_equal(r.status, status);
	if (body)
		assert_string_equal(r.body, body);
	free(r.body);
}

/* The server closes: everything it sent before has been read by now. */
static void expect_eof(struct fx *f, struct client *c, int within_ms)
{
	uint64_t end = now_ms() + (uint64_t)within_ms;

	while (!c->eof) {
		if (!client_fill(c)) {
			assert_true(now_ms() < end);
			assert_true(evloop_poll(&f->loop, 1) >= 0);
		}
	}
	assert_int_equal(c->len, 0);
}

/* A fault answer: status, JSON body with the message, Connection: close, then end of stream. */
static void expect_fault(struct fx *f, struct client *c, int status, const char *msg_part)
{
	struct resp r;

	assert_true(get_response(f, c, &r));
	assert_int_equal(r.status, status);
	assert_non_null(strstr(r.head, "Connection: close\r\n"));
	assert_non_null(strstr(r.head, "Content-Type: application/json\r\n"));
	assert_true(!strncmp(r.body, "{\"fault_message\": \"", 19));
	if (msg_part)
		assert_non_null(strstr(r.body, msg_part));
	free(r.body);
	expect_eof(f, c, WAIT_MS);
}

/* The loop still serves: a fresh connection gets an answer. */
static void expect_alive(struct fx *f)
{
	struct client *c = client_open(f);

	client_sends(f, c, "GET /alive HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_response(f, c, 200, NULL);
	client_close(c);
}

static void wait_no_connections(struct fx *f)
{
	uint64_t end = now_ms() + WAIT_MS;

	while (http_server_connections(f->srv) > 0) {
		assert_true(now_ms() < end);
		assert_true(evloop_poll(&f->loop, 1) >= 0);
	}
}

static void test_keepalive_sequence(void **state)
{
	struct fx *f = fx_start(NULL);
	struct client *c = client_open(f);
	struct resp r;

	client_sends(f, c, "GET /machine-config?x=1&y=2 HTTP/1.1\r\nHost: localhost\r\n\r\n");
	assert_true(get_response(f, c, &r));
	assert_string_equal(r.head, "HTTP/1.1 200 OK\r\nServer: azote API\r\nContent-Length: 8\r\n"
				    "Content-Type: application/json\r\n\r\n");
	assert_string_equal(r.body, "{\"n\": 1}");
	free(r.body);
	assert_int_equal(f->method, HTTP_VERB_GET);
	assert_string_equal(f->method_name, "GET");
	assert_string_equal(f->rpath, "/machine-config");
	assert_string_equal(f->query, "x=1&y=2");
	assert_int_equal(f->body_len, 0);
	assert_true(f->keep_alive);

	client_sends(f, c,
		     "PUT /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
		     "Content-Length: 13\r\n\r\n{\"vcpus\": 2}\n");
	expect_response(f, c, 200, "{\"vcpus\": 2}\n");
	assert_int_equal(f->method, HTTP_VERB_PUT);
	assert_true(f->json);
	assert_int_equal(f->body_len, 13);

	client_sends(f, c,
		     "PATCH /echo HTTP/1.1\r\nContent-Type: Application/JSON; charset=utf-8\r\n"
		     "Content-Length: 0\r\n\r\n");
	assert_true(get_response(f, c, &r));
	/* 204: no Content-Length, no Content-Type, no body. */
	assert_string_equal(r.head, "HTTP/1.1 204 No Content\r\nServer: azote API\r\n\r\n");
	free(r.body);
	assert_int_equal(f->method, HTTP_VERB_PATCH);
	assert_true(f->json);

	client_sends(f, c, "DELETE /x HTTP/1.1\r\nContent-Type: application/jsonx\r\n\r\n");
	expect_response(f, c, 200, "{\"n\": 4}");
	assert_int_equal(f->method, HTTP_VERB_DELETE);
	assert_false(f->json);

	client_sends(f, c, "POST /x HTTP/1.1\r\nContent-Type: text/plain\r\n\r\n");
	expect_response(f, c, 200, "{\"n\": 5}");
	assert_int_equal(f->method, HTTP_VERB_POST);
	assert_false(f->json);

	/* HEAD: the GET headers, no body; the next response follows right after them. */
	client_sends(f, c, "HEAD /x HTTP/1.1\r\n\r\nOPTIONS /x HTTP/1.1\r\n\r\n");
	assert_true(get_response2(f, c, &r, true));
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.head, "Content-Length: 8\r\n"));
	free(r.body);
	assert_true(get_response(f, c, &r));
	assert_string_equal(r.body, "{\"n\": 7}");
	free(r.body);
	assert_int_equal(f->method, HTTP_VERB_OTHER);
	assert_string_equal(f->method_name, "OPTIONS");

	/* Absolute form is accepted (RFC 9112 §3.2.2); the fragment is dropped. */
	client_sends(f, c, "GET http://localhost/vm#frag HTTP/1.1\r\n\r\n");
	expect_response(f, c, 200, NULL);
	assert_string_equal(f->rpath, "/vm");
	assert_string_equal(f->query, "");

	assert_int_equal(stats(f).connections, 1);
	assert_int_equal(stats(f).requests, 8);
	assert_int_equal(http_server_connections(f->srv), 1);
	client_close(c);
	wait_no_connections(f);
	fx_stop(f);
}

static void test_response_rules(void **state)
{
	struct fx *f = fx_start(NULL);
	struct client *c = client_open(f);
	struct resp r;

	/* A body given with 204 is dropped, a status out of range becomes 500. */
	client_sends(f, c, "GET /nocontent HTTP/1.1\r\n\r\nGET /weird HTTP/1.1\r\n\r\n");
	assert_true(get_response(f, c, &r));
	assert_string_equal(r.head, "HTTP/1.1 204 No Content\r\nServer: azote API\r\n\r\n");
	free(r.body);
	assert_true(get_response(f, c, &r));
	assert_string_equal(r.head, "HTTP/1.1 500 Internal Server Error\r\nServer: azote API\r\n"
				    "Content-Length: 0\r\n\r\n");
	free(r.body);

	/* Fault bodies are JSON-escaped. */
	client_sends(f, c, "GET /fault HTTP/1.1\r\n\r\n");
	expect_response(f, c, 400, "{\"fault_message\": \"bad \\\"x\\\"\\u000a\"}");
	client_close(c);
	fx_stop(f);
}

static void test_pipelining(void **state)
{
	struct fx *f = fx_start(NULL);
	struct client *c = client_open(f);

	client_sends(f, c,
		     "PUT /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
		     "GET /a HTTP/1.1\r\n\r\n"
		     "\r\n" /* a stray CRLF between requests is allowed (RFC 9112 §2.2) */
		     "PUT /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n"
		     "GET /b HTTP/1.1\r\n\r\n");
	expect_response(f, c, 200, "abc");
	expect_response(f, c, 200, "{\"n\": 2}");
	expect_response(f, c, 200, "xy");
	expect_response(f, c, 200, "{\"n\": 4}");
	assert_string_equal(f->rpath, "/b");
	client_close(c);
	fx_stop(f);
}

static void test_connection_close(void **state)
{
	struct fx *f = fx_start(NULL);
	struct client *c = client_open(f);
	struct resp r;

	/* Connection: close is honoured, and requests pipelined after it are not served. */
	client_sends(f, c, "GET /a HTTP/1.1\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
	assert_true(get_response(f, c, &r));
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.head, "Connection: close\r\n"));
	assert_false(f->keep_alive);
	free(r.body);
	expect_eof(f, c, WAIT_MS);
	assert_int_equal(f->calls, 1);
	client_close(c);

	/* HTTP/1.0 closes by default... */
	c = client_open(f);
	client_sends(f, c, "GET /a HTTP/1.0\r\n\r\n");
	assert_true(get_response(f, c, &r));
	assert_non_null(strstr(r.head, "Connection: close\r\n"));
	free(r.body);
	expect_eof(f, c, WAIT_MS);
	client_close(c);

	/* ... unless it asks to keep the connection, and is told it is kept. */
	c = client_open(f);
	client_sends(f, c, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	assert_true(get_response(f, c, &r));
	assert_non_null(strstr(r.head, "Connection: keep-alive\r\n"));
	free(r.body);
	client_sends(f, c, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	expect_response(f, c, 200, NULL);

	/* A client that shuts its side after a request still gets the answer. */
	client_sends(f, c, "GET /last HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	shutdown(c->fd, SHUT_WR);
	expect_response(f, c, 200, NULL);
	expect_eof(f, c, WAIT_MS);
	client_close(c);
	fx_stop(f);
}

static void test_expect_continue(void **state)
{
	struct fx *f = fx_start(NULL);
	struct client *c = client_open(f);
	struct resp r;

	client_sends(f, c,
		     "PUT /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
	assert_true(get_response(f, c, &r));
	assert_string_equal(r.head, "HTTP/1.1 100 Continue\r\n\r\n");
	free(r.body);
	assert_int_equal(f->calls, 0);
	client_sends(f, c, "hello");
	expect_response(f, c, 200, "hello");

	/* Too large: the final answer comes instead of 100 Continue. */
	client_sends(f, c,
		     "PUT /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 99999\r\n\r\n");
	expect_fault(f, c, 400, "Request payload with size 99999 is larger than the limit of 4096");
	client_close(c);
	fx_stop(f);
}

static void test_chunked_body(void **state)
{
	struct fx *f = fx_start(NULL);
	struct client *c = client_open(f);
	char chunk[1100];

	client_sends(f, c,
		     "PUT /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n");
	expect_response(f, c, 200, "hello world");

	/* Chunks that add up past the body limit: Firecracker's "too large" answer. */
	client_sends(f, c, "PUT /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	memset(chunk, 'z', sizeof(chunk));
	memcpy(chunk, "400\r\n", 5);
	memcpy(chunk + 5 + 1024, "\r\n", 2);
	for (int i = 0; i < 5; i++)
		client_send(f, c, chunk, 5 + 1024 + 2);
	expect_fault(f, c, 400, "is larger than the limit of 4096 allowed by server.");
	assert_int_equal(f->calls, 1);
	assert_int_equal(stats(f).too_large, 1);
	client_close(c);
	expect_alive(f);
	fx_stop(f);
}

static void one_bad_request(struct fx *f, const char *req, int status, const char *msg_part)
{
	struct client *c = client_open(f);

	client_sends(f, c, req);
	expect_fault(f, c, status, msg_part);
	client_close(c);
}

static void test_malformed(void **state)
{
	struct fx *f = fx_start(NULL);

	one_bad_request(f, "HELLO WORLD\r\n\r\n", 400, "Invalid HTTP request");
	one_bad_request(f, "GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400, NULL);
	one_bad_request(f, "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400,
			NULL);
	one_bad_request(f, "GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400, NULL);
	one_bad_request(f, "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", 400, "header name");
	one_bad_request(f, "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, "header name");
	one_bad_request(f, "GET /\x01 HTTP/1.1\r\n\r\n", 400, NULL);
	one_bad_request(f, "PUT /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400,
			NULL);
	one_bad_request(f, "OPTIONS * HTTP/1.1\r\n\r\n", 400, "Invalid request target");
	one_bad_request(f, "CONNECT localhost:80 HTTP/1.1\r\n\r\n", 400, NULL);
	one_bad_request(f, "GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n", 400,
			"Upgrade");
	one_bad_request(f, "GET / HTTP/2.0\r\n\r\n", 505, "HTTP version 2.0");
	assert_int_equal(f->calls, 0);
	assert_int_equal(stats(f).bad_requests, 12);
	expect_alive(f);
	fx_stop(f);
}

static void test_header_limits(void **state)
{
	struct fx *f = fx_start(NULL);
	char req[4096];

	/* Long header field, long URL: 431 whichever way the bytes are split. */
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nX-Pad: %02000d\r\n\r\n", 0);
	one_bad_request(f, req, 431, "larger than the limit of 1024 bytes");
	snprintf(req, sizeof(req), "GET /%02000d HTTP/1.1\r\n\r\n", 0);
	one_bad_request(f, req, 431, NULL);
	/* Many small fields. */
	strcpy(req, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < 150; i++)
		strcat(req, "X-A: b\r\n");
	strcat(req, "\r\n");
	one_bad_request(f, req, 431, NULL);
	assert_int_equal(stats(f).too_large, 3);

	/* Just under the limit is fine. */
	struct client *c = client_open(f);
	snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nX-Pad: %0900d\r\n\r\n", 0);
	client_sends(f, c, req);
	expect_response(f, c, 200, NULL);
	client_close(c);
	fx_stop(f);
}

static void test_body_limit(void **state)
{
	struct fx *f = fx_start(NULL);
	struct client *c = client_open(f);
	char *req = malloc(8192);

	assert_non_null(req);
	/* Exactly the limit passes. */
	int n = snprintf(req, 8192, "PUT /echo HTTP/1.1\r\nContent-Length: 4096\r\n\r\n");
	memset(req + n, 'q', 4096);
	client_send(f, c, req, (size_t)n + 4096);
	expect_response(f, c, 200, NULL);
	assert_int_equal(f->body_len, 4096);

	/* One byte more: refused before the body is read; the handler never sees it. */
	client_sends(f, c, "PUT /echo HTTP/1.1\r\nContent-Length: 4097\r\n\r\nqqqq");
	expect_fault(f, c, 400,
		     "Request payload with size 4097 is larger than the limit of 4096 allowed by "
		     "server.");
	assert_int_equal(f->calls, 1);
	client_close(c);
	free(req);
	expect_alive(f);
	fx_stop(f);
}

static void test_too_many_connections(void **state)
{
	struct http_limits lim;
	struct client *c[5];
	struct fx *f;

	http_limits_default(&lim);
	lim.max_connections = 4;
	f = fx_start(&lim);
	for (int i = 0; i < 5; i++)
		c[i] = client_open(f);
	pump(f, 20);
	assert_int_equal(http_server_connections(f->srv), 4);
	expect_fault(f, c[4], 503, "Too many open API connections");
	assert_int_equal(stats(f).rejected_connections, 1);
	for (int i = 0; i < 4; i++) {
		client_sends(f, c[i], "GET / HTTP/1.1\r\n\r\n");
		expect_response(f, c[i], 200, NULL);
	}
	/* A slot freed is a slot for the next client. */
	client_close(c[0]);
	client_close(c[4]);
	pump(f, 20);
	assert_int_equal(http_server_connections(f->srv), 3);
	c[0] = client_open(f);
	client_sends(f, c[0], "GET / HTTP/1.1\r\n\r\n");
	expect_response(f, c[0], 200, NULL);
	for (int i = 0; i < 4; i++)
		client_close(c[i]);
	wait_no_connections(f);
	assert_int_equal(stats(f).rejected_connections, 1);
	fx_stop(f);
}

static void test_many_connections_in_a_row(void **state)
{
	struct fx *f = fx_start(NULL);
	struct client *c[100];
	unsigned ok = 0, refused = 0;

	/* One after the other: all served. */
	for (int i = 0; i < 100; i++) {
		struct client *one = client_open(f);

		client_sends(f, one, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
		expect_response(f, one, 200, NULL);
		expect_eof(f, one, WAIT_MS);
		client_close(one);
	}
	assert_int_equal(stats(f).connections, 100);

	/* All at once: max_connections are served, the others refused cleanly. */
	for (int i = 0; i < 100; i++)
		c[i] = client_open(f);
	pump(f, 50);
	for (int i = 0; i < 100; i++) {
		struct resp r;

		if (send(c[i]->fd, "GET / HTTP/1.1\r\n\r\n", 18, MSG_NOSIGNAL) < 0)
			assert_true(errno == EPIPE || errno == ECONNRESET);
		assert_true(get_response(f, c[i], &r));
		if (r.status == 200)
			ok++;
		else if (r.status == 503)
			refused++;
		free(r.body);
	}
	assert_int_equal(ok, 16);
	assert_int_equal(refused, 84);
	assert_int_equal(stats(f).rejected_connections, 84);
	for (int i = 0; i < 100; i++)
		client_close(c[i]);
	wait_no_connections(f);
	expect_alive(f);
	fx_stop(f);
}

static void test_disconnect_mid_request(void **state)
{
	struct fx *f = fx_start(NULL);
	struct client *c = client_open(f);

	client_sends(f, c, "PUT /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\n0123456789");
	pump(f, 20);
	assert_int_equal(http_server_connections(f->srv), 1);
	client_close(c);
	wait_no_connections(f);

	c = client_open(f);
	client_sends(f, c, "PUT /echo HTTP/1.1\r\nContent-Le");
	pump(f, 20);
	/* Shutting only the write side: the server reads the end, drops the partial request. */
	shutdown(c->fd, SHUT_WR);
	expect_eof(f, c, WAIT_MS);
	client_close(c);
	wait_no_connections(f);
	assert_int_equal(f->calls, 0);
	expect_alive(f);
	fx_stop(f);
}

static struct http_limits quick_limits(void)
{
	struct http_limits lim;

	http_limits_default(&lim);
	lim.idle_timeout_ms = 300;
	lim.request_timeout_ms = 150;
	return lim;
}

static void test_slow_client_timeout(void **state)
{
	struct http_limits lim = quick_limits();
	struct fx *f = fx_start(&lim);
	struct client *c = client_open(f);
	const char *req = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
	uint64_t start = now_ms();

	pump(f, 5);
	assert_int_equal(http_server_connections(f->srv), 1);
	/* Dripping a byte every 40 ms does not extend the request's deadline. */
	for (int i = 0; i < 10 && http_server_connections(f->srv); i++) {
		if (send(c->fd, req + i, 1, MSG_NOSIGNAL) < 0)
			break;
		pump(f, 40);
	}
	expect_fault(f, c, 408, NULL);
	assert_true(now_ms() - start < 1000);
	assert_int_equal(http_server_connections(f->srv), 0);
	assert_int_equal(stats(f).timeouts, 1);
	assert_int_equal(f->calls, 0);
	client_close(c);

	c = client_open(f);
	client_sends(f, c, "GET / HTTP/1.1\r\n");
	expect_fault(f, c, 408, "Request not completed within 150 ms");
	client_close(c);
	fx_stop(f);
}

static void test_idle_timeout(void **state)
{
	struct http_limits lim = quick_limits();
	struct fx *f = fx_start(&lim);
	struct client *c = client_open(f);

	/* Requests every 100 ms keep it open well past the idle timeout... */
	for (int i = 0; i < 6; i++) {
		client_sends(f, c, "GET / HTTP/1.1\r\n\r\n");
		expect_response(f, c, 200, NULL);
		pump(f, 100);
	}
	assert_int_equal(http_server_connections(f->srv), 1);
	/* ... silence closes it, without an answer. */
	expect_eof(f, c, 1000);
	assert_int_equal(stats(f).timeouts, 1);
	client_close(c);
	fx_stop(f);
}

/* A client that pipelines requests and never reads: the server stops reading too, keeps its
 * memory bounded, and hangs up once the client has been stuck for the request timeout. */
static void test_unread_responses(void **state)
{
	struct http_limits lim = quick_limits();
	struct fx *f;
	struct client *c;
	static const char req[] = "GET /big HTTP/1.1\r\n\r\n";
	unsigned sent = 0, blocked = 0;
	int sndbuf = 4096;

	/* Room for the checks below to run before the deadline, even on a slow machine. */
	lim.request_timeout_ms = 500;
	f = fx_start(&lim);
	c = client_open(f);
	assert_int_equal(setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	while (blocked < 5) {
		if (send(c->fd, req, sizeof(req) - 1, MSG_NOSIGNAL) > 0) {
			sent++;
			blocked = 0;
			assert_true(evloop_poll(&f->loop, 0) >= 0);
		} else {
			assert_true(errno == EAGAIN);
			blocked++;
			pump(f, 10);
		}
		assert_true(sent < 100000);
	}
	/* Far fewer answered than asked: the server stopped taking requests. */
	assert_true(f->calls < sent);
	assert_true(f->calls < 100);
	assert_int_equal(http_server_connections(f->srv), 1);
	pump(f, 800);
	assert_int_equal(http_server_connections(f->srv), 0);
	assert_int_equal(stats(f).timeouts, 1);
	client_close(c);
	fx_stop(f);
}

/* The same pipeline from a client that does read: every answer comes, in order. */
static void test_backpressure_drains(void **state)
{
	struct fx *f = fx_start(NULL);
	struct client *c = client_open(f);
	char req[64];

	for (int i = 0; i < 40; i++)
		client_sends(f, c, "GET /big HTTP/1.1\r\n\r\n");
	snprintf(req, sizeof(req), "GET /after HTTP/1.1\r\n\r\n");
	client_sends(f, c, req);
	for (int i = 0; i < 40; i++) {
		struct resp r;

		assert_true(get_response(f, c, &r));
		assert_int_equal(r.status, 200);
		assert_int_equal(r.body_len, BIG_LEN);
		free(r.body);
	}
	expect_response(f, c, 200, "{\"n\": 41}");
	client_close(c);
	fx_stop(f);
}

static void test_burst_1000(void **state)
{
	struct fx *f = fx_start(NULL);
	struct client *c = client_open(f);
	static const char one[] =
	    "PUT /n HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\n{}";
	size_t len = sizeof(one) - 1;
	char *all = malloc(1000 * len);
	char want[32];

	assert_non_null(all);
	for (int i = 0; i < 1000; i++)
		memcpy(all + (size_t)i * len, one, len);
	client_send(f, c, all, 1000 * len);
	for (unsigned i = 1; i <= 1000; i++) {
		snprintf(want, sizeof(want), "{\"n\": %u}", i);
		expect_response(f, c, 200, want);
	}
	assert_int_equal(stats(f).requests, 1000);
	assert_int_equal(stats(f).connections, 1);
	free(all);
	client_close(c);
	fx_stop(f);
}

static void test_socket_file(void **state)
{
	struct fx *f = fx_start(NULL);
	struct http_server *other = NULL;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	char path2[128];
	int fd;

	/* 0600 from the start. */
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);

	/* A live server's socket is not taken over, and the live server keeps serving. */
	assert_int_equal(http_server_listen(&other, &f->loop, f->path, NULL, handler, f),
			 -EADDRINUSE);
	assert_null(other);
	expect_alive(f);

	/* A stale socket (its process gone) is replaced. */
	snprintf(path2, sizeof(path2), "%s/stale.sock", f->dir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(sa.sun_path, path2);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(http_server_listen(&other, &f->loop, path2, NULL, handler, f), 0);
	http_server_destroy(other);
	assert_int_equal(access(path2, F_OK), -1);

	/* Anything else is left alone. */
	fd = open(path2, O_CREAT | O_WRONLY, 0600);
	close(fd);
	assert_int_equal(http_server_listen(&other, &f->loop, path2, NULL, handler, f), -EEXIST);
	assert_int_equal(access(path2, F_OK), 0);
	unlink(path2);

	/* Destroy unlinks only its own socket, not one that replaced it. */
	assert_int_equal(http_server_listen(&other, &f->loop, path2, NULL, handler, f), 0);
	unlink(path2);
	fd = open(path2, O_CREAT | O_WRONLY, 0600);
	close(fd);
	http_server_destroy(other);
	assert_int_equal(access(path2, F_OK), 0);
	unlink(path2);

	memset(path2, 'a', sizeof(path2) - 1);
	path2[sizeof(path2) - 1] = '\0';
	assert_int_equal(http_server_listen(&other, &f->loop, path2, NULL, handler, f),
			 -ENAMETOOLONG);
	fx_stop(f);
}

static void test_destroy_with_open_connections(void **state)
{
	struct fx *f = fx_start(NULL);
	struct client *a = client_open(f), *b = client_open(f);

	client_sends(f, a, "PUT /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\n01");
	client_sends(f, b, "GET / HTTP/1.1\r\n\r\n");
	expect_response(f, b, 200, NULL);
	assert_int_equal(http_server_connections(f->srv), 2);
	fx_stop(f);
	/* The server's end is closed: the clients see the end of the stream. */
	assert_true(read(a->fd, a->buf, 16) == 0 || errno == ECONNRESET);
	client_close(a);
	client_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_keepalive_sequence),
	    cmocka_unit_test(test_response_rules),
	    cmocka_unit_test(test_pipelining),
	    cmocka_unit_test(test_connection_close),
	    cmocka_unit_test(test_expect_continue),
	    cmocka_unit_test(test_chunked_body),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_header_limits),
	    cmocka_unit_test(test_body_limit),
	    cmocka_unit_test(test_too_many_connections),
	    cmocka_unit_test(test_many_connections_in_a_row),
	    cmocka_unit_test(test_disconnect_mid_request),
	    cmocka_unit_test(test_slow_client_timeout),
	    cmocka_unit_test(test_idle_timeout),
	    cmocka_unit_test(test_unread_responses),
	    cmocka_unit_test(test_backpressure_drains),
	    cmocka_unit_test(test_burst_1000),
	    cmocka_unit_test(test_socket_file),
	    cmocka_unit_test(test_destroy_with_open_connections),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
