/*
 * xmlp_stanza.c: parse a single stored stanza by wrapping it in a stream
 * header and running it through the ordinary parser, so stored data gets
 * the same limits and restrictions as data from the wire.
 */
#include "xmlp.h"

#include <stdint.h>
#include <string.h>

#include "stanza.h"
#include "xmppd.h"

static const char xmlp_stanza_hdr[] = "<stream:stream xmlns='" NS_CLIENT
    "' xmlns:stream='" NS_STREAMS "'>";

static void
xmlp_stanza_open(void *arg, const struct stanza *hdr)
{
	(void)arg;
	(void)hdr;
}

static void
xmlp_stanza_got(void *arg, struct stanza *st)
{
	struct stanza	**out = arg;

	if (*out != NULL) {		/* more than one: reject both */
		stanza_unref(*out);
		stanza_unref(st);
		*out = (struct stanza *)(uintptr_t)&xmlp_stanza_hdr;
		return;
	}
	*out = st;
}

static void
xmlp_stanza_close(void *arg)
{
	(void)arg;
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
		.max_stanza = len + 1, .max_depth = 64, .max_attrs = 256,
	};
	struct stanza			*out = NULL;
	struct xmlp			*p;
	int				 rc;

	p = xmlp_new(&cb, &out, &lim);
	rc = xmlp_feed(p, xmlp_stanza_hdr, sizeof(xmlp_stanza_hdr) - 1);
	if (rc == 0)
		rc = xmlp_feed(p, xml, len);
	xmlp_free(p);
	if (out == (struct stanza *)(uintptr_t)&xmlp_stanza_hdr)
		return NULL;
	if (rc == -1 && out != NULL) {
		stanza_unref(out);
		return NULL;
	}
	return out;
}
