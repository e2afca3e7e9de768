/*
 * log.h — sbxd's small logging API, after OpenSMTPD's log.h.
 *
 * Lines go to stderr as "LEVEL message". The level is checked before any
 * formatting. log_warn appends strerror(errno); log_warnx does not. fatal and
 * fatalx exit the process. Never log secrets: keys, tokens, file contents.
 */
#ifndef SBXD_LOG_H
#define SBXD_LOG_H

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_set_level(enum log_level lvl);
/* Parses "error", "warn", "info" or "debug"; returns -1 if none matches. */
int log_parse_level(const char *s);
int log_enabled(enum log_level lvl);

void log_msg(enum log_level lvl, int with_errno, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
_Noreturn void log_fatal(int with_errno, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...) do { if (log_enabled(LOG_LVL_DEBUG)) log_msg(LOG_LVL_DEBUG, 0, __VA_ARGS__); } while (0)
#define log_info(...)  do { if (log_enabled(LOG_LVL_INFO))  log_msg(LOG_LVL_INFO, 0, __VA_ARGS__); } while (0)
#define log_warnx(...) do { if (log_enabled(LOG_LVL_WARN))  log_msg(LOG_LVL_WARN, 0, __VA_ARGS__); } while (0)
#define log_warn(...)  do { if (log_enabled(LOG_LVL_WARN))  log_msg(LOG_LVL_WARN, 1, __VA_ARGS__); } while (0)
#define log_errorx(...) log_msg(LOG_LVL_ERROR, 0, __VA_ARGS__)
#define fatal(...)  log_fatal(1, __VA_ARGS__)
#define fatalx(...) log_fatal(0, __VA_ARGS__)

#endif
