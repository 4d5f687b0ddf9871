/* http-parser callbacks: copy out of the read buffer what a request needs, within the limits.
 *
 * The parser is paused when the header section ends and when the message ends, so that the
 * connection code sees both moments between two http_parser_execute() calls: it checks the
 * limits and answers Expect at the first, and calls the handler at the second. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/http_priv.h"

static struct http_conn *http_conn_of(http_parser *p)
{
	return p->data;
}

static int http_on_message_begin(http_parser *p)
{
	struct http_conn *c = http_conn_of(p);

	c->phase = HTTP_PHASE_HEAD;
	c->req_start_ms = http_now_ms();
	c->url_len = 0;
	c->field_len = c->value_len = 0;
	c->field_long = c->value_long = c->header_value_done = false;
	c->json_type = c->expect_continue = false;
	c->content_length = UINT64_MAX;
	c->body_len = 0;
	return 0;
}

static int http_on_url(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = http_conn_of(p);

	if (c->url_len + len > c->srv->lim.max_header_bytes) {
		c->error_status = 431;
		return -1;
	}
	memcpy(c->url + c->url_len, at, len);
	c->url_len += len;
	return 0;
}

/* Append to a bounded field; what does not fit is only remembered as "too long". */
static void http_append(char *dst, size_t *dst_len, size_t max, bool *too_long, const char *at,
			size_t len)
{
	size_t room = max - *dst_len;

	if (len > room) {
		*too_long = true;
		len = room;
	}
	memcpy(dst + *dst_len, at, len);
	*dst_len += len;
	dst[*dst_len] = '\0';
}

static bool http_value_is(const char *value, size_t len, const char *want)
{
	while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
		len--;
	return len == strlen(want) && !strncasecmp(value, want, len);
}

/* RFC 9110 §8.3.1: type and subtype are case-insensitive, parameters may follow. */
static bool http_is_json_type(const char *v)
{
	static const char json[] = "application/json";
	size_t n = sizeof(json) - 1;

	return !strncasecmp(v, json, n) &&
	       (v[n] == '\0' || v[n] == ';' || v[n] == ' ' || v[n] == '\t');
}

/* One complete header field: keep what the transport or the handler needs. */
static void http_header_done(struct http_conn *c)
{
	if (c->field_long)
		return;
	if (!strcasecmp(c->field, "content-type")) {
		c->json_type = http_is_json_type(c->value);
	} else if (!strcasecmp(c->field, "expect")) {
		c->expect_continue =
		    !c->value_long && http_value_is(c->value, c->value_len, "100-continue");
	} else if (!strcasecmp(c->field, "content-length")) {
		/* The parser has checked the digits and refused duplicates; a value too long
		 * for our buffer is too large for any limit. */
		c->content_length = c->value_long ? UINT64_MAX - 1 : strtoull(c->value, NULL, 10);
		if (c->content_length == ULLONG_MAX)
			c->content_length = UINT64_MAX - 1;
	}
}

/* RFC 9110 §5.6.2 tchar: http-parser as Debian builds it lets spaces and more through. */
static bool http_is_tchar(unsigned char ch)
{
	return isalnum(ch) || (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch));
}

static int http_on_header_field(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = http_conn_of(p);

	for (size_t i = 0; i < len; i++) {
		if (!http_is_tchar((unsigned char)at[i])) {
			c->error_status = 400;
			return -1;
		}
	}
	/* Trailers of a chunked body are read and ignored. */
	if (c->phase != HTTP_PHASE_HEAD)
		return 0;
	if (c->header_value_done) {
		http_header_done(c);
		c->field_len = c->value_len = 0;
		c->field_long = c->value_long = c->header_value_done = false;
	}
	http_append(c->field, &c->field_len, HTTP_FIELD_MAX, &c->field_long, at, len);
	return 0;
}

static int http_on_header_value(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = http_conn_of(p);

	if (c->phase != HTTP_PHASE_HEAD)
		return 0;
	http_append(c->value, &c->value_len, HTTP_VALUE_MAX, &c->value_long, at, len);
	c->header_value_done = true;
	return 0;
}

static int http_on_headers_complete(http_parser *p)
{
	struct http_conn *c = http_conn_of(p);

	if (c->header_value_done)
		http_header_done(c);
	c->phase = HTTP_PHASE_BODY;
	http_parser_pause(p, 1);
	return 0;
}

static int http_body_reserve(struct http_conn *c, size_t need)
{
	size_t cap = c->body_cap ? c->body_cap : 256;
	char *b;

	if (need <= c->body_cap)
		return 0;
	while (cap < need)
		cap *= 2;
	b = realloc(c->body, cap);
	if (!b)
		return -ENOMEM;
	c->body = b;
	c->body_cap = cap;
	return 0;
}

int http_conn_body_reserve(struct http_conn *c, size_t len)
{
	/* One more byte for the NUL the handler gets after the body. */
	return http_body_reserve(c, len + 1);
}

static int http_on_body(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = http_conn_of(p);

	if (c->body_len + len > c->srv->lim.max_body_bytes) {
		/* Only a chunked body gets here: the size so far is all there is to report. */
		c->content_length = c->body_len + len;
		c->error_status = 413;
		return -1;
	}
	if (http_conn_body_reserve(c, c->body_len + len)) {
		c->error_status = 500;
		return -1;
	}
	memcpy(c->body + c->body_len, at, len);
	c->body_len += len;
	return 0;
}

static int http_on_message_complete(http_parser *p)
{
	struct http_conn *c = http_conn_of(p);

	c->phase = HTTP_PHASE_DONE;
	c->keep_alive = http_should_keep_alive(p);
	http_parser_pause(p, 1);
	return 0;
}

const http_parser_settings http_parse_settings = {
    .on_message_begin = http_on_message_begin,
    .on_url = http_on_url,
    .on_header_field = http_on_header_field,
    .on_header_value = http_on_header_value,
    .on_headers_complete = http_on_headers_complete,
    .on_body = http_on_body,
    .on_message_complete = http_on_message_complete,
};

static enum http_verb http_verb_of(unsigned method)
{
	switch (method) {
	case HTTP_GET:
		return HTTP_VERB_GET;
	case HTTP_PUT:
		return HTTP_VERB_PUT;
	case HTTP_PATCH:
		return HTTP_VERB_PATCH;
	case HTTP_POST:
		return HTTP_VERB_POST;
	case HTTP_DELETE:
		return HTTP_VERB_DELETE;
	case HTTP_HEAD:
		return HTTP_VERB_HEAD;
	default:
		return HTTP_VERB_OTHER;
	}
}

int http_parse_request(struct http_conn *c, struct http_request *req)
{
	struct http_parser_url u;
	size_t path_end, query_end;

	http_parser_url_init(&u);
	if (http_parser_parse_url(c->url, c->url_len, 0, &u) || !(u.field_set & (1 << UF_PATH)) ||
	    c->url[u.field_data[UF_PATH].off] != '/')
		return -EINVAL;
	/* Path, query and fragment follow each other in the target: ending each in place with a
	 * NUL (over the '?' or '#' after it) needs no copy. */
	path_end = u.field_data[UF_PATH].off + u.field_data[UF_PATH].len;
	c->url[path_end] = '\0';
	req->path = c->url + u.field_data[UF_PATH].off;
	req->query = "";
	if (u.field_set & (1 << UF_QUERY)) {
		query_end = u.field_data[UF_QUERY].off + u.field_data[UF_QUERY].len;
		c->url[query_end] = '\0';
		req->query = c->url + u.field_data[UF_QUERY].off;
	}
	req->method = http_verb_of(c->parser.method);
	req->method_name = http_method_str((enum http_method)c->parser.method);
	if (c->body) {
		c->body[c->body_len] = '\0';
		req->body = c->body;
	} else {
		req->body = "";
	}
	req->body_len = c->body_len;
	req->has_json_content_type = c->json_type;
	req->keep_alive = c->keep_alive && !c->closing;
	return 0;
}
