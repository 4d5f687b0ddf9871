#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The only process-wide mutable state besides signal flags: set in main() or by the API before
 * any other thread exists. */
static enum log_level log_max = LOG_INFO;
static const char *log_name = "azote";
static int log_fd = STDERR_FILENO;
static bool log_stamped, log_show_level, log_show_origin;

static _Thread_local char log_last[256];

void log_set_name(const char *name)
{
	log_name = name;
}

void log_set_level(enum log_level level)
{
	log_max = level;
}

int log_configure(const char *path, enum log_level level, bool show_level, bool show_origin)
{
	int fd = STDERR_FILENO;

	if (path) {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0600);
		if (fd < 0)
			return -errno;
	}
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = fd;
	log_max = level;
	log_stamped = true;
	log_show_level = show_level;
	log_show_origin = show_origin;
	return 0;
}

const char *log_last_error(void)
{
	return log_last;
}

static int log_prefix(char *line, size_t len, enum log_level level, const char *file, int at)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};
	static const char *const upper[] = {"ERROR", "WARN", "INFO", "DEBUG"};
	struct timespec ts;
	struct tm tm;
	const char *base = strrchr(file, '/');
	int n;

	if (!log_stamped)
		return snprintf(line, len, "%s: %s: ", log_name, names[level]);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = (int)strftime(line, len, "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(line + n, len - (size_t)n, ".%06ldZ [%s:%d", ts.tv_nsec / 1000, log_name,
		      (int)getpid());
	if (log_show_level)
		n += snprintf(line + n, len - (size_t)n, ":%s", upper[level]);
	if (log_show_origin)
		n += snprintf(line + n, len - (size_t)n, ":%s:%d", base ? base + 1 : file, at);
	return n + snprintf(line + n, len - (size_t)n, "] ");
}

void log_msg_at(enum log_level level, const char *file, int at, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n, start;

	if (level == LOG_ERROR) {
		va_start(ap, fmt);
		vsnprintf(log_last, sizeof(log_last), fmt, ap);
		va_end(ap);
	}
	if (level > log_max || level < LOG_ERROR)
		return;
	start = log_prefix(line, sizeof(line), level, file, at);
	va_start(ap, fmt);
	n = start + vsnprintf(line + start, sizeof(line) - (size_t)start, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	/* The terminal may be in raw mode: "\r\n" keeps the next line at column 0. */
	if (log_fd == STDERR_FILENO)
		line[n++] = '\r';
	line[n++] = '\n';
	/* One write() per line so that lines from several threads never interleave. */
	if (write(log_fd, line, (size_t)n) < 0)
		return;
}
