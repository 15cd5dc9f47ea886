/*
 * mam_query.c: reading a XEP-0313 query. Every field the server does not
 * know is refused with feature-not-implemented (§5.1.1: a filter silently
 * ignored would return more history than asked for), and every value is
 * checked before the archive sees it.
 */
#include "mam_query.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "datetime.h"
#include "stanza.h"
#include "xmalloc.h"
#include "xmppd.h"

#define MAM_FAIL(c, t)	do {			\
	*cond = (c);				\
	*text = (t);				\
	return -1;				\
} while (0)

/* The single <value/> of a field, or NULL if it has none or several. */
static const char *
mam_field_value(const struct stanza *field)
{
	const struct stanza	*v = stanza_child(field, "value", NS_DATA);
	const struct stanza	*c;
	int			 n = 0;

	for (c = stanza_first_child(field); c != NULL; c = stanza_next(c))
		if (strcmp(stanza_name(c), "value") == 0)
			n++;
	return n == 1 ? stanza_text(v) : NULL;
}

static int
mam_field_with(struct mam_query *q, const char *value, const char **cond,
    const char **text)
{
	struct jid	jid;
	char		buf[JID_MAX + 1];

	if (jid_parse(value, &jid) == -1)
		MAM_FAIL("jid-malformed", "'with' is not a valid JID");
	q->with_bare = jid_is_bare(&jid);
	q->with = xstrdup(jid_full(&jid, buf, sizeof(buf)));
	return 0;
}

static int
mam_field_ids(struct mam_query *q, const struct stanza *field,
    const char **cond, const char **text)
{
	const struct stanza	*c;

	for (c = stanza_first_child(field); c != NULL; c = stanza_next(c)) {
		if (strcmp(stanza_name(c), "value") != 0)
			continue;
		if (q->nids == MAM_MAX_IDS)
			MAM_FAIL("policy-violation", "too many 'ids' values");
		q->ids = xreallocarray(q->ids, q->nids + 1, sizeof(*q->ids));
		q->ids[q->nids++] = xstrdup(stanza_text(c));
	}
	return 0;
}

/* One <field/> of the form. */
static int
mam_field(struct mam_query *q, const struct stanza *field,
    const char **cond, const char **text)
{
	const char	*var = stanza_attr(field, "var");
	const char	*value = mam_field_value(field);

	if (var == NULL)
		MAM_FAIL("bad-request", "form field without 'var'");
	if (strcmp(var, "ids") == 0)
		return mam_field_ids(q, field, cond, text);
	if (strcmp(var, "FORM_TYPE") != 0 && strcmp(var, "with") != 0 &&
	    strcmp(var, "start") != 0 && strcmp(var, "end") != 0 &&
	    strcmp(var, "after-id") != 0 && strcmp(var, "before-id") != 0)
		MAM_FAIL("feature-not-implemented", "unsupported form field");
	if (value == NULL)
		MAM_FAIL("bad-request", "form field needs exactly one value");
	if (strcmp(var, "FORM_TYPE") == 0) {
		if (strcmp(value, NS_MAM) != 0)
			MAM_FAIL("bad-request", "FORM_TYPE is not urn:xmpp:mam:2");
	} else if (strcmp(var, "with") == 0)
		return mam_field_with(q, value, cond, text);
	else if (strcmp(var, "start") == 0) {
		if (datetime_parse(value, &q->start) == -1)
			MAM_FAIL("bad-request", "'start' is not a date-time");
	} else if (strcmp(var, "end") == 0) {
		if (datetime_parse(value, &q->end) == -1)
			MAM_FAIL("bad-request", "'end' is not a date-time");
	} else if (strcmp(var, "after-id") == 0) {
		free(q->after_id);
		q->after_id = xstrdup(value);
	} else {
		free(q->before_id);
		q->before_id = xstrdup(value);
	}
	return 0;
}

static int
mam_form(struct mam_query *q, const struct stanza *x, const char **cond,
    const char **text)
{
	const struct stanza	*f;
	const char		*type = stanza_attr(x, "type");

	if (type != NULL && strcmp(type, "submit") != 0)
		MAM_FAIL("bad-request", "the form must be of type 'submit'");
	for (f = stanza_first_child(x); f != NULL; f = stanza_next(f)) {
		if (strcmp(stanza_name(f), "field") != 0 ||
		    strcmp(stanza_ns(f), NS_DATA) != 0)
			continue;
		if (mam_field(q, f, cond, text) == -1)
			return -1;
	}
	return 0;
}

/* A non-negative decimal that fits an unsigned; -1 otherwise. */
static int
mam_parse_max(const char *s, unsigned *out)
{
	char		*end;
	unsigned long	 v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > 1000000)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* XEP-0059 <set/>: max, after, before (empty: the last page). */
static int
mam_rsm(struct mam_query *q, const struct stanza *set, unsigned cap,
    const char **cond, const char **text)
{
	const struct stanza	*c;
	const char		*name;

	for (c = stanza_first_child(set); c != NULL; c = stanza_next(c)) {
		name = stanza_name(c);
		if (strcmp(name, "max") == 0) {
			if (mam_parse_max(stanza_text(c), &q->max) == -1)
				MAM_FAIL("bad-request", "bad RSM <max/>");
			if (q->max > cap)
				q->max = cap;
		} else if (strcmp(name, "after") == 0) {
			if (*stanza_text(c) == '\0')
				MAM_FAIL("bad-request", "empty RSM <after/>");
			free(q->after_id);
			q->after_id = xstrdup(stanza_text(c));
		} else if (strcmp(name, "before") == 0) {
			free(q->before_id);
			q->before_id = NULL;
			q->last_page = *stanza_text(c) == '\0';
			if (!q->last_page)
				q->before_id = xstrdup(stanza_text(c));
		} else
			MAM_FAIL("feature-not-implemented",
			    "unsupported RSM element");
	}
	return 0;
}

int
mam_query_parse(const struct stanza *query, unsigned max,
    struct mam_query *q, const char **cond, const char **text)
{
	const struct stanza	*x, *set;
	const char		*qid = stanza_attr(query, "queryid");

	memset(q, 0, sizeof(*q));
	q->start = INT64_MIN;
	q->end = INT64_MAX;
	q->max = max;
	if (qid != NULL)
		q->queryid = xstrdup(qid);
	if ((x = stanza_child(query, "x", NS_DATA)) != NULL &&
	    mam_form(q, x, cond, text) == -1)
		goto fail;
	if ((set = stanza_child(query, "set", NS_RSM)) != NULL &&
	    mam_rsm(q, set, max, cond, text) == -1)
		goto fail;
	q->flip = stanza_child(query, "flip-page", NS_MAM) != NULL;
	if (q->start > q->end) {
		*cond = "bad-request";
		*text = "'start' is after 'end'";
		goto fail;
	}
	return 0;
fail:
	mam_query_clear(q);
	return -1;
}

void
mam_query_clear(struct mam_query *q)
{
	size_t	i;

	free(q->queryid);
	free(q->with);
	free(q->after_id);
	free(q->before_id);
	for (i = 0; i < q->nids; i++)
		free(q->ids[i]);
	free(q->ids);
	memset(q, 0, sizeof(*q));
}
