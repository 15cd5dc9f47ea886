/* check_jid.c: RFC 7622 structure and RFC 6122 stringprep normalisation. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "jid.h"

#include "check_main.h"

static const struct {
	const char	*in;
	const char	*out;	/* jid_full() of the result; NULL: rejected */
} cases[] = {
	{ "example.com", "example.com" },
	{ "user@example.com", "user@example.com" },
	{ "user@example.com/res", "user@example.com/res" },
	{ "example.com/res", "example.com/res" },
	{ "Alice@Example.COM/Res", "alice@example.com/Res" },
	{ "\xc3\x84LICE@example.com", "\xc3\xa4lice@example.com" },
	{ "user@example.com.", "user@example.com" },	/* one dot stripped */
	{ "user@example.com/a/b@c", "user@example.com/a/b@c" },
	{ "user@example.com/ spaced res", "user@example.com/ spaced res" },
	{ "d/u@x", "d/u@x" },				/* '@' in resource */
	{ "user@127.0.0.1", "user@127.0.0.1" },
	{ "user@[::1]", "user@[::1]" },
	{ "user@[0:0:0:0:0:0:0:1]/r", "user@[::1]/r" },
	{ "user@[2001:DB8::1]", "user@[2001:db8::1]" },
	{ "b\xc3\xbc" "cher.example", "b\xc3\xbc" "cher.example" },
	{ "xn--bcher-kva.example", "b\xc3\xbc" "cher.example" },
	{ "XN--BCHER-KVA.example", "b\xc3\xbc" "cher.example" },
	{ "a\xe3\x80\x82" "example", "a.example" },	/* U+3002 is a dot */
	{ "a\xef\xbc\x8e" "example", "a.example" },	/* U+FF0E too */
	{ "a\xef\xbd\xa1" "example", "a.example" },	/* and U+FF61 */
	/* Bidi rules hold per label: RTL next to LTR labels is fine. */
	{ "u@\xd9\x85\xd8\xab\xd8\xa7\xd9\x84.example",
	    "u@\xd9\x85\xd8\xab\xd8\xa7\xd9\x84.example" },
	{ "u@xn--mgbh0fb.example",
	    "u@\xd9\x85\xd8\xab\xd8\xa7\xd9\x84.example" },
	{ "u@a-b.example", "u@a-b.example" },
	{ "\xef\xbc\xa1@example.com", "a@example.com" },	/* fullwidth A */
	{ "u\xc2\xad" "ser@example.com", "user@example.com" },	/* SHY gone */
	{ "", NULL },
	{ "@example.com", NULL },
	{ "user@", NULL },
	{ "user@example.com/", NULL },
	{ "example.com/", NULL },
	{ "@", NULL },
	{ "/", NULL },
	{ "/res", NULL },
	{ "user@/res", NULL },
	{ "a@b@example.com", NULL },
	{ "user@exa mple.com", NULL },
	{ "user@exa_mple.com", NULL },
	{ "user@-example.com", NULL },
	{ "user@example-.com", NULL },
	{ "user@example..com", NULL },
	{ "user@.example.com", NULL },
	{ "user@example.com..", NULL },
	{ "user@.", NULL },
	{ "user@xn--zz.example", NULL },		/* bad A-label */
	{ "user@a\xe2\x80\xa4" "b.example", NULL },	/* prep makes a '.' */
	{ "u@\xd9\x85" "a.example", NULL },		/* RTL and LTR mixed */
	{ "user@[::1", NULL },
	{ "user@[not-ip]", NULL },
	{ "user@[1.2.3.4]", NULL },
	{ "user@[]", NULL },
	{ "us\"er@example.com", NULL },
	{ "us&er@example.com", NULL },
	{ "us'er@example.com", NULL },
	{ "us<er@example.com", NULL },
	{ "us>er@example.com", NULL },
	{ "us:er@example.com", NULL },
	{ "us er@example.com", NULL },
	{ "\xc2\xad@example.com", NULL },		/* maps to nothing */
	{ "user@example.com/\xc2\xad", NULL },
	{ "user@example.com/a\x01", NULL },		/* control char */
	{ "us\xff" "er@example.com", NULL },		/* not UTF-8 */
	{ "user@example.com/\xc0\xaf", NULL },		/* overlong '/' */
	{ "user@exa\xed\xa0\x80mple.com", NULL },	/* surrogate */
	{ "\xc3@example.com", NULL },			/* truncated */
	{ "user@example.com/\xe2\x80\xae", NULL },	/* RTL override */
};

START_TEST(test_parse_table)
{
	struct jid	j;
	char		buf[JID_MAX + 1];
	int		rc = jid_parse(cases[_i].in, &j);

	if (cases[_i].out == NULL) {
		ck_assert_msg(rc == -1, "accepted \"%s\" as \"%s\"",
		    cases[_i].in, jid_full(&j, buf, sizeof(buf)));
		ck_assert_str_eq(j.domain, "");
	} else {
		ck_assert_msg(rc == 0, "rejected \"%s\"", cases[_i].in);
		ck_assert_str_eq(jid_full(&j, buf, sizeof(buf)),
		    cases[_i].out);
	}
}
END_TEST

/* A string of n copies of c. */
static char *
fill(char *buf, int c, size_t n)
{
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

START_TEST(test_part_lengths)
{
	static char	part[JID_PART_MAX + 2], in[JID_MAX + 64];
	char		out[JID_MAX + 1];
	struct jid	j;

	fill(part, 'a', JID_PART_MAX);
	snprintf(in, sizeof(in), "%s@example.com/%s", part, part);
	ck_assert_int_eq(jid_parse(in, &j), 0);
	ck_assert_uint_eq(strlen(j.local), JID_PART_MAX);
	ck_assert_uint_eq(strlen(j.resource), JID_PART_MAX);
	ck_assert_str_eq(jid_full(&j, out, sizeof(out)), in);

	fill(part, 'a', JID_PART_MAX + 1);
	snprintf(in, sizeof(in), "%s@example.com", part);
	ck_assert_int_eq(jid_parse(in, &j), -1);
	snprintf(in, sizeof(in), "u@example.com/%s", part);
	ck_assert_int_eq(jid_parse(in, &j), -1);
	ck_assert_int_eq(jid_prep_local(part, out, sizeof(out)), -1);
	ck_assert_int_eq(jid_prep_resource(part, out, sizeof(out)), -1);
}
END_TEST

/* Labels are capped at 63 octets; a domain at 1023 bytes overall. */
START_TEST(test_domain_lengths)
{
	char		label[70], in[JID_MAX + 64];
	struct jid	j;
	size_t		n = 0;

	snprintf(in, sizeof(in), "%s.example", fill(label, 'x', 63));
	ck_assert_int_eq(jid_parse(in, &j), 0);
	snprintf(in, sizeof(in), "%s.example", fill(label, 'x', 64));
	ck_assert_int_eq(jid_parse(in, &j), -1);

	fill(label, 'x', 63);
	while (n + 64 <= JID_PART_MAX)		/* 16 labels: 1023 bytes */
		n += snprintf(in + n, sizeof(in) - n, "%s%s", n ? "." : "",
		    label);
	ck_assert_uint_eq(n, JID_PART_MAX);
	ck_assert_int_eq(jid_parse(in, &j), 0);
	snprintf(in + n, sizeof(in) - n, ".x");
	ck_assert_int_eq(jid_parse(in, &j), -1);
}
END_TEST

START_TEST(test_prep_helpers)
{
	char	buf[JID_PART_MAX + 1], small[4];

	ck_assert_int_eq(jid_prep_local("\xc3\x84LICE", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "\xc3\xa4lice");
	snprintf(buf, sizeof(buf), "MiXeD");
	ck_assert_int_eq(jid_prep_local(buf, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "mixed");
	ck_assert_int_eq(jid_prep_local("a@b", buf, sizeof(buf)), -1);
	ck_assert_int_eq(jid_prep_local("", buf, sizeof(buf)), -1);
	ck_assert_int_eq(jid_prep_local("abcd", small, sizeof(small)), -1);
	ck_assert_int_eq(jid_prep_local("abc", small, sizeof(small)), 0);
	ck_assert_str_eq(small, "abc");

	ck_assert_int_eq(jid_prep_resource("Gajim Home", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "Gajim Home");		/* case kept */
	ck_assert_int_eq(jid_prep_resource("a/b@c", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "a/b@c");
	ck_assert_int_eq(jid_prep_resource("", buf, sizeof(buf)), -1);
	ck_assert_int_eq(jid_prep_resource("a\nb", buf, sizeof(buf)), -1);
}
END_TEST

START_TEST(test_bare_full)
{
	struct jid	j;
	char		buf[JID_MAX + 1], tiny[8];

	ck_assert_int_eq(jid_parse("Juliet@Capulet.example/Balcony", &j), 0);
	ck_assert(!jid_is_bare(&j));
	ck_assert_str_eq(j.local, "juliet");
	ck_assert_str_eq(j.domain, "capulet.example");
	ck_assert_str_eq(j.resource, "Balcony");
	ck_assert_str_eq(jid_bare(&j, buf, sizeof(buf)),
	    "juliet@capulet.example");
	ck_assert_str_eq(jid_full(&j, buf, sizeof(buf)),
	    "juliet@capulet.example/Balcony");
	/* A short buffer truncates but stays terminated. */
	ck_assert_str_eq(jid_full(&j, tiny, sizeof(tiny)), "juliet@");

	ck_assert_int_eq(jid_parse("capulet.example", &j), 0);
	ck_assert(jid_is_bare(&j));
	ck_assert_str_eq(jid_bare(&j, buf, sizeof(buf)), "capulet.example");
	ck_assert_str_eq(jid_full(&j, buf, sizeof(buf)), "capulet.example");
}
END_TEST

START_TEST(test_bare_eq)
{
	struct jid	a, b;

	ck_assert_int_eq(jid_parse("ROMEO@Montague.Example/orchard", &a), 0);
	ck_assert_int_eq(jid_parse("romeo@montague.example./church", &b), 0);
	ck_assert(jid_bare_eq(&a, &b));
	ck_assert_int_eq(jid_parse("romeo@montague.example", &b), 0);
	ck_assert(jid_bare_eq(&a, &b));
	ck_assert_int_eq(jid_parse("juliet@montague.example", &b), 0);
	ck_assert(!jid_bare_eq(&a, &b));
	ck_assert_int_eq(jid_parse("romeo@capulet.example", &b), 0);
	ck_assert(!jid_bare_eq(&a, &b));
	ck_assert_int_eq(jid_parse("montague.example", &b), 0);
	ck_assert(!jid_bare_eq(&a, &b));
}
END_TEST

START_TEST(test_null_and_huge)
{
	static char	huge[JID_MAX * 3];
	struct jid	j;

	ck_assert_int_eq(jid_parse(NULL, &j), -1);
	fill(huge, 'a', sizeof(huge) - 1);
	ck_assert_int_eq(jid_parse(huge, &j), -1);
}
END_TEST

static Suite *
jid_suite(void)
{
	Suite	*s = suite_create("jid");
	TCase	*tc = tcase_create("parse");

	tcase_add_loop_test(tc, test_parse_table, 0,
	    sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_part_lengths);
	tcase_add_test(tc, test_domain_lengths);
	tcase_add_test(tc, test_null_and_huge);
	suite_add_tcase(s, tc);
	tc = tcase_create("helpers");
	tcase_add_test(tc, test_prep_helpers);
	tcase_add_test(tc, test_bare_full);
	tcase_add_test(tc, test_bare_eq);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(jid_suite)
