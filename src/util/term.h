/* Console terminal: raw mode on the VMM's stdin for the guest's serial console, and its undo. */
#ifndef AZOTE_UTIL_TERM_H
#define AZOTE_UTIL_TERM_H

#include <stdbool.h>
#include <termios.h>

/* Zero-initialise; term_restore() on a zeroed or never-entered term does nothing. */
struct term {
	int fd;
	bool saved; /* accessed atomically: term_restore() may run in a signal handler */
	struct termios old;
};

/* Put fd in raw mode if it is a terminal, remembering the old settings; a non-terminal is left
 * alone (returns 0, nothing to restore). Returns 0 or -errno. */
__attribute__((warn_unused_result)) int term_raw_enter(struct term *t, int fd);
/* Put the saved settings back. Idempotent, and async-signal-safe (only tcsetattr, errno kept). */
void term_restore(struct term *t);

#endif
