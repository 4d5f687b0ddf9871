/* Responses on the wire: the head every response shares, and Firecracker-style fault bodies. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/http_priv.h"

/* Status line plus our four possible header fields, with room to spare. */
#define HTTP_HEAD_MAX 256

static const char *http_reason(int status)
{
	const char *r = http_status_str((enum http_status)status);

	/* http-parser names every status we send; this covers whatever a handler invents. */
	return strcmp(r, "<unknown>") ? r : "Unknown";
}

/* RFC 9110 §8.6 and §15.3.5: these never carry content or a Content-Length. */
static bool http_status_has_length(int status)
{
	return status >= 200 && status != 204 && status != 304;
}

/* The head of a response into buf (at least HTTP_HEAD_MAX bytes); returns its length.
 * connection: "close", "keep-alive" or NULL for none. */
static size_t http_format_head(char *buf, int status, size_t body_len, const char *type,
			       const char *connection)
{
	int n = snprintf(buf, HTTP_HEAD_MAX, "HTTP/1.1 %d %s\r\nServer: azote API\r\n", status,
			 http_reason(status));

	if (http_status_has_length(status))
		n += snprintf(buf + n, HTTP_HEAD_MAX - (size_t)n, "Content-Length: %zu\r\n",
			      body_len);
	if (type)
		n += snprintf(buf + n, HTTP_HEAD_MAX - (size_t)n, "Content-Type: %s\r\n", type);
	if (connection)
		n += snprintf(buf + n, HTTP_HEAD_MAX - (size_t)n, "Connection: %s\r\n", connection);
	n += snprintf(buf + n, HTTP_HEAD_MAX - (size_t)n, "\r\n");
	return (size_t)n;
}

int http_conn_put(struct http_conn *c, const void *data, size_t len)
{
	if (c->out_len == 0)
		c->write_ms = http_now_ms();
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 1024;
		char *p;

		while (cap < c->out_len + len)
			cap *= 2;
		p = realloc(c->out, cap);
		if (!p)
			return -ENOMEM;
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
	return 0;
}

int http_conn_put_head(struct http_conn *c, int status, size_t body_len, const char *type,
		       bool close)
{
	char head[HTTP_HEAD_MAX];
	const char *connection = NULL;
	size_t n;

	if (close)
		connection = "close";
	else if (c->parser.http_major == 1 && c->parser.http_minor == 0)
		/* HTTP/1.0 closes by default: a client that asked to keep it open is told yes. */
		connection = "keep-alive";
	n = http_format_head(head, status, body_len, type, connection);
	return http_conn_put(c, head, n);
}

/* JSON-escape src into dst (6 * strlen(src) + 1 bytes at most). */
static void http_json_escape(char *dst, const char *src)
{
	for (; *src; src++) {
		unsigned char ch = (unsigned char)*src;

		if (ch == '"' || ch == '\\') {
			*dst++ = '\\';
			*dst++ = (char)ch;
		} else if (ch < 0x20) {
			dst += sprintf(dst, "\\u%04x", ch);
		} else {
			*dst++ = (char)ch;
		}
	}
	*dst = '\0';
}

/* {"fault_message": "<message>"} in a malloc'd buffer; NULL when out of memory. */
static char *http_fault_body(size_t *len, const char *fmt, va_list ap)
{
	static const char pre[] = "{\"fault_message\": \"", post[] = "\"}";
	char *msg = NULL, *body;
	int n = vasprintf(&msg, fmt, ap);

	if (n < 0)
		return NULL;
	body = malloc(sizeof(pre) + 6 * (size_t)n + sizeof(post));
	if (body) {
		strcpy(body, pre);
		http_json_escape(body + strlen(pre), msg);
		strcat(body, post);
		*len = strlen(body);
	}
	free(msg);
	return body;
}

int http_response_fault(struct http_response *resp, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	resp->status = status;
	resp->body = http_fault_body(&resp->body_len, fmt, ap);
	va_end(ap);
	if (!resp->body)
		resp->body_len = 0;
	return resp->body ? 0 : -ENOMEM;
}

void http_conn_fail(struct http_conn *c, int status, const char *fmt, ...)
{
	size_t len = 0;
	char *body;
	va_list ap;

	va_start(ap, fmt);
	body = http_fault_body(&len, fmt, ap);
	va_end(ap);
	/* Out of memory, the client still gets the status: better than a silent close. */
	if (!http_conn_put_head(c, status, len, body ? HTTP_JSON : NULL, true) && body)
		(void)http_conn_put(c, body, len);
	free(body);
	c->closing = true;
	c->in_pos = c->in_len;
}

size_t http_format_refusal(char *buf, size_t cap, int status, const char *msg)
{
	char head[HTTP_HEAD_MAX];
	char body[HTTP_HEAD_MAX];
	size_t hn;
	int bn;

	bn = snprintf(body, sizeof(body), "{\"fault_message\": \"%s\"}", msg);
	hn = http_format_head(head, status, (size_t)bn, HTTP_JSON, "close");
	if (hn + (size_t)bn > cap)
		return 0;
	memcpy(buf, head, hn);
	memcpy(buf + hn, body, (size_t)bn);
	return hn + (size_t)bn;
}
