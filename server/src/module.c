/*
 * module.c: iq and hook dispatch over the module table. The table itself
 * is modules.c's, handed over by module_init(): this file knows no module
 * by name, so the modules may call it (disco's feature list, presence's
 * available hook) without a call cycle.
 */
#include "module.h"

#include <string.h>

#include "server.h"
#include "stanza.h"

/* Find the handler for the iq's type and payload and run it. */
enum mod_result
module_iq(struct server *srv, struct session *s, struct stanza *iq, int to)
{
	const struct module	*const *m;
	const struct mod_iq	*h;
	struct stanza		*payload;
	const char		*t = stanza_attr(iq, "type");
	int			 type;

	if (t == NULL)
		return MOD_PASS;
	if (strcmp(t, "get") == 0)
		type = IQ_GET;
	else if (strcmp(t, "set") == 0)
		type = IQ_SET;
	else
		return MOD_PASS;
	/* RFC 6120 §8.2.3: exactly one payload child. */
	if ((payload = stanza_first_child(iq)) == NULL)
		return MOD_PASS;
	for (m = srv->modules; *m != NULL; m++)
		for (h = (*m)->iq; h != NULL && h->name != NULL; h++)
			if ((h->type & type) && (h->to & to) &&
			    strcmp(h->name, stanza_name(payload)) == 0 &&
			    strcmp(h->ns, stanza_ns(payload)) == 0 &&
			    h->fn(srv, s, iq) == MOD_HANDLED)
				return MOD_HANDLED;
	return MOD_PASS;
}

/* Module start-up, in table order. */
void
module_init(struct server *srv, const struct module *const *table)
{
	const struct module	*const *m;

	srv->modules = table;

	for (m = srv->modules; *m != NULL; m++)
		if ((*m)->init != NULL)
			(*m)->init(srv);
}

/* Module shutdown, in table order. */
void
module_fini(struct server *srv)
{
	const struct module	*const *m;

	for (m = srv->modules; *m != NULL; m++)
		if ((*m)->fini != NULL)
			(*m)->fini(srv);
}

/* Initial presence hooks, in table order. */
void
module_available(struct server *srv, struct session *s)
{
	const struct module	*const *m;

	for (m = srv->modules; *m != NULL; m++)
		if ((*m)->available != NULL)
			(*m)->available(srv, s);
}

/* Unbind hooks, in table order. */
void
module_unbound(struct server *srv, struct session *s)
{
	const struct module	*const *m;

	for (m = srv->modules; *m != NULL; m++)
		if ((*m)->unbound != NULL)
			(*m)->unbound(srv, s);
}

/* Message hooks, in table order; the first MOD_HANDLED stops routing. */
enum mod_result
module_message_out(struct server *srv, struct session *s, struct stanza *st)
{
	const struct module	*const *m;

	for (m = srv->modules; *m != NULL; m++)
		if ((*m)->message_out != NULL &&
		    (*m)->message_out(srv, s, st) == MOD_HANDLED)
			return MOD_HANDLED;
	return MOD_PASS;
}

void
module_message_in(struct server *srv, const char *user, struct stanza *st)
{
	const struct module	*const *m;

	for (m = srv->modules; *m != NULL; m++)
		if ((*m)->message_in != NULL)
			(*m)->message_in(srv, user, st);
}

void
module_message_delivered(struct server *srv, const char *user,
    struct stanza *st, struct session *const *got, size_t n)
{
	const struct module	*const *m;

	for (m = srv->modules; *m != NULL; m++)
		if ((*m)->message_delivered != NULL)
			(*m)->message_delivered(srv, user, st, got, n);
}

/* The i-th disco feature over all modules, or NULL past the end. */
const char *
module_feature(const struct server *srv, unsigned i, bool account)
{
	const struct module	*const *m;
	const char		*const *f;

	for (m = srv->modules; *m != NULL; m++)
		for (f = account ? (*m)->account_features : (*m)->features;
		    f != NULL && *f != NULL; f++)
			if (i-- == 0)
				return *f;
	return NULL;
}
