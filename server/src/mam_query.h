/*
 * mam_query.h: a XEP-0313 query (the data form and the XEP-0059 <set/>)
 * as plain data, checked. Pure: the archive lookup is mod_mam.c's.
 */
#ifndef XMPPD_MAM_QUERY_H
#define XMPPD_MAM_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jid.h"

struct stanza;

#define MAM_MAX_IDS	256	/* 'ids' values in one query */

struct mam_query {
	char		*queryid;	/* echoed in every <result/>, or NULL */
	char		*with;		/* normalised JID, or NULL */
	bool		 with_bare;	/* with has no resource: match bare */
	int64_t		 start;		/* ms; INT64_MIN if absent */
	int64_t		 end;		/* ms; INT64_MAX if absent */
	char		*after_id;	/* form field or RSM <after/> */
	char		*before_id;	/* form field or RSM <before>id</> */
	bool		 last_page;	/* RSM <before/> empty: newest page */
	char		**ids;		/* 'ids' field values */
	size_t		 nids;
	unsigned	 max;		/* page size, capped */
	bool		 flip;		/* <flip-page/>: newest first */
};

/*
 * Parse <query xmlns='urn:xmpp:mam:2'>. max is the page size when the
 * client gives none and the cap on what it asks for. 0, or -1 with *cond
 * the stanza error condition and *text an explanation for the client.
 */
int	mam_query_parse(const struct stanza *query, unsigned max,
	    struct mam_query *, const char **cond, const char **text);
void	mam_query_clear(struct mam_query *);

#endif
