/* One client connection: read, parse, call the handler, write, in order and within bounds.
 *
 * Input is read HTTP_IN_BUF bytes at a time and only once the previous read has been parsed,
 * so a pipelining client is held back by the socket, not by our memory. Responses queue in an
 * output buffer; once HTTP_OUT_HIGH bytes wait there, parsing (and so reading) stops until the
 * client takes them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/http_priv.h"
#include "util/log.h"

/* A body buffer larger than this is given back after its request. */
#define HTTP_BODY_KEEP 4096

static const char http_continue[] = "HTTP/1.1 100 Continue\r\n\r\n";

struct http_conn *http_conn_create(struct http_server *s, int fd)
{
	struct http_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->url = malloc(s->lim.max_header_bytes + 1);
	if (!c->url) {
		free(c);
		return NULL;
	}
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	c->srv = s;
	c->fd = fd;
	c->events = EPOLLIN;
	c->last_ms = http_now_ms();
	c->deadline_ms = c->last_ms + s->lim.idle_timeout_ms;
	return c;
}

void http_conn_destroy(struct http_conn *c)
{
	struct http_server *s = c->srv;

	for (struct http_conn **pp = &s->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			s->nconns--;
			break;
		}
	}
	evloop_del(s->loop, c->fd);
	close(c->fd);
	free(c->url);
	free(c->body);
	free(c->out);
	free(c);
}

static size_t http_conn_pending(const struct http_conn *c)
{
	return c->out_len - c->out_pos;
}

/* Write what the socket takes. Returns 0 (all written, or the socket is full) or -errno. */
static int http_conn_flush(struct http_conn *c)
{
	while (c->out_pos < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_pos, c->out_len - c->out_pos,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -errno;
		}
		c->out_pos += (size_t)n;
		c->write_ms = http_now_ms();
	}
	c->out_pos = c->out_len = 0;
	/* One big response must not pin its buffer for the connection's lifetime. */
	if (c->out_cap > 2 * HTTP_OUT_HIGH) {
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
	return 0;
}

/* The parser stopped on an error, or a callback stopped it: answer and close. */
static void http_conn_parse_error(struct http_conn *c, enum http_errno err)
{
	struct http_server *s = c->srv;

	if (c->error_status == 431 || err == HPE_HEADER_OVERFLOW) {
		s->stats.too_large++;
		http_conn_fail(c, 431,
			       "Request header section is larger than the limit of %zu bytes.",
			       s->lim.max_header_bytes);
	} else if (c->error_status == 413) {
		/* Firecracker's status and wording for an oversized payload. */
		s->stats.too_large++;
		http_conn_fail(c, 400,
			       "Request payload with size %llu is larger than the limit of %zu "
			       "allowed by server.",
			       (unsigned long long)c->content_length, s->lim.max_body_bytes);
	} else if (c->error_status == 500) {
		http_conn_fail(c, 500, "Out of memory.");
	} else if (c->error_status == 400) {
		s->stats.bad_requests++;
		http_conn_fail(c, 400, "Invalid HTTP request: invalid character in a header name.");
	} else {
		s->stats.bad_requests++;
		http_conn_fail(c, 400, "Invalid HTTP request: %s.", http_errno_description(err));
	}
}

/* The header section is complete: apply the limits, answer Expect: 100-continue. */
static void http_conn_head_done(struct http_conn *c)
{
	struct http_server *s = c->srv;
	uint64_t len = c->content_length;

	if (c->head_bytes > s->lim.max_header_bytes) {
		http_conn_parse_error(c, HPE_HEADER_OVERFLOW);
	} else if (c->parser.http_major != 1) {
		s->stats.bad_requests++;
		http_conn_fail(c, 505, "HTTP version %u.%u is not supported.", c->parser.http_major,
			       c->parser.http_minor);
	} else if (c->parser.upgrade) {
		/* http-parser hands over the bytes after such a request as another protocol. */
		s->stats.bad_requests++;
		http_conn_fail(c, 400, "Upgrade and CONNECT requests are not supported.");
	} else if (len != UINT64_MAX && len > s->lim.max_body_bytes) {
		s->stats.too_large++;
		http_conn_fail(c, 400,
			       "Request payload with size %llu is larger than the limit of %zu "
			       "allowed by server.",
			       (unsigned long long)len, s->lim.max_body_bytes);
	} else if (len != UINT64_MAX && len > 0 && http_conn_body_reserve(c, (size_t)len)) {
		http_conn_fail(c, 500, "Out of memory.");
	} else if (c->expect_continue && c->parser.http_minor >= 1 &&
		   (len == UINT64_MAX ? (c->parser.flags & F_CHUNKED) != 0 : len > 0)) {
		/* RFC 9110 §10.1.1; HTTP/1.0 clients never wait for it. */
		if (http_conn_put(c, http_continue, sizeof(http_continue) - 1))
			http_conn_fail(c, 500, "Out of memory.");
	}
}

/* Queue the handler's response; the request's keep-alive decides the connection's fate. */
static void http_conn_respond(struct http_conn *c, const struct http_request *req,
			      struct http_response *resp)
{
	size_t mark = c->out_len;
	int status = resp->status;
	size_t len;
	int rc;

	if (status < 200 || status > 599) {
		log_warn("api: handler returned HTTP status %d for %s %s; sending 500", status,
			 req->method_name, req->path);
		status = 500;
	}
	len = (status == 204 || status == 304 || !resp->body) ? 0 : resp->body_len;
	rc = http_conn_put_head(c, status, len,
				len > 0 ? (resp->content_type ? resp->content_type : HTTP_JSON) : NULL,
				!req->keep_alive);
	if (!rc && len > 0 && req->method != HTTP_VERB_HEAD)
		rc = http_conn_put(c, resp->body, len);
	free(resp->body);
	if (rc) {
		/* Never leave half a response: the client would misread the stream. */
		c->out_len = mark;
		http_conn_fail(c, 500, "Out of memory.");
	}
	if (!req->keep_alive)
		c->closing = true;
}

/* A complete request: hand it to the handler, answer, and get ready for the next one. */
static void http_conn_dispatch(struct http_conn *c)
{
	struct http_server *s = c->srv;
	struct http_request req;
	struct http_response resp = {.status = 500};

	if (http_parse_request(c, &req)) {
		s->stats.bad_requests++;
		http_conn_fail(c, 400, "Invalid request target: the API serves paths only.");
		return;
	}
	s->stats.requests++;
	s->fn(s->ctx, &req, &resp);
	http_conn_respond(c, &req, &resp);

	c->phase = HTTP_PHASE_IDLE;
	c->head_bytes = 0;
	c->url_len = 0;
	c->body_len = 0;
	if (c->body_cap > HTTP_BODY_KEEP) {
		free(c->body);
		c->body = NULL;
		c->body_cap = 0;
	}
	c->last_ms = http_now_ms();
}

/* Parse what has been read and serve every request it completes, until more input is needed,
 * the connection is closing, or the client has too many responses to read. */
static void http_conn_process(struct http_conn *c)
{
	size_t max_head = c->srv->lim.max_header_bytes;

	while (!c->closing && c->in_pos < c->in_len && http_conn_pending(c) < HTTP_OUT_HIGH) {
		enum http_phase before = c->phase;
		size_t n = http_parser_execute(&c->parser, &http_parse_settings, c->in + c->in_pos,
					       c->in_len - c->in_pos);
		enum http_errno err = HTTP_PARSER_ERRNO(&c->parser);

		c->in_pos += n;
		/* A pause ends each header section, so everything this call took before it was
		 * header bytes. */
		if (before == HTTP_PHASE_IDLE || before == HTTP_PHASE_HEAD)
			c->head_bytes += n;
		if (err == HPE_PAUSED) {
			http_parser_pause(&c->parser, 0);
			if (c->phase == HTTP_PHASE_DONE)
				http_conn_dispatch(c);
			else if (before != HTTP_PHASE_BODY)
				http_conn_head_done(c);
		} else if (err != HPE_OK) {
			http_conn_parse_error(c, err);
		} else if (c->phase <= HTTP_PHASE_HEAD && c->head_bytes > max_head) {
			http_conn_parse_error(c, HPE_HEADER_OVERFLOW);
		}
	}
}

/* Read once, if everything read before has been parsed. Returns 0 or -errno. */
static int http_conn_read(struct http_conn *c)
{
	ssize_t n;

	if (c->eof || c->closing || c->in_pos < c->in_len)
		return 0;
	n = read(c->fd, c->in, sizeof(c->in));
	if (n < 0)
		return (errno == EAGAIN || errno == EINTR) ? 0 : -errno;
	c->in_pos = 0;
	c->in_len = (size_t)n;
	if (n == 0)
		c->eof = true;
	return 0;
}

static void http_conn_set_deadline(struct http_conn *c)
{
	const struct http_limits *lim = &c->srv->lim;

	if (http_conn_pending(c))
		c->deadline_ms = c->write_ms + lim->request_timeout_ms;
	else if (c->phase != HTTP_PHASE_IDLE)
		c->deadline_ms = c->req_start_ms + lim->request_timeout_ms;
	else
		c->deadline_ms = c->last_ms + lim->idle_timeout_ms;
}

/* After any event: serve, write, then watch for what can move next. Frees c when done. */
static void http_conn_progress(struct http_conn *c)
{
	uint32_t want = 0;

	/* Writing may make room for the answers to requests still waiting in the input. */
	do {
		http_conn_process(c);
		if (http_conn_flush(c)) {
			http_conn_destroy(c);
			return;
		}
	} while (!c->closing && c->in_pos < c->in_len && http_conn_pending(c) < HTTP_OUT_HIGH);
	/* A request cut off by the end of the stream can never complete. */
	if (c->eof && c->in_pos == c->in_len)
		c->closing = true;
	if (c->closing && !http_conn_pending(c)) {
		http_conn_destroy(c);
		return;
	}
	if (http_conn_pending(c))
		want |= EPOLLOUT;
	if (!c->eof && !c->closing && c->in_pos == c->in_len &&
	    http_conn_pending(c) < HTTP_OUT_HIGH)
		want |= EPOLLIN;
	if (want != c->events) {
		if (evloop_mod(c->srv->loop, c->fd, want)) {
			http_conn_destroy(c);
			return;
		}
		c->events = want;
	}
	http_conn_set_deadline(c);
}

void http_conn_on_event(void *opaque, int fd, uint32_t events)
{
	struct http_conn *c = opaque;
	struct http_server *s = c->srv;

	/* Without EPOLLIN, a hang-up means the client is gone both ways: nothing to answer. */
	if ((events & EPOLLERR) || ((events & EPOLLHUP) && !(events & EPOLLIN))) {
		http_conn_destroy(c);
	} else if (((events & EPOLLOUT) && http_conn_flush(c)) ||
		   ((events & EPOLLIN) && http_conn_read(c))) {
		http_conn_destroy(c);
	} else {
		http_conn_progress(c);
	}
	http_server_rearm(s);
}

void http_conn_expire(struct http_conn *c)
{
	c->srv->stats.timeouts++;
	if (c->phase != HTTP_PHASE_IDLE && !http_conn_pending(c)) {
		/* One try: a client this slow is not waited for again. */
		http_conn_fail(c, 408, "Request not completed within %u ms.",
			       c->srv->lim.request_timeout_ms);
		(void)http_conn_flush(c);
	}
	http_conn_destroy(c);
}
