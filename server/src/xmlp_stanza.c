/*
 * xmlp_stanza.c: parse a single stored stanza by wrapping it in a stream
 * header and running it through the ordinary parser, so stored data gets
 * the same limits and restrictions as data from the wire. The wrapper is
 * closed after the data, so a truncated element, a second element or
 * trailing garbage all make the result NULL.
 */
#include "xmlp.h"

#include <stdbool.h>
#include <string.h>

#include "stanza.h"
#include "xmppd.h"

static const char xmlp_stanza_hdr[] = "<stream:stream xmlns='" NS_CLIENT
    "' xmlns:stream='" NS_STREAMS "'>";
static const char xmlp_stanza_end[] = "</stream:stream>";

struct xmlp_stanza_out {
	struct stanza	*st;
	unsigned	 count;
	bool		 closed;
};

static void
xmlp_stanza_open(void *arg, const struct stanza *hdr)
{
	(void)arg;
	(void)hdr;
}

static void
xmlp_stanza_got(void *arg, struct stanza *st)
{
	struct xmlp_stanza_out	*out = arg;

	if (out->count++ == 0)
		out->st = st;
	else
		stanza_unref(st);
}

static void
xmlp_stanza_close(void *arg)
{
	struct xmlp_stanza_out	*out = arg;

	out->closed = true;
}

/* Parse one stored stanza. */
struct stanza *
xmlp_parse_stanza(const char *xml, size_t len)
{
	static const struct xmlp_cb	cb = {
		.open = xmlp_stanza_open,
		.stanza = xmlp_stanza_got,
		.close = xmlp_stanza_close,
	};
	const struct xmlp_limits	lim = {
		.max_stanza = len, .max_depth = 64, .max_attrs = 256,
	};
	struct xmlp_stanza_out		out = { NULL, 0, false };
	struct xmlp			*p;
	int				 rc;

	p = xmlp_new(&cb, &out, &lim);
	rc = xmlp_feed(p, xmlp_stanza_hdr, sizeof(xmlp_stanza_hdr) - 1);
	if (rc == 0)
		rc = xmlp_feed(p, xml, len);
	if (rc == 0)
		rc = xmlp_feed(p, xmlp_stanza_end, sizeof(xmlp_stanza_end) - 1);
	xmlp_free(p);
	if (rc == -1 || out.count != 1 || !out.closed) {
		stanza_unref(out.st);
		return NULL;
	}
	return out.st;
}
