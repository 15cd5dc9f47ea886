/*
 * mod_offline.c: offline storage (RFC 6121 §8.5.2.2, XEP-0160). A message
 * for a known account with no available resource is stored with a
 * XEP-0203 delay stamp and delivered, oldest first, when a resource sends
 * initial presence with a non-negative priority.
 */
#include <string.h>

#include "config.h"
#include "log.h"
#include "module.h"
#include "proto.h"
#include "router.h"
#include "server.h"
#include "stanza.h"
#include "store.h"
#include "xmalloc.h"
#include "xmlp.h"
#include "xmppd.h"

#include <stdlib.h>

/* Store st for user; 0, or -1 if the queue is full or the store failed. */
int
offline_store(struct server *srv, const char *user, struct stanza *st)
{
	struct stanza	*copy;
	char		*xml;
	size_t		 len;
	int64_t		 now = proto_now_ms();
	int		 n, rc;

	if ((n = store_offline_count(srv->store, user)) == -1)
		return -1;
	if ((unsigned)n >= srv->cfg->max_offline) {
		log_info("offline queue full user=%s max=%u", user,
		    srv->cfg->max_offline);
		return -1;
	}
	copy = stanza_copy(st);
	/* A message stored a second time (salvaged from a session that
	 * ended unacked) keeps its first stamp. */
	if (stanza_child(copy, "delay", NS_DELAY) == NULL)
		proto_add_delay(copy, srv->cfg->domain, now);
	xml = stanza_serialize(copy, NS_CLIENT, &len);
	rc = store_offline_push(srv->store, user, xml, now);
	free(xml);
	stanza_unref(copy);
	return rc;
}

static int
offline_send(void *arg, const char *xml, int64_t stamp_ms)
{
	struct session	*s = arg;
	struct stanza	*st;

	(void)stamp_ms;
	if ((st = xmlp_parse_stanza(xml, strlen(xml))) == NULL) {
		log_warnx("offline: unparsable stored message user=%s", s->user);
		return 0;
	}
	router_send(s, st);
	stanza_unref(st);
	return 0;
}

static void
offline_available(struct server *srv, struct session *s)
{
	/* RFC 6121 §8.5.2.1.1: negative priority never gets messages. */
	if (s->priority < 0)
		return;
	if (store_offline_each(srv->store, s->user, offline_send, s) == 0)
		store_offline_clear(srv->store, s->user);
}

static const char *const offline_features[] = { "msgoffline", NULL };

const struct module mod_offline = {
	.name = "offline",
	.xep = 160,
	.features = offline_features,
	.available = offline_available,
};
