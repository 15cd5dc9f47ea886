/*
 * c2s_priv.h: the client stream's state, shared by the files that
 * implement it (c2s.c: negotiation and dispatch; c2s_sm.c: XEP-0198).
 * Nothing outside c2s*.c includes this.
 */
#ifndef XMPPD_C2S_PRIV_H
#define XMPPD_C2S_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct server;
struct conn;
struct xmlp;
struct sasl;
struct session;
struct session_ops;
struct ev_timer;
struct stanza;
struct sm_queue;


enum c2s_state {
	C2S_TLS,		/* handshake running */
	C2S_HEADER,		/* waiting for <stream:stream> */
	C2S_STARTTLS,		/* waiting for <starttls/> */
	C2S_AUTH,		/* waiting for <auth/> or <response/> */
	C2S_AUTH_WAIT,		/* backend verifying */
	C2S_BIND,		/* waiting for the bind iq (or <resume/>) */
	C2S_SESSION,		/* bound: stanzas */
	C2S_HIBERNATED,		/* link lost, session kept for a resume */
	C2S_CLOSED,
};

struct c2s {
	struct server	*srv;
	uint64_t	 id;
	struct conn	*conn;		/* NULL while hibernated */
	struct xmlp	*xmlp;
	enum c2s_state	 state;
	bool		 tls;
	bool		 authed;
	bool		 header_sent;
	bool		 need_reset;	/* restart the parser after feed */
	bool		 auth_pending;
	bool		 backlog_full;	/* output cap hit; ends next */
	const char	*backlog_cond;	/* ... with this stream error */
	bool		 ending;	/* writing the final stream error */
	/*
	 * Input flow control (c2s.c): bytes read but not parsed yet wait in
	 * inbuf[inoff, inlen) while the stream is throttled, over its share
	 * of a turn, or paused on its own output; reading from the socket
	 * stops meanwhile, so inbuf holds at most about two reads.
	 */
	char		*inbuf;
	size_t		 inoff, inlen;
	bool		 out_paused;	/* output past half its cap */
	bool		 read_paused;	/* conn_pause_read() is on */
	struct ev_timer	*pump_timer;	/* next turn, or the refill */
	int64_t		 tok_bytes;	/* token buckets, in 1/1000 */
	int64_t		 tok_stanzas;
	uint64_t	 tok_at;	/* last refill, ms */
	unsigned	 nstanzas;	/* stanzas parsed, ever */
	char		 stream_id[17];
	char		*user;		/* authenticated localpart */
	struct sasl	*sasl;
	int		 auth_failures;
	struct session	*sess;
	struct ev_timer	*timer;
	uint64_t	 started;
	uint64_t	 last_in;
	uint64_t	 last_out;
	struct c2s	*prev;
	struct c2s	*next;

	/* XEP-0198, c2s_sm.c. smq is set once the client enabled it. */
	struct sm_queue	*smq;
	char		*sm_id;		/* resumable: key of sm->ids */
	uint32_t	 h_in;		/* stanzas handled from the client */
	/*
	 * What h_in counted at the last successful commit: the only h the
	 * client is ever told (<a/>, <resumed/>, <failed/>).
	 */
	uint32_t	 h_committed;
	unsigned	 sm_unrequested; /* pushed since our last <r/> */
	bool		 sm_ending;	/* queue overflowed: ends this turn */
	bool		 ack_wanted;	/* <a/> owed after the next commit */
	bool		 resume_owed;	/* <resumed/> owed after the commit */
	bool		 owe_listed;	/* on sm->acks */
	struct c2s	*ack_next;	/* sm->acks list */
	bool		 dirty;		/* handled stanzas this turn */
	struct c2s	*dirty_next;	/* sm->dirty list */
};

/* c2s_sm.c */
/*
 * The write side of a client stream, which stream management needs (acks,
 * resends, errors, ending a stream). c2s.c hands it over in c2s_sm_init,
 * so calls between the two files go one way: c2s.c into c2s_sm.c.
 */
struct c2s_sm_io {
	void	(*puts)(struct c2s *, const char *);
	void	(*send_raw)(struct c2s *, const struct stanza *);
	void	(*stream_error)(struct c2s *, const char *cond,
		    const char *extra);
	void	(*teardown)(struct c2s *, const char *why);
	void	(*enter_state)(struct c2s *, enum c2s_state);
};
/* Make srv->sm; c2s_sm_cleanup frees it. */
void	c2s_sm_init(struct server *, const struct c2s_sm_io *);
void	c2s_sm_cleanup(struct server *);
/* An element in the urn:xmpp:sm:3 namespace (enable, resume, r, a). */
void	c2s_sm_nonza(struct c2s *, struct stanza *);
/* Record a stanza sent to the client; -1 if the queue is full, 1 if
 * an <r/> is due once the stanza is written (c2s_sm_tick). */
int	c2s_sm_push(struct c2s *, struct stanza *, int64_t tag);
/* A stanza from the client was handled (counts towards h). */
void	c2s_sm_handled(struct c2s *);
/* Spooled messages the stream may take now. */
size_t	c2s_sm_room(const struct c2s *);
/* The client's link is gone: true if the session now hibernates. */
bool	c2s_sm_hibernate(struct c2s *, const char *why);
/* The session ends: iq requests answered; its messages stay spooled. */
void	c2s_sm_finish(struct c2s *);
/* Stream feature, or "" before the client may use it. */
const char *c2s_sm_feature(const struct c2s *);
/* Leave the owed-answers list (the stream goes away or hibernates). */
void	c2s_sm_unlist(struct c2s *);
/* Leave the handled-this-turn list (the stream goes away). */
void	c2s_sm_undirty(struct c2s *);
/* SIGTERM: tell the client its final committed h. */
void	c2s_sm_final_ack(struct c2s *);
/* Periodic: ask for an ack if stanzas are waiting for one. */
void	c2s_sm_tick(struct c2s *);
/*
 * Before binding resource res for user: whether there is room under
 * max-sessions-per-user. A resource already bound is replaced (no room
 * needed); at the cap, hibernating sessions of the user (those of ops,
 * the stream's own session_ops) end, the longest silent first, as if
 * their hibernation expired. false: the cap is held by live sessions.
 */
bool	c2s_sm_make_room(struct server *, const struct session_ops *ops,
	    const char *user, const char *res);

#endif
