/* Leveled logging to stderr: one line per event, prefixed with the program name. */
#ifndef AZOTE_UTIL_LOG_H
#define AZOTE_UTIL_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Name printed before each line (default "azote"); call once in main() before threads. */
void log_set_name(const char *name);

/* Set the most verbose level that is printed (default LOG_INFO); safe before threads start. */
void log_set_level(enum log_level level);

/* Print one line "NAME: LEVEL: message" to stderr; thread-safe (one write per line). */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
