/*
 * xmlp.c: the expat wrapper. Bytes in; out come the stream header, each
 * whole top-level element as a stanza tree, and the stream close.
 *
 * What it enforces, so that nothing above it has to:
 * - restricted XML (RFC 6120 §11.1): a DOCTYPE is refused the moment it
 *   starts, before any entity could be declared, let alone expanded;
 *   comments, processing instructions and entity references other than
 *   the predefined five are refused too. The XML declaration is allowed.
 * - the stream header: <stream> in the streams namespace with a content
 *   namespace of jabber:client or jabber:server (RFC 6120 §4.8).
 * - hard limits: bytes of one stanza, counted on the raw input from its
 *   first byte, depth, and attributes per element. Input is handed to
 *   expat in slices and checked after each one, so a stanza that never
 *   ends (one huge start tag or text run) is refused once it passes the
 *   limit whether it arrives byte by byte or in one buffer: neither expat
 *   nor the tree ever holds much more than the limit.
 * - CPU: expat scans an unfinished token again on every call
 *   (CVE-2023-52425), so a huge start tag trickled byte by byte costs
 *   quadratic time. The bytes rescanned per stanza are counted and capped.
 *   Expat's own remedy, reparse deferral, is switched off: it holds back
 *   a complete stanza until more bytes arrive, and an XMPP client waits
 *   for the answer to the stanza it just sent (expat_nodefer.c).
 * - memory: an expat parser holds ~11 KiB (hash tables, string pools, its
 *   input buffer), as much as the TLS state of a connection. Between
 *   stanzas, with nothing pending, it is parked: handed to a small pool
 *   of reset parsers and dropped from the stream. The next bytes take one
 *   back and replay a copy of the stream header (its element name and
 *   every namespace declaration, nothing else) with the handlers muted,
 *   which puts expat in the state it was in: inside the stream element,
 *   with the same bindings. Offsets are kept in our own byte space.
 * Errors carry the RFC 6120 §4.9.3 condition name.
 *
 * Expat must not be reset or freed from inside its own callbacks, so
 * xmlp_reset() and xmlp_free() called from a callback only stop the
 * parser; xmlp_feed() finishes the job once expat has returned. After a
 * deferred reset the rest of the buffer goes to the new stream, which
 * lets a client pipeline its new header after SASL success.
 * Does no I/O.
 */
#include "xmlp.h"

#include <expat.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "expat_nodefer.h"
#include "log.h"
#include "stanza.h"
#include "xmalloc.h"
#include "xmppd.h"

#define XMLP_SEP	'\x1f'	/* cannot occur in a name or a URI */
#define XMLP_SLICE	4096	/* bytes per XML_Parse call */
/*
 * The stream header's size, whatever max_stanza says. A real header is a
 * few hundred bytes; its declarations are replayed into the parser each
 * time it is taken out of the pool, so this bounds the replay too.
 */
#define XMLP_HDR_MAX	8192
#define XMLP_RESCAN_X	64	/* rescans allowed, in max_stanza units */
#define XMLP_RESCAN_MIN	(1024 * 1024)
#define XMLP_NS_SERVER	"jabber:server"
#define XMLP_POOL	32	/* parked parsers kept for reuse */

enum xmlp_state {
	XMLP_RUNNING,
	XMLP_STOPPED,		/* xmlp_stop(): feeds fail until reset */
	XMLP_FAILED,		/* err says why */
	XMLP_HELD,		/* xmlp_hold(): bytes kept, not parsed */
};

struct xmlp {
	XML_Parser		 xp;
	const struct xmlp_cb	*cb;
	void			*arg;
	struct xmlp_limits	 lim;
	enum xmlp_state		 state;
	const char		*err;
	unsigned		 depth;		/* open elements, stream = 1 */
	bool			 content_ns_ok;	/* header's default ns */
	bool			 header_seen;
	struct stanza		*root;		/* stanza being built */
	struct stanza		*cur;		/* its open element */
	uint64_t		 fed;		/* bytes given to expat */
	uint64_t		 mark;		/* start of current unit */
	uint64_t		 last_end;	/* end of the last event */
	uint64_t		 rescan;	/* bytes expat scanned twice */
	int64_t			 xp_shift;	/* expat index - our offset */
	char			*hdr;		/* header to replay, or NULL */
	size_t			 hdr_len;
	unsigned		 ndecls;	/* on the element being opened */
	uint64_t		 replayed;	/* header bytes replayed */
	bool			 replaying;	/* handlers muted */
	bool			 in_feed;
	bool			 reset_pending;	/* xmlp_reset() in a callback */
	uint64_t		 reset_at;	/* ... taking effect here */
	bool			 discard;	/* xmlp_stop() in this feed */
	bool			 free_pending;	/* xmlp_free() in a callback */
	bool			 hold_pending;	/* xmlp_hold() in a callback */
	uint64_t		 hold_at;	/* ... taking effect here */
	char			*held;		/* bytes received while held */
	size_t			 held_len;
	char			*scratch;	/* NUL-terminated name parts */
	size_t			 scratch_cap;
};

/* An expanded name as expat reports it: [uri SEP] local [SEP prefix]. */
struct xmlp_qname {
	const char	*uri;
	size_t		 uri_len;
	const char	*local;
	size_t		 local_len;
	const char	*prefix;
	size_t		 prefix_len;
};

static void	xmlp_setup(struct xmlp *);

static bool
xmlp_live(const struct xmlp *p)
{
	return p->state == XMLP_RUNNING && !p->reset_pending &&
	    !p->free_pending && !p->hold_pending && !p->replaying;
}

static void
xmlp_halt(struct xmlp *p)
{
	if (p->in_feed)
		(void)XML_StopParser(p->xp, XML_FALSE);
}

/* Record the first error and stop; later events are ignored. */
static void
xmlp_fail(struct xmlp *p, const char *cond)
{
	if (!xmlp_live(p))
		return;
	p->state = XMLP_FAILED;
	p->err = cond;
	xmlp_halt(p);
}

/* Absolute input offset just past the event being reported. */
static uint64_t
xmlp_event_end(const struct xmlp *p)
{
	XML_Index	 idx = XML_GetCurrentByteIndex(p->xp);
	int		 cnt = XML_GetCurrentByteCount(p->xp);

	if (idx < 0)
		return p->fed;
	return (uint64_t)(idx - p->xp_shift) + (uint64_t)(cnt > 0 ? cnt : 0);
}

/* Absolute input offset of the start of the event being reported. */
static uint64_t
xmlp_event_start(const struct xmlp *p)
{
	XML_Index	 idx = XML_GetCurrentByteIndex(p->xp);

	return idx < 0 ? p->fed : (uint64_t)(idx - p->xp_shift);
}

/* A stanza, the header or stream-level whitespace starts at offset. */
static void
xmlp_new_unit(struct xmlp *p, uint64_t offset)
{
	p->mark = offset;
	p->rescan = 0;
}

/* The header has a size of its own, larger or smaller than max_stanza. */
static uint64_t
xmlp_limit(const struct xmlp *p)
{
	if (!p->header_seen)
		return XMLP_HDR_MAX;
	return p->lim.max_stanza;
}

/* Policy-violation once the unit begun at mark grows past the limit. */
static bool
xmlp_too_big(struct xmlp *p, uint64_t end)
{
	if (end > p->mark && end - p->mark > xmlp_limit(p)) {
		xmlp_fail(p, "policy-violation");
		return true;
	}
	return false;
}

static void
xmlp_split(const char *s, struct xmlp_qname *q)
{
	const char	*sep1, *sep2;

	memset(q, 0, sizeof(*q));
	q->uri = "";
	if ((sep1 = strchr(s, XMLP_SEP)) == NULL) {
		q->local = s;
		q->local_len = strlen(s);
		return;
	}
	q->uri = s;
	q->uri_len = (size_t)(sep1 - s);
	q->local = sep1 + 1;
	if ((sep2 = strchr(q->local, XMLP_SEP)) == NULL) {
		q->local_len = strlen(q->local);
		return;
	}
	q->local_len = (size_t)(sep2 - q->local);
	q->prefix = sep2 + 1;
	q->prefix_len = strlen(q->prefix);
}

static bool
xmlp_eq(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

/* Copy pieces into the reusable scratch buffer, each NUL-terminated. */
static char *
xmlp_scratch(struct xmlp *p, size_t need)
{
	if (need > p->scratch_cap) {
		free(p->scratch);
		p->scratch_cap = need < 256 ? 256 : need;
		p->scratch = xmalloc(p->scratch_cap);
	}
	return p->scratch;
}

static void
xmlp_set_attrs(struct xmlp *p, struct stanza *st, const XML_Char **atts)
{
	struct xmlp_qname	 q;
	char			*b;
	size_t			 i;

	for (i = 0; atts[i] != NULL; i += 2) {
		xmlp_split(atts[i], &q);
		if (q.prefix == NULL) {
			stanza_set_attr(st, q.local, atts[i + 1]);
			continue;
		}
		/* Keep the prefix and, unless it is xml:, its binding. */
		b = xmlp_scratch(p, 6 + q.prefix_len + 1 + q.local_len + 1 +
		    q.uri_len + 1);
		memcpy(b, "xmlns:", 6);
		memcpy(b + 6, q.prefix, q.prefix_len);
		b[6 + q.prefix_len] = '\0';
		if (!xmlp_eq(q.prefix, q.prefix_len, "xml") &&
		    stanza_attr(st, b) == NULL) {
			memcpy(b + 7 + q.prefix_len, q.uri, q.uri_len);
			b[7 + q.prefix_len + q.uri_len] = '\0';
			stanza_set_attr(st, b, b + 7 + q.prefix_len);
		}
		b[6 + q.prefix_len] = ':';
		memcpy(b + 7 + q.prefix_len, q.local, q.local_len);
		b[7 + q.prefix_len + q.local_len] = '\0';
		stanza_set_attr(st, b + 6, atts[i + 1]);
	}
}

static struct stanza *
xmlp_element(struct xmlp *p, const struct xmlp_qname *q, bool inherit)
{
	char	*b = xmlp_scratch(p, q->local_len + 1 + q->uri_len + 1);

	memcpy(b, q->local, q->local_len);
	b[q->local_len] = '\0';
	memcpy(b + q->local_len + 1, q->uri, q->uri_len);
	b[q->local_len + 1 + q->uri_len] = '\0';
	return stanza_new(b, inherit ? NULL : b + q->local_len + 1);
}

/* Append len bytes to the header being recorded for replay. */
static void
xmlp_hdr_add(struct xmlp *p, const char *s, size_t len)
{
	p->hdr = xreallocarray(p->hdr, p->hdr_len + len + 1, 1);
	memcpy(p->hdr + p->hdr_len, s, len);
	p->hdr_len += len;
	p->hdr[p->hdr_len] = '\0';
}

/* An attribute value, escaped so expat reads back exactly s. */
static void
xmlp_hdr_add_value(struct xmlp *p, const char *s)
{
	const char	*esc;

	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&':  esc = "&amp;"; break;
		case '<':  esc = "&lt;"; break;
		case '\'': esc = "&apos;"; break;
		case '\t': esc = "&#9;"; break;
		case '\n': esc = "&#10;"; break;
		case '\r': esc = "&#13;"; break;
		default:
			xmlp_hdr_add(p, s, 1);
			continue;
		}
		xmlp_hdr_add(p, esc, strlen(esc));
	}
}

/* One namespace declaration of the stream header, as " xmlns:p='uri'". */
static void
xmlp_hdr_decl(struct xmlp *p, const XML_Char *prefix, const XML_Char *uri)
{
	xmlp_hdr_add(p, " xmlns", 6);
	if (prefix != NULL) {
		xmlp_hdr_add(p, ":", 1);
		xmlp_hdr_add(p, prefix, strlen(prefix));
	}
	xmlp_hdr_add(p, "='", 2);
	xmlp_hdr_add_value(p, uri != NULL ? uri : "");
	xmlp_hdr_add(p, "'", 1);
}

/* Wrap the recorded declarations into "<prefix:stream ...>". */
static void
xmlp_hdr_finish(struct xmlp *p, const struct xmlp_qname *q)
{
	char	*decls = p->hdr;
	size_t	 decls_len = p->hdr_len;

	p->hdr = NULL;
	p->hdr_len = 0;
	xmlp_hdr_add(p, "<", 1);
	if (q->prefix != NULL) {
		xmlp_hdr_add(p, q->prefix, q->prefix_len);
		xmlp_hdr_add(p, ":", 1);
	}
	xmlp_hdr_add(p, q->local, q->local_len);
	if (decls != NULL)
		xmlp_hdr_add(p, decls, decls_len);
	xmlp_hdr_add(p, ">", 1);
	free(decls);
}

/* RFC 6120 §4.8: check <stream:stream> and hand it to the owner. */
static void
xmlp_header(struct xmlp *p, const XML_Char *name, const XML_Char **atts)
{
	struct stanza		*hdr;
	struct xmlp_qname	 q;

	xmlp_split(name, &q);
	if (!xmlp_eq(q.uri, q.uri_len, NS_STREAMS) || !p->content_ns_ok) {
		xmlp_fail(p, "invalid-namespace");
		return;
	}
	if (!xmlp_eq(q.local, q.local_len, "stream")) {
		xmlp_fail(p, "bad-format");
		return;
	}
	p->header_seen = true;
	xmlp_hdr_finish(p, &q);
	xmlp_new_unit(p, xmlp_event_end(p));
	hdr = stanza_new("stream", NS_STREAMS);
	xmlp_set_attrs(p, hdr, atts);
	if (p->cb->open != NULL)
		p->cb->open(p->arg, hdr);
	stanza_unref(hdr);
}

static void
xmlp_start(void *arg, const XML_Char *name, const XML_Char **atts)
{
	struct xmlp		*p = arg;
	struct xmlp_qname	 q;
	struct stanza		*st;
	size_t			 n;

	if (!xmlp_live(p))
		return;
	p->last_end = xmlp_event_end(p);
	p->depth++;
	for (n = 0; atts[n] != NULL; n += 2)
		;
	/* Namespace declarations are attributes too (xmlp_nsdecl). */
	n += 2 * (size_t)p->ndecls;
	p->ndecls = 0;
	if (p->depth - 1 > p->lim.max_depth || n / 2 > p->lim.max_attrs) {
		xmlp_fail(p, "policy-violation");
		return;
	}
	if (p->depth == 1) {
		if (!xmlp_too_big(p, xmlp_event_end(p)))
			xmlp_header(p, name, atts);
		return;
	}
	if (p->depth == 2)
		xmlp_new_unit(p, xmlp_event_start(p));
	if (xmlp_too_big(p, xmlp_event_end(p)))
		return;
	xmlp_split(name, &q);
	st = xmlp_element(p, &q, p->cur != NULL &&
	    xmlp_eq(q.uri, q.uri_len, stanza_ns(p->cur)));
	xmlp_set_attrs(p, st, atts);
	if (p->cur != NULL)
		stanza_add_child(p->cur, st);
	else
		p->root = st;
	p->cur = st;
}

static void
xmlp_end(void *arg, const XML_Char *name)
{
	struct xmlp	*p = arg;
	struct stanza	*st;

	(void)name;
	if (!xmlp_live(p))
		return;
	p->last_end = xmlp_event_end(p);
	if (p->depth == 1) {
		p->depth--;
		xmlp_new_unit(p, xmlp_event_end(p));
		if (p->cb->close != NULL)
			p->cb->close(p->arg);
		return;
	}
	if (xmlp_too_big(p, xmlp_event_end(p)))
		return;
	p->depth--;
	if (p->depth > 1) {
		p->cur = stanza_parent(p->cur);
		return;
	}
	st = p->root;
	p->root = p->cur = NULL;
	xmlp_new_unit(p, xmlp_event_end(p));
	if (p->cb->stanza != NULL)
		p->cb->stanza(p->arg, st);
	else
		stanza_unref(st);
}

static void
xmlp_text(void *arg, const XML_Char *s, int len)
{
	struct xmlp	*p = arg;
	int		 i;

	if (!xmlp_live(p) || len <= 0)
		return;
	p->last_end = xmlp_event_end(p);
	if (p->depth <= 1) {
		/* Between stanzas only whitespace (keepalives) belongs. */
		for (i = 0; i < len; i++)
			if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' &&
			    s[i] != '\n') {
				xmlp_fail(p, "bad-format");
				return;
			}
		xmlp_new_unit(p, xmlp_event_end(p));
		return;
	}
	if (!xmlp_too_big(p, xmlp_event_end(p)))
		stanza_add_text(p->cur, s, (size_t)len);
}

/*
 * Declarations, which expat reports before the element's start: each
 * counts against max_attrs (expat keeps a binding for every one). The
 * stream header's default namespace is checked, and each of its
 * declarations is kept for the replay.
 */
static void
xmlp_nsdecl(void *arg, const XML_Char *prefix, const XML_Char *uri)
{
	struct xmlp	*p = arg;

	if (!xmlp_live(p))
		return;
	if (++p->ndecls > p->lim.max_attrs) {
		xmlp_fail(p, "policy-violation");
		return;
	}
	if (p->depth != 0)
		return;
	xmlp_hdr_decl(p, prefix, uri);
	if (prefix != NULL || uri == NULL)
		return;
	p->content_ns_ok = strcmp(uri, NS_CLIENT) == 0 ||
	    strcmp(uri, XMLP_NS_SERVER) == 0;
}

static void
xmlp_xmldecl(void *arg, const XML_Char *version, const XML_Char *encoding,
    int standalone)
{
	struct xmlp	*p = arg;

	(void)version;
	(void)standalone;
	/* RFC 6120 §11.6: UTF-8 only. */
	if (encoding != NULL && strcasecmp(encoding, "UTF-8") != 0)
		xmlp_fail(p, "unsupported-encoding");
}

/*
 * RFC 6120 §11.1 refusals. The DOCTYPE handler fires at "<!DOCTYPE name"
 * before the internal subset is read, so a billion-laughs document stops
 * before its first entity declaration.
 */
static void
xmlp_doctype(void *arg, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	xmlp_fail(arg, "restricted-xml");
}

static void
xmlp_entitydecl(void *arg, const XML_Char *name, int is_param,
    const XML_Char *value, int value_len, const XML_Char *base,
    const XML_Char *sysid, const XML_Char *pubid, const XML_Char *notation)
{
	(void)name;
	(void)is_param;
	(void)value;
	(void)value_len;
	(void)base;
	(void)sysid;
	(void)pubid;
	(void)notation;
	xmlp_fail(arg, "restricted-xml");
}

static void
xmlp_comment(void *arg, const XML_Char *data)
{
	(void)data;
	xmlp_fail(arg, "restricted-xml");
}

static void
xmlp_pi(void *arg, const XML_Char *target, const XML_Char *data)
{
	(void)target;
	(void)data;
	xmlp_fail(arg, "restricted-xml");
}

static void
xmlp_skipped(void *arg, const XML_Char *name, int is_param)
{
	(void)name;
	(void)is_param;
	xmlp_fail(arg, "restricted-xml");
}

static int
xmlp_extref(XML_Parser xp, const XML_Char *context, const XML_Char *base,
    const XML_Char *sysid, const XML_Char *pubid)
{
	(void)context;
	(void)base;
	(void)sysid;
	(void)pubid;
	xmlp_fail(XML_GetUserData(xp), "restricted-xml");
	return XML_STATUS_ERROR;
}

/* Expat's own errors as RFC 6120 conditions. */
static const char *
xmlp_condition(enum XML_Error code)
{
	switch (code) {
	case XML_ERROR_NO_MEMORY:
		return "internal-server-error";
	case XML_ERROR_UNKNOWN_ENCODING:
	case XML_ERROR_INCORRECT_ENCODING:
		return "unsupported-encoding";
	case XML_ERROR_UNDEFINED_ENTITY:
	case XML_ERROR_RECURSIVE_ENTITY_REF:
	case XML_ERROR_BINARY_ENTITY_REF:
	case XML_ERROR_ATTRIBUTE_EXTERNAL_ENTITY_REF:
	case XML_ERROR_EXTERNAL_ENTITY_HANDLING:
	case XML_ERROR_ENTITY_DECLARED_IN_PE:
	case XML_ERROR_NOT_STANDALONE:
	case XML_ERROR_AMPLIFICATION_LIMIT_BREACH:
		return "restricted-xml";
	default:
		return "not-well-formed";
	}
}

/* Install every handler; XML_ParserReset() clears them all. */
static void
xmlp_setup(struct xmlp *p)
{
	XML_Parser	 xp = p->xp;

	XML_SetUserData(xp, p);
	XML_SetReturnNSTriplet(xp, XML_TRUE);
	XML_SetElementHandler(xp, xmlp_start, xmlp_end);
	XML_SetCharacterDataHandler(xp, xmlp_text);
	XML_SetStartNamespaceDeclHandler(xp, xmlp_nsdecl);
	XML_SetXmlDeclHandler(xp, xmlp_xmldecl);
	XML_SetStartDoctypeDeclHandler(xp, xmlp_doctype);
	XML_SetEntityDeclHandler(xp, xmlp_entitydecl);
	XML_SetCommentHandler(xp, xmlp_comment);
	XML_SetProcessingInstructionHandler(xp, xmlp_pi);
	XML_SetSkippedEntityHandler(xp, xmlp_skipped);
	XML_SetExternalEntityRefHandler(xp, xmlp_extref);
	XML_SetParamEntityParsing(xp, XML_PARAM_ENTITY_PARSING_NEVER);
	expat_no_deferral(xp);
}

static void
xmlp_clear(struct xmlp *p)
{
	stanza_unref(p->root);
	p->root = p->cur = NULL;
	p->state = XMLP_RUNNING;
	p->err = NULL;
	p->depth = 0;
	p->content_ns_ok = p->header_seen = false;
	p->fed = p->mark = p->last_end = p->rescan = 0;
	p->xp_shift = 0;
	p->ndecls = 0;
	free(p->hdr);
	p->hdr = NULL;
	p->hdr_len = 0;
	p->reset_pending = p->discard = p->hold_pending = false;
}

/* Parked parsers, reset, each keeping the memory it had grown. */
static XML_Parser	xmlp_pool[XMLP_POOL];
static size_t		xmlp_npool;

static XML_Parser
xmlp_pool_get(void)
{
	XML_Parser	 xp;

	if (xmlp_npool > 0)
		return xmlp_pool[--xmlp_npool];
	if ((xp = XML_ParserCreateNS("UTF-8", XMLP_SEP)) == NULL)
		fatalx("%s: XML_ParserCreateNS failed", __func__);
	return xp;
}

/* Parsers parked in the pool (for tests and statistics). */
size_t
xmlp_pool_size(void)
{
	return xmlp_npool;
}

static void
xmlp_pool_put(XML_Parser xp)
{
	if (xmlp_npool < XMLP_POOL && XML_ParserReset(xp, "UTF-8") == XML_TRUE)
		xmlp_pool[xmlp_npool++] = xp;
	else
		XML_ParserFree(xp);
}

/*
 * After a feed: between stanzas with every byte reported (expat holds
 * no partial token), the stream's state is its header alone, so the
 * parser can go back to the pool.
 */
static void
xmlp_park(struct xmlp *p)
{
	if (p->xp == NULL || p->state != XMLP_RUNNING || p->depth != 1 ||
	    p->root != NULL || p->hdr == NULL || p->last_end != p->fed)
		return;
	xmlp_pool_put(p->xp);
	p->xp = NULL;
}

/* Before a feed: take a parser and replay the header into it, muted. */
static int
xmlp_unpark(struct xmlp *p)
{
	enum XML_Status	 st;

	if (p->xp != NULL)
		return 0;
	p->xp = xmlp_pool_get();
	xmlp_setup(p);
	p->replaying = true;
	p->replayed += p->hdr_len;
	st = XML_Parse(p->xp, p->hdr, (int)p->hdr_len, XML_FALSE);
	p->replaying = false;
	if (st != XML_STATUS_OK) {
		xmlp_fail(p, "internal-server-error");
		return -1;
	}
	p->xp_shift = (int64_t)p->hdr_len - (int64_t)p->fed;
	return 0;
}

/* A parser for one stream; limits are copied. */
struct xmlp *
xmlp_new(const struct xmlp_cb *cb, void *arg, const struct xmlp_limits *lim)
{
	struct xmlp	*p;

	p = xcalloc(1, sizeof(*p));
	p->xp = xmlp_pool_get();
	p->cb = cb;
	p->arg = arg;
	p->lim = *lim;
	xmlp_clear(p);
	xmlp_setup(p);
	return p;
}

static int
xmlp_reset_now(struct xmlp *p)
{
	xmlp_clear(p);
	if (p->xp == NULL)
		p->xp = xmlp_pool_get();
	else if (XML_ParserReset(p->xp, "UTF-8") != XML_TRUE) {
		p->state = XMLP_FAILED;
		p->err = "internal-server-error";
		return -1;
	}
	xmlp_setup(p);
	return 0;
}

/* Start a new stream (after STARTTLS / SASL success). */
int
xmlp_reset(struct xmlp *p)
{
	if (!p->in_feed)
		return xmlp_reset_now(p);
	/* Inside a callback: the rest of this buffer starts the new stream. */
	if (!p->reset_pending) {
		p->reset_pending = true;
		p->reset_at = xmlp_event_end(p);
		xmlp_halt(p);
	}
	return 0;
}

/*
 * Keep len bytes for xmlp_release(); more than a stanza's worth while
 * held is a policy-violation (the peer should be waiting).
 */
static int
xmlp_keep(struct xmlp *p, const char *buf, size_t len)
{
	if (len > p->lim.max_stanza - p->held_len) {
		free(p->held);
		p->held = NULL;
		p->held_len = 0;
		p->state = XMLP_FAILED;
		p->err = "policy-violation";
		return -1;
	}
	if (len == 0)
		return 0;
	p->held = xreallocarray(p->held, p->held_len + len + 1, 1);
	memcpy(p->held + p->held_len, buf, len);
	p->held_len += len;
	return 0;
}

/*
 * The hold takes effect: the stream stands between two stanzas at
 * hold_at, so the parser goes (a fresh one replays the header later,
 * as after parking) and the rest of the buffer is kept.
 */
static int
xmlp_hold_now(struct xmlp *p, const char *rest, size_t len)
{
	p->hold_pending = false;
	if (p->xp != NULL)
		xmlp_pool_put(p->xp);
	p->xp = NULL;
	p->fed = p->last_end = p->hold_at;
	p->state = XMLP_HELD;
	return xmlp_keep(p, rest, len);
}

/* Stop after the current stanza and keep what follows (see xmlp.h). */
void
xmlp_hold(struct xmlp *p)
{
	if (p->state != XMLP_RUNNING || p->hold_pending)
		return;
	if (p->depth != 1 || p->hdr == NULL) {
		xmlp_fail(p, "internal-server-error");
		return;
	}
	p->hold_at = p->in_feed ? xmlp_event_end(p) : p->fed;
	if (p->in_feed) {
		p->hold_pending = true;
		xmlp_halt(p);
	} else
		(void)xmlp_hold_now(p, "", 0);
}

/* Parse the held bytes, in a new stream if reset (see xmlp.h). */
int
xmlp_release(struct xmlp *p, bool reset)
{
	char	*buf = p->held;
	size_t	 len = p->held_len;
	int	 rc = 0;

	if (p->in_feed || p->state != XMLP_HELD) {
		xmlp_fail(p, "internal-server-error");
		return -1;
	}
	p->held = NULL;
	p->held_len = 0;
	p->state = XMLP_RUNNING;
	if (reset && xmlp_reset_now(p) == -1)
		rc = -1;
	else if (len > 0)
		rc = xmlp_feed(p, buf, len);
	free(buf);
	return rc;
}

/* Stop parsing now and discard the rest of the current buffer. */
void
xmlp_stop(struct xmlp *p)
{
	p->discard = true;
	if (p->state == XMLP_RUNNING)
		p->state = XMLP_STOPPED;
	xmlp_halt(p);
}

/*
 * RFC 6120 §11.6 allows UTF-8 only, but expat honours a UTF-16 byte order
 * mark even when told the encoding: no UTF-8 document starts with 0xfe or
 * 0xff. A NUL is never XML, yet expat's encoding sniffing may sit on one
 * at the start of a stream instead of failing: refuse it here, after
 * parsing what precedes it (*n is cut to that).
 */
static const char *
xmlp_bad_bytes(const struct xmlp *p, const char *buf, size_t *n)
{
	const char	*nul;

	if (p->fed == 0 && ((unsigned char)buf[0] == 0xfe ||
	    (unsigned char)buf[0] == 0xff))
		return "unsupported-encoding";
	if ((nul = memchr(buf, '\0', *n)) == buf)
		return "not-well-formed";
	if (nul != NULL)
		*n = (size_t)(nul - buf);
	return NULL;
}

/*
 * Expat will scan an unfinished token (everything after the last event)
 * again. Cap that work per stanza so trickling costs linear time overall.
 */
static bool
xmlp_rescan_too_much(struct xmlp *p)
{
	uint64_t	 budget = XMLP_RESCAN_X * (uint64_t)p->lim.max_stanza +
			    XMLP_RESCAN_MIN;

	if (p->fed > p->last_end)
		p->rescan += p->fed - p->last_end;
	if (p->rescan > budget) {
		xmlp_fail(p, "policy-violation");
		return true;
	}
	return false;
}

static int
xmlp_feed_slices(struct xmlp *p, const char *buf, size_t len)
{
	enum XML_Status	 status;
	const char	*bad;
	uint64_t	 base, skip;
	size_t		 off = 0, n;

	while (off < len) {
		n = len - off < XMLP_SLICE ? len - off : XMLP_SLICE;
		if ((bad = xmlp_bad_bytes(p, buf + off, &n)) != NULL) {
			xmlp_fail(p, bad);
			break;
		}
		if (xmlp_rescan_too_much(p))
			break;
		base = p->fed;
		status = XML_Parse(p->xp, buf + off, (int)n, XML_FALSE);
		if (p->free_pending)
			return 0;
		if (p->hold_pending) {
			skip = p->hold_at > base ? p->hold_at - base : 0;
			if (skip > n)
				skip = n;
			off += (size_t)skip;
			return xmlp_hold_now(p, buf + off, len - off);
		}
		if (p->reset_pending) {
			skip = p->reset_at > base ? p->reset_at - base : 0;
			if (p->discard || skip > n)
				skip = n;
			off += (size_t)skip;
			if (xmlp_reset_now(p) == -1 || p->discard)
				break;
			continue;
		}
		p->fed += n;
		off += n;
		if (status != XML_STATUS_OK && xmlp_live(p))
			xmlp_fail(p, xmlp_condition(XML_GetErrorCode(p->xp)));
		if (!xmlp_live(p))
			break;
		if (xmlp_too_big(p, p->fed))
			break;
	}
	return p->state == XMLP_FAILED ? -1 : 0;
}

/* Parse len bytes: 0, or -1 with the condition in xmlp_error(). */
int
xmlp_feed(struct xmlp *p, const char *buf, size_t len)
{
	int	 rc;

	if (p->in_feed) {
		/* Fed from its own callback: a caller bug, fail safely. */
		xmlp_fail(p, "internal-server-error");
		return -1;
	}
	if (p->state == XMLP_HELD)
		return xmlp_keep(p, buf, len);
	if (p->state != XMLP_RUNNING || xmlp_unpark(p) == -1)
		return -1;
	p->in_feed = true;
	rc = xmlp_feed_slices(p, buf, len);
	p->in_feed = false;
	p->discard = false;
	if (p->free_pending) {
		p->free_pending = false;
		xmlp_free(p);
		return rc;
	}
	xmlp_park(p);
	return rc;
}

/* Header bytes replayed since the last call (the owner charges them). */
size_t
xmlp_take_replayed(struct xmlp *p)
{
	size_t	 n = (size_t)p->replayed;

	p->replayed = 0;
	return n;
}

/* The RFC 6120 stream-error condition of the last failure, else NULL. */
const char *
xmlp_error(const struct xmlp *p)
{
	if (p->state == XMLP_FAILED)
		return p->err;
	if (p->state == XMLP_STOPPED)
		return "reset";
	return NULL;
}

/* Free the parser and any half-built stanza; NULL is a no-op. */
void
xmlp_free(struct xmlp *p)
{
	if (p == NULL)
		return;
	if (p->in_feed) {
		p->free_pending = true;
		xmlp_halt(p);
		return;
	}
	stanza_unref(p->root);
	if (p->xp != NULL)
		xmlp_pool_put(p->xp);
	free(p->hdr);
	free(p->held);
	free(p->scratch);
	free(p);
}
