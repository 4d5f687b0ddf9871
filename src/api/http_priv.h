/* Inside the HTTP server: the server, its connections, and what they share. */
#ifndef AZOTE_API_HTTP_PRIV_H
#define AZOTE_API_HTTP_PRIV_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "api/http_server.h"

/* Bytes read from the socket at a time; the parser copies what it keeps out of it. */
#define HTTP_IN_BUF 4096
/* Once this much response data waits for the client, its further requests wait too. */
#define HTTP_OUT_HIGH 65536
/* Header fields whose value matters are short; longer names or values are not ours. */
#define HTTP_FIELD_MAX 32
#define HTTP_VALUE_MAX 128

enum http_phase { HTTP_PHASE_IDLE, HTTP_PHASE_HEAD, HTTP_PHASE_BODY, HTTP_PHASE_DONE };

struct http_conn {
	struct http_server *srv;
	struct http_conn *next;
	int fd;
	uint32_t events; /* what the loop watches now, to skip no-op evloop_mod() calls */
	http_parser parser;
	enum http_phase phase;
	bool eof;     /* the client shut its side: read no more */
	bool closing; /* handle no more requests; close once the output is written */
	bool keep_alive;
	bool json_type;
	bool expect_continue;
	bool header_value_done; /* the previous callback ended a header value */
	int error_status; /* why a callback stopped the parser: 400, 431, 413 or 500 (0: none) */
	uint64_t content_length; /* UINT64_MAX: no Content-Length field */

	/* Times (http_now_ms()) the deadline is computed from. */
	uint64_t last_ms;      /* the connection was opened or its last response queued */
	uint64_t req_start_ms; /* the request being read started */
	uint64_t write_ms;     /* output was queued or the client last took some */
	uint64_t deadline_ms;

	char in[HTTP_IN_BUF];
	size_t in_pos, in_len;
	size_t head_bytes;

	char *url; /* max_header_bytes + 1 */
	size_t url_len;
	char field[HTTP_FIELD_MAX + 1];
	size_t field_len;
	char value[HTTP_VALUE_MAX + 1];
	size_t value_len;
	bool field_long, value_long;

	char *body;
	size_t body_len, body_cap;

	char *out;
	size_t out_pos, out_len, out_cap;
};

struct http_server {
	struct evloop *loop;
	struct http_limits lim;
	http_handler_fn fn;
	void *ctx;
	int listen_fd;
	int timer_fd;
	uint64_t timer_armed_ms; /* UINT64_MAX: disarmed */
	bool accept_paused;	 /* accept() failed (out of fds...): retry at accept_retry_ms */
	uint64_t accept_retry_ms;
	char *path;
	dev_t sock_dev;
	ino_t sock_ino;
	struct http_conn *conns;
	unsigned nconns;
	struct http_server_stats stats;
};

/* Milliseconds on CLOCK_MONOTONIC. */
uint64_t http_now_ms(void);

/* Create a server that serves no socket yet (http_server_listen() adds one). */
__attribute__((warn_unused_result)) int http_server_create(struct http_server **out,
							   struct evloop *loop,
							   const struct http_limits *lim,
							   http_handler_fn fn, void *ctx);
/* Serve an already connected stream socket (takes the fd, closes it on failure). */
__attribute__((warn_unused_result)) int http_server_adopt(struct http_server *s, int fd);
/* Arm the timer for the earliest connection deadline. */
void http_server_rearm(struct http_server *s);

/* A connection on fd (set non-blocking by the caller); NULL when out of memory. */
struct http_conn *http_conn_create(struct http_server *s, int fd);
/* Close the fd and free everything. */
void http_conn_destroy(struct http_conn *c);
/* The loop's callback for a connection's fd. */
void http_conn_on_event(void *opaque, int fd, uint32_t events);
/* Past its deadline: answer 408 if mid-request, then close. Frees c. */
void http_conn_expire(struct http_conn *c);

/* Append the head of a response (status line, headers, blank line) to c's output. */
#define HTTP_JSON "application/json"
/* Queue a response head; type is the Content-Type, or NULL for none. */
int http_conn_put_head(struct http_conn *c, int status, size_t body_len, const char *type,
		       bool close);
/* Append raw bytes to c's output. Returns 0 or -ENOMEM. */
int http_conn_put(struct http_conn *c, const void *data, size_t len);
/* A complete 'status' response with a fault body and Connection: close into buf; its length,
 * or 0 if cap is too small. msg is a constant that needs no JSON escaping. */
size_t http_format_refusal(char *buf, size_t cap, int status, const char *msg);
/* Queue the transport's own fault response and stop reading requests. */
void http_conn_fail(struct http_conn *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parser callbacks (http_parse.c). */
extern const http_parser_settings http_parse_settings;
/* Make room for a body of len bytes (and a NUL). Returns 0 or -ENOMEM. */
int http_conn_body_reserve(struct http_conn *c, size_t len);
/* Turn the complete request into a struct http_request pointing into c's buffers.
 * Returns 0 or -EINVAL (a target that is not a path). */
int http_parse_request(struct http_conn *c, struct http_request *req);

#endif
