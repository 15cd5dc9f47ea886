/*
 * xbench.h: the load generator's client sessions. xsess.c drives one
 * XMPP client connection (TCP, STARTTLS or direct TLS, SASL PLAIN, bind,
 * optional RFC 3921 session, XEP-0198 enable or resume, initial
 * presence) on an epoll loop; xbench.c holds the workloads, which get
 * told about sessions through the hooks below. No threads.
 */
#ifndef XBENCH_H
#define XBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <expat.h>
#include <openssl/ssl.h>

enum xs_state {
	XS_IDLE,		/* no connection */
	XS_CONNECT,		/* non-blocking connect() pending */
	XS_FEAT_PLAIN,		/* header sent, waiting for plain features */
	XS_PROCEED,		/* <starttls/> sent */
	XS_TLS,			/* TLS handshake */
	XS_FEAT_TLS,		/* waiting for features over TLS */
	XS_AUTH,		/* <auth/> sent */
	XS_FEAT_AUTHED,		/* restarted after <success/> */
	XS_BIND,
	XS_SESSION,
	XS_ENABLE,
	XS_RESUME,
	XS_READY,
	XS_DEAD,		/* failed or closed; see err */
};

/* The top-level element being parsed (depth 2 of the stream). */
struct xs_elem {
	char		name[32];	/* as written, e.g. "stream:features" */
	char		child[32];	/* first child's name */
	char		id[160];	/* id attribute (SM ids can be long) */
	char		type[16];
	uint32_t	h;		/* h attribute of <a/>, <resumed/> */
	bool		feat_starttls, feat_mech, feat_bind, feat_sm;
	bool		feat_session, session_optional, in_session;
	bool		has_body, mam_result;
};

struct xs {
	unsigned	 idx;		/* slot number */
	unsigned	 user;		/* account number */
	int		 fd;
	SSL		*ssl;
	XML_Parser	 xp;
	enum xs_state	 state;
	unsigned	 depth;
	struct xs_elem	 el;
	bool		 restart;	/* reset parser after this read */
	bool		 start_tls;
	bool		 session_needed;
	bool		 sm_on;
	bool		 want_resume;	/* resume instead of bind */
	char		 smid[160];
	uint32_t	 h_in;		/* inbound stanzas handled */
	uint32_t	 h_out;		/* outbound stanzas sent */
	uint32_t	 acked;		/* server's last <a h/> */
	char		*obuf;
	size_t		 olen, ocap;
	bool		 pollout;
	const char	*err;		/* why XS_DEAD, or NULL */
	double		 t_start;	/* connect started */
	double		 t_ready;
	/* workload counters */
	uint32_t	 sent, recvd, last_r;
	int		 peer;		/* slot of the partner, -1 none */
	bool		 pending;	/* counted as a login in flight */
};

/* What the engine needs to know, fixed for a run. */
struct xs_opts {
	const char	*host;		/* numeric IPv4 */
	int		 port;
	bool		 direct_tls;
	const char	*domain;
	const char	*password;
	unsigned	 nsrc;		/* source addresses 127.0.0.2.. */
};

/* Hooks the workload implements (xbench.c). */
void	wl_ready(struct xs *);
void	wl_failed(struct xs *);
void	wl_stanza(struct xs *);		/* message/iq/presence at depth 2 */
void	wl_acked(struct xs *);		/* <a h/> from the server */

void	xs_init(const struct xs_opts *);
void	xs_connect(struct xs *);
void	xs_printf(struct xs *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	xs_stanza(struct xs *, const char *, ...)	/* counted for SM */
	    __attribute__((format(printf, 2, 3)));
void	xs_close(struct xs *, bool graceful);
void	xs_free(struct xs *);
void	xs_username(unsigned user, char *buf, size_t len);
const char *xs_resource(const struct xs *);	/* static buffer */
/* Run the loop once, waiting at most ms. */
void	xs_poll(int ms);
double	now_s(void);

#endif
