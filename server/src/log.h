/*
 * log.h: one key=value line per event on stderr (journald under systemd).
 * Never pass a password, SASL payload or message body above debug level.
 */
#ifndef XMPPD_LOG_H
#define XMPPD_LOG_H

#include <stdarg.h>

void	log_init(int debug, int verbose);
void	log_setverbose(int);
int	log_getverbose(void);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2)))
	    __attribute__((noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2)))
	    __attribute__((noreturn));

#endif
