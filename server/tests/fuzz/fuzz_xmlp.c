/*
 * fuzz_xmlp.c: libFuzzer harness for the XML layer (xmlp + stanza).
 * Besides crashes, leaks and hangs it checks two properties:
 * - chunking does not matter: the input fed whole and fed in small
 *   pseudo-random pieces yields the same header count, the same stanzas
 *   and the same verdict (error or not), also when a callback resets the
 *   parser in the middle of a buffer;
 * - serialization is stable: every stanza, serialized, parses back
 *   (xmlp_parse_stanza) into a tree that serializes to the same bytes.
 * The first two input bytes choose the chunking, whether a valid stream
 * header is prepended and whether a callback stops or resets the parser.
 *
 * Build and run from server/:
 *   clang -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
 *       -Isrc tests/fuzz/fuzz_xmlp.c src/xmlp.c src/xmlp_stanza.c \
 *       src/stanza.c src/log.c src/xmalloc.c -lexpat -o /tmp/fuzz_xmlp
 *   mkdir -p /tmp/fuzz_xmlp.corpus
 *   /tmp/fuzz_xmlp -max_total_time=120 -max_len=8192 /tmp/fuzz_xmlp.corpus
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stanza.h"
#include "xmlp.h"

#define FUZZ_HDR	"<stream:stream xmlns='jabber:client' " \
			"xmlns:stream='http://etherx.jabber.org/streams' " \
			"to='example.org' version='1.0'>"

enum fuzz_action { FUZZ_NONE, FUZZ_STOP, FUZZ_RESET };

struct fuzz_run {
	struct xmlp		*p;
	enum fuzz_action	 act;
	int			 act_at;
	int			 opens;
	int			 closes;
	int			 nstanzas;
	char			*out;		/* serialized stanzas */
	size_t			 out_len;
};

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const struct xmlp_limits fuzz_limits = {
	.max_stanza = 2048, .max_depth = 8, .max_attrs = 16,
};

static void
fuzz_open(void *arg, const struct stanza *hdr)
{
	struct fuzz_run	*r = arg;

	if (strcmp(stanza_name(hdr), "stream") != 0)
		abort();
	r->opens++;
}

/* Serialized, parsed again and serialized again: the same bytes. */
static void
fuzz_stable(const char *xml, size_t len)
{
	struct stanza	*again;
	char		*xml2;
	size_t		 len2;

	if ((again = xmlp_parse_stanza(xml, len)) == NULL)
		abort();
	xml2 = stanza_serialize(again, "jabber:client", &len2);
	if (len2 != len || memcmp(xml, xml2, len) != 0)
		abort();
	free(xml2);
	stanza_unref(again);
}

static void
fuzz_stanza(void *arg, struct stanza *st)
{
	struct fuzz_run	*r = arg;
	struct stanza	*cp;
	char		*xml, *xml2;
	size_t		 len, len2;

	xml = stanza_serialize(st, "jabber:client", &len);
	cp = stanza_copy(st);
	xml2 = stanza_serialize(cp, "jabber:client", &len2);
	if (len2 != len || memcmp(xml, xml2, len) != 0)
		abort();
	free(xml2);
	stanza_unref(cp);
	fuzz_stable(xml, len);
	if ((r->out = realloc(r->out, r->out_len + len + 1)) == NULL)
		abort();
	memcpy(r->out + r->out_len, xml, len + 1);
	r->out_len += len;
	free(xml);
	stanza_unref(st);
	if (++r->nstanzas != r->act_at)
		return;
	if (r->act == FUZZ_STOP)
		xmlp_stop(r->p);
	else if (r->act == FUZZ_RESET)
		xmlp_reset(r->p);
}

static void
fuzz_close(void *arg)
{
	struct fuzz_run	*r = arg;

	r->closes++;
}

static const struct xmlp_cb fuzz_cb = {
	.open = fuzz_open,
	.stanza = fuzz_stanza,
	.close = fuzz_close,
};

/* Feed in pieces of 1..32 bytes from a small LCG; rc of the last feed. */
static int
fuzz_feed(struct fuzz_run *r, const char *buf, size_t len, unsigned seed)
{
	size_t	 off = 0, n;
	int	 rc = 0, bad = 0;

	while (off < len) {
		if (seed == 0)
			n = len - off;
		else {
			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 16) % 32;
			if (n > len - off)
				n = len - off;
		}
		rc = xmlp_feed(r->p, buf + off, n);
		bad |= rc == -1 && xmlp_error(r->p) != NULL;
		off += n;
	}
	return bad ? -1 : rc;
}

static int
fuzz_run(struct fuzz_run *r, const char *buf, size_t len, unsigned seed,
    uint8_t flags)
{
	int	 rc;

	memset(r, 0, sizeof(*r));
	r->act = (enum fuzz_action)((flags >> 1) % 3);
	r->act_at = 1 + (flags >> 3) % 4;
	r->p = xmlp_new(&fuzz_cb, r, &fuzz_limits);
	if ((flags & 1) != 0 &&
	    xmlp_feed(r->p, FUZZ_HDR, sizeof(FUZZ_HDR) - 1) == -1)
		abort();
	rc = fuzz_feed(r, buf, len, seed);
	xmlp_free(r->p);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_run	 whole, split;
	const char	*buf = (const char *)(data + 2);
	int		 rc_whole, rc_split;

	if (size < 2)
		return 0;
	rc_whole = fuzz_run(&whole, buf, size - 2, 0, data[0]);
	rc_split = fuzz_run(&split, buf, size - 2, data[1] | 1u, data[0]);
	if (whole.opens != split.opens || whole.closes != split.closes ||
	    whole.nstanzas != split.nstanzas ||
	    whole.out_len != split.out_len ||
	    (whole.out_len > 0 &&
	    memcmp(whole.out, split.out, whole.out_len) != 0))
		abort();
	/* A stop makes later feeds fail by contract: only compare errors. */
	if (whole.act != FUZZ_STOP && (rc_whole == -1) != (rc_split == -1))
		abort();
	free(whole.out);
	free(split.out);
	return 0;
}
