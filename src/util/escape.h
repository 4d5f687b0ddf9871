/* Console escape sequences on the VMM's stdin: Ctrl-A x quits, Ctrl-A Ctrl-A sends one Ctrl-A,
 * Ctrl-A h shows help; Ctrl-A then any other byte sends both bytes. */
#ifndef AZOTE_UTIL_ESCAPE_H
#define AZOTE_UTIL_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ESCAPE_CHAR 0x01 /* Ctrl-A */

/* Output room escape_feed() needs for n input bytes: a Ctrl-A held from the previous call may be
 * released together with the first byte. */
#define ESCAPE_OUT_MAX(n) ((n) + 1)

/* Actions found in the input, as flags. */
#define ESCAPE_QUIT 0x1 /* the user asked the VMM to exit */
#define ESCAPE_HELP 0x2 /* print escape_help() on the console */

/* Zero-initialise; carries a Ctrl-A that ended one read over to the next. */
struct escape {
	bool pending;
};

/* Filter n input bytes into out (room for ESCAPE_OUT_MAX(n)); sets *actions to the ESCAPE_* flags
 * seen. Input after a quit is discarded. Returns the number of bytes for the guest. Pure. */
size_t escape_feed(struct escape *e, const uint8_t *in, size_t n, uint8_t *out, unsigned *actions);
/* One line describing the escapes, "\r\n"-terminated for a raw terminal. */
const char *escape_help(void);

#endif
