/*
 * net.h: listening sockets and accept (like Redis's anet). IPv6 listeners
 * are IPV6_V6ONLY so that "::" and "0.0.0.0" can both be bound and each
 * family is configured and logged on its own (docs/configuration.md).
 */
#ifndef XMPPD_NET_H
#define XMPPD_NET_H

#include <stddef.h>
#include <sys/socket.h>

/* Non-blocking, CLOEXEC listener on addr (numeric v4 or v6) and port. */
int	net_listen(const char *addr, int port, const char **errstr);
/* Accept one connection, non-blocking and CLOEXEC; -1 with errno. */
int	net_accept(int lfd, char *peer, size_t peerlen);
/* Format a sockaddr as "1.2.3.4:5" or "[::1]:5". */
void	net_format(const struct sockaddr *, char *, size_t);
/* Local port of a bound socket (port 0 listeners pick one). */
int	net_local_port(int fd);

#endif
