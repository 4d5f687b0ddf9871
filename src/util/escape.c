#include "util/escape.h"

/* Handle the byte after a Ctrl-A; returns how many bytes it put in out. */
static size_t escape_command(uint8_t c, uint8_t *out, unsigned *actions)
{
	switch (c) {
	case 'x':
	case 'X':
		*actions |= ESCAPE_QUIT;
		return 0;
	case 'h':
	case 'H':
	case '?':
		*actions |= ESCAPE_HELP;
		return 0;
	case ESCAPE_CHAR:
		out[0] = ESCAPE_CHAR;
		return 1;
	default:
		/* Not ours: the guest gets what was typed. */
		out[0] = ESCAPE_CHAR;
		out[1] = c;
		return 2;
	}
}

size_t escape_feed(struct escape *e, const uint8_t *in, size_t n, uint8_t *out, unsigned *actions)
{
	size_t i, len = 0;

	*actions = 0;
	for (i = 0; i < n && !(*actions & ESCAPE_QUIT); i++) {
		if (e->pending) {
			e->pending = false;
			len += escape_command(in[i], out + len, actions);
		} else if (in[i] == ESCAPE_CHAR) {
			e->pending = true;
		} else {
			out[len++] = in[i];
		}
	}
	return len;
}

const char *escape_help(void)
{
	return "\r\nazote console: Ctrl-A x quit, Ctrl-A Ctrl-A sends Ctrl-A, Ctrl-A h help\r\n";
}
