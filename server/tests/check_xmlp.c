/*
 * check_xmlp.c: the expat wrapper: stream header, stanzas, namespaces,
 * restricted XML, limits, errors, stop/reset semantics.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stanza.h"
#include "xmlp.h"

#include "check_main.h"

#define NS_C	"jabber:client"
#define HDR	"<stream:stream xmlns='jabber:client' " \
		"xmlns:stream='http://etherx.jabber.org/streams' " \
		"to='example.org' version='1.0' xml:lang='en'>"
#define END	"</stream:stream>"

enum rec_action {
	REC_NONE, REC_STOP, REC_RESET, REC_STOP_RESET, REC_FREE, REC_FEED,
	REC_HOLD
};

struct rec {
	struct xmlp	*p;
	int		 opens;
	int		 closes;
	int		 nstanzas;
	char		 to[64];
	char		 lang[16];
	char		 out[16384];	/* stanzas serialized, concatenated */
	struct stanza	*last;
	int		 act_at;	/* act on this stanza (1-based) */
	enum rec_action	 act;
	int		 feed_rc;
};

static const struct xmlp_limits test_limits = {
	.max_stanza = 4096, .max_depth = 8, .max_attrs = 16,
};

static void
rec_open(void *arg, const struct stanza *hdr)
{
	struct rec	*r = arg;
	const char	*v;

	r->opens++;
	ck_assert_str_eq(stanza_name(hdr), "stream");
	ck_assert_str_eq(stanza_ns(hdr), "http://etherx.jabber.org/streams");
	v = stanza_attr(hdr, "to");
	snprintf(r->to, sizeof(r->to), "%s", v != NULL ? v : "");
	v = stanza_attr(hdr, "xml:lang");
	snprintf(r->lang, sizeof(r->lang), "%s", v != NULL ? v : "");
}

static void
rec_stanza(void *arg, struct stanza *st)
{
	struct rec	*r = arg;
	char		*xml = stanza_serialize(st, NS_C, NULL);
	size_t		 used = strlen(r->out);

	snprintf(r->out + used, sizeof(r->out) - used, "%s", xml);
	free(xml);
	stanza_unref(r->last);
	r->last = st;
	if (++r->nstanzas != r->act_at)
		return;
	switch (r->act) {
	case REC_STOP:
		xmlp_stop(r->p);
		break;
	case REC_RESET:
		ck_assert_int_eq(xmlp_reset(r->p), 0);
		break;
	case REC_STOP_RESET:
		xmlp_stop(r->p);
		ck_assert_int_eq(xmlp_reset(r->p), 0);
		break;
	case REC_FREE:
		xmlp_free(r->p);
		r->p = NULL;
		break;
	case REC_FEED:
		r->feed_rc = xmlp_feed(r->p, "<x/>", 4);
		break;
	case REC_HOLD:
		xmlp_hold(r->p);
		break;
	case REC_NONE:
		break;
	}
}

static void
rec_close(void *arg)
{
	struct rec	*r = arg;

	r->closes++;
}

static const struct xmlp_cb rec_cb = {
	.open = rec_open,
	.stanza = rec_stanza,
	.close = rec_close,
};

static struct rec *
rec_new(const struct xmlp_limits *lim)
{
	struct rec	*r = calloc(1, sizeof(*r));

	ck_assert_ptr_nonnull(r);
	r->p = xmlp_new(&rec_cb, r, lim != NULL ? lim : &test_limits);
	return r;
}

static void
rec_free(struct rec *r)
{
	xmlp_free(r->p);
	stanza_unref(r->last);
	free(r);
}

static int
feed_str(struct rec *r, const char *s)
{
	return xmlp_feed(r->p, s, strlen(s));
}

/* Feed byte by byte; stop at the first error. */
static int
feed_bytes(struct rec *r, const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (xmlp_feed(r->p, s + i, 1) == -1)
			return -1;
	return 0;
}

/* Whole-buffer parse of HDR + body; returns feed result and error. */
static int
parse_one(const char *body, const char **err)
{
	static char	 cond[64];
	struct rec	*r = rec_new(NULL);
	int		 rc;

	rc = feed_str(r, HDR);
	if (rc == 0)
		rc = feed_str(r, body);
	snprintf(cond, sizeof(cond), "%s",
	    xmlp_error(r->p) != NULL ? xmlp_error(r->p) : "");
	*err = cond;
	rec_free(r);
	return rc;
}

START_TEST(xmlp_basic_stream)
{
	struct rec	*r = rec_new(NULL);

	ck_assert_int_eq(feed_str(r, "<?xml version='1.0'?>" HDR), 0);
	ck_assert_int_eq(r->opens, 1);
	ck_assert_str_eq(r->to, "example.org");
	ck_assert_str_eq(r->lang, "en");
	ck_assert_int_eq(feed_str(r, "<message to='a@example.org' "
	    "type='chat'><body>hi</body></message> \n<presence/>"), 0);
	ck_assert_int_eq(r->nstanzas, 2);
	ck_assert_str_eq(r->out, "<message to='a@example.org' type='chat'>"
	    "<body>hi</body></message><presence/>");
	ck_assert_str_eq(stanza_ns(r->last), NS_C);
	ck_assert_int_eq(r->closes, 0);
	ck_assert_int_eq(feed_str(r, END), 0);
	ck_assert_int_eq(r->closes, 1);
	ck_assert_ptr_null(xmlp_error(r->p));
	rec_free(r);
}
END_TEST

static const char complex_stream[] =
    "<?xml version='1.0' encoding='UTF-8'?>\n"
    "<s:stream xmlns='jabber:client' xmlns:s="
    "'http://etherx.jabber.org/streams' to='example.org' version='1.0'>"
    "<message id='m1' xml:lang='fr'><body>caf\xc3\xa9 \xf0\x9f\x98\x80 "
    "&amp; &lt;b&gt; &#x41;&#66; <![CDATA[<raw & cdata>]]></body>"
    "<x:data xmlns:x='urn:x' x:attr='v'><x:item/><plain "
    "xmlns=''/></x:data><y xmlns='urn:y'><z/></y></message>\r\n"
    "<iq type='get' id='2'><ping xmlns='urn:xmpp:ping'/></iq>  "
    "<s:features/>"
    "</s:stream>";

START_TEST(xmlp_bytewise_equals_whole)
{
	struct rec	*whole = rec_new(NULL);
	struct rec	*bytes = rec_new(NULL);
	size_t		 len = sizeof(complex_stream) - 1;

	ck_assert_int_eq(xmlp_feed(whole->p, complex_stream, len), 0);
	ck_assert_int_eq(feed_bytes(bytes, complex_stream, len), 0);
	ck_assert_int_eq(whole->nstanzas, 3);
	ck_assert_int_eq(bytes->nstanzas, 3);
	ck_assert_int_eq(whole->closes, 1);
	ck_assert_int_eq(bytes->closes, 1);
	ck_assert_str_eq(whole->out, bytes->out);
	ck_assert_str_eq(whole->out,
	    "<message id='m1' xml:lang='fr'><body>caf\xc3\xa9 \xf0\x9f\x98\x80"
	    " &amp; &lt;b&gt; AB &lt;raw &amp; cdata&gt;</body>"
	    "<data xmlns='urn:x' xmlns:x='urn:x' x:attr='v'><item/>"
	    "<plain xmlns=''/></data><y xmlns='urn:y'><z/></y></message>"
	    "<iq type='get' id='2'><ping xmlns='urn:xmpp:ping'/></iq>"
	    "<features xmlns='http://etherx.jabber.org/streams'/>");
	rec_free(whole);
	rec_free(bytes);
}
END_TEST

START_TEST(xmlp_namespaces)
{
	struct rec	*r = rec_new(NULL);
	struct stanza	*m, *x, *item, *plain;

	ck_assert_int_eq(xmlp_feed(r->p, complex_stream,
	    sizeof(complex_stream) - 1), 0);
	ck_assert_int_eq(r->opens, 1);
	ck_assert_ptr_nonnull(r->last);
	ck_assert_str_eq(stanza_name(r->last), "features");
	ck_assert_str_eq(stanza_ns(r->last),
	    "http://etherx.jabber.org/streams");
	rec_free(r);

	m = xmlp_parse_stanza(strstr(complex_stream, "<message"),
	    (size_t)(strstr(complex_stream, "\r\n<iq") -
	    strstr(complex_stream, "<message")));
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(stanza_ns(m), NS_C);
	ck_assert_str_eq(stanza_attr(m, "xml:lang"), "fr");
	ck_assert_str_eq(stanza_ns(stanza_child(m, "body", NULL)), NS_C);
	ck_assert_str_eq(stanza_child_text(m, "body", NS_C),
	    "caf\xc3\xa9 \xf0\x9f\x98\x80 & <b> AB <raw & cdata>");
	x = stanza_child(m, "data", "urn:x");
	ck_assert_ptr_nonnull(x);
	ck_assert_str_eq(stanza_attr(x, "x:attr"), "v");
	item = stanza_child(x, "item", "urn:x");
	ck_assert_ptr_nonnull(item);
	plain = stanza_child(x, "plain", "");
	ck_assert_ptr_nonnull(plain);
	ck_assert_str_eq(stanza_ns(stanza_child(stanza_child(m, "y", "urn:y"),
	    "z", NULL)), "urn:y");
	stanza_unref(m);
}
END_TEST

START_TEST(xmlp_escaping_round_trip)
{
	static const char in[] = "<message to='a&amp;b&lt;&gt;&quot;&apos;'"
	    " id=\"q'&#9;t&#10;n&#13;r\"><body>&amp;&lt;&gt;\"'&#13;\n"
	    "x</body></message>";
	struct stanza	*a, *b;
	char		*xa, *xb;
	size_t		 la, lb;

	a = xmlp_parse_stanza(in, sizeof(in) - 1);
	ck_assert_ptr_nonnull(a);
	ck_assert_str_eq(stanza_attr(a, "to"), "a&b<>\"'");
	ck_assert_str_eq(stanza_attr(a, "id"), "q'\tt\nn\rr");
	ck_assert_str_eq(stanza_child_text(a, "body", NULL), "&<>\"'\r\nx");
	xa = stanza_serialize(a, NS_C, &la);
	b = xmlp_parse_stanza(xa, la);
	ck_assert_ptr_nonnull(b);
	ck_assert_str_eq(stanza_attr(b, "to"), "a&b<>\"'");
	ck_assert_str_eq(stanza_attr(b, "id"), "q'\tt\nn\rr");
	ck_assert_str_eq(stanza_child_text(b, "body", NULL), "&<>\"'\r\nx");
	xb = stanza_serialize(b, NS_C, &lb);
	ck_assert_str_eq(xa, xb);
	free(xa);
	free(xb);
	stanza_unref(a);
	stanza_unref(b);
}
END_TEST

START_TEST(xmlp_prefixed_attr_round_trip)
{
	static const char in[] = "<message xmlns:p='urn:p'><a p:k='1' "
	    "xmlns:p='urn:q'/><b p:k='2' p:l='3'/></message>";
	struct stanza	*a, *b;
	char		*xa, *xb;
	size_t		 la;

	a = xmlp_parse_stanza(in, sizeof(in) - 1);
	ck_assert_ptr_nonnull(a);
	ck_assert_str_eq(stanza_attr(stanza_child(a, "a", NULL), "xmlns:p"),
	    "urn:q");
	ck_assert_str_eq(stanza_attr(stanza_child(a, "b", NULL), "xmlns:p"),
	    "urn:p");
	xa = stanza_serialize(a, NS_C, &la);
	ck_assert_str_eq(xa, "<message><a xmlns:p='urn:q' p:k='1'/><b "
	    "xmlns:p='urn:p' p:k='2' p:l='3'/></message>");
	b = xmlp_parse_stanza(xa, la);
	ck_assert_ptr_nonnull(b);
	xb = stanza_serialize(b, NS_C, NULL);
	ck_assert_str_eq(xa, xb);
	free(xa);
	free(xb);
	stanza_unref(a);
	stanza_unref(b);
}
END_TEST

/* Stream headers and what each wrong one yields. */
static const struct {
	const char	*in;
	const char	*err;
} bad_headers[] = {
	{ "<stream:stream xmlns='jabber:client' xmlns:stream='urn:wrong'>",
	  "invalid-namespace" },
	{ "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>",
	  "invalid-namespace" },
	{ "<stream:stream xmlns='urn:nope' "
	  "xmlns:stream='http://etherx.jabber.org/streams'>",
	  "invalid-namespace" },
	{ "<s:flow xmlns='jabber:client' "
	  "xmlns:s='http://etherx.jabber.org/streams'>", "bad-format" },
	{ "<message xmlns='jabber:client'/>", "invalid-namespace" },
	{ "<stream:stream xmlns='jabber:client'>", "not-well-formed" },
	{ "<!DOCTYPE x [<!ENTITY a 'b'>]>" HDR, "restricted-xml" },
	{ "<!DOCTYPE stream SYSTEM 'http://example.org/x.dtd'>" HDR,
	  "restricted-xml" },
	{ "<!-- hi -->" HDR, "restricted-xml" },
	{ "<?php echo 1 ?>" HDR, "restricted-xml" },
	{ "<?xml version='1.0' encoding='ISO-8859-1'?>" HDR,
	  "unsupported-encoding" },
	{ "\xff\xfe<\0s\0t\0r\0>\0<\0/\0", "unsupported-encoding" },
	{ "hello <x/>", "not-well-formed" },
};

START_TEST(xmlp_header_errors)
{
	struct rec	*r = rec_new(NULL);
	const char	*in = bad_headers[_i].in;
	size_t		 len = strlen(in);

	if (in[0] == '\xff')
		len = 16;
	ck_assert_int_eq(xmlp_feed(r->p, in, len), -1);
	ck_assert_str_eq(xmlp_error(r->p), bad_headers[_i].err);
	ck_assert_int_eq(r->opens, 0);
	/* Sticky: a good stream afterwards is not looked at. */
	ck_assert_int_eq(feed_str(r, HDR), -1);
	ck_assert_str_eq(xmlp_error(r->p), bad_headers[_i].err);
	ck_assert_int_eq(r->opens, 0);
	rec_free(r);
}
END_TEST

START_TEST(xmlp_server_ns_ok)
{
	struct rec	*r = rec_new(NULL);

	ck_assert_int_eq(feed_str(r, "<stream:stream xmlns='jabber:server' "
	    "xmlns:stream='http://etherx.jabber.org/streams'><db:x "
	    "xmlns:db='jabber:server:dialback'/>"), 0);
	ck_assert_int_eq(r->opens, 1);
	ck_assert_str_eq(stanza_ns(r->last), "jabber:server:dialback");
	rec_free(r);
}
END_TEST

/* Bodies after a good header, and their conditions. */
static const struct {
	const char	*in;
	const char	*err;
} bad_bodies[] = {
	{ "<message><body>x</message>", "not-well-formed" },
	{ "<message><!-- c --></message>", "restricted-xml" },
	{ "<message><?pi x?></message>", "restricted-xml" },
	{ "<message>&lol;</message>", "restricted-xml" },
	{ "<message a='&ext;'/>", "restricted-xml" },
	{ "<!DOCTYPE x>", "not-well-formed" },
	{ "<message><body>\xc3\x28</body></message>", "not-well-formed" },
	{ "<message><body>\xc0\x80</body></message>", "not-well-formed" },
	{ "<message><body>\xed\xa0\x80</body></message>", "not-well-formed" },
	{ "<message><body>\xff</body></message>", "not-well-formed" },
	{ "<message><body>\x01</body></message>", "not-well-formed" },
	{ "<message a='\xe9'/>", "not-well-formed" },
	{ "<x:message/>", "not-well-formed" },
	{ "<message a='1' a='2'/>", "not-well-formed" },
	{ "<message xmlns:p='u' xmlns:q='u' p:a='1' q:a='2'/>",
	  "not-well-formed" },
	{ "<message/>hello", "bad-format" },
	{ END "<message/>", "not-well-formed" },
	{ END "<!-- late -->", "restricted-xml" },
	{ "<message/><?xml version='1.0'?>", "not-well-formed" },
};

START_TEST(xmlp_body_errors)
{
	const char	*err;

	ck_assert_int_eq(parse_one(bad_bodies[_i].in, &err), -1);
	ck_assert_str_eq(err, bad_bodies[_i].err);
}
END_TEST

START_TEST(xmlp_nul_byte)
{
	static const char in[] = HDR "<a/>\0<b/>";
	struct rec	*r = rec_new(NULL);

	/* What precedes the NUL still counts; the NUL ends the stream. */
	ck_assert_int_eq(xmlp_feed(r->p, in, sizeof(in) - 1), -1);
	ck_assert_str_eq(xmlp_error(r->p), "not-well-formed");
	ck_assert_int_eq(r->nstanzas, 1);
	rec_free(r);
}
END_TEST

START_TEST(xmlp_error_is_sticky)
{
	struct rec	*r = rec_new(NULL);

	ck_assert_int_eq(feed_str(r, HDR "<a/><b></c><d/>"), -1);
	ck_assert_int_eq(r->nstanzas, 1);
	ck_assert_str_eq(xmlp_error(r->p), "not-well-formed");
	ck_assert_int_eq(feed_str(r, "<e/>"), -1);
	ck_assert_int_eq(feed_str(r, ""), -1);
	ck_assert_int_eq(r->nstanzas, 1);
	ck_assert_int_eq(xmlp_reset(r->p), 0);
	ck_assert_ptr_null(xmlp_error(r->p));
	ck_assert_int_eq(feed_str(r, HDR "<f/>"), 0);
	ck_assert_int_eq(r->nstanzas, 2);
	ck_assert_int_eq(r->opens, 2);
	rec_free(r);
}
END_TEST

/* A stanza of exactly n bytes: <message>aaa...</message>. */
static char *
sized_stanza(size_t n)
{
	char	*s = malloc(n + 1);

	ck_assert_ptr_nonnull(s);
	ck_assert_uint_ge(n, 19);
	memcpy(s, "<message>", 9);
	memset(s + 9, 'a', n - 19);
	memcpy(s + n - 10, "</message>", 11);
	return s;
}

START_TEST(xmlp_stanza_size_limit)
{
	const bool	 bytewise = _i & 1;
	const size_t	 max = test_limits.max_stanza;
	char		*ok = sized_stanza(max), *big = sized_stanza(max + 1);
	struct rec	*r = rec_new(NULL);

	ck_assert_int_eq(feed_str(r, HDR), 0);
	if (bytewise)
		ck_assert_int_eq(feed_bytes(r, ok, max), 0);
	else
		ck_assert_int_eq(feed_str(r, ok), 0);
	ck_assert_int_eq(r->nstanzas, 1);
	if (bytewise)
		ck_assert_int_eq(feed_bytes(r, big, max + 1), -1);
	else
		ck_assert_int_eq(feed_str(r, big), -1);
	ck_assert_str_eq(xmlp_error(r->p), "policy-violation");
	ck_assert_int_eq(r->nstanzas, 1);
	free(ok);
	free(big);
	rec_free(r);
}
END_TEST

/* Things that never end must be cut off near the limit, not buffered. */
static const char *const endless_prefix[] = {
	"<message to='",		/* one start tag, never closed */
	"<message><body>",		/* text run */
	"<mess",			/* a name */
	"<message><![CDATA[",		/* CDATA section */
};

START_TEST(xmlp_endless_stanza)
{
	const size_t	 huge = 16 * 1024 * 1024;
	const char	*pre = endless_prefix[_i / 2];
	const bool	 bytewise = _i & 1;
	char		*buf = malloc(huge);
	struct rec	*r = rec_new(NULL);
	size_t		 i, plen = strlen(pre);
	int		 rc = 0;

	ck_assert_ptr_nonnull(buf);
	memset(buf, 'a', huge);
	memcpy(buf, pre, plen);
	ck_assert_int_eq(feed_str(r, HDR), 0);
	if (bytewise) {
		/* Byte by byte: it must fail soon after the limit. */
		for (i = 0; i < 2 * test_limits.max_stanza && rc == 0; i++)
			rc = xmlp_feed(r->p, buf + i, 1);
		ck_assert_int_eq(rc, -1);
		ck_assert_uint_le(i, test_limits.max_stanza + 1);
	} else
		ck_assert_int_eq(xmlp_feed(r->p, buf, huge), -1);
	ck_assert_str_eq(xmlp_error(r->p), "policy-violation");
	ck_assert_int_eq(r->nstanzas, 0);
	free(buf);
	rec_free(r);
}
END_TEST

/* Expat rescans an unfinished token on each feed: that work is capped. */
START_TEST(xmlp_trickled_tag_is_cut_off)
{
	const struct xmlp_limits	 lim = {
		.max_stanza = 65536, .max_depth = 8, .max_attrs = 16,
	};
	struct rec			*r = rec_new(&lim);
	size_t				 i;
	int				 rc = 0;

	ck_assert_int_eq(feed_str(r, HDR "<message to='"), 0);
	for (i = 0; i < lim.max_stanza && rc == 0; i++)
		rc = xmlp_feed(r->p, "a", 1);
	ck_assert_int_eq(rc, -1);
	ck_assert_str_eq(xmlp_error(r->p), "policy-violation");
	/* Long before the size limit: about sqrt(2 * budget) bytes. */
	ck_assert_uint_lt(i, 8192);
	rec_free(r);
}
END_TEST

START_TEST(xmlp_big_tag_in_pieces_ok)
{
	struct rec	*r = rec_new(NULL);
	char		 tag[3001];
	size_t		 i;

	/* A 3000-byte start tag arriving in 100-byte segments is fine. */
	memset(tag, 'a', sizeof(tag));
	memcpy(tag, "<message to='", 13);
	memcpy(tag + 2997, "'/>", 3);
	ck_assert_int_eq(feed_str(r, HDR), 0);
	for (i = 0; i < 3000; i += 100)
		ck_assert_int_eq(xmlp_feed(r->p, tag + i, 100), 0);
	ck_assert_int_eq(r->nstanzas, 1);
	ck_assert_uint_eq(strlen(stanza_attr(r->last, "to")), 2997 - 13);
	rec_free(r);
}
END_TEST

/*
 * The last few bytes of a stanza whose start tag came in a big piece:
 * the stanza is out at once. Expat's reparse deferral (2.6, and the
 * bookworm backport) would hold it until the buffer doubled.
 */
START_TEST(xmlp_small_tail_not_deferred)
{
	struct rec	*r = rec_new(NULL);
	char		 tag[3001];

	memset(tag, 'a', sizeof(tag));
	memcpy(tag, "<message to='", 13);
	ck_assert_int_eq(feed_str(r, HDR), 0);
	ck_assert_int_eq(xmlp_feed(r->p, tag, 2997), 0);
	ck_assert_int_eq(r->nstanzas, 0);
	ck_assert_int_eq(xmlp_feed(r->p, "'/>", 3), 0);
	ck_assert_int_eq(r->nstanzas, 1);
	/* And a tiny stanza after it, alone in its own read. */
	ck_assert_int_eq(xmlp_feed(r->p, "<r/>", 4), 0);
	ck_assert_int_eq(r->nstanzas, 2);
	rec_free(r);
}
END_TEST

/*
 * Between stanzas the expat parser is parked and the header replayed
 * into a pooled one on the next bytes: prefixes bound on the header,
 * escaped URIs and the end-tag match must survive that.
 */
START_TEST(xmlp_parked_header_bindings_survive)
{
	struct rec	*r = rec_new(NULL);
	struct stanza	*c;

	ck_assert_int_eq(feed_str(r, "<stream:stream xmlns='jabber:client' "
	    "xmlns:stream='http://etherx.jabber.org/streams' "
	    "xmlns:q='urn:a&amp;b&apos;c&#9;d&lt;' to='example.org' "
	    "version='1.0'>"), 0);
	ck_assert_int_eq(r->opens, 1);
	ck_assert_int_eq(feed_str(r, "<message><q:x/></message>"), 0);
	ck_assert_int_eq(feed_str(r, "\n<iq><q:y/></iq> "), 0);
	ck_assert_int_eq(r->nstanzas, 2);
	c = stanza_first_child(r->last);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(stanza_ns(c), "urn:a&b'c\td<");
	ck_assert_str_eq(stanza_ns(r->last), "jabber:client");
	ck_assert_int_eq(r->opens, 1);
	ck_assert_int_eq(feed_str(r, END), 0);
	ck_assert_int_eq(r->closes, 1);
	rec_free(r);
}
END_TEST

START_TEST(xmlp_parked_wrong_end_tag)
{
	struct rec	*r = rec_new(NULL);

	ck_assert_int_eq(feed_str(r, HDR "<a/>"), 0);
	ck_assert_int_eq(feed_str(r, "</stream:streamx>"), -1);
	ck_assert_str_eq(xmlp_error(r->p), "not-well-formed");
	ck_assert_int_eq(r->closes, 0);
	rec_free(r);
}
END_TEST

/* Many streams parked at once, then each fed again, in turn. */
START_TEST(xmlp_parked_many_streams)
{
	struct rec	*r[100];
	char		 buf[64];
	size_t		 i;

	for (i = 0; i < 100; i++)
		r[i] = rec_new(NULL);
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(feed_str(r[i], HDR), 0);
	/* Each parked its parser; the pool keeps 32 of them. */
	ck_assert_uint_eq(xmlp_pool_size(), 32);
	for (i = 0; i < 100; i++) {
		snprintf(buf, sizeof(buf), "<m id='%zu'/>", i);
		ck_assert_int_eq(feed_str(r[i], buf), 0);
		ck_assert_int_eq(r[i]->nstanzas, 1);
	}
	for (i = 0; i < 100; i++) {
		snprintf(buf, sizeof(buf), "%zu", i);
		ck_assert_str_eq(stanza_attr(r[i]->last, "id"), buf);
		rec_free(r[i]);
	}
}
END_TEST

START_TEST(xmlp_keepalives_are_free)
{
	struct rec	*r = rec_new(NULL);
	int		 i;

	ck_assert_int_eq(feed_str(r, HDR), 0);
	/* Far more whitespace than max_stanza, over time. */
	for (i = 0; i < 3 * (int)test_limits.max_stanza; i++)
		ck_assert_int_eq(xmlp_feed(r->p, i % 7 ? " " : "\n", 1), 0);
	ck_assert_int_eq(feed_str(r, "<presence/>"), 0);
	ck_assert_int_eq(r->nstanzas, 1);
	rec_free(r);
}
END_TEST

START_TEST(xmlp_many_small_in_one_buffer)
{
	struct rec	*r = rec_new(NULL);
	const size_t	 n = 3000;
	char		*buf = malloc(n * 11 + 1);
	size_t		 i;

	ck_assert_ptr_nonnull(buf);
	for (i = 0; i < n; i++)
		memcpy(buf + i * 11, "<presence/>", 11);
	ck_assert_int_eq(feed_str(r, HDR), 0);
	/* 33 kB at once, far over max_stanza, but each stanza is small. */
	ck_assert_int_eq(xmlp_feed(r->p, buf, n * 11), 0);
	ck_assert_int_eq(r->nstanzas, (int)n);
	free(buf);
	rec_free(r);
}
END_TEST

START_TEST(xmlp_depth_limit)
{
	const struct xmlp_limits	 lim = {
		.max_stanza = 4096, .max_depth = 3, .max_attrs = 5,
	};
	struct rec			*r = rec_new(&lim);

	ck_assert_int_eq(feed_str(r, HDR "<a><b><c/></b></a>"), 0);
	ck_assert_int_eq(r->nstanzas, 1);
	ck_assert_int_eq(feed_str(r, "<a><b><c><d/></c></b></a>"), -1);
	ck_assert_str_eq(xmlp_error(r->p), "policy-violation");
	ck_assert_int_eq(r->nstanzas, 1);
	rec_free(r);
}
END_TEST

START_TEST(xmlp_attr_limit)
{
	/* HDR has five: two declarations, to, version, xml:lang. */
	const struct xmlp_limits	 lim = {
		.max_stanza = 4096, .max_depth = 3, .max_attrs = 5,
	};
	struct rec			*r = rec_new(&lim);

	ck_assert_int_eq(feed_str(r, HDR "<a b='1' c='2' d='3' e='4'/>"), 0);
	ck_assert_int_eq(r->nstanzas, 1);
	ck_assert_int_eq(feed_str(r, "<a><b c='1' d='2' e='3' f='4' g='5' "
	    "h='6'/></a>"), -1);
	ck_assert_str_eq(xmlp_error(r->p), "policy-violation");
	ck_assert_int_eq(r->nstanzas, 1);
	rec_free(r);
	/* The header too. */
	r = rec_new(&lim);
	ck_assert_int_eq(feed_str(r, "<stream:stream xmlns='jabber:client' "
	    "xmlns:stream='http://etherx.jabber.org/streams' a='1' b='2' "
	    "c='3' d='4'>"), -1);
	ck_assert_str_eq(xmlp_error(r->p), "policy-violation");
	ck_assert_int_eq(r->opens, 0);
	rec_free(r);
}
END_TEST

/* A stanza's namespace declarations count against max_attrs. */
START_TEST(xmlp_ns_decls_are_attrs)
{
	const struct xmlp_limits	 lim = {
		.max_stanza = 4096, .max_depth = 3, .max_attrs = 6,
	};
	struct rec			*r = rec_new(&lim);

	ck_assert_int_eq(feed_str(r, HDR "<a xmlns:p='u' p:x='1' y='2'/>"),
	    0);
	ck_assert_int_eq(r->nstanzas, 1);
	ck_assert_int_eq(feed_str(r, "<a><b xmlns:p1='1' xmlns:p2='2' "
	    "xmlns:p3='3' xmlns:p4='4' xmlns:p5='5' xmlns:p6='6' "
	    "xmlns:p7='7'/></a>"), -1);
	ck_assert_str_eq(xmlp_error(r->p), "policy-violation");
	ck_assert_int_eq(r->nstanzas, 1);
	rec_free(r);
}
END_TEST

/* A header with n declarations xmlns:pN='u...N' (uri_len u's). */
static char *
decl_header(int n, int uri_len)
{
	size_t	 cap = (size_t)n * (size_t)(uri_len + 32) + 256, len;
	char	*h = malloc(cap);
	int	 i;

	ck_assert_ptr_nonnull(h);
	len = (size_t)snprintf(h, cap, "<stream:stream xmlns='jabber:client' "
	    "xmlns:stream='http://etherx.jabber.org/streams' to='x'");
	for (i = 0; i < n; i++) {
		len += (size_t)snprintf(h + len, cap - len, " xmlns:p%d='", i);
		memset(h + len, 'u', (size_t)uri_len);
		len += (size_t)uri_len;
		len += (size_t)snprintf(h + len, cap - len, "%d'", i);
	}
	snprintf(h + len, cap - len, ">");
	return h;
}

/*
 * The header has its own limit, 8 KiB, whatever max_stanza and
 * max_attrs allow: 10,500 declarations are refused, not stored.
 */
START_TEST(xmlp_header_size_limit)
{
	const struct xmlp_limits	 lim = {
		.max_stanza = 1024 * 1024, .max_depth = 8, .max_attrs = 20000,
	};
	struct rec			*r = rec_new(&lim);
	char				*h = decl_header(10500, 1);

	ck_assert_uint_gt(strlen(h), 100000);
	ck_assert_int_eq(feed_str(r, h), -1);
	ck_assert_str_eq(xmlp_error(r->p), "policy-violation");
	ck_assert_int_eq(r->opens, 0);
	free(h);
	rec_free(r);
	/* Byte by byte: refused as soon as it passes 8 KiB. */
	r = rec_new(&lim);
	h = decl_header(300, 40);
	ck_assert_int_eq(feed_bytes(r, h, strlen(h)), -1);
	ck_assert_str_eq(xmlp_error(r->p), "policy-violation");
	free(h);
	rec_free(r);
	/* Under 8 KiB and under max_attrs: fine, even over max_stanza. */
	r = rec_new(&test_limits);
	h = decl_header(12, 400);
	ck_assert_uint_gt(strlen(h), test_limits.max_stanza);
	ck_assert_int_eq(feed_str(r, h), 0);
	ck_assert_int_eq(r->opens, 1);
	free(h);
	rec_free(r);
}
END_TEST

/* Too many declarations in a small header: max_attrs. */
START_TEST(xmlp_header_decls_limit)
{
	struct rec	*r = rec_new(NULL);
	char		*h = decl_header(20, 4);

	ck_assert_uint_lt(strlen(h), 8192);
	ck_assert_int_eq(feed_str(r, h), -1);
	ck_assert_str_eq(xmlp_error(r->p), "policy-violation");
	ck_assert_int_eq(r->opens, 0);
	free(h);
	rec_free(r);
}
END_TEST

/* Each feed after the parser was parked replays the header: counted. */
START_TEST(xmlp_replay_is_counted)
{
	struct rec	*r = rec_new(NULL);
	char		*h = decl_header(10, 100);
	size_t		 n;

	ck_assert_int_eq(feed_str(r, h), 0);
	ck_assert_uint_eq(xmlp_take_replayed(r->p), 0);
	ck_assert_int_eq(feed_str(r, " "), 0);
	n = xmlp_take_replayed(r->p);
	ck_assert_uint_gt(n, 10 * 100);
	ck_assert_uint_lt(n, strlen(h) + 64);
	ck_assert_uint_eq(xmlp_take_replayed(r->p), 0);
	ck_assert_int_eq(feed_str(r, " "), 0);
	ck_assert_uint_eq(xmlp_take_replayed(r->p), n);
	free(h);
	rec_free(r);
}
END_TEST

START_TEST(xmlp_billion_laughs)
{
	static const char in[] =
	    "<?xml version='1.0'?><!DOCTYPE lolz ["
	    "<!ENTITY lol 'lol'>"
	    "<!ENTITY lol1 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>"
	    "<!ENTITY lol2 '&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;'>"
	    "<!ENTITY lol3 '&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;'>"
	    "<!ENTITY lol4 '&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;'>"
	    "<!ENTITY lol5 '&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;'>"
	    "<!ENTITY lol6 '&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;'>"
	    "<!ENTITY lol7 '&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;'>"
	    "<!ENTITY lol8 '&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;'>"
	    "<!ENTITY lol9 '&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;'>"
	    "]>" HDR "<message><body>&lol9;</body></message>";
	struct rec	*r = rec_new(NULL);

	ck_assert_int_eq(feed_str(r, in), -1);
	ck_assert_str_eq(xmlp_error(r->p), "restricted-xml");
	ck_assert_int_eq(r->opens, 0);
	ck_assert_int_eq(r->nstanzas, 0);
	rec_free(r);
	/* Byte by byte it stops at the DOCTYPE, before any declaration. */
	r = rec_new(NULL);
	ck_assert_int_eq(feed_bytes(r, in, sizeof(in) - 1), -1);
	ck_assert_str_eq(xmlp_error(r->p), "restricted-xml");
	rec_free(r);
}
END_TEST

START_TEST(xmlp_stop_in_callback)
{
	struct rec	*r = rec_new(NULL);

	r->act = REC_STOP;
	r->act_at = 1;
	/* <starttls/> then data the client sent too early (§5.4.3.3). */
	ck_assert_int_eq(feed_str(r, HDR "<starttls/><evil/><evil2/>"), 0);
	ck_assert_int_eq(r->nstanzas, 1);
	ck_assert_str_eq(r->out, "<starttls/>");
	ck_assert_int_eq(feed_str(r, "<more/>"), -1);
	ck_assert_int_eq(r->nstanzas, 1);
	/* A fresh stream after the restart. */
	ck_assert_int_eq(xmlp_reset(r->p), 0);
	ck_assert_int_eq(feed_str(r, HDR "<after/>"), 0);
	ck_assert_int_eq(r->opens, 2);
	ck_assert_int_eq(r->nstanzas, 2);
	ck_assert_str_eq(r->out, "<starttls/><after/>");
	rec_free(r);
}
END_TEST

/* SASL: what follows <auth/> waits for the asynchronous answer. */
START_TEST(xmlp_hold_then_reset)
{
	struct rec	*r = rec_new(NULL);

	r->act = REC_HOLD;
	r->act_at = 1;
	ck_assert_int_eq(feed_str(r, HDR "<auth>x</auth>" HDR), 0);
	ck_assert_int_eq(feed_str(r, "<bi"), 0);
	ck_assert_int_eq(feed_str(r, "nd/>"), 0);
	ck_assert_int_eq(r->opens, 1);
	ck_assert_int_eq(r->nstanzas, 1);
	/* Success: the held header starts the new stream. */
	ck_assert_int_eq(xmlp_release(r->p, true), 0);
	ck_assert_int_eq(r->opens, 2);
	ck_assert_int_eq(r->nstanzas, 2);
	ck_assert_str_eq(r->out, "<auth>x</auth><bind/>");
	ck_assert_int_eq(feed_str(r, "<c/>"), 0);
	ck_assert_int_eq(r->nstanzas, 3);
	rec_free(r);
}
END_TEST

START_TEST(xmlp_hold_then_continue)
{
	struct rec	*r = rec_new(NULL);

	r->act = REC_HOLD;
	r->act_at = 1;
	ck_assert_int_eq(feed_str(r, HDR "<auth>x</auth><auth>y</au"), 0);
	ck_assert_int_eq(feed_str(r, "th>"), 0);
	ck_assert_int_eq(r->nstanzas, 1);
	/* Failure: the same stream goes on with the retry. */
	ck_assert_int_eq(xmlp_release(r->p, false), 0);
	ck_assert_int_eq(r->opens, 1);
	ck_assert_str_eq(r->out, "<auth>x</auth><auth>y</auth>");
	ck_assert_int_eq(feed_str(r, END), 0);
	ck_assert_int_eq(r->closes, 1);
	rec_free(r);
}
END_TEST

START_TEST(xmlp_hold_is_bounded)
{
	struct rec	*r = rec_new(NULL);
	char		 big[1024];
	int		 i, rc = 0;

	memset(big, ' ', sizeof(big));
	r->act = REC_HOLD;
	r->act_at = 1;
	ck_assert_int_eq(feed_str(r, HDR "<auth>x</auth>"), 0);
	for (i = 0; i < 8 && rc == 0; i++)	/* 8 KiB > max_stanza */
		rc = xmlp_feed(r->p, big, sizeof(big));
	ck_assert_int_eq(rc, -1);
	ck_assert_str_eq(xmlp_error(r->p), "policy-violation");
	rec_free(r);
}
END_TEST

START_TEST(xmlp_stop_empty_element_start)
{
	struct rec	*r = rec_new(NULL);

	/* An empty element is delivered from expat's start+end pair. */
	r->act = REC_STOP;
	r->act_at = 2;
	ck_assert_int_eq(feed_str(r, HDR "<a/><b/><c/>"), 0);
	ck_assert_int_eq(r->nstanzas, 2);
	ck_assert_int_eq(feed_str(r, END), -1);
	ck_assert_int_eq(r->closes, 0);
	rec_free(r);
}
END_TEST

START_TEST(xmlp_reset_in_callback)
{
	const char	*in = HDR "<auth>x</auth>" HDR "<bind/>";
	struct rec	*r = rec_new(NULL);

	r->act = REC_RESET;
	r->act_at = 1;
	/* SASL success, then a pipelined new header in the same buffer. */
	if (_i == 0)
		ck_assert_int_eq(feed_str(r, in), 0);
	else
		ck_assert_int_eq(feed_bytes(r, in, strlen(in)), 0);
	ck_assert_int_eq(r->opens, 2);
	ck_assert_int_eq(r->nstanzas, 2);
	ck_assert_str_eq(r->out, "<auth>x</auth><bind/>");
	ck_assert_ptr_null(xmlp_error(r->p));
	rec_free(r);
}
END_TEST

START_TEST(xmlp_stop_and_reset_in_callback)
{
	struct rec	*r = rec_new(NULL);

	/* The stop still voids the rest; the reset leaves a fresh parser. */
	r->act = REC_STOP_RESET;
	r->act_at = 1;
	ck_assert_int_eq(feed_str(r, HDR "<starttls/>" HDR "<evil/>"), 0);
	ck_assert_int_eq(r->opens, 1);
	ck_assert_str_eq(r->out, "<starttls/>");
	ck_assert_int_eq(feed_str(r, HDR "<ok/>"), 0);
	ck_assert_int_eq(r->opens, 2);
	ck_assert_str_eq(r->out, "<starttls/><ok/>");
	rec_free(r);
}
END_TEST

START_TEST(xmlp_reset_mid_stanza)
{
	struct rec	*r = rec_new(NULL);

	ck_assert_int_eq(feed_str(r, HDR "<message><body>half"), 0);
	ck_assert_int_eq(xmlp_reset(r->p), 0);
	ck_assert_int_eq(feed_str(r, "<?xml version='1.0'?>" HDR "<p/>"), 0);
	ck_assert_int_eq(r->opens, 2);
	ck_assert_str_eq(r->out, "<p/>");
	rec_free(r);
}
END_TEST

START_TEST(xmlp_free_in_callback)
{
	struct rec	*r = rec_new(NULL);

	r->act = REC_FREE;
	r->act_at = 1;
	ck_assert_int_eq(feed_str(r, HDR "<a/><b/>"), 0);
	ck_assert_ptr_null(r->p);
	ck_assert_int_eq(r->nstanzas, 1);
	rec_free(r);
}
END_TEST

START_TEST(xmlp_feed_in_callback)
{
	struct rec	*r = rec_new(NULL);

	r->act = REC_FEED;
	r->act_at = 1;
	ck_assert_int_eq(feed_str(r, HDR "<a/><b/>"), -1);
	ck_assert_int_eq(r->feed_rc, -1);
	ck_assert_int_eq(r->nstanzas, 1);
	ck_assert_str_eq(xmlp_error(r->p), "internal-server-error");
	rec_free(r);
}
END_TEST

START_TEST(xmlp_parse_stanza_cases)
{
	static const char *const bad[] = {
		"", "   ", "<a/><b/>", "<a/><b/><c/>", "<a>", "<a/><b",
		"<a/>text", "<a><!-- x --></a>", "</stream:stream><a/>",
		"<a/></stream:stream>", "<a></b>",
	};
	struct stanza	*st;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(xmlp_parse_stanza(bad[i], strlen(bad[i])) ==
		    NULL, "accepted %s", bad[i]);
	st = xmlp_parse_stanza("<message><xml:a><b/></xml:a></message>", 38);
	ck_assert_ptr_nonnull(st);
	ck_assert_str_eq(stanza_ns(stanza_child(st, "a", NULL)),
	    "http://www.w3.org/XML/1998/namespace");
	stanza_unref(st);
	st = xmlp_parse_stanza(" <message id='1'/>\n", 19);
	ck_assert_ptr_nonnull(st);
	ck_assert_str_eq(stanza_ns(st), NS_C);
	ck_assert_str_eq(stanza_attr(st, "id"), "1");
	ck_assert_ptr_null(stanza_parent(st));
	stanza_unref(st);
}
END_TEST

static Suite *
xmlp_suite(void)
{
	Suite	*s = suite_create("xmlp");
	TCase	*tc;

	tc = tcase_create("stream");
	tcase_add_test(tc, xmlp_basic_stream);
	tcase_add_test(tc, xmlp_bytewise_equals_whole);
	tcase_add_test(tc, xmlp_namespaces);
	tcase_add_test(tc, xmlp_escaping_round_trip);
	tcase_add_test(tc, xmlp_prefixed_attr_round_trip);
	tcase_add_test(tc, xmlp_server_ns_ok);
	tcase_add_test(tc, xmlp_parse_stanza_cases);
	suite_add_tcase(s, tc);
	tc = tcase_create("errors");
	tcase_add_loop_test(tc, xmlp_header_errors, 0,
	    sizeof(bad_headers) / sizeof(bad_headers[0]));
	tcase_add_loop_test(tc, xmlp_body_errors, 0,
	    sizeof(bad_bodies) / sizeof(bad_bodies[0]));
	tcase_add_test(tc, xmlp_nul_byte);
	tcase_add_test(tc, xmlp_error_is_sticky);
	tcase_add_test(tc, xmlp_billion_laughs);
	suite_add_tcase(s, tc);
	tc = tcase_create("limits");
	tcase_add_loop_test(tc, xmlp_stanza_size_limit, 0, 2);
	tcase_add_loop_test(tc, xmlp_endless_stanza, 0,
	    2 * (int)(sizeof(endless_prefix) / sizeof(endless_prefix[0])));
	tcase_add_test(tc, xmlp_trickled_tag_is_cut_off);
	tcase_add_test(tc, xmlp_big_tag_in_pieces_ok);
	tcase_add_test(tc, xmlp_small_tail_not_deferred);
	tcase_add_test(tc, xmlp_parked_header_bindings_survive);
	tcase_add_test(tc, xmlp_parked_wrong_end_tag);
	tcase_add_test(tc, xmlp_parked_many_streams);
	tcase_add_test(tc, xmlp_keepalives_are_free);
	tcase_add_test(tc, xmlp_many_small_in_one_buffer);
	tcase_add_test(tc, xmlp_depth_limit);
	tcase_add_test(tc, xmlp_attr_limit);
	tcase_add_test(tc, xmlp_ns_decls_are_attrs);
	tcase_add_test(tc, xmlp_header_size_limit);
	tcase_add_test(tc, xmlp_header_decls_limit);
	tcase_add_test(tc, xmlp_replay_is_counted);
	suite_add_tcase(s, tc);
	tc = tcase_create("control");
	tcase_add_test(tc, xmlp_stop_in_callback);
	tcase_add_test(tc, xmlp_stop_empty_element_start);
	tcase_add_loop_test(tc, xmlp_reset_in_callback, 0, 2);
	tcase_add_test(tc, xmlp_stop_and_reset_in_callback);
	tcase_add_test(tc, xmlp_reset_mid_stanza);
	tcase_add_test(tc, xmlp_free_in_callback);
	tcase_add_test(tc, xmlp_feed_in_callback);
	tcase_add_test(tc, xmlp_hold_then_reset);
	tcase_add_test(tc, xmlp_hold_then_continue);
	tcase_add_test(tc, xmlp_hold_is_bounded);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(xmlp_suite)
