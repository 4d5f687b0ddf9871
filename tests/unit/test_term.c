/* Console terminal: raw mode on a pseudo-terminal, restore (twice), and non-terminals untouched. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/term.h"

static void test_pty_raw_and_restore(void **state)
{
	struct termios before, raw, after;
	struct term t = {0};
	int master, slave;

	master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master < 0)
		skip();
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	assert_true(slave >= 0);
	assert_int_equal(tcgetattr(slave, &before), 0);
	assert_true(before.c_lflag & ICANON);

	assert_int_equal(term_raw_enter(&t, slave), 0);
	assert_int_equal(tcgetattr(slave, &raw), 0);
	assert_int_equal(raw.c_lflag & (ICANON | ECHO | ISIG | IEXTEN), 0);
	assert_int_equal(raw.c_iflag & (ICRNL | IXON), 0);
	assert_int_equal(raw.c_oflag & OPOST, 0);
	assert_int_equal(raw.c_cflag & CSIZE, CS8);
	assert_int_equal(raw.c_cc[VMIN], 1);

	term_restore(&t);
	term_restore(&t); /* idempotent */
	assert_int_equal(tcgetattr(slave, &after), 0);
	assert_int_equal(after.c_lflag, before.c_lflag);
	assert_int_equal(after.c_iflag, before.c_iflag);
	assert_int_equal(after.c_oflag, before.c_oflag);
	assert_int_equal(after.c_cflag, before.c_cflag);
	close(slave);
	close(master);
}

static void test_not_a_terminal(void **state)
{
	struct term t = {0};
	int p[2];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(term_raw_enter(&t, p[0]), 0);
	term_restore(&t);
	close(p[0]);
	close(p[1]);

	struct term zero = {0};
	term_restore(&zero); /* never entered: nothing happens */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pty_raw_and_restore),
	    cmocka_unit_test(test_not_a_terminal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
