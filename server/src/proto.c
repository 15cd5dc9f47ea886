/*
 * proto.c: stanza error replies (RFC 6120 §8.3), iq results, ids and
 * delay stamps. The condition-to-type table follows RFC 6120 §8.3.3.
 */
#include "proto.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/rand.h>

#include "datetime.h"
#include "log.h"
#include "stanza.h"
#include "xmppd.h"

static const struct {
	const char	*cond;
	const char	*type;
} proto_errtypes[] = {
	{ "bad-request",		"modify" },
	{ "conflict",			"cancel" },
	{ "feature-not-implemented",	"cancel" },
	{ "forbidden",			"auth" },
	{ "gone",			"cancel" },
	{ "internal-server-error",	"cancel" },
	{ "item-not-found",		"cancel" },
	{ "jid-malformed",		"modify" },
	{ "not-acceptable",		"modify" },
	{ "not-allowed",		"cancel" },
	{ "not-authorized",		"auth" },
	{ "policy-violation",		"modify" },
	{ "recipient-unavailable",	"wait" },
	{ "redirect",			"modify" },
	{ "registration-required",	"auth" },
	{ "remote-server-not-found",	"cancel" },
	{ "remote-server-timeout",	"wait" },
	{ "resource-constraint",	"wait" },
	{ "service-unavailable",	"cancel" },
	{ "subscription-required",	"auth" },
	{ "undefined-condition",	"cancel" },
	{ "unexpected-request",		"wait" },
};

/* A reply skeleton: same element name and id, to/from swapped. */
struct stanza *
proto_reply(const struct stanza *st, const char *type)
{
	struct stanza	*r;
	const char	*v;

	r = stanza_new(stanza_name(st), NS_CLIENT);
	if ((v = stanza_attr(st, "id")) != NULL)
		stanza_set_attr(r, "id", v);
	if ((v = stanza_attr(st, "from")) != NULL)
		stanza_set_attr(r, "to", v);
	if ((v = stanza_attr(st, "to")) != NULL)
		stanza_set_attr(r, "from", v);
	if (type != NULL)
		stanza_set_attr(r, "type", type);
	return r;
}

/* Empty iq result. */
struct stanza *
proto_iq_result(const struct stanza *iq)
{
	return proto_reply(iq, "result");
}

/* Error reply carrying the original payload (RFC 6120 §8.3.1). */
struct stanza *
proto_error(const struct stanza *st, const char *cond)
{
	struct stanza	*r, *e, *c;
	const char	*type = "cancel", *t;
	size_t		 i;

	if ((t = stanza_attr(st, "type")) != NULL && strcmp(t, "error") == 0)
		return NULL;
	for (i = 0; i < sizeof(proto_errtypes) / sizeof(proto_errtypes[0]);
	    i++)
		if (strcmp(proto_errtypes[i].cond, cond) == 0) {
			type = proto_errtypes[i].type;
			break;
		}
	r = proto_reply(st, "error");
	/* Echo the payload of iqs and messages, but not of presence. */
	if (strcmp(stanza_name(st), "presence") != 0)
		for (c = stanza_first_child(st); c != NULL;
		    c = stanza_next(c))
			stanza_add_child(r, stanza_copy(c));
	e = stanza_new_child(r, "error", NS_CLIENT);
	stanza_set_attr(e, "type", type);
	stanza_new_child(e, cond, NS_STANZA_ERR);
	return r;
}

/* proto_error() with a human-readable <text/> (RFC 6120 §8.3.2). */
struct stanza *
proto_error_text(const struct stanza *st, const char *cond, const char *text)
{
	struct stanza	*r, *e, *t;

	if ((r = proto_error(st, cond)) == NULL || text == NULL)
		return r;
	e = stanza_child(r, "error", NS_CLIENT);
	t = stanza_new_child(e, "text", NS_STANZA_ERR);
	stanza_add_text(t, text, strlen(text));
	return r;
}

/* RFC 6120 §8: the three stanza kinds. */
bool
proto_is_stanza(const struct stanza *st)
{
	const char	*n = stanza_name(st);

	if (strcmp(stanza_ns(st), NS_CLIENT) != 0)
		return false;
	return strcmp(n, "message") == 0 || strcmp(n, "presence") == 0 ||
	    strcmp(n, "iq") == 0;
}

/* Unpredictable ids (stream ids, generated resources). */
void
proto_random_id(char out[17])
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 b[8];
	int			 i;

	if (RAND_bytes(b, sizeof(b)) != 1)
		fatalx("proto_random_id: RAND_bytes failed");
	for (i = 0; i < 8; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[16] = '\0';
}

/* Two halves of proto_random_id: session tokens, archive ids. */
void
proto_random_id128(char out[33])
{
	char	half[17];

	proto_random_id(out);
	proto_random_id(half);
	memcpy(out + 16, half, sizeof(half));
}

/* XEP-0203 stamp in UTC with milliseconds. */
void
proto_add_delay(struct stanza *st, const char *from, int64_t stamp_ms)
{
	struct stanza	*d;
	char		 stamp[DATETIME_LEN];

	datetime_format(stamp_ms, stamp);
	d = stanza_new_child(st, "delay", NS_DELAY);
	if (from != NULL)
		stanza_set_attr(d, "from", from);
	stanza_set_attr(d, "stamp", stamp);
}

/* Wall-clock milliseconds. */
int64_t
proto_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
