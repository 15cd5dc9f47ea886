/*
 * jid.c: JID parsing and normalisation. The structure follows RFC 7622
 * §3.1 (resource after the first '/', localpart before the first '@'
 * ahead of it); each part is then prepared with the RFC 6122 stringprep
 * profiles from libidn, since PRECIS has no library in Debian that we
 * trust yet. Domainparts get nameprep plus the IDNA checks of RFC 7622
 * §3.2: LDH labels (STD3 rules), A-labels turned into U-labels, one
 * trailing dot dropped, IPv4 and bracketed IPv6 literals. Every part is
 * 1..1023 bytes both before and after preparation.
 *
 * Pure: no I/O, and the caller owns every buffer. libidn keeps no state
 * between calls but is not thread safe; xmppd is single-threaded.
 */
#include "jid.h"

#include <arpa/inet.h>
#include <idna.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stringprep.h>

#define JID_IDNA_FLAGS		(IDNA_ALLOW_UNASSIGNED | IDNA_USE_STD3_ASCII_RULES)

/*
 * Copy len bytes of in to buf (JID_PART_MAX + 1 bytes) and apply a
 * stringprep profile. Unassigned code points are allowed, as for queries
 * (RFC 3454 §7): libidn knows only Unicode 3.2 and clients send newer
 * characters in resources. A part that maps to nothing is invalid.
 */
static int
jid_stringprep(const char *in, size_t len, char *buf,
    const Stringprep_profile *profile)
{
	if (len == 0 || len > JID_PART_MAX)
		return -1;
	memcpy(buf, in, len);
	buf[len] = '\0';
	if (stringprep(buf, JID_PART_MAX + 1, 0, profile) != STRINGPREP_OK)
		return -1;
	return buf[0] == '\0' ? -1 : 0;
}

static int
jid_copy(const char *s, char *out, size_t outlen)
{
	size_t	len = strlen(s);

	if (len >= outlen)
		return -1;
	memcpy(out, s, len + 1);
	return 0;
}

/* Bracketed IPv6 literal (RFC 7622 §3.2) in its canonical RFC 5952 form. */
static int
jid_prep_ipv6(const char *in, size_t len, char *out, size_t outlen)
{
	struct in6_addr	addr;
	char		text[INET6_ADDRSTRLEN], canon[INET6_ADDRSTRLEN];
	int		n;

	if (len < 3 || in[len - 1] != ']' || len - 2 >= sizeof(text))
		return -1;
	memcpy(text, in + 1, len - 2);
	text[len - 2] = '\0';
	if (inet_pton(AF_INET6, text, &addr) != 1 ||
	    inet_ntop(AF_INET6, &addr, canon, sizeof(canon)) == NULL)
		return -1;
	n = snprintf(out, outlen, "[%s]", canon);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/*
 * Turn the IDNA label separators U+3002, U+FF0E and U+FF61 into '.'
 * (RFC 3490 §3.1), in place. This must happen before nameprep, which
 * runs per label: its bidi rule holds within a label, not across them.
 */
static void
jid_map_dots(char *s)
{
	static const char *const	 dots[] = {
		"\xe3\x80\x82", "\xef\xbc\x8e", "\xef\xbd\xa1",
	};
	char				*r = s, *w = s;
	size_t				 i;

	while (*r != '\0') {
		for (i = 0; i < sizeof(dots) / sizeof(dots[0]); i++)
			if (strncmp(r, dots[i], 3) == 0)
				break;
		if (i < sizeof(dots) / sizeof(dots[0])) {
			*w++ = '.';
			r += 3;
		} else
			*w++ = *r++;
	}
	*w = '\0';
}

/*
 * Prepare one label into out (JID_PART_MAX + 1 bytes): nameprep, then an
 * A-label becomes its U-label (libidn's ToUnicode checks the round trip
 * and returns its input when that fails), then ToASCII enforces the STD3
 * character rules, hyphen placement and the 63-octet limit. Nameprep
 * can map a character to a '.' (U+2024), which would split the label on
 * the next parse, so that is refused.
 */
static int
jid_prep_label(const char *in, char *out)
{
	char		 buf[JID_PART_MAX + 1];
	const char	*label = buf;
	char		*uni = NULL, *ace = NULL;
	int		 ret = -1;

	if (jid_stringprep(in, strlen(in), buf, stringprep_nameprep) == -1)
		goto done;
	if (strncmp(buf, "xn--", 4) == 0) {
		if (idna_to_unicode_8z8z(buf, &uni, JID_IDNA_FLAGS) !=
		    IDNA_SUCCESS || strcmp(uni, buf) == 0)
			goto done;	/* not a valid A-label */
		label = uni;
	}
	if (strchr(label, '.') != NULL ||
	    idna_to_ascii_8z(label, &ace, JID_IDNA_FLAGS) != IDNA_SUCCESS ||
	    jid_copy(label, out, JID_PART_MAX + 1) == -1)
		goto done;
	ret = 0;
 done:
	free(uni);
	free(ace);
	return ret;
}

/* Domainpart: IPv6 literal, or labels prepared one at a time. */
static int
jid_prep_domain(const char *in, size_t len, char *out, size_t outlen)
{
	char	 buf[JID_PART_MAX + 1], label[JID_PART_MAX + 1];
	char	*p, *dot;
	size_t	 used = 0, need, n;

	if (len > 0 && in[0] == '[')
		return jid_prep_ipv6(in, len, out, outlen);
	if (len == 0 || len > JID_PART_MAX)
		return -1;
	memcpy(buf, in, len);
	buf[len] = '\0';
	jid_map_dots(buf);
	n = strlen(buf);
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';	/* absolute name, RFC 7622 §3.2 */
	for (p = buf; p != NULL; p = dot) {
		if ((dot = strchr(p, '.')) != NULL)
			*dot++ = '\0';
		if (jid_prep_label(p, label) == -1)
			return -1;
		n = strlen(label);
		need = used + (used > 0) + n;
		if (need > JID_PART_MAX || need >= outlen)
			return -1;
		if (used > 0)
			out[used++] = '.';
		memcpy(out + used, label, n + 1);
		used = need;
	}
	return 0;
}

static int
jid_prep_part(const char *in, size_t len, char *out, size_t outlen,
    const Stringprep_profile *profile)
{
	char	buf[JID_PART_MAX + 1];

	if (jid_stringprep(in, len, buf, profile) == -1)
		return -1;
	return jid_copy(buf, out, outlen);
}

/* Prepare a localpart with nodeprep; in and out may be the same. */
int
jid_prep_local(const char *in, char *out, size_t outlen)
{
	return jid_prep_part(in, strnlen(in, JID_PART_MAX + 1), out, outlen,
	    stringprep_xmpp_nodeprep);
}

/* Prepare a resourcepart with resourceprep; in and out may be the same. */
int
jid_prep_resource(const char *in, char *out, size_t outlen)
{
	return jid_prep_part(in, strnlen(in, JID_PART_MAX + 1), out, outlen,
	    stringprep_xmpp_resourceprep);
}

/*
 * Split per RFC 7622 §3.1 and prepare each part. A separator with
 * nothing on one side ("@d", "u@", "d/") is malformed.
 */
int
jid_parse(const char *s, struct jid *j)
{
	const char	*slash, *at, *domain;
	size_t		 len, dlen;

	memset(j, 0, sizeof(*j));
	if (s == NULL || (len = strnlen(s, JID_MAX + 1)) > JID_MAX)
		goto bad;
	domain = s;
	if ((slash = memchr(s, '/', len)) != NULL) {
		if (jid_prep_part(slash + 1, len - (slash + 1 - s),
		    j->resource, sizeof(j->resource),
		    stringprep_xmpp_resourceprep) == -1)
			goto bad;
		len = slash - s;
	}
	if ((at = memchr(s, '@', len)) != NULL) {
		if (jid_prep_part(s, at - s, j->local, sizeof(j->local),
		    stringprep_xmpp_nodeprep) == -1)
			goto bad;
		domain = at + 1;
	}
	dlen = len - (domain - s);
	if (jid_prep_domain(domain, dlen, j->domain, sizeof(j->domain)) == -1)
		goto bad;
	return 0;
 bad:
	memset(j, 0, sizeof(*j));
	return -1;
}

/* "local@domain", or "domain" without a localpart. */
char *
jid_bare(const struct jid *j, char *out, size_t outlen)
{
	return jid_join(j->local, j->domain, out, outlen);
}

/* The one place a bare JID is put together from its parts. */
char *
jid_join(const char *local, const char *domain, char *out, size_t outlen)
{
	if (local[0] != '\0')
		snprintf(out, outlen, "%s@%s", local, domain);
	else
		snprintf(out, outlen, "%s", domain);
	return out;
}

/* The bare JID plus "/resource" when there is one. */
char *
jid_full(const struct jid *j, char *out, size_t outlen)
{
	size_t	n;

	if (outlen == 0)
		return out;
	jid_bare(j, out, outlen);
	n = strlen(out);
	if (j->resource[0] != '\0' && n < outlen)
		snprintf(out + n, outlen - n, "/%s", j->resource);
	return out;
}

bool
jid_is_bare(const struct jid *j)
{
	return j->resource[0] == '\0';
}

/* Parts are stored prepared, so byte equality is JID equality. */
bool
jid_bare_eq(const struct jid *a, const struct jid *b)
{
	return strcmp(a->local, b->local) == 0 &&
	    strcmp(a->domain, b->domain) == 0;
}
