/*
 * check_config.c: every keyword parses into its field, every kind of
 * error names file:line exactly, quoting, comments and CRLF, size
 * suffixes, config_check's cross-field rules and the devel default.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#include "check_main.h"

static char	tmp_path[64];

/* Write text to a fresh file and load it over defaults. */
static int
load_text(struct config *cfg, const char *text, char **err)
{
	FILE	*f;
	int	 fd;

	strcpy(tmp_path, "/tmp/check_config.XXXXXX");
	ck_assert_int_ne(fd = mkstemp(tmp_path), -1);
	ck_assert_ptr_nonnull(f = fdopen(fd, "w"));
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
	config_defaults(cfg);
	return config_load(tmp_path, cfg, err);
}

static void
unload(struct config *cfg, char *err)
{
	unlink(tmp_path);
	free(err);
	config_free(cfg);
}

static void
assert_listen(const struct config_listen *l, const char *addr, int port,
    bool tls)
{
	ck_assert_str_eq(l->addr, addr);
	ck_assert_int_eq(l->port, port);
	ck_assert_int_eq(l->direct_tls, tls);
}

static const char good_base[] =
    "domain jabber.example.org\n"
    "listen 0.0.0.0 5222\n"
    "listen :: 5223 tls\n"
    "certificate /etc/xmppd/cert.pem\n"
    "key /etc/xmppd/key.pem\n"
    "users-file /var/lib/misc/users.txt\n"
    "realm rtc.debian.org\n";

START_TEST(test_defaults)
{
	struct config	cfg;

	config_defaults(&cfg);
	ck_assert_ptr_null(cfg.domain);
	ck_assert_uint_eq(cfg.nlisten, 0);
	ck_assert_str_eq(cfg.state_dir, "/var/lib/xmppd");
	ck_assert_str_eq(cfg.login_suffix, "");
	ck_assert_ptr_null(cfg.user);
	ck_assert(!cfg.selfsigned);
	ck_assert_int_eq(cfg.auth, CONFIG_AUTH_FILE);
	ck_assert_uint_eq(cfg.auth_rate_address, 20);
	ck_assert_uint_eq(cfg.auth_rate_account, 5);
	ck_assert_uint_eq(cfg.auth_rate_window, 60);
	ck_assert_uint_eq(cfg.auth_slow_account, 5);
	ck_assert_uint_eq(cfg.auth_slow_delay, 2000);
	ck_assert_uint_eq(cfg.max_stanza_size, 262144);
	ck_assert_uint_eq(cfg.max_depth, 32);
	ck_assert_uint_eq(cfg.max_attributes, 64);
	ck_assert_uint_eq(cfg.output_max_unauth, 65536);
	ck_assert_uint_eq(cfg.output_max, 4 * 1048576);
	ck_assert_uint_eq(cfg.rate_bytes_unauth, 10240);
	ck_assert_uint_eq(cfg.rate_bytes, 65536);
	ck_assert_uint_eq(cfg.rate_stanzas_unauth, 10);
	ck_assert_uint_eq(cfg.rate_stanzas, 50);
	ck_assert_uint_eq(cfg.rate_burst, 2);
	ck_assert_uint_eq(cfg.auth_timeout, 60);
	ck_assert_uint_eq(cfg.idle_timeout, 600);
	ck_assert_uint_eq(cfg.keepalive, 60);
	ck_assert_uint_eq(cfg.max_offline, 1000);
	ck_assert_uint_eq(cfg.max_offline_mb, 64);
	ck_assert_uint_eq(cfg.store_reserve, 16);
	ck_assert_uint_eq(cfg.max_sessions_per_user, 10);
	ck_assert_uint_eq(cfg.radius_timeout, 2000);
	ck_assert_uint_eq(cfg.radius_retries, 2);
	ck_assert_uint_eq(cfg.sm_hibernate, 300);
	ck_assert_uint_eq(cfg.sm_queue_max, 1000);
	ck_assert_uint_eq(cfg.sm_resume_memory, 4096);
	ck_assert_uint_eq(cfg.max_directed_presence, 100);
	ck_assert_uint_eq(cfg.max_roster_items, 1000);
	ck_assert_int_eq(cfg.mam_default, CONFIG_MAM_ALWAYS);
	ck_assert_uint_eq(cfg.mam_retention_days, 0);
	ck_assert_uint_eq(cfg.mam_max_page, 100);
	ck_assert_uint_eq(cfg.mam_queries_per_turn, 8);
	ck_assert_uint_eq(cfg.mam_quota_rows, 100000);
	ck_assert_uint_eq(cfg.mam_quota_mb, 100);
	config_free(&cfg);
}
END_TEST

START_TEST(test_every_keyword)
{
	static const char text[] =
	    "domain jabber.example.org\n"
	    "listen 0.0.0.0 5222\n"
	    "listen :: 5222\n"
	    "listen 192.0.2.10 5223 tls\n"
	    "listen 2001:db8:0:0::10 0 tls\n"
	    "certificate /etc/xmppd/cert.pem\n"
	    "key /etc/xmppd/key.pem\n"
	    "selfsigned yes\n"
	    "state-dir /srv/xmppd\n"
	    "user xmppd\n"
	    "auth radius\n"
	    "users-file /var/lib/misc/users.txt\n"
	    "realm rtc.debian.org\n"
	    "login-suffix @debian.org\n"
	    "auth-rate-address 7\n"
	    "auth-rate-account 3\n"
	    "auth-rate-window 120\n"
	    "radius-server 192.0.2.53\n"
	    "radius-server 2001:db8::53 11812\n"
	    "radius-secret-file /etc/xmppd/radius.secret\n"
	    "radius-timeout 500\n"
	    "radius-retries 4\n"
	    "max-stanza-size 65536\n"
	    "max-depth 16\n"
	    "max-attributes 40\n"
	    "output-max-unauth 16k\n"
	    "output-max 8M\n"
	    "rate-bytes-unauth 2048\n"
	    "rate-bytes 0\n"
	    "rate-stanzas-unauth 5\n"
	    "rate-stanzas 100\n"
	    "rate-burst 4\n"
	    "auth-timeout 30\n"
	    "idle-timeout 900\n"
	    "keepalive 45\n"
	    "max-offline 50\n"
	    "max-offline-mb 0\n"
	    "store-reserve 4\n"
	    "max-sessions-per-user 3\n"
	    "sm-hibernate 0\n"
	    "sm-queue-max 200\n"
	    "sm-resume-memory 64\n"
	    "max-directed-presence 20\n"
	    "max-roster-items 300\n"
	    "mam-default roster\n"
	    "mam-retention-days 365\n"
	    "mam-max-page 20\n"
	    "mam-queries-per-turn 2\n"
	    "mam-quota-rows 0\n"
	    "mam-quota-mb 10\n"
	    "port-file /run/xmppd/ports\n";
	struct config	 cfg;
	char		*err;

	ck_assert_int_eq(load_text(&cfg, text, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_str_eq(cfg.path, tmp_path);
	ck_assert_str_eq(cfg.domain, "jabber.example.org");
	ck_assert_uint_eq(cfg.nlisten, 4);
	assert_listen(&cfg.listen[0], "0.0.0.0", 5222, false);
	assert_listen(&cfg.listen[1], "::", 5222, false);
	assert_listen(&cfg.listen[2], "192.0.2.10", 5223, true);
	/* Stored canonical, so equal addresses compare equal. */
	assert_listen(&cfg.listen[3], "2001:db8::10", 0, true);
	ck_assert_str_eq(cfg.certificate, "/etc/xmppd/cert.pem");
	ck_assert_str_eq(cfg.key, "/etc/xmppd/key.pem");
	ck_assert(cfg.selfsigned);
	ck_assert_str_eq(cfg.state_dir, "/srv/xmppd");
	ck_assert_str_eq(cfg.user, "xmppd");
	ck_assert_int_eq(cfg.auth, CONFIG_AUTH_RADIUS);
	ck_assert_str_eq(cfg.users_file, "/var/lib/misc/users.txt");
	ck_assert_str_eq(cfg.realm, "rtc.debian.org");
	ck_assert_str_eq(cfg.login_suffix, "@debian.org");
	ck_assert_uint_eq(cfg.auth_rate_address, 7);
	ck_assert_uint_eq(cfg.auth_rate_account, 3);
	ck_assert_uint_eq(cfg.auth_rate_window, 120);
	ck_assert_uint_eq(cfg.nradius, 2);
	ck_assert_str_eq(cfg.radius[0].addr, "192.0.2.53");
	ck_assert_int_eq(cfg.radius[0].port, 1812);
	ck_assert_str_eq(cfg.radius[1].addr, "2001:db8::53");
	ck_assert_int_eq(cfg.radius[1].port, 11812);
	ck_assert_str_eq(cfg.radius_secret_file, "/etc/xmppd/radius.secret");
	ck_assert_uint_eq(cfg.radius_timeout, 500);
	ck_assert_uint_eq(cfg.radius_retries, 4);
	ck_assert_uint_eq(cfg.max_stanza_size, 65536);
	ck_assert_uint_eq(cfg.max_depth, 16);
	ck_assert_uint_eq(cfg.max_attributes, 40);
	ck_assert_uint_eq(cfg.output_max_unauth, 16384);
	ck_assert_uint_eq(cfg.output_max, 8 * 1048576);
	ck_assert_uint_eq(cfg.rate_bytes_unauth, 2048);
	ck_assert_uint_eq(cfg.rate_bytes, 0);
	ck_assert_uint_eq(cfg.rate_stanzas_unauth, 5);
	ck_assert_uint_eq(cfg.rate_stanzas, 100);
	ck_assert_uint_eq(cfg.rate_burst, 4);
	ck_assert_uint_eq(cfg.auth_timeout, 30);
	ck_assert_uint_eq(cfg.idle_timeout, 900);
	ck_assert_uint_eq(cfg.keepalive, 45);
	ck_assert_uint_eq(cfg.max_offline, 50);
	ck_assert_uint_eq(cfg.max_offline_mb, 0);
	ck_assert_uint_eq(cfg.store_reserve, 4);
	ck_assert_uint_eq(cfg.max_sessions_per_user, 3);
	ck_assert_uint_eq(cfg.sm_hibernate, 0);
	ck_assert_uint_eq(cfg.sm_queue_max, 200);
	ck_assert_uint_eq(cfg.sm_resume_memory, 64);
	ck_assert_uint_eq(cfg.max_directed_presence, 20);
	ck_assert_uint_eq(cfg.max_roster_items, 300);
	ck_assert_int_eq(cfg.mam_default, CONFIG_MAM_ROSTER);
	ck_assert_uint_eq(cfg.mam_retention_days, 365);
	ck_assert_uint_eq(cfg.mam_max_page, 20);
	ck_assert_uint_eq(cfg.mam_queries_per_turn, 2);
	ck_assert_uint_eq(cfg.mam_quota_rows, 0);
	ck_assert_uint_eq(cfg.mam_quota_mb, 10);
	ck_assert_str_eq(cfg.port_file, "/run/xmppd/ports");
	ck_assert_int_eq(config_check(&cfg, &err), 0);
	unload(&cfg, err);
}
END_TEST

START_TEST(test_quoting_comments_crlf)
{
	static const char text[] =
	    "# a comment line\r\n"
	    "\r\n"
	    "   \t  \r\n"
	    "domain \"jabber.example.org\"   # trailing comment\r\n"
	    "certificate \"/etc/x mppd/c#ert.pem\"\r\n"
	    "key \"/etc/\\\"q\\\"/\\\\k.pem\"\r\n"
	    "login-suffix \"\"\r\n"
	    "realm rtc.debian.org#comment right after a word\r\n"
	    "\tlisten\t127.0.0.1\t5222\t\r\n"
	    "users-file \"/u.txt\"#comment\n"
	    "state-dir /var/lib/xmppd";		/* no final newline */
	struct config	 cfg;
	char		*err;

	ck_assert_int_eq(load_text(&cfg, text, &err), 0);
	ck_assert_str_eq(cfg.domain, "jabber.example.org");
	ck_assert_str_eq(cfg.certificate, "/etc/x mppd/c#ert.pem");
	ck_assert_str_eq(cfg.key, "/etc/\"q\"/\\k.pem");
	ck_assert_str_eq(cfg.login_suffix, "");
	ck_assert_str_eq(cfg.realm, "rtc.debian.org");
	ck_assert_uint_eq(cfg.nlisten, 1);
	ck_assert_int_eq(cfg.listen[0].port, 5222);
	ck_assert_str_eq(cfg.users_file, "/u.txt");
	ck_assert_str_eq(cfg.state_dir, "/var/lib/xmppd");
	unload(&cfg, err);
}
END_TEST

static const struct {
	const char	*value;
	size_t		 bytes;
} sizes[] = {
	{ "300000", 300000 },
	{ "256k", 262144 },
	{ "16K", 16384 },
	{ "1M", 1048576 },
	{ "64M", 64 * 1048576 },
	{ "4096", 4096 },
};

START_TEST(test_size_suffixes)
{
	struct config	 cfg;
	char		 text[64], *err;

	snprintf(text, sizeof(text), "max-stanza-size %s\n",
	    sizes[_i].value);
	ck_assert_int_eq(load_text(&cfg, text, &err), 0);
	ck_assert_uint_eq(cfg.max_stanza_size, sizes[_i].bytes);
	unload(&cfg, err);
}
END_TEST

/* Each bad input is on line 3 after two good lines, with its exact error. */
static const struct {
	const char	*line;
	const char	*error;
} bad[] = {
	{ "no-such-keyword 1", "unknown keyword \"no-such-keyword\"" },
	{ "domain", "domain: missing argument" },
	{ "domain a.example b.example", "domain: too many arguments" },
	{ "max-depth 1 2 3 4 5 6 7 8 9 10", "max-depth: too many arguments" },
	{ "realm x", "realm: duplicate, first set on line 1" },
	{ "max-depth banana", "max-depth: \"banana\" is not a number" },
	{ "max-depth -1", "max-depth: \"-1\" is not a number" },
	{ "max-depth 0x10", "max-depth: \"0x10\" is not a number" },
	{ "max-depth 99999999999999999999999",
	    "max-depth: \"99999999999999999999999\" is not a number" },
	{ "max-depth 1", "max-depth: 1 is out of range 2..1000" },
	{ "idle-timeout 0", "idle-timeout: 0 is out of range 1..86400" },
	{ "sm-resume-memory 0",
	    "sm-resume-memory: 0 is out of range 1..1000000" },
	{ "max-directed-presence 0",
	    "max-directed-presence: 0 is out of range 1..100000" },
	{ "max-roster-items 100001",
	    "max-roster-items: 100001 is out of range 1..100000" },
	{ "mam-queries-per-turn 0",
	    "mam-queries-per-turn: 0 is out of range 1..10000" },
	{ "mam-quota-mb 1048577",
	    "mam-quota-mb: 1048577 is out of range 0..1048576" },
	{ "auth-rate-window 86401",
	    "auth-rate-window: 86401 is out of range 1..86400" },
	{ "max-stanza-size 1G", "max-stanza-size: \"1G\" is not a size "
	    "(bytes, or a number with k or M)" },
	{ "max-stanza-size k", "max-stanza-size: \"k\" is not a size "
	    "(bytes, or a number with k or M)" },
	{ "max-stanza-size 65M",
	    "max-stanza-size: 65M is out of range 4096..67108864" },
	{ "max-stanza-size 1k",
	    "max-stanza-size: 1k is out of range 4096..67108864" },
	{ "output-max 32k",
	    "output-max: 32k is out of range 65536..1073741824" },
	{ "output-max-unauth 65M",
	    "output-max-unauth: 65M is out of range 4096..67108864" },
	{ "rate-burst 0", "rate-burst: 0 is out of range 1..60" },
	{ "rate-stanzas 1000001",
	    "rate-stanzas: 1000001 is out of range 0..1000000" },
	{ "listen 127.0.0.1 99999", "listen port: 99999 is out of range "
	    "0..65535" },
	{ "listen not-an-address 5222", "listen: \"not-an-address\" is not "
	    "a numeric IPv4 or IPv6 address" },
	{ "listen 127.0.0.1 5222 ssl", "listen: \"ssl\" is not \"tls\"" },
	{ "listen 127.0.0.1", "listen: missing argument" },
	{ "listen 127.0.0.1 5222", "listen: 127.0.0.1 5222 is already a "
	    "listener" },
	{ "radius-server 192.0.2.1 0",
	    "radius-server port: 0 is out of range 1..65535" },
	{ "radius-server localhost", "radius-server: \"localhost\" is not "
	    "a numeric IPv4 or IPv6 address" },
	{ "selfsigned maybe", "selfsigned: \"maybe\" is not one of no, yes" },
	{ "auth ldap", "auth: \"ldap\" is not one of file, radius" },
	{ "mam-default sometimes",
	    "mam-default: \"sometimes\" is not one of always, roster, never" },
	{ "domain \"unterminated", "unterminated quoted string" },
	{ "domain \"a.example\"x", "text right after a closing quote" },
	{ "domain a\"b\"", "quote inside a word near \"a\"" },
	{ "domain \"\"", "domain: empty value" },
};

START_TEST(test_errors_name_file_and_line)
{
	struct config	 cfg;
	char		 text[256], want[512], *err;

	snprintf(text, sizeof(text), "realm rtc.debian.org\n"
	    "listen 127.0.0.1 5222\n%s\nkey k\n", bad[_i].line);
	ck_assert_int_eq(load_text(&cfg, text, &err), -1);
	ck_assert_ptr_nonnull(err);
	snprintf(want, sizeof(want), "%s:3: %s", tmp_path, bad[_i].error);
	ck_assert_str_eq(err, want);
	unload(&cfg, err);
}
END_TEST

START_TEST(test_error_line_counts_crlf_and_comments)
{
	struct config	 cfg;
	char		 want[128], *err;

	ck_assert_int_eq(load_text(&cfg, "# c\r\n\r\ndomain x\r\n"
	    "  # indented\r\nbogus\r\n", &err), -1);
	snprintf(want, sizeof(want), "%s:5: unknown keyword \"bogus\"",
	    tmp_path);
	ck_assert_str_eq(err, want);
	unload(&cfg, err);
}
END_TEST

START_TEST(test_nul_byte)
{
	struct config	 cfg;
	char		 want[128], *err = NULL;
	FILE		*f;

	strcpy(tmp_path, "/tmp/check_config.XXXXXX");
	ck_assert_ptr_nonnull(f = fdopen(mkstemp(tmp_path), "w"));
	fwrite("domain a\nrealm b\0c\n", 1, 19, f);
	fclose(f);
	config_defaults(&cfg);
	ck_assert_int_eq(config_load(tmp_path, &cfg, &err), -1);
	snprintf(want, sizeof(want), "%s:2: NUL byte in line", tmp_path);
	ck_assert_str_eq(err, want);
	unload(&cfg, err);
}
END_TEST

START_TEST(test_missing_file)
{
	struct config	 cfg;
	char		*err;

	config_defaults(&cfg);
	ck_assert_int_eq(config_load("/nonexistent/xmppd.conf", &cfg, &err),
	    -1);
	ck_assert_str_eq(err, "/nonexistent/xmppd.conf: No such file or "
	    "directory");
	free(err);
	config_free(&cfg);
}
END_TEST

START_TEST(test_listener_and_radius_limits)
{
	struct config	 cfg;
	char		 text[2048], want[256], *err;
	size_t		 len = 0;
	int		 i;

	for (i = 0; i <= CONFIG_MAX_LISTEN; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
		    "listen 127.0.0.1 %d\n", 6000 + i);
	ck_assert_int_eq(load_text(&cfg, text, &err), -1);
	snprintf(want, sizeof(want), "%s:%d: listen: more than %d listeners",
	    tmp_path, CONFIG_MAX_LISTEN + 1, CONFIG_MAX_LISTEN);
	ck_assert_str_eq(err, want);
	unload(&cfg, err);

	len = 0;
	for (i = 0; i <= CONFIG_MAX_RADIUS; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
		    "radius-server 192.0.2.%d\n", i + 1);
	ck_assert_int_eq(load_text(&cfg, text, &err), -1);
	snprintf(want, sizeof(want), "%s:%d: radius-server: more than %d "
	    "servers", tmp_path, CONFIG_MAX_RADIUS + 1, CONFIG_MAX_RADIUS);
	ck_assert_str_eq(err, want);
	unload(&cfg, err);

	/* Port 0 listeners each get their own port, so they may repeat. */
	ck_assert_int_eq(load_text(&cfg, "listen ::1 0\nlisten ::1 0\n"
	    "listen 0:0::1 5222\n", &err), 0);
	ck_assert_uint_eq(cfg.nlisten, 3);
	unload(&cfg, err);
	ck_assert_int_eq(load_text(&cfg, "listen ::1 5222\n"
	    "listen 0:0::1 5222\n", &err), -1);
	unload(&cfg, err);
}
END_TEST

START_TEST(test_selfsigned_fills_paths)
{
	struct config	 cfg;
	char		*err;

	ck_assert_int_eq(load_text(&cfg, "state-dir /srv/x\nselfsigned yes\n",
	    &err), 0);
	ck_assert_str_eq(cfg.certificate, "/srv/x/selfsigned-cert.pem");
	ck_assert_str_eq(cfg.key, "/srv/x/selfsigned-key.pem");
	unload(&cfg, err);

	ck_assert_int_eq(load_text(&cfg, "certificate /c.pem\nkey /k.pem\n"
	    "selfsigned yes\n", &err), 0);
	ck_assert_str_eq(cfg.certificate, "/c.pem");
	ck_assert_str_eq(cfg.key, "/k.pem");
	unload(&cfg, err);
}
END_TEST

static const struct {
	const char	*extra;		/* appended to good_base */
	const char	*drop;		/* a line of good_base to remove */
	const char	*error;		/* after "file: " */
} checks[] = {
	{ "", NULL, NULL },
	{ "", "domain jabber.example.org\n", "no domain configured" },
	{ "", "listen 0.0.0.0 5222\nlisten :: 5223 tls\n",
	    "no listen directive" },
	{ "", "certificate /etc/xmppd/cert.pem\n",
	    "certificate and key are required (or selfsigned yes)" },
	{ "selfsigned yes\n", "certificate /etc/xmppd/cert.pem\n", NULL },
	{ "", "realm rtc.debian.org\n", "auth file needs a realm" },
	{ "", "users-file /var/lib/misc/users.txt\n",
	    "auth file needs a users-file" },
	{ "auth radius\n", NULL, "auth radius needs a radius-server" },
	{ "auth radius\nradius-server ::1\n", NULL,
	    "auth radius needs a radius-secret-file" },
	{ "auth radius\nradius-server ::1\nradius-secret-file /s\n",
	    "users-file /var/lib/misc/users.txt\n", NULL },
	{ "auth radius\nradius-server ::1\nradius-secret-file /s\n",
	    "realm rtc.debian.org\n", "auth radius needs a realm" },
};

START_TEST(test_check)
{
	struct config	 cfg;
	char		 text[1024], want[256], *err, *at;

	snprintf(text, sizeof(text), "%s%s", good_base, checks[_i].extra);
	if (checks[_i].drop != NULL) {
		ck_assert_ptr_nonnull(at = strstr(text, checks[_i].drop));
		memmove(at, at + strlen(checks[_i].drop),
		    strlen(at + strlen(checks[_i].drop)) + 1);
	}
	ck_assert_int_eq(load_text(&cfg, text, &err), 0);
	if (checks[_i].error == NULL) {
		ck_assert_int_eq(config_check(&cfg, &err), 0);
		ck_assert_ptr_null(err);
	} else {
		ck_assert_int_eq(config_check(&cfg, &err), -1);
		snprintf(want, sizeof(want), "%s: %s", tmp_path,
		    checks[_i].error);
		ck_assert_str_eq(err, want);
	}
	unload(&cfg, err);
}
END_TEST

static const struct {
	const char	*domain;
	const char	*why;		/* NULL: accepted */
} domains[] = {
	{ "localhost", NULL },
	{ "jabber.debian.org", NULL },
	{ "xn--bcher-kva.example", NULL },
	{ "a-b.c", NULL },
	{ "192.0.2.1", "is an IP address, not a host name" },
	{ "2001:db8::1", "is an IP address, not a host name" },
	{ "a..b", "has an empty label" },
	{ "example.org.", "has an empty label" },
	{ "-a.example", "has a label starting or ending with '-'" },
	{ "a_b.example",
	    "has a character other than letters, digits, '-' and '.'" },
	{ "user@example.org",
	    "has a character other than letters, digits, '-' and '.'" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    ".example", "has a label longer than 63 characters" },
};

START_TEST(test_check_domain)
{
	struct config	 cfg;
	char		 text[1024], want[256], *err, *body;

	/* good_base minus its domain line, plus the one under test. */
	body = strchr(good_base, '\n') + 1;
	snprintf(text, sizeof(text), "domain \"%s\"\n%s", domains[_i].domain,
	    body);
	ck_assert_int_eq(load_text(&cfg, text, &err), 0);
	if (domains[_i].why == NULL) {
		ck_assert_int_eq(config_check(&cfg, &err), 0);
	} else {
		ck_assert_int_eq(config_check(&cfg, &err), -1);
		snprintf(want, sizeof(want), "%s: domain \"%s\" %s", tmp_path,
		    domains[_i].domain, domains[_i].why);
		ck_assert_str_eq(err, want);
	}
	unload(&cfg, err);
}
END_TEST

START_TEST(test_devel)
{
	struct config	 cfg;
	char		*err;

	config_defaults(&cfg);
	config_devel(&cfg, "/b", "fixtures/users.txt");
	ck_assert_str_eq(cfg.domain, "localhost");
	ck_assert_uint_eq(cfg.nlisten, 4);
	assert_listen(&cfg.listen[0], "127.0.0.1", 5222, false);
	assert_listen(&cfg.listen[1], "::1", 5222, false);
	assert_listen(&cfg.listen[2], "127.0.0.1", 5223, true);
	assert_listen(&cfg.listen[3], "::1", 5223, true);
	ck_assert_str_eq(cfg.certificate, "/b/devel/cert.pem");
	ck_assert_str_eq(cfg.key, "/b/devel/key.pem");
	ck_assert(cfg.selfsigned);
	ck_assert_str_eq(cfg.state_dir, "/b/devel/state");
	ck_assert_int_eq(cfg.auth, CONFIG_AUTH_FILE);
	ck_assert_str_eq(cfg.users_file, "fixtures/users.txt");
	ck_assert_str_eq(cfg.realm, "rtc.debian.org");
	ck_assert_str_eq(cfg.login_suffix, "@debian.org");
	ck_assert_ptr_nonnull(cfg.path);
	/* The rest keeps its defaults. */
	ck_assert_uint_eq(cfg.max_stanza_size, 262144);
	ck_assert_int_eq(config_check(&cfg, &err), 0);
	config_free(&cfg);
}
END_TEST

/* The documented production example must stay valid. */
START_TEST(test_fixture_example)
{
	static const char *const candidates[] = {
		"../fixtures/xmppd.conf", "fixtures/xmppd.conf",
		"../../fixtures/xmppd.conf",
	};
	const char	*path = NULL;
	struct config	 cfg;
	char		*err = NULL;
	size_t		 i;

	for (i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
		if (path == NULL && access(candidates[i], R_OK) == 0)
			path = candidates[i];
	ck_assert_msg(path != NULL, "fixtures/xmppd.conf not found");
	config_defaults(&cfg);
	ck_assert_msg(config_load(path, &cfg, &err) == 0, "%s", err);
	ck_assert_msg(config_check(&cfg, &err) == 0, "%s", err);
	ck_assert_str_eq(cfg.domain, "debian.org");
	ck_assert_uint_eq(cfg.nlisten, 4);
	ck_assert_str_eq(cfg.realm, "rtc.debian.org");
	ck_assert_str_eq(cfg.login_suffix, "@debian.org");
	ck_assert_uint_eq(cfg.max_stanza_size, 262144);
	config_free(&cfg);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc;

	tc = tcase_create("parse");
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_every_keyword);
	tcase_add_test(tc, test_quoting_comments_crlf);
	tcase_add_loop_test(tc, test_size_suffixes, 0,
	    sizeof(sizes) / sizeof(sizes[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_loop_test(tc, test_errors_name_file_and_line, 0,
	    sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_error_line_counts_crlf_and_comments);
	tcase_add_test(tc, test_nul_byte);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_listener_and_radius_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("check");
	tcase_add_test(tc, test_selfsigned_fills_paths);
	tcase_add_loop_test(tc, test_check, 0,
	    sizeof(checks) / sizeof(checks[0]));
	tcase_add_loop_test(tc, test_check_domain, 0,
	    sizeof(domains) / sizeof(domains[0]));
	tcase_add_test(tc, test_devel);
	tcase_add_test(tc, test_fixture_example);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(config_suite)
