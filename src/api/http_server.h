/* HTTP/1.1 server for the management API on a Unix socket, run on the VMM's event loop.
 *
 * The transport only: it frames requests, enforces limits and writes responses; the handler
 * (routes, JSON, VM lifecycle) is called once per complete request, in order, on the loop's
 * thread, and fills a response before returning. Errors the transport detects itself are
 * answered with Firecracker's body shape, {"fault_message": "..."}:
 *   400 malformed request, bad URI or framing; body larger than max_body_bytes (Firecracker's
 *       status and wording); a chunked body that grows past the limit
 *   431 header section larger than max_header_bytes
 *   503 connection refused because max_connections are open
 *   505 an HTTP major version other than 1
 *   408 a request not complete within request_timeout_ms (best effort, then close)
 * After each of these the connection is closed, since the request's framing cannot be trusted.
 * Chunked request bodies are accepted (decoded) within max_body_bytes. A missing Host header is
 * tolerated: the socket is local and Firecracker's clients are not all strict about it. */
#ifndef AZOTE_API_HTTP_SERVER_H
#define AZOTE_API_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/evloop.h"

/* Not "http_method": http_parser.h owns that name and HTTP_GET..., and the implementation
 * includes both headers. */
enum http_verb {
	HTTP_VERB_GET,
	HTTP_VERB_PUT,
	HTTP_VERB_PATCH,
	HTTP_VERB_POST,
	HTTP_VERB_DELETE,
	HTTP_VERB_HEAD,
	HTTP_VERB_OTHER,
};

/* Valid only during the handler call. Strings are NUL-terminated. */
struct http_request {
	enum http_verb method;
	const char *method_name; /* "GET", ..., or the other method's name */
	const char *path;  /* raw (not percent-decoded), from the request target, starts with '/' */
	const char *query; /* after '?', raw; "" when absent */
	const char *body;  /* body_len bytes followed by a NUL; "" when empty */
	size_t body_len;
	bool has_json_content_type; /* Content-Type: application/json (parameters allowed) */
	bool keep_alive;	    /* the connection stays open after this response */
};

/* The handler sets status (200 to 599; anything else is sent as 500) and optionally
 * body: malloc'd, owned by the server from then on, sent as content_type (NULL: JSON). 204 and
 * 304 responses never carry a body; a HEAD response carries the headers only. */
struct http_response {
	int status;
	char *body;
	size_t body_len;
	const char *content_type; /* static string, e.g. "text/plain; version=0.0.4" */
};

typedef void (*http_handler_fn)(void *ctx, const struct http_request *req,
				struct http_response *resp);

struct http_limits {
	size_t max_header_bytes;  /* request line + header fields: 8 KiB */
	size_t max_body_bytes;	  /* 51200, Firecracker's default payload limit */
	unsigned max_connections; /* 16 */
	unsigned idle_timeout_ms; /* a keep-alive connection with no request: 60 s */
	/* A started request must be complete, and a blocked response must drain, within: 10 s */
	unsigned request_timeout_ms;
};

/* Counters since http_server_listen(). */
struct http_server_stats {
	uint64_t connections;	       /* accepted and served */
	uint64_t requests;	       /* passed to the handler */
	uint64_t bad_requests;	       /* malformed: answered 400/505 and closed */
	uint64_t too_large;	       /* header section or body over the limits */
	uint64_t timeouts;	       /* connections closed for idleness or slowness */
	uint64_t rejected_connections; /* over max_connections (or out of fds) */
};

struct http_server;

/* The defaults listed in struct http_limits. */
void http_limits_default(struct http_limits *lim);

/* Create the socket at socket_path (mode 0600; a stale socket file is replaced, a socket a live
 * process listens on or any other kind of file is not: -EADDRINUSE / -EEXIST) and serve it on
 * loop with fn. lim NULL means the defaults. Returns 0 or -errno, and logs why. */
__attribute__((warn_unused_result)) int
http_server_listen(struct http_server **out, struct evloop *loop, const char *socket_path,
		   const struct http_limits *lim, http_handler_fn fn, void *ctx);

/* Close every connection and the socket, and unlink the socket file if it is still ours.
 * Accepts NULL. Must not be called from the handler. */
void http_server_destroy(struct http_server *s);

/* A snapshot of the counters. */
void http_server_get_stats(const struct http_server *s, struct http_server_stats *out);

/* Connections open right now. */
unsigned http_server_connections(const struct http_server *s);

/* Fill resp with status and the body {"fault_message": "<formatted, JSON-escaped>"}.
 * Returns 0, or -ENOMEM with resp->body NULL (the status is still set). */
__attribute__((format(printf, 3, 4))) int http_response_fault(struct http_response *resp,
							      int status, const char *fmt, ...);

#endif
