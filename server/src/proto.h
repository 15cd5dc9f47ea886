/*
 * proto.h: small RFC 6120 building blocks shared by c2s, router and the
 * modules: stanza errors with their RFC 6120 §8.3.3 type, iq results,
 * random ids, XEP-0203 delay stamps. Pure: no I/O.
 */
#ifndef XMPPD_PROTO_H
#define XMPPD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stanza;

/* A reply to st with to/from swapped and type set (no children). */
struct stanza	*proto_reply(const struct stanza *st, const char *type);
/* An iq result for an iq get/set. */
struct stanza	*proto_iq_result(const struct stanza *iq);
/*
 * An error reply for st carrying the RFC 6120 condition cond (its error
 * type is looked up); NULL if st is itself an error (never answer one).
 */
struct stanza	*proto_error(const struct stanza *st, const char *cond);
/* The same with a <text/> explaining it (text NULL: none). */
struct stanza	*proto_error_text(const struct stanza *st, const char *cond,
		    const char *text);
/* True for message/presence/iq in jabber:client. */
bool		 proto_is_stanza(const struct stanza *);
/* 16 random hex characters plus NUL into out[17]. */
void		 proto_random_id(char out[17]);
/* 32 random hex characters (128 bits) plus NUL: ids that are tokens. */
void		 proto_random_id128(char out[33]);
/* Add <delay xmlns='urn:xmpp:delay' from= stamp=/> (XEP-0203). */
void		 proto_add_delay(struct stanza *, const char *from,
		    int64_t stamp_ms);
/* Milliseconds since the epoch (wall clock, for stamps). */
int64_t		 proto_now_ms(void);

#endif
