/*
 * net.c: listening sockets and accept (Redis's anet, reduced).
 */
#include "net.h"

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define NET_BACKLOG	1024

static char	net_err[256];

static int
net_fail(int fd, const char *addr, int port, const char *what,
    const char **errstr)
{
	int	 saved = errno;

	snprintf(net_err, sizeof(net_err), "listen %s port %d: %s: %s",
	    addr, port, what, strerror(saved));
	if (fd != -1)
		close(fd);
	*errstr = net_err;
	errno = saved;
	return -1;
}

int
net_listen(const char *addr, int port, const char **errstr)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 sslen;
	int			 fd = -1, on = 1;

	memset(&ss, 0, sizeof(ss));
	if (port < 0 || port > 65535) {
		errno = EINVAL;
		return net_fail(fd, addr, port, "bad port", errstr);
	}
	if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((unsigned short)port);
		sslen = sizeof(*sin6);
	} else if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((unsigned short)port);
		sslen = sizeof(*sin);
	} else {
		errno = EINVAL;
		return net_fail(fd, addr, port, "not a numeric address",
		    errstr);
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return net_fail(fd, addr, port, "socket", errstr);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		return net_fail(fd, addr, port, "SO_REUSEADDR", errstr);
	/* "::" must not swallow IPv4: each family is its own listener. */
	if (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1)
		return net_fail(fd, addr, port, "IPV6_V6ONLY", errstr);
	if (bind(fd, (struct sockaddr *)&ss, sslen) == -1)
		return net_fail(fd, addr, port, "bind", errstr);
	if (listen(fd, NET_BACKLOG) == -1)
		return net_fail(fd, addr, port, "listen", errstr);
	return fd;
}

int
net_accept(int lfd, char *peer, size_t peerlen)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	int			 fd, on = 1;

	if ((fd = accept4(lfd, (struct sockaddr *)&ss, &sslen,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1)
		return -1;
	/* Stanzas are small and latency-bound; conn.c batches writes. */
	if ((ss.ss_family == AF_INET || ss.ss_family == AF_INET6) &&
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == -1)
		log_warn("TCP_NODELAY");
	if (peer != NULL && peerlen > 0)
		net_format((struct sockaddr *)&ss, peer, peerlen);
	return fd;
}

void
net_format(const struct sockaddr *sa, char *buf, size_t len)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	char				 a[INET6_ADDRSTRLEN];

	if (len == 0)
		return;
	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)sa;
		if (inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a)) == NULL)
			break;
		snprintf(buf, len, "%s:%u", a, ntohs(sin->sin_port));
		return;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)sa;
		if (inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a)) ==
		    NULL)
			break;
		snprintf(buf, len, "[%s]:%u", a, ntohs(sin6->sin6_port));
		return;
	case AF_UNIX:
		snprintf(buf, len, "unix");
		return;
	}
	snprintf(buf, len, "?");
}

int
net_local_port(int fd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == -1)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}
