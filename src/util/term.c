#include "util/term.h"

#include <errno.h>
#include <unistd.h>

/* The terminal becomes a transparent wire, like a real serial line: every key (Ctrl-C, Ctrl-Z,
 * Ctrl-S...) goes to the guest, whose own tty layer echoes, edits and signals. Output
 * post-processing (OPOST) is off too: the guest's tty already turns "\n" into "\r\n", and a bare
 * "\n" from a full-screen program means "cursor down", which ONLCR would break. The VMM's own log
 * lines therefore end in "\r\n" (see util/log.c). */
static void term_make_raw(struct termios *tio)
{
	tio->c_iflag &=
	    ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	tio->c_oflag &= ~(tcflag_t)OPOST;
	tio->c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	tio->c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
	tio->c_cflag |= CS8;
	/* read() returns as soon as one byte is there; the event loop only reads when it is. */
	tio->c_cc[VMIN] = 1;
	tio->c_cc[VTIME] = 0;
}

static int term_set(int fd, const struct termios *tio)
{
	int r;

	do
		r = tcsetattr(fd, TCSANOW, tio);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

int term_raw_enter(struct term *t, int fd)
{
	struct termios raw;
	int err;

	if (!isatty(fd))
		return 0;
	if (tcgetattr(fd, &t->old) < 0)
		return -errno;
	t->fd = fd;
	/* Mark saved before changing anything: a fatal signal in between must still restore. */
	__atomic_store_n(&t->saved, true, __ATOMIC_SEQ_CST);
	raw = t->old;
	term_make_raw(&raw);
	err = term_set(fd, &raw);
	if (err)
		__atomic_store_n(&t->saved, false, __ATOMIC_SEQ_CST);
	return err;
}

void term_restore(struct term *t)
{
	int saved_errno = errno;

	/* Not cleared after use: main's cleanup and a signal handler may race, and restoring twice
	 * is harmless while skipping it would leave the user's terminal raw. */
	if (__atomic_load_n(&t->saved, __ATOMIC_SEQ_CST))
		(void)term_set(t->fd, &t->old);
	errno = saved_errno;
}
