/*
 * log.c — level-filtered logging to stderr (see log.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"

static enum log_level cur_level = LOG_LVL_INFO;
static const char *const level_names[] = { "error", "warn", "info", "debug" };

void
log_set_level(enum log_level lvl)
{
	cur_level = lvl;
}

int
log_parse_level(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

int
log_enabled(enum log_level lvl)
{
	return lvl <= cur_level;
}

static void __attribute__((format(printf, 3, 0)))
vlog(enum log_level lvl, int with_errno, const char *fmt, va_list ap)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	int saved = errno, n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, level_names[lvl]);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (with_errno)
		fprintf(stderr, "%s: %s\n", line, strerror(saved));
	else
		fprintf(stderr, "%s\n", line);
	errno = saved;
}

void
log_msg(enum log_level lvl, int with_errno, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(lvl))
		return;
	va_start(ap, fmt);
	vlog(lvl, with_errno, fmt, ap);
	va_end(ap);
}

void
log_fatal(int with_errno, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERROR, with_errno, fmt, ap);
	va_end(ap);
	exit(1);
}
