/* check_carbons.c: XEP-0280 §6.1 eligibility and the wrapped copy. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "carbons.h"
#include "stanza.h"
#include "xmlp.h"

#include "check_main.h"

static const struct {
	const char	*xml;
	int		 eligible;
} cases[] = {
	{ "<message type='chat'/>", 1 },
	{ "<message type='chat'><body>hi</body></message>", 1 },
	{ "<message><body>hi</body></message>", 1 },
	{ "<message type='normal'><body>hi</body></message>", 1 },
	{ "<message type='normal'/>", 0 },
	{ "<message type='headline'><body>news</body></message>", 0 },
	{ "<message type='groupchat'><body>hi</body></message>", 0 },
	{ "<message type='chat'><body>x</body>"
	  "<private xmlns='urn:xmpp:carbons:2'/></message>", 0 },
	{ "<message type='chat'><body>x</body>"
	  "<no-copy xmlns='urn:xmpp:hints'/></message>", 0 },
	{ "<message><received xmlns='urn:xmpp:receipts' id='a'/></message>", 1 },
	{ "<message><active xmlns='http://jabber.org/protocol/chatstates'/>"
	  "</message>", 1 },
	{ "<message><displayed xmlns='urn:xmpp:chat-markers:0' id='a'/>"
	  "</message>", 1 },
	{ "<message><x xmlns='jabber:x:conference' jid='r@muc'/></message>", 1 },
	{ "<message><x xmlns='http://jabber.org/protocol/muc#user'>"
	  "<invite from='a@b'/></x></message>", 1 },
	{ "<message><x xmlns='http://jabber.org/protocol/muc#user'/></message>",
	  0 },
	{ "<message type='error'><body>x</body></message>", 1 },
	{ "<message type='error'/>", 0 },
	{ "<message type='chat'><sent xmlns='urn:xmpp:carbons:2'/></message>",
	  0 },
};

START_TEST(test_eligible)
{
	struct stanza	*st;

	st = xmlp_parse_stanza(cases[_i].xml, strlen(cases[_i].xml));
	ck_assert_ptr_nonnull(st);
	ck_assert_msg(carbons_eligible(st) == (cases[_i].eligible != 0),
	    "wrong answer for %s", cases[_i].xml);
	stanza_unref(st);
}
END_TEST

START_TEST(test_wrap)
{
	const char	*xml = "<message type='chat' from='b@d/r' to='a@d'>"
			    "<body>hi &amp; bye</body></message>";
	struct stanza	*st, *w;
	char		*out;

	st = xmlp_parse_stanza(xml, strlen(xml));
	ck_assert_ptr_nonnull(st);
	w = carbons_wrap(st, "received", "a@d", "a@d/phone");
	out = stanza_serialize(w, "jabber:client", NULL);
	ck_assert_str_eq(out,
	    "<message from='a@d' to='a@d/phone' type='chat'>"
	    "<received xmlns='urn:xmpp:carbons:2'>"
	    "<forwarded xmlns='urn:xmpp:forward:0'>"
	    "<message xmlns='jabber:client' type='chat' from='b@d/r' to='a@d'>"
	    "<body>hi &amp; bye</body></message></forwarded></received>"
	    "</message>");
	free(out);
	stanza_unref(w);
	stanza_unref(st);
}
END_TEST

static Suite *
carbons_suite(void)
{
	Suite	*s = suite_create("carbons");
	TCase	*tc = tcase_create("rules");

	tcase_add_loop_test(tc, test_eligible, 0,
	    (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_wrap);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(carbons_suite)
