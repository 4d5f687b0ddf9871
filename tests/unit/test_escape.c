/* Console escape filter: Ctrl-A commands, pass-through, and sequences split across reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/escape.h"

#define CA "\x01"

struct result {
	uint8_t out[64];
	size_t len;
	unsigned actions;
};

static struct result feed(struct escape *e, const char *in)
{
	struct result r;
	size_t n = strlen(in);

	assert_true(ESCAPE_OUT_MAX(n) <= sizeof(r.out));
	memset(&r, 0, sizeof(r));
	r.len = escape_feed(e, (const uint8_t *)in, n, r.out, &r.actions);
	assert_true(r.len <= ESCAPE_OUT_MAX(n));
	return r;
}

static void assert_out(const struct result *r, const char *want, size_t want_len, unsigned actions)
{
	assert_int_equal(r->len, want_len);
	assert_memory_equal(r->out, want, want_len);
	assert_int_equal(r->actions, actions);
}

static void test_plain_bytes_pass(void **state)
{
	struct escape e = {0};
	struct result r = feed(&e, "ls -l\r\x03\x1b[A");

	assert_out(&r, "ls -l\r\x03\x1b[A", 10, 0);
}

static void test_quit(void **state)
{
	struct escape e = {0};
	struct result r = feed(&e, "ab" CA "xcd");

	/* Bytes before the quit still go out; what follows is discarded. */
	assert_out(&r, "ab", 2, ESCAPE_QUIT);
	r = feed(&e, CA "X");
	assert_out(&r, "", 0, ESCAPE_QUIT);
}

static void test_double_escape_sends_one(void **state)
{
	struct escape e = {0};
	struct result r = feed(&e, "a" CA CA "b");

	assert_out(&r, "a" CA "b", 3, 0);
	r = feed(&e, CA CA CA CA);
	assert_out(&r, CA CA, 2, 0);
}

static void test_help(void **state)
{
	struct escape e = {0};
	struct result r = feed(&e, CA "hok");

	assert_out(&r, "ok", 2, ESCAPE_HELP);
	assert_non_null(strstr(escape_help(), "Ctrl-A x"));
	r = feed(&e, CA "h" CA "x");
	assert_out(&r, "", 0, ESCAPE_HELP | ESCAPE_QUIT);
}

static void test_other_byte_sends_both(void **state)
{
	struct escape e = {0};
	struct result r = feed(&e, CA "c" CA "\r");

	assert_out(&r, CA "c" CA "\r", 4, 0);
}

static void test_split_across_reads(void **state)
{
	struct escape e = {0};
	struct result r = feed(&e, "abc" CA);

	assert_out(&r, "abc", 3, 0); /* the Ctrl-A is held */
	r = feed(&e, "x");
	assert_out(&r, "", 0, ESCAPE_QUIT);

	e = (struct escape){0};
	r = feed(&e, CA);
	assert_out(&r, "", 0, 0);
	r = feed(&e, "");
	assert_out(&r, "", 0, 0);
	r = feed(&e, CA);
	assert_out(&r, CA, 1, 0);

	/* A held Ctrl-A released with the next byte: the n + 1 worst case. */
	r = feed(&e, CA);
	r = feed(&e, "z");
	assert_out(&r, CA "z", 2, 0);

	r = feed(&e, CA);
	r = feed(&e, "hq");
	assert_out(&r, "q", 1, ESCAPE_HELP);
}

/* Every input byte through a one-byte feed, and the bound holds for all pairs. */
static void test_all_pairs(void **state)
{
	for (unsigned a = 0; a < 256; a++) {
		for (unsigned b = 0; b < 256; b++) {
			struct escape e = {0};
			uint8_t in[2] = {(uint8_t)a, (uint8_t)b}, out[ESCAPE_OUT_MAX(2)];
			unsigned actions;
			size_t n = escape_feed(&e, in, 2, out, &actions);

			assert_true(n <= 2);
			if (a != 0x01) {
				assert_int_equal(out[0], a);
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_bytes_pass),
	    cmocka_unit_test(test_quit),
	    cmocka_unit_test(test_double_escape_sends_one),
	    cmocka_unit_test(test_help),
	    cmocka_unit_test(test_other_byte_sends_both),
	    cmocka_unit_test(test_split_across_reads),
	    cmocka_unit_test(test_all_pairs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
