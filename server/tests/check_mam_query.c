/* check_mam_query.c: XEP-0313 form and XEP-0059 paging parsed or refused. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mam_query.h"
#include "stanza.h"
#include "xmlp.h"

#include "check_main.h"

#define Q(body)	"<query xmlns='urn:xmpp:mam:2' queryid='q1'>" body "</query>"
#define FORM(fields) "<x xmlns='jabber:x:data' type='submit'>" \
	"<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value>" \
	"</field>" fields "</x>"
#define FIELD(var, val) "<field var='" var "'><value>" val "</value></field>"
#define RSM(body) "<set xmlns='http://jabber.org/protocol/rsm'>" body "</set>"

static int
parse(const char *xml, struct mam_query *q, const char **cond)
{
	struct stanza	*st = xmlp_parse_stanza(xml, strlen(xml));
	const char	*text = NULL;
	int		 rc;

	ck_assert_ptr_nonnull(st);
	*cond = NULL;
	rc = mam_query_parse(st, 50, q, cond, &text);
	if (rc == -1)
		ck_assert_ptr_nonnull(text);
	stanza_unref(st);
	return rc;
}

START_TEST(test_empty_query)
{
	struct mam_query	 q;
	const char		*cond;

	ck_assert_int_eq(parse(Q(""), &q, &cond), 0);
	ck_assert_str_eq(q.queryid, "q1");
	ck_assert_ptr_null(q.with);
	ck_assert_int_eq(q.start, INT64_MIN);
	ck_assert_int_eq(q.end, INT64_MAX);
	ck_assert_uint_eq(q.max, 50);
	ck_assert(!q.last_page);
	mam_query_clear(&q);
}
END_TEST

START_TEST(test_all_filters)
{
	struct mam_query	 q;
	const char		*cond;

	ck_assert_int_eq(parse(Q(FORM(
	    FIELD("with", "Juliet@Capulet.LIT")
	    FIELD("start", "2026-11-25T10:20:30Z")
	    FIELD("end", "2026-11-25T10:20:31.500Z")
	    FIELD("after-id", "a1") FIELD("before-id", "b1")
	    "<field var='ids'><value>i1</value><value>i2</value></field>")
	    RSM("<max>10</max>")), &q, &cond), 0);
	ck_assert_str_eq(q.with, "juliet@capulet.lit");
	ck_assert(q.with_bare);
	ck_assert_int_eq(q.start, 1795602030000LL);
	ck_assert_int_eq(q.end, 1795602031500LL);
	ck_assert_str_eq(q.after_id, "a1");
	ck_assert_str_eq(q.before_id, "b1");
	ck_assert_uint_eq(q.nids, 2);
	ck_assert_str_eq(q.ids[1], "i2");
	ck_assert_uint_eq(q.max, 10);
	mam_query_clear(&q);
}
END_TEST

START_TEST(test_full_jid_with)
{
	struct mam_query	 q;
	const char		*cond;

	ck_assert_int_eq(parse(Q(FORM(FIELD("with", "a@b/Phone"))), &q,
	    &cond), 0);
	ck_assert_str_eq(q.with, "a@b/Phone");
	ck_assert(!q.with_bare);
	mam_query_clear(&q);
}
END_TEST

START_TEST(test_rsm_paging)
{
	struct mam_query	 q;
	const char		*cond;

	ck_assert_int_eq(parse(Q(RSM("<max>500</max><before/>")), &q, &cond),
	    0);
	ck_assert(q.last_page);
	ck_assert_ptr_null(q.before_id);
	ck_assert_uint_eq(q.max, 50);	/* capped */
	mam_query_clear(&q);
	ck_assert_int_eq(parse(Q(RSM("<after>x9</after>") "<flip-page/>"),
	    &q, &cond), 0);
	ck_assert_str_eq(q.after_id, "x9");
	ck_assert(q.flip);
	mam_query_clear(&q);
	ck_assert_int_eq(parse(Q(RSM("<max>0</max>")), &q, &cond), 0);
	ck_assert_uint_eq(q.max, 0);
	mam_query_clear(&q);
}
END_TEST

static const struct {
	const char	*xml;
	const char	*cond;
} bad[] = {
	{ Q(FORM(FIELD("with", "@nodomain"))), "jid-malformed" },
	{ Q(FORM(FIELD("start", "yesterday"))), "bad-request" },
	{ Q(FORM(FIELD("end", "2026-11-25T10:20:30"))), "bad-request" },
	{ Q(FORM(FIELD("start", "2026-11-26T00:00:00Z")
	    FIELD("end", "2026-11-25T00:00:00Z"))), "bad-request" },
	{ Q(FORM(FIELD("{urn:xmpp:fulltext:0}fulltext", "x"))),
	  "feature-not-implemented" },
	{ Q("<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'>"
	    "<value>urn:xmpp:mam:1</value></field></x>"), "bad-request" },
	{ Q(FORM("<field var='with'/>")), "bad-request" },
	{ Q(FORM("<field><value>x</value></field>")), "bad-request" },
	{ Q(RSM("<max>-1</max>")), "bad-request" },
	{ Q(RSM("<max>ten</max>")), "bad-request" },
	{ Q(RSM("<max>99999999999999999999</max>")), "bad-request" },
	{ Q(RSM("<after/>")), "bad-request" },
	{ Q(RSM("<index>3</index>")), "feature-not-implemented" },
	{ Q("<x xmlns='jabber:x:data' type='form'/>"), "bad-request" },
};

START_TEST(test_refused)
{
	struct mam_query	 q;
	const char		*cond;

	ck_assert_int_eq(parse(bad[_i].xml, &q, &cond), -1);
	ck_assert_str_eq(cond, bad[_i].cond);
	/* A refused query leaves nothing to free. */
	ck_assert_ptr_null(q.queryid);
}
END_TEST

static Suite *
mam_query_suite(void)
{
	Suite	*s = suite_create("mam_query");
	TCase	*tc = tcase_create("parse");

	tcase_add_test(tc, test_empty_query);
	tcase_add_test(tc, test_all_filters);
	tcase_add_test(tc, test_full_jid_with);
	tcase_add_test(tc, test_rsm_paging);
	tcase_add_loop_test(tc, test_refused, 0,
	    (int)(sizeof(bad) / sizeof(bad[0])));
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(mam_query_suite)
