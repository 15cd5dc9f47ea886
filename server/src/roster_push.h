/*
 * roster_push.h: roster items as stanzas, and roster pushes.
 */
#ifndef XMPPD_ROSTER_PUSH_H
#define XMPPD_ROSTER_PUSH_H

struct server;
struct stanza;
struct store_roster_item;

/* <item/> for a stored item, or a subscription='remove' one if NULL. */
struct stanza	*roster_item_stanza(const char *contact,
		    const struct store_roster_item *);
/* Push the current state of contact in user's roster to its resources. */
void		 roster_push(struct server *, const char *user,
		    const char *contact);

#endif
