/*
 * xmlp.h: turn an XMPP byte stream into a stream header and whole stanzas.
 * Only xmlp.c includes <expat.h>. Enforces hard limits (stanza bytes,
 * depth, attributes) and rejects restricted XML (RFC 6120 §11.1: DTDs,
 * entity declarations, comments, processing instructions). No I/O.
 */
#ifndef XMPPD_XMLP_H
#define XMPPD_XMLP_H

#include <stdbool.h>
#include <stddef.h>

struct xmlp;
struct stanza;

/*
 * The stream header has a fixed limit of its own (8 KiB, xmlp.c), since
 * it is kept and replayed for the stream's life.
 */
struct xmlp_limits {
	size_t		max_stanza;	/* bytes of one top-level child */
	unsigned	max_depth;	/* element depth below the stream */
	unsigned	max_attrs;	/* attributes plus namespace
					 * declarations on one element */
};

struct xmlp_cb {
	/* <stream:stream ...> (callee must not keep hdr). */
	void	(*open)(void *arg, const struct stanza *hdr);
	/* A whole depth-1 element; the callee owns the reference. */
	void	(*stanza)(void *arg, struct stanza *);
	/* </stream:stream> */
	void	(*close)(void *arg);
};

struct xmlp	*xmlp_new(const struct xmlp_cb *, void *,
		    const struct xmlp_limits *);
/*
 * Parse len bytes. 0 on success (or after xmlp_stop()), -1 on error
 * with the stream-error condition in xmlp_error(). After an error or a
 * stop, further feeds return -1 until xmlp_reset().
 */
int		 xmlp_feed(struct xmlp *, const char *, size_t);
/*
 * From inside a callback: stop parsing now and discard the rest of the
 * current buffer (STARTTLS, SASL success: RFC 6120 §5.4.3.3, §6.4.6).
 */
void		 xmlp_stop(struct xmlp *);
/*
 * From inside a stanza callback, at depth 1: parse nothing after this
 * stanza until xmlp_release(). The rest of the buffer and later feeds
 * are kept, up to max_stanza bytes (more fails with policy-violation).
 * For SASL: a client may pipeline its new stream header after <auth/>,
 * and whether that header starts a new stream is known only once the
 * asynchronous password check answers.
 */
void		 xmlp_hold(struct xmlp *);
/*
 * Not from a callback: parse what was kept, as the continuation of the
 * stream or (reset) as a new stream. 0, or -1 as xmlp_feed().
 */
int		 xmlp_release(struct xmlp *, bool reset);
/* Start a new stream (after STARTTLS / SASL success); 0 or -1. */
int		 xmlp_reset(struct xmlp *);
/*
 * Bytes of stream header replayed into a pooled parser since the last
 * call (each feed after an idle spell replays it): work the input itself
 * does not show, which the owner charges to the stream's rate limit.
 */
size_t		 xmlp_take_replayed(struct xmlp *);
/* RFC 6120 §4.9.3 condition: not-well-formed, restricted-xml,
 * policy-violation, invalid-namespace, bad-format, internal-server-error. */
const char	*xmlp_error(const struct xmlp *);
void		 xmlp_free(struct xmlp *);
/* Idle expat parsers kept for reuse (at most 32). */
size_t		 xmlp_pool_size(void);

/*
 * Parse one serialized jabber:client stanza (as stored in the spool);
 * NULL if it is not exactly one well-formed element.
 */
struct stanza	*xmlp_parse_stanza(const char *xml, size_t len);

#endif
