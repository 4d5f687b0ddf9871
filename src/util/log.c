#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

/* The only process-wide mutable state besides signal flags: set once in main() before threads. */
static enum log_level log_max = LOG_INFO;
static const char *log_name = "azote";

void log_set_name(const char *name)
{
	log_name = name;
}

void log_set_level(enum log_level level)
{
	log_max = level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};
	char line[1024];
	va_list ap;
	int n;

	if (level > log_max)
		return;
	n = snprintf(line, sizeof(line), "%s: %s: ", log_name, names[level]);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	/* The terminal may be in raw mode: "\r\n" keeps the next line at column 0. */
	line[n++] = '\r';
	line[n++] = '\n';
	/* One write() per line so that lines from several threads never interleave. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
