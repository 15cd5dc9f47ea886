/*
 * carbons.c: XEP-0280 eligibility and wrapping. Eligibility follows §6.1
 * literally, with one reading where the rule needs state we do not keep:
 * an error message counts as a reply to an eligible message when it
 * carries what an eligible message would (a body or IM payload), since a
 * bounce normally echoes the original.
 */
#include "carbons.h"

#include <string.h>

#include "stanza.h"
#include "xmppd.h"

/* Payloads "typically used in IM" (§6.1), and invitations (§6.1.1). */
static bool
carbons_im_payload(const struct stanza *msg)
{
	static const char *const	nss[] = { NS_RECEIPTS, NS_CHATSTATES,
					    NS_MARKERS, NS_CONFERENCE };
	size_t				i;
	const struct stanza		*x;

	for (i = 0; i < sizeof(nss) / sizeof(nss[0]); i++)
		if (stanza_child(msg, NULL, nss[i]) != NULL)
			return true;
	/* A mediated MUC invitation. */
	x = stanza_child(msg, "x", NS_MUC_USER);
	return x != NULL && stanza_child(x, "invite", NS_MUC_USER) != NULL;
}

bool
carbons_eligible(const struct stanza *msg)
{
	const char	*type = stanza_attr(msg, "type");
	bool		 body = stanza_child(msg, "body", NS_CLIENT) != NULL;

	if (strcmp(stanza_name(msg), "message") != 0 ||
	    stanza_child(msg, "private", NS_CARBONS) != NULL ||
	    stanza_child(msg, "no-copy", NS_HINTS) != NULL)
		return false;
	/* Copies of copies would loop between a user's resources. */
	if (stanza_child(msg, "sent", NS_CARBONS) != NULL ||
	    stanza_child(msg, "received", NS_CARBONS) != NULL)
		return false;
	if (type == NULL)
		type = "normal";
	if (strcmp(type, "groupchat") == 0)
		return false;
	if (strcmp(type, "chat") == 0)
		return true;
	if ((strcmp(type, "normal") == 0 || strcmp(type, "error") == 0) &&
	    body)
		return true;
	return carbons_im_payload(msg);
}

struct stanza *
carbons_wrap(const struct stanza *msg, const char *dir, const char *bare,
    const char *to)
{
	struct stanza	*w = stanza_new("message", NS_CLIENT), *fwd;
	const char	*type = stanza_attr(msg, "type");

	stanza_set_attr(w, "from", bare);
	stanza_set_attr(w, "to", to);
	if (type != NULL)
		stanza_set_attr(w, "type", type);
	fwd = stanza_new_child(stanza_new_child(w, dir, NS_CARBONS),
	    "forwarded", NS_FORWARD);
	stanza_add_child(fwd, stanza_copy(msg));
	return w;
}
