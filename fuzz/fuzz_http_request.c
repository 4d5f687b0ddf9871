/* libFuzzer target for the API's HTTP server: the input is what a client sends on a connection.
 *
 * The server serves one end of a socketpair on its own event loop; the fuzzer writes the input
 * into the other end in slices (sizes taken from the input, so requests split everywhere),
 * reads and checks whatever comes back, then shuts its side. The connection must then end,
 * ASan and UBSan watch every byte, and the responses must frame exactly: a status line, and a
 * Content-Length (unless 1xx, 204, 304) that the bytes that follow match.
 *
 * Input: [0] slice size seed, then the bytes sent, where bytes 0xF0-0xFF stand for the tokens
 * below: http-parser is not instrumented, so the fuzzer would hardly find its way to a valid
 * request without them. Small limits make every limit reachable. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/http_priv.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Answers that exercise the transport: sizes, no-content statuses, bad statuses. */
static void fuzz_handler(void *ctx, const struct http_request *req, struct http_response *resp)
{
	size_t n = strlen(req->path) + strlen(req->query) + req->body_len;

	if (req->body[req->body_len] != '\0' || req->path[0] != '/')
		__builtin_trap();
	resp->status = 200;
	/* A HEAD answer's Content-Length describes a body that is not sent: the client side
	 * below could not frame what follows (the unit tests cover it). */
	if (req->method == HTTP_VERB_HEAD)
		return;
	switch (n % 5) {
	case 0:
		resp->status = 204;
		break;
	case 1:
		(void)http_response_fault(resp, 400, "bad %s", req->path);
		break;
	case 2:
		resp->status = (int)(n % 700);
		break;
	default:
		resp->body_len = n * 50;
		resp->body = malloc(resp->body_len + 1);
		if (resp->body)
			memset(resp->body, 'r', resp->body_len);
		else
			resp->body_len = 0;
	}
}

static const char *const fuzz_tokens[16] = {
    "GET /",
    "PUT /",
    "PATCH /x?q=1",
    "HEAD /",
    " HTTP/1.1\r\n",
    " HTTP/1.0\r\n",
    "\r\n",
    "Content-Length: ",
    "Transfer-Encoding: chunked\r\n",
    "Expect: 100-continue\r\n",
    "Connection: close\r\n",
    "Connection: keep-alive\r\n",
    "Content-Type: application/json\r\n",
    "\r\n\r\n",
    "0\r\n\r\n",
    "{\"vcpu_count\": 2}",
};

/* The stream the client sends: the input with its tokens expanded. */
static char *fuzz_expand(const uint8_t *data, size_t size, size_t *len)
{
	char *out = malloc(size * 34 + 1);
	size_t n = 0;

	if (!out)
		abort();
	for (size_t i = 0; i < size; i++) {
		if (data[i] >= 0xF0) {
			size_t t = strlen(fuzz_tokens[data[i] - 0xF0]);

			memcpy(out + n, fuzz_tokens[data[i] - 0xF0], t);
			n += t;
		} else {
			out[n++] = (char)data[i];
		}
	}
	*len = n;
	return out;
}

/* What the client has received and not yet checked. */
struct fuzz_client {
	char buf[1 << 18];
	size_t len;
};

/* Check and drop the complete responses at the front: a status line, and a Content-Length
 * unless the status is 1xx, 204 or 304, with that many bytes after the head. */
static void fuzz_check_responses(struct fuzz_client *cl)
{
	size_t used = 0;

	for (;;) {
		const char *p = cl->buf + used, *end;
		const char *cl_field;
		size_t head, body = 0;
		int status;

		end = memmem(p, cl->len - used, "\r\n\r\n", 4);
		if (!end)
			break;
		head = (size_t)(end - p) + 4;
		if (strncmp(p, "HTTP/1.1 ", 9) || sscanf(p + 9, "%3d", &status) != 1 ||
		    status < 100 || status > 599)
			__builtin_trap();
		cl_field = memmem(p, head, "Content-Length: ", 16);
		if (cl_field)
			body = strtoul(cl_field + 16, NULL, 10);
		else if (status >= 200 && status != 204 && status != 304)
			__builtin_trap();
		if (cl->len - used - head < body)
			break;
		used += head + body;
	}
	memmove(cl->buf, cl->buf + used, cl->len - used);
	cl->len -= used;
	cl->buf[cl->len] = '\0';
}

static void fuzz_drain(int fd, struct fuzz_client *cl)
{
	ssize_t n;

	while ((n = recv(fd, cl->buf + cl->len, sizeof(cl->buf) - 1 - cl->len, MSG_DONTWAIT)) > 0) {
		cl->len += (size_t)n;
		fuzz_check_responses(cl);
		/* No single answer here is this large. */
		if (cl->len == sizeof(cl->buf) - 1)
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_client cl;
	struct http_limits lim = {
	    .max_header_bytes = 512,
	    .max_body_bytes = 1024,
	    .max_connections = 1,
	    .idle_timeout_ms = 60000,
	    .request_timeout_ms = 60000,
	};
	struct evloop loop;
	struct http_server *s;
	size_t slice, off = 0, len;
	char *stream;
	int sv[2];

	if (size < 1)
		return 0;
	/* The warning for a handler's bad status would flood the run. */
	log_set_level(LOG_ERROR);
	slice = 1 + data[0] % 64;
	stream = fuzz_expand(data + 1, size - 1, &len);
	if (evloop_init(&loop) || http_server_create(&s, &loop, &lim, fuzz_handler, NULL))
		abort();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) ||
	    http_server_adopt(s, sv[0]))
		abort();
	cl.len = 0;
	while (off < len && http_server_connections(s)) {
		size_t n = len - off < slice ? len - off : slice;
		ssize_t w = send(sv[1], stream + off, n, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w > 0)
			off += (size_t)w;
		else if (errno != EAGAIN)
			break;
		if (evloop_poll(&loop, 0) < 0)
			abort();
		fuzz_drain(sv[1], &cl);
	}
	shutdown(sv[1], SHUT_WR);
	/* With the input ended and the answers read, the server must let go of the connection. */
	for (int i = 0; http_server_connections(s); i++) {
		if (i > 100000 || evloop_poll(&loop, 0) < 0)
			__builtin_trap();
		fuzz_drain(sv[1], &cl);
	}
	fuzz_drain(sv[1], &cl);
	/* Whatever is left is an answer cut short, and the server never cuts one short. */
	if (cl.len)
		__builtin_trap();
	http_server_destroy(s);
	close(sv[1]);
	free(stream);
	evloop_fini(&loop);
	return 0;
}
