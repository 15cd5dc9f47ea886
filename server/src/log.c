/*
 * log.c: stderr logger. Levels: warn and info always, debug with -v.
 * Lines carry a level word so journald's priority mapping is not needed to
 * grep them; timestamps are left to journald (or added when -d is given).
 */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int	log_debug_mode;
static int	log_verbose;

static void
log_vwrite(const char *level, const char *fmt, va_list ap, const char *err)
{
	char		 ts[32];
	struct timespec	 now;
	struct tm	 tm;

	if (log_debug_mode) {
		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ld ", ts, now.tv_nsec / 1000000);
	}
	fprintf(stderr, "%s: ", level);
	vfprintf(stderr, fmt, ap);
	if (err != NULL)
		fprintf(stderr, ": %s", err);
	fputc('\n', stderr);
}

/* Set up logging: debug adds timestamps, verbose enables log_debug. */
void
log_init(int debug, int verbose)
{
	log_debug_mode = debug;
	log_verbose = verbose;
	setvbuf(stderr, NULL, _IOLBF, 0);
}

/* Change verbosity at run time. */
void
log_setverbose(int v)
{
	log_verbose = v;
}

/* Current verbosity. */
int
log_getverbose(void)
{
	return log_verbose;
}

/* Warning with strerror(errno) appended. */
void
log_warn(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vwrite("warn", fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}

/* Warning without errno. */
void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite("warn", fmt, ap, NULL);
	va_end(ap);
}

/* Normal operational event. */
void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite("info", fmt, ap, NULL);
	va_end(ap);
}

/* Debug detail, only with verbose > 0. */
void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (log_verbose <= 0)
		return;
	va_start(ap, fmt);
	log_vwrite("debug", fmt, ap, NULL);
	va_end(ap);
}

/* Fatal error with strerror(errno) appended; exits with status 1. */
void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vwrite("fatal", fmt, ap, strerror(saved));
	va_end(ap);
	exit(1);
}

/* Fatal error without errno. */
void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite("fatal", fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
