/*
 * check_stanza.c: element trees, namespaces, text, escaping, copies and
 * reference counts.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stanza.h"

#include "check_main.h"

#define NS_C	"jabber:client"

static void
assert_xml(const struct stanza *st, const char *ctx, const char *want)
{
	size_t	 len = 0;
	char	*got = stanza_serialize(st, ctx, &len);

	ck_assert_str_eq(got, want);
	ck_assert_uint_eq(len, strlen(want));
	free(got);
}

START_TEST(stanza_attrs)
{
	struct stanza	*st = stanza_new("message", NS_C);
	const char	*n, *v;

	ck_assert_str_eq(stanza_name(st), "message");
	ck_assert_str_eq(stanza_ns(st), NS_C);
	ck_assert_ptr_null(stanza_attr(st, "to"));
	stanza_set_attr(st, "to", "a@b");
	stanza_set_attr(st, "type", "chat");
	stanza_set_attr(st, "id", "1");
	stanza_set_attr(st, "to", "c@d");	/* replace keeps position */
	ck_assert_str_eq(stanza_attr(st, "to"), "c@d");
	ck_assert(stanza_attr_at(st, 0, &n, &v));
	ck_assert_str_eq(n, "to");
	ck_assert_str_eq(v, "c@d");
	stanza_set_attr(st, "type", NULL);
	stanza_set_attr(st, "nope", NULL);
	ck_assert_ptr_null(stanza_attr(st, "type"));
	ck_assert(stanza_attr_at(st, 1, &n, &v));
	ck_assert_str_eq(n, "id");
	ck_assert(!stanza_attr_at(st, 2, &n, &v));
	stanza_set_attr(st, "xml:lang", "en");
	ck_assert_str_eq(stanza_attr(st, "xml:lang"), "en");
	assert_xml(st, NS_C, "<message to='c@d' id='1' xml:lang='en'/>");
	stanza_unref(st);
}
END_TEST

START_TEST(stanza_many_attrs)
{
	struct stanza	*st = stanza_new("x", NULL);
	char		 name[16];
	int		 i;

	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "a%d", i);
		stanza_set_attr(st, name, name);
	}
	for (i = 0; i < 100; i += 2) {
		snprintf(name, sizeof(name), "a%d", i);
		stanza_set_attr(st, name, NULL);
	}
	ck_assert_ptr_null(stanza_attr(st, "a0"));
	ck_assert_str_eq(stanza_attr(st, "a99"), "a99");
	ck_assert(stanza_attr_at(st, 49, NULL, NULL));
	ck_assert(!stanza_attr_at(st, 50, NULL, NULL));
	stanza_unref(st);
}
END_TEST

START_TEST(stanza_children_and_ns)
{
	struct stanza	*iq = stanza_new("iq", NS_C);
	struct stanza	*q, *item, *c;

	q = stanza_new_child(iq, "query", "jabber:iq:roster");
	item = stanza_new_child(q, "item", NULL);
	stanza_new_child(q, "group", NULL);
	stanza_new_child(iq, "error", NULL);
	ck_assert_str_eq(stanza_ns(item), "jabber:iq:roster");
	ck_assert_ptr_eq(stanza_parent(item), q);
	ck_assert_ptr_eq(stanza_child(iq, "query", "jabber:iq:roster"), q);
	ck_assert_ptr_null(stanza_child(iq, "query", NS_C));
	ck_assert_ptr_eq(stanza_child(q, "item", "jabber:iq:roster"), item);
	ck_assert_ptr_eq(stanza_child(q, NULL, NULL), item);
	ck_assert_str_eq(stanza_name(stanza_child(iq, NULL, NS_C)), "error");
	c = stanza_first_child(q);
	ck_assert_ptr_eq(c, item);
	c = stanza_next(c);
	ck_assert_str_eq(stanza_name(c), "group");
	ck_assert_ptr_null(stanza_next(c));
	assert_xml(iq, NS_C, "<iq><query xmlns='jabber:iq:roster'><item/>"
	    "<group/></query><error/></iq>");
	assert_xml(iq, "jabber:server", "<iq xmlns='jabber:client'><query "
	    "xmlns='jabber:iq:roster'><item/><group/></query><error/></iq>");
	/* A subtree carries its inherited namespace along. */
	assert_xml(item, NS_C, "<item xmlns='jabber:iq:roster'/>");
	stanza_unref(iq);
}
END_TEST

START_TEST(stanza_ns_switches)
{
	struct stanza	*m = stanza_new("message", NS_C);
	struct stanza	*fwd, *inner, *bare;

	fwd = stanza_new_child(stanza_new_child(m, "sent",
	    "urn:xmpp:carbons:2"), "forwarded", "urn:xmpp:forward:0");
	inner = stanza_new_child(fwd, "message", NS_C);
	stanza_new_child(inner, "body", NULL);
	stanza_new_child(inner, "nons", "");
	assert_xml(m, NS_C, "<message><sent xmlns='urn:xmpp:carbons:2'>"
	    "<forwarded xmlns='urn:xmpp:forward:0'><message "
	    "xmlns='jabber:client'><body/><nons xmlns=''/></message>"
	    "</forwarded></sent></message>");
	/* The xml namespace can only be written with its prefix. */
	inner = stanza_new_child(m, "x",
	    "http://www.w3.org/XML/1998/namespace");
	stanza_new_child(inner, "y", NULL);
	stanza_new_child(inner, "z", "urn:z");
	assert_xml(inner, NS_C, "<xml:x><xml:y/><z xmlns='urn:z'/></xml:x>");
	assert_xml(inner, "urn:q", "<xml:x><xml:y/><z xmlns='urn:z'/></xml:x>");
	stanza_remove_child(m, inner);
	/* Detached and namespace-less: takes the context's. */
	bare = stanza_new("presence", NULL);
	ck_assert_str_eq(stanza_ns(bare), "");
	assert_xml(bare, NS_C, "<presence/>");
	assert_xml(bare, NULL, "<presence/>");
	stanza_unref(bare);
	stanza_unref(m);
}
END_TEST

START_TEST(stanza_text_mixed)
{
	struct stanza	*p = stanza_new("p", NULL);
	struct stanza	*b;

	ck_assert_str_eq(stanza_text(p), "");
	ck_assert_ptr_null(stanza_child_text(p, "b", NULL));
	stanza_add_text(p, "one ", 4);
	b = stanza_new_child(p, "b", NULL);
	stanza_add_text(b, "two", 3);
	stanza_add_text(p, " three", 6);
	stanza_new_child(p, "br", NULL);
	stanza_add_text(p, "xyz", 2);		/* len, not strlen */
	stanza_add_text(p, "", 0);
	ck_assert_str_eq(stanza_text(p), "one  threexy");
	ck_assert_str_eq(stanza_child_text(p, "b", NULL), "two");
	ck_assert_str_eq(stanza_child_text(p, "br", NULL), "");
	assert_xml(p, NULL, "<p>one <b>two</b> three<br/>xy</p>");
	stanza_unref(p);
}
END_TEST

START_TEST(stanza_long_text)
{
	struct stanza	*p = stanza_new("body", NULL);
	char		 chunk[1000];
	int		 i;

	memset(chunk, 'a', sizeof(chunk));
	for (i = 0; i < 100; i++)
		stanza_add_text(p, chunk, sizeof(chunk));
	ck_assert_uint_eq(strlen(stanza_text(p)), 100000);
	ck_assert_uint_ge(stanza_size(p), 100000);
	stanza_unref(p);
}
END_TEST

START_TEST(stanza_escaping)
{
	struct stanza	*st = stanza_new("body", NS_C);
	static const char text[] = "a&b<c>d\"e'f\r\n\tg";

	stanza_add_text(st, text, sizeof(text) - 1);
	stanza_set_attr(st, "v", "1&2<3>4\"5'6\t7\n8\r9");
	assert_xml(st, NS_C, "<body v='1&amp;2&lt;3&gt;4&quot;5&apos;6&#9;7"
	    "&#10;8&#13;9'>a&amp;b&lt;c&gt;d\"e'f&#13;\n\tg</body>");
	stanza_unref(st);
}
END_TEST

START_TEST(stanza_copy_deep)
{
	struct stanza	*m = stanza_new("message", NS_C);
	struct stanza	*body, *x, *cp, *xcp;
	char		*a, *b;

	stanza_set_attr(m, "to", "a@b");
	stanza_add_text(m, " ", 1);
	body = stanza_new_child(m, "body", NULL);
	stanza_add_text(body, "hi", 2);
	stanza_add_text(m, "\n", 1);
	x = stanza_new_child(m, "x", "urn:x");
	stanza_new_child(x, "y", NULL);
	cp = stanza_copy(m);
	ck_assert_ptr_null(stanza_parent(cp));
	a = stanza_serialize(m, NS_C, NULL);
	b = stanza_serialize(cp, NS_C, NULL);
	ck_assert_str_eq(a, b);
	free(b);
	/* Independent: changing the copy leaves the original alone. */
	stanza_set_attr(cp, "to", "c@d");
	stanza_add_text(stanza_child(cp, "body", NULL), "!", 1);
	ck_assert_str_eq(stanza_attr(m, "to"), "a@b");
	ck_assert_str_eq(stanza_child_text(m, "body", NULL), "hi");
	b = stanza_serialize(m, NS_C, NULL);
	ck_assert_str_eq(a, b);
	free(a);
	free(b);
	/* A copied inner element keeps the namespace it inherited. */
	xcp = stanza_copy(stanza_first_child(x));
	ck_assert_str_eq(stanza_ns(xcp), "urn:x");
	assert_xml(xcp, NS_C, "<y xmlns='urn:x'/>");
	stanza_unref(xcp);
	stanza_unref(cp);
	stanza_unref(m);
}
END_TEST

START_TEST(stanza_refcounts)
{
	struct stanza	*m = stanza_new("message", NS_C);
	struct stanza	*body = stanza_new_child(m, "body", NULL);

	ck_assert_ptr_eq(stanza_ref(m), m);
	stanza_unref(m);		/* one left */
	ck_assert_str_eq(stanza_name(m), "message");
	/* A child someone still holds outlives its parent. */
	stanza_ref(body);
	stanza_unref(m);
	ck_assert_ptr_null(stanza_parent(body));
	ck_assert_str_eq(stanza_name(body), "body");
	stanza_unref(body);
	stanza_unref(NULL);
}
END_TEST

START_TEST(stanza_remove)
{
	struct stanza	*p = stanza_new("p", "urn:p");
	struct stanza	*a, *b, *c;

	a = stanza_new_child(p, "a", NULL);
	b = stanza_new_child(p, "b", NULL);
	c = stanza_new_child(p, "c", NULL);
	stanza_ref(c);
	stanza_remove_child(p, c);	/* the last one */
	ck_assert_ptr_null(stanza_parent(c));
	ck_assert_str_eq(stanza_ns(c), "urn:p");	/* still resolved */
	stanza_new_child(p, "d", NULL);		/* appends after b */
	stanza_remove_child(p, a);		/* the first one */
	ck_assert_ptr_eq(stanza_first_child(p), b);
	assert_xml(p, "urn:p", "<p><b/><d/></p>");
	stanza_remove_child(p, b);
	stanza_remove_child(p, stanza_first_child(p));
	ck_assert_ptr_null(stanza_first_child(p));
	assert_xml(p, "urn:p", "<p/>");
	stanza_new_child(p, "e", NULL);
	assert_xml(p, "urn:p", "<p><e/></p>");
	assert_xml(c, "urn:q", "<c xmlns='urn:p'/>");
	stanza_unref(c);
	stanza_unref(p);
}
END_TEST

START_TEST(stanza_sizes)
{
	struct stanza	*m = stanza_new("message", NS_C);
	size_t		 s0 = stanza_size(m), s1;

	ck_assert_uint_gt(s0, strlen("message") + strlen(NS_C));
	stanza_set_attr(m, "to", "someone@example.org");
	s1 = stanza_size(m);
	ck_assert_uint_ge(s1, s0 + strlen("someone@example.org"));
	stanza_add_text(stanza_new_child(m, "body", NULL), "0123456789", 10);
	ck_assert_uint_ge(stanza_size(m), s1 + 10 + strlen("body"));
	stanza_unref(m);
}
END_TEST

static Suite *
stanza_suite(void)
{
	Suite	*s = suite_create("stanza");
	TCase	*tc;

	tc = tcase_create("attrs");
	tcase_add_test(tc, stanza_attrs);
	tcase_add_test(tc, stanza_many_attrs);
	suite_add_tcase(s, tc);
	tc = tcase_create("tree");
	tcase_add_test(tc, stanza_children_and_ns);
	tcase_add_test(tc, stanza_ns_switches);
	tcase_add_test(tc, stanza_text_mixed);
	tcase_add_test(tc, stanza_long_text);
	tcase_add_test(tc, stanza_remove);
	suite_add_tcase(s, tc);
	tc = tcase_create("serialize");
	tcase_add_test(tc, stanza_escaping);
	suite_add_tcase(s, tc);
	tc = tcase_create("memory");
	tcase_add_test(tc, stanza_copy_deep);
	tcase_add_test(tc, stanza_refcounts);
	tcase_add_test(tc, stanza_sizes);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(stanza_suite)
