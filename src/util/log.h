/* Leveled logging: one line per event, written with one write() so threads never interleave.
 * By default to stderr as "NAME: LEVEL: message". Once a logger is configured (the API's
 * PUT /logger or the config file), lines are timestamped, optionally carry the level and the
 * source origin, and go to the configured file or FIFO. */
#ifndef AZOTE_UTIL_LOG_H
#define AZOTE_UTIL_LOG_H

#include <stdbool.h>

enum log_level { LOG_OFF = -1, LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Name printed before each line (default "azote"); call once in main() before threads. */
void log_set_name(const char *name);

/* Set the most verbose level that is printed (default LOG_INFO); safe before threads start. */
void log_set_level(enum log_level level);

/* Configure the logger (before threads start): lines to `path` (opened for appending, O_NONBLOCK
 * for a FIFO; NULL keeps stderr), with a timestamp, and the level and file:line when asked.
 * 0 or -errno (nothing changes then). */
__attribute__((warn_unused_result)) int log_configure(const char *path, enum log_level level,
						       bool show_level, bool show_origin);

/* Print one line; thread-safe. Use the macros below. */
void log_msg_at(enum log_level level, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The last error this thread logged (for API fault messages); "" if none. */
const char *log_last_error(void);

#define log_msg(level, ...) log_msg_at(level, __FILE__, __LINE__, __VA_ARGS__)
#define log_error(...)	    log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)	    log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)	    log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	    log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
