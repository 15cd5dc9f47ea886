/*
 * jid.h: JID parsing and normalisation (RFC 7622 with the RFC 6122
 * stringprep profiles through libidn: nodeprep, nameprep, resourceprep).
 * Pure: no I/O, no allocation.
 */
#ifndef XMPPD_JID_H
#define XMPPD_JID_H

#include <stdbool.h>
#include <stddef.h>

#define JID_PART_MAX	1023		/* bytes per part, RFC 7622 §3.1 */
#define JID_MAX		(3 * JID_PART_MAX + 2)

struct jid {
	char	local[JID_PART_MAX + 1];	/* "" if none */
	char	domain[JID_PART_MAX + 1];
	char	resource[JID_PART_MAX + 1];	/* "" if none */
};

/* Parse and normalise; 0, or -1 if malformed (→ jid-malformed). */
int	jid_parse(const char *, struct jid *);
/* Normalise a single part in place-safe fashion; 0 or -1. */
int	jid_prep_local(const char *in, char *out, size_t outlen);
int	jid_prep_resource(const char *in, char *out, size_t outlen);
/* Write "local@domain" (or "domain") / with "/resource"; returns out. */
char	*jid_bare(const struct jid *, char *out, size_t outlen);
/* The same from a localpart (may be "") and a domain. */
char	*jid_join(const char *local, const char *domain, char *out,
	    size_t outlen);
char	*jid_full(const struct jid *, char *out, size_t outlen);
bool	jid_is_bare(const struct jid *);
/* Same bare JID (parts compared after normalisation). */
bool	jid_bare_eq(const struct jid *, const struct jid *);

#endif
