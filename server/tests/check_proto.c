/*
 * check_proto.c: stanza error replies and helpers.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "stanza.h"
#include "xmlp.h"
#include "xmppd.h"

#include "check_main.h"

static struct stanza *
parse(const char *xml)
{
	struct stanza	*st = xmlp_parse_stanza(xml, strlen(xml));

	ck_assert_ptr_nonnull(st);
	return st;
}

START_TEST(proto_error_swaps_and_types)
{
	struct stanza	*in, *err, *e;

	in = parse("<iq type='get' id='x1' from='a@d/r' to='b@d'>"
	    "<query xmlns='jabber:iq:version'/></iq>");
	err = proto_error(in, "service-unavailable");
	ck_assert_str_eq(stanza_attr(err, "type"), "error");
	ck_assert_str_eq(stanza_attr(err, "id"), "x1");
	ck_assert_str_eq(stanza_attr(err, "to"), "a@d/r");
	ck_assert_str_eq(stanza_attr(err, "from"), "b@d");
	ck_assert_ptr_nonnull(stanza_child(err, "query", NS_VERSION));
	e = stanza_child(err, "error", NS_CLIENT);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(stanza_attr(e, "type"), "cancel");
	ck_assert_ptr_nonnull(stanza_child(e, "service-unavailable",
	    NS_STANZA_ERR));
	stanza_unref(err);

	err = proto_error(in, "jid-malformed");
	e = stanza_child(err, "error", NS_CLIENT);
	ck_assert_str_eq(stanza_attr(e, "type"), "modify");
	stanza_unref(err);
	stanza_unref(in);
}
END_TEST

START_TEST(proto_never_answers_an_error)
{
	struct stanza	*in = parse("<message type='error' to='a@d'/>");

	ck_assert_ptr_null(proto_error(in, "service-unavailable"));
	stanza_unref(in);
}
END_TEST

START_TEST(proto_error_text_after_condition)
{
	struct stanza	*in, *err, *e, *c;

	in = parse("<iq type='set' id='m1' from='a@d/r' to='a@d'/>");
	err = proto_error_text(in, "bad-request", "bad RSM <max/>");
	e = stanza_child(err, "error", NS_CLIENT);
	c = stanza_first_child(e);
	ck_assert_str_eq(stanza_name(c), "bad-request");
	c = stanza_next(c);
	ck_assert_str_eq(stanza_name(c), "text");
	ck_assert_str_eq(stanza_ns(c), NS_STANZA_ERR);
	ck_assert_str_eq(stanza_text(c), "bad RSM <max/>");
	stanza_unref(err);
	err = proto_error_text(in, "bad-request", NULL);
	e = stanza_child(err, "error", NS_CLIENT);
	ck_assert_ptr_null(stanza_child(e, "text", NULL));
	stanza_unref(err);
	stanza_unref(in);
}
END_TEST

START_TEST(proto_is_stanza_kinds)
{
	struct stanza	*m = parse("<message/>"), *x = parse("<r xmlns='urn:xmpp:sm:3'/>");

	ck_assert(proto_is_stanza(m));
	ck_assert(!proto_is_stanza(x));
	stanza_unref(m);
	stanza_unref(x);
}
END_TEST

START_TEST(proto_ids_and_delay)
{
	char		 a[17], b[17];
	struct stanza	*m = parse("<message/>"), *d;

	proto_random_id(a);
	proto_random_id(b);
	ck_assert_uint_eq(strlen(a), 16);
	ck_assert_str_ne(a, b);
	proto_add_delay(m, "example.org", 1700000000123LL);
	d = stanza_child(m, "delay", NS_DELAY);
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(stanza_attr(d, "stamp"), "2023-11-14T22:13:20.123Z");
	ck_assert_str_eq(stanza_attr(d, "from"), "example.org");
	stanza_unref(m);
}
END_TEST

START_TEST(proto_parse_stanza_rejects_two)
{
	ck_assert_ptr_null(xmlp_parse_stanza("<a/><b/>", 8));
	ck_assert_ptr_null(xmlp_parse_stanza("<a>", 3));
}
END_TEST

static Suite *
proto_suite(void)
{
	Suite	*s = suite_create("proto");
	TCase	*tc = tcase_create("proto");

	tcase_add_test(tc, proto_error_swaps_and_types);
	tcase_add_test(tc, proto_never_answers_an_error);
	tcase_add_test(tc, proto_error_text_after_condition);
	tcase_add_test(tc, proto_is_stanza_kinds);
	tcase_add_test(tc, proto_ids_and_delay);
	tcase_add_test(tc, proto_parse_stanza_rejects_two);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(proto_suite)
