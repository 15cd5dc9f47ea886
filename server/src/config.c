/*
 * config.c: read the configuration file into a struct config.
 *
 * One directive per line, "keyword value...". Values are bare words or
 * double-quoted strings (\" and \\ escape inside quotes); '#' outside
 * quotes starts a comment; CRLF line ends are accepted. Every keyword is
 * a row in config_keywords[], which also carries its argument count and
 * range, so a new keyword is one row and at most one small setter.
 * Errors name file:line and the keyword; the first error stops the load.
 * Cross-field rules (a domain, a listener, credentials for the chosen
 * auth backend) live in config_check(), so `xmppd -t` reports them too.
 *
 * Not done here: opening sockets, certificates or the users file; main.c
 * and the auth backends do that and report their own errors.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

#define CONFIG_MAX_ARGS		8	/* more is always an error */
#define CONFIG_RADIUS_PORT	1812
#define CONFIG_DEVEL_NAME	"(built-in devel configuration)"

struct config_parse;
struct config_kw;

typedef int (*config_set_fn)(struct config_parse *, const struct config_kw *,
    char **argv, int argc);

struct config_kw {
	const char		*name;
	config_set_fn		 set;
	int			 minargs;
	int			 maxargs;
	bool			 repeatable;
	bool			 allow_empty;	/* "" is a valid string value */
	size_t			 off;		/* field in struct config */
	unsigned long long	 min;		/* numeric range */
	unsigned long long	 max;
};

struct config_parse {
	struct config	*cfg;
	const char	*file;
	unsigned	 line;
	char		*err;
	unsigned	*seen;		/* first line of each keyword, 0: unset */
};

static int	config_set_string(struct config_parse *,
		    const struct config_kw *, char **, int);
static int	config_set_uint(struct config_parse *,
		    const struct config_kw *, char **, int);
static int	config_set_size(struct config_parse *,
		    const struct config_kw *, char **, int);
static int	config_set_bool(struct config_parse *,
		    const struct config_kw *, char **, int);
static int	config_set_auth(struct config_parse *,
		    const struct config_kw *, char **, int);
static int	config_set_mam(struct config_parse *,
		    const struct config_kw *, char **, int);
static int	config_set_listen(struct config_parse *,
		    const struct config_kw *, char **, int);
static int	config_set_radius(struct config_parse *,
		    const struct config_kw *, char **, int);

#define STR(k, field, empty) { .name = (k), .set = config_set_string,	\
	.minargs = 1, .maxargs = 1, .allow_empty = (empty),		\
	.off = offsetof(struct config, field) }
#define UINT(k, field, lo, hi) { .name = (k), .set = config_set_uint,	\
	.minargs = 1, .maxargs = 1, .off = offsetof(struct config, field), \
	.min = (lo), .max = (hi) }

/* Ranges keep values sane: a zero idle timeout would drop every client. */
static const struct config_kw config_keywords[] = {
	STR("domain", domain, false),
	{ .name = "listen", .set = config_set_listen, .minargs = 2,
	  .maxargs = 3, .repeatable = true },
	STR("certificate", certificate, false),
	STR("key", key, false),
	{ .name = "selfsigned", .set = config_set_bool, .minargs = 1,
	  .maxargs = 1, .off = offsetof(struct config, selfsigned) },
	STR("state-dir", state_dir, false),
	STR("user", user, false),
	{ .name = "auth", .set = config_set_auth, .minargs = 1,
	  .maxargs = 1 },
	STR("users-file", users_file, false),
	UINT("users-file-max-bad-percent", users_file_max_bad_percent, 0, 100),
	STR("realm", realm, false),
	STR("login-suffix", login_suffix, true),
	UINT("auth-rate-address", auth_rate_address, 0, 1000000),
	UINT("auth-rate-account", auth_rate_account, 0, 1000000),
	UINT("auth-rate-window", auth_rate_window, 1, 86400),
	UINT("auth-slow-account", auth_slow_account, 0, 1000000),
	UINT("auth-slow-delay", auth_slow_delay, 0, 60000),
	{ .name = "radius-server", .set = config_set_radius, .minargs = 1,
	  .maxargs = 2, .repeatable = true },
	STR("radius-secret-file", radius_secret_file, false),
	UINT("radius-timeout", radius_timeout, 100, 60000),
	UINT("radius-retries", radius_retries, 1, 10),
	{ .name = "max-stanza-size", .set = config_set_size, .minargs = 1,
	  .maxargs = 1, .off = offsetof(struct config, max_stanza_size),
	  .min = 4096, .max = 64 * 1024 * 1024 },
	UINT("max-depth", max_depth, 2, 1000),
	UINT("max-attributes", max_attributes, 1, 10000),
	{ .name = "output-max-unauth", .set = config_set_size, .minargs = 1,
	  .maxargs = 1, .off = offsetof(struct config, output_max_unauth),
	  .min = 4096, .max = 64 * 1024 * 1024 },
	{ .name = "output-max", .set = config_set_size, .minargs = 1,
	  .maxargs = 1, .off = offsetof(struct config, output_max),
	  .min = 65536, .max = 1024 * 1024 * 1024 },
	UINT("rate-bytes-unauth", rate_bytes_unauth, 0, 100000000),
	UINT("rate-bytes", rate_bytes, 0, 100000000),
	UINT("rate-stanzas-unauth", rate_stanzas_unauth, 0, 1000000),
	UINT("rate-stanzas", rate_stanzas, 0, 1000000),
	UINT("rate-burst", rate_burst, 1, 60),
	UINT("auth-timeout", auth_timeout, 1, 3600),
	UINT("idle-timeout", idle_timeout, 1, 86400),
	UINT("keepalive", keepalive, 1, 86400),
	UINT("max-offline", max_offline, 1, 1000000),
	UINT("max-offline-mb", max_offline_mb, 0, 1048576),
	UINT("store-reserve", store_reserve, 0, 65536),
	UINT("max-sessions-per-user", max_sessions_per_user, 1, 1000),
	UINT("sm-hibernate", sm_hibernate, 0, 86400),
	UINT("sm-queue-max", sm_queue_max, 1, 100000),
	UINT("sm-resume-memory", sm_resume_memory, 1, 1000000),
	UINT("max-directed-presence", max_directed_presence, 1, 100000),
	UINT("max-roster-items", max_roster_items, 1, 100000),
	{ .name = "mam-default", .set = config_set_mam, .minargs = 1,
	  .maxargs = 1 },
	UINT("mam-retention-days", mam_retention_days, 0, 36500),
	UINT("mam-max-page", mam_max_page, 1, 10000),
	UINT("mam-queries-per-turn", mam_queries_per_turn, 1, 10000),
	UINT("mam-quota-rows", mam_quota_rows, 0, 1000000000),
	UINT("mam-quota-mb", mam_quota_mb, 0, 1048576),
	STR("port-file", port_file, false),
};
#define CONFIG_NKEYWORDS \
	(sizeof(config_keywords) / sizeof(config_keywords[0]))

#undef STR
#undef UINT

static int	config_error(struct config_parse *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* Record "file:line: message"; always returns -1 for tail calls. */
static int
config_error(struct config_parse *p, const char *fmt, ...)
{
	char	msg[512];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	free(p->err);
	xasprintf(&p->err, "%s:%u: %s", p->file, p->line, msg);
	return -1;
}

static char **
config_field_str(struct config *cfg, const struct config_kw *kw)
{
	return (char **)(void *)((char *)cfg + kw->off);
}

static unsigned *
config_field_uint(struct config *cfg, const struct config_kw *kw)
{
	return (unsigned *)(void *)((char *)cfg + kw->off);
}

/* Replace a string setting, freeing what defaults put there. */
static void
config_replace(char **slot, const char *value)
{
	free(*slot);
	*slot = value != NULL ? xstrdup(value) : NULL;
}

/*
 * Parse a decimal number without sign, spaces or overflow; strtoull alone
 * would take "-1", " 5" and "0x10".
 */
static int
config_number(const char *s, unsigned long long *out)
{
	unsigned long long	v;
	char			*end;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

/* Number in [min, max], with an error naming what and why. */
static int
config_ranged(struct config_parse *p, const char *what, const char *s,
    unsigned long long min, unsigned long long max, unsigned long long *out)
{
	if (config_number(s, out) == -1)
		return config_error(p, "%s: \"%s\" is not a number", what, s);
	if (*out < min || *out > max)
		return config_error(p, "%s: %s is out of range %llu..%llu",
		    what, s, min, max);
	return 0;
}

static int
config_set_string(struct config_parse *p, const struct config_kw *kw,
    char **argv, int argc)
{
	(void)argc;
	if (argv[0][0] == '\0' && !kw->allow_empty)
		return config_error(p, "%s: empty value", kw->name);
	config_replace(config_field_str(p->cfg, kw), argv[0]);
	return 0;
}

static int
config_set_uint(struct config_parse *p, const struct config_kw *kw,
    char **argv, int argc)
{
	unsigned long long	v;

	(void)argc;
	if (config_ranged(p, kw->name, argv[0], kw->min, kw->max, &v) == -1)
		return -1;
	*config_field_uint(p->cfg, kw) = (unsigned)v;
	return 0;
}

/* A byte count with an optional k/K (1024) or M (1024*1024) suffix. */
static int
config_set_size(struct config_parse *p, const struct config_kw *kw,
    char **argv, int argc)
{
	unsigned long long	 v, mult = 1;
	size_t			 len = strlen(argv[0]);
	char			*num;
	int			 rc;

	(void)argc;
	if (len > 0 && (argv[0][len - 1] == 'k' || argv[0][len - 1] == 'K'))
		mult = 1024;
	else if (len > 0 && argv[0][len - 1] == 'M')
		mult = 1024 * 1024;
	num = xstrndup(argv[0], mult == 1 ? len : len - 1);
	rc = config_number(num, &v);
	free(num);
	if (rc == -1)
		return config_error(p, "%s: \"%s\" is not a size (bytes, "
		    "or a number with k or M)", kw->name, argv[0]);
	if (v > kw->max / mult || v * mult < kw->min)
		return config_error(p, "%s: %s is out of range %llu..%llu",
		    kw->name, argv[0], kw->min, kw->max);
	*(size_t *)(void *)((char *)p->cfg + kw->off) = (size_t)(v * mult);
	return 0;
}

/* Index of word in a NULL-terminated list, or -1 naming the choices. */
static int
config_choice(struct config_parse *p, const struct config_kw *kw,
    const char *word, const char *const *choices)
{
	char	list[128];
	size_t	len = 0;
	int	i;

	for (i = 0; choices[i] != NULL; i++) {
		if (strcmp(word, choices[i]) == 0)
			return i;
		/* The tables are short literals: no truncation. */
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
		    i > 0 ? ", " : "", choices[i]);
	}
	return config_error(p, "%s: \"%s\" is not one of %s", kw->name, word,
	    list);
}

static int
config_set_bool(struct config_parse *p, const struct config_kw *kw,
    char **argv, int argc)
{
	static const char *const yesno[] = { "no", "yes", NULL };
	int	i;

	(void)argc;
	if ((i = config_choice(p, kw, argv[0], yesno)) == -1)
		return -1;
	*(bool *)(void *)((char *)p->cfg + kw->off) = i == 1;
	return 0;
}

static int
config_set_auth(struct config_parse *p, const struct config_kw *kw,
    char **argv, int argc)
{
	static const char *const names[] = { "file", "radius", NULL };
	int	i;

	(void)argc;
	if ((i = config_choice(p, kw, argv[0], names)) == -1)
		return -1;
	p->cfg->auth = i == 0 ? CONFIG_AUTH_FILE : CONFIG_AUTH_RADIUS;
	return 0;
}

static int
config_set_mam(struct config_parse *p, const struct config_kw *kw,
    char **argv, int argc)
{
	/* Same order as enum config_mam. */
	static const char *const names[] = { "always", "roster", "never",
	    NULL };
	int	i;

	(void)argc;
	if ((i = config_choice(p, kw, argv[0], names)) == -1)
		return -1;
	p->cfg->mam_default = (enum config_mam)i;
	return 0;
}

/*
 * A numeric IPv4 or IPv6 address, stored in canonical form so that "::1"
 * and "0:0::1" are recognised as the same listener.
 */
static int
config_address(struct config_parse *p, const char *what, const char *s,
    char out[64])
{
	unsigned char	buf[sizeof(struct in6_addr)];

	if (inet_pton(AF_INET, s, buf) == 1)
		inet_ntop(AF_INET, buf, out, 64);
	else if (inet_pton(AF_INET6, s, buf) == 1)
		inet_ntop(AF_INET6, buf, out, 64);
	else
		return config_error(p, "%s: \"%s\" is not a numeric IPv4 or "
		    "IPv6 address", what, s);
	return 0;
}

static int
config_set_listen(struct config_parse *p, const struct config_kw *kw,
    char **argv, int argc)
{
	struct config		*cfg = p->cfg;
	struct config_listen	 l;
	unsigned long long	 port;
	size_t			 i;

	memset(&l, 0, sizeof(l));
	if (config_address(p, kw->name, argv[0], l.addr) == -1 ||
	    config_ranged(p, "listen port", argv[1], 0, 65535, &port) == -1)
		return -1;
	l.port = (int)port;
	if (argc == 3) {
		if (strcmp(argv[2], "tls") != 0)
			return config_error(p, "%s: \"%s\" is not \"tls\"",
			    kw->name, argv[2]);
		l.direct_tls = true;
	}
	if (cfg->nlisten == CONFIG_MAX_LISTEN)
		return config_error(p, "%s: more than %d listeners", kw->name,
		    CONFIG_MAX_LISTEN);
	/* Port 0 picks a fresh port each time, so only fixed ones clash. */
	for (i = 0; i < cfg->nlisten; i++)
		if (l.port != 0 && cfg->listen[i].port == l.port &&
		    strcmp(cfg->listen[i].addr, l.addr) == 0)
			return config_error(p, "%s: %s %d is already a "
			    "listener", kw->name, l.addr, l.port);
	cfg->listen[cfg->nlisten++] = l;
	return 0;
}

static int
config_set_radius(struct config_parse *p, const struct config_kw *kw,
    char **argv, int argc)
{
	struct config		*cfg = p->cfg;
	struct config_radius	 r;
	unsigned long long	 port = CONFIG_RADIUS_PORT;

	memset(&r, 0, sizeof(r));
	if (config_address(p, kw->name, argv[0], r.addr) == -1)
		return -1;
	if (argc == 2 && config_ranged(p, "radius-server port", argv[1], 1,
	    65535, &port) == -1)
		return -1;
	r.port = (int)port;
	if (cfg->nradius == CONFIG_MAX_RADIUS)
		return config_error(p, "%s: more than %d servers", kw->name,
		    CONFIG_MAX_RADIUS);
	cfg->radius[cfg->nradius++] = r;
	return 0;
}

/*
 * Split line in place into words. Quotes group and are removed; inside
 * them \" and \\ are the only escapes. Returns the word count or -1.
 */
static int
config_split(struct config_parse *p, char *line, char **argv)
{
	char	*r = line, *w;
	int	 argc = 0;

	for (;;) {
		while (*r == ' ' || *r == '\t' || *r == '\r' || *r == '\n')
			r++;
		if (*r == '\0' || *r == '#')
			return argc;
		/* One word past any keyword's maximum is enough to tell. */
		if (argc > CONFIG_MAX_ARGS)
			return argc;
		argv[argc++] = w = r;
		if (*r != '"') {
			while (*r != '\0' && strchr(" \t\r\n#\"", *r) == NULL)
				r++;
			if (*r == '"') {
				*r = '\0';
				return config_error(p, "quote inside a word "
				    "near \"%s\"", argv[argc - 1]);
			}
			if (*r == '#' || *r == '\0') {
				/* A comment or the end right after a word. */
				*r = '\0';
				return argc;
			}
			*r++ = '\0';
			continue;
		}
		for (r++; *r != '"'; r++) {
			if (*r == '\0')
				return config_error(p, "unterminated quoted "
				    "string");
			if (*r == '\\' && (r[1] == '"' || r[1] == '\\'))
				r++;
			*w++ = *r;
		}
		*w = '\0';
		r++;
		if (*r != '\0' && strchr(" \t\r\n#", *r) == NULL)
			return config_error(p, "text right after a closing "
			    "quote");
	}
}

static const struct config_kw *
config_keyword(const char *name, size_t *idx)
{
	size_t	i;

	for (i = 0; i < CONFIG_NKEYWORDS; i++)
		if (strcmp(config_keywords[i].name, name) == 0) {
			*idx = i;
			return &config_keywords[i];
		}
	return NULL;
}

/* One line: split, look the keyword up, check counts, then set. */
static int
config_line(struct config_parse *p, char *line, size_t len)
{
	const struct config_kw	*kw;
	char			*argv[CONFIG_MAX_ARGS + 1];
	int			 argc;
	size_t			 idx;

	if (strlen(line) != len)
		return config_error(p, "NUL byte in line");
	if ((argc = config_split(p, line, argv)) <= 0)
		return argc;
	if ((kw = config_keyword(argv[0], &idx)) == NULL)
		return config_error(p, "unknown keyword \"%s\"", argv[0]);
	if (argc - 1 < kw->minargs)
		return config_error(p, "%s: missing argument", kw->name);
	if (argc - 1 > kw->maxargs)
		return config_error(p, "%s: too many arguments", kw->name);
	if (p->seen[idx] != 0 && !kw->repeatable)
		return config_error(p, "%s: duplicate, first set on line %u",
		    kw->name, p->seen[idx]);
	if (p->seen[idx] == 0)
		p->seen[idx] = p->line;
	return kw->set(p, kw, argv + 1, argc - 1);
}

/* Fill in defaults (no listeners, no domain). */
void
config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->state_dir = xstrdup("/var/lib/xmppd");
	cfg->auth = CONFIG_AUTH_FILE;
	cfg->login_suffix = xstrdup("");
	cfg->auth_rate_address = 20;
	cfg->auth_rate_account = 5;
	cfg->auth_rate_window = 60;
	cfg->users_file_max_bad_percent = 10;
	cfg->auth_slow_account = 5;
	cfg->auth_slow_delay = 2000;
	cfg->radius_timeout = 2000;
	cfg->radius_retries = 2;
	cfg->max_stanza_size = 262144;
	cfg->max_depth = 32;
	cfg->max_attributes = 64;
	/*
	 * Before login a client needs a few hundred bytes of answers; after,
	 * a roster or an archive page. Reading pauses at half of either.
	 */
	cfg->output_max_unauth = 65536;
	cfg->output_max = 4 * 1024 * 1024;
	/*
	 * A login is about 2 KiB and 6 stanzas; a busy client sends a few
	 * stanzas a second, a roster or catch-up burst a few dozen. Past the
	 * bucket reading waits for the refill: throttled, never an error.
	 */
	cfg->rate_bytes_unauth = 10240;
	cfg->rate_bytes = 65536;
	cfg->rate_stanzas_unauth = 10;
	cfg->rate_stanzas = 50;
	cfg->rate_burst = 2;
	cfg->auth_timeout = 60;
	cfg->idle_timeout = 600;
	cfg->keepalive = 60;
	cfg->max_offline = 1000;
	cfg->max_offline_mb = 64;
	cfg->store_reserve = 16;
	cfg->max_sessions_per_user = 10;
	cfg->sm_hibernate = 300;
	cfg->sm_queue_max = 1000;
	cfg->sm_resume_memory = 4096;
	cfg->max_directed_presence = 100;
	cfg->max_roster_items = 1000;
	cfg->mam_default = CONFIG_MAM_ALWAYS;
	cfg->mam_retention_days = 0;
	cfg->mam_max_page = 100;
	cfg->mam_queries_per_turn = 8;
	cfg->mam_quota_rows = 100000;
	cfg->mam_quota_mb = 100;
}

/*
 * selfsigned without paths: keep the generated pair in the state
 * directory, which is the one place the daemon may write.
 */
static void
config_fill_selfsigned(struct config *cfg)
{
	if (!cfg->selfsigned)
		return;
	if (cfg->certificate == NULL)
		xasprintf(&cfg->certificate, "%s/selfsigned-cert.pem",
		    cfg->state_dir);
	if (cfg->key == NULL)
		xasprintf(&cfg->key, "%s/selfsigned-key.pem", cfg->state_dir);
}

/* Parse path into cfg (which holds defaults); see config.h. */
int
config_load(const char *path, struct config *cfg, char **err)
{
	struct config_parse	 p;
	FILE			*f;
	char			*line = NULL;
	size_t			 cap = 0;
	ssize_t			 n;
	int			 ret = -1;

	*err = NULL;
	config_replace(&cfg->path, path);
	memset(&p, 0, sizeof(p));
	p.cfg = cfg;
	p.file = path;
	p.seen = xcalloc(CONFIG_NKEYWORDS, sizeof(*p.seen));
	if ((f = fopen(path, "r")) == NULL) {
		xasprintf(err, "%s: %s", path, strerror(errno));
		goto done;
	}
	while ((n = getline(&line, &cap, f)) != -1) {
		p.line++;
		if (config_line(&p, line, (size_t)n) == -1)
			goto done;
	}
	if (ferror(f)) {
		xasprintf(&p.err, "%s: %s", path, strerror(errno));
		goto done;
	}
	config_fill_selfsigned(cfg);
	ret = 0;
 done:
	if (f != NULL)
		fclose(f);
	free(line);
	free(p.seen);
	if (p.err != NULL)
		*err = p.err;
	return ret;
}

/*
 * The embedded `make run` default (docs/configuration.md), rooted at
 * builddir.
 */
void
config_devel(struct config *cfg, const char *builddir, const char *users_file)
{
	static const struct config_listen devel_listen[] = {
		{ .addr = "127.0.0.1", .port = 5222 },
		{ .addr = "::1", .port = 5222 },
		{ .addr = "127.0.0.1", .port = 5223, .direct_tls = true },
		{ .addr = "::1", .port = 5223, .direct_tls = true },
	};
	size_t	i;

	config_replace(&cfg->path, CONFIG_DEVEL_NAME);
	config_replace(&cfg->domain, "localhost");
	for (i = 0; i < sizeof(devel_listen) / sizeof(devel_listen[0]); i++)
		cfg->listen[i] = devel_listen[i];
	cfg->nlisten = i;
	free(cfg->certificate);
	xasprintf(&cfg->certificate, "%s/devel/cert.pem", builddir);
	free(cfg->key);
	xasprintf(&cfg->key, "%s/devel/key.pem", builddir);
	cfg->selfsigned = true;
	free(cfg->state_dir);
	xasprintf(&cfg->state_dir, "%s/devel/state", builddir);
	cfg->auth = CONFIG_AUTH_FILE;
	config_replace(&cfg->users_file, users_file);
	config_replace(&cfg->realm, "rtc.debian.org");
	config_replace(&cfg->login_suffix, "@debian.org");
}

/*
 * A DNS host name (RFC 1123 labels). XMPP would allow an IP literal as
 * the domain, but certificates and SRV records need a name, so we do not.
 */
static const char *
config_bad_domain(const char *d)
{
	unsigned char	 buf[sizeof(struct in6_addr)];
	const char	*label = d, *s;

	if (inet_pton(AF_INET, d, buf) == 1 || inet_pton(AF_INET6, d, buf) == 1)
		return "is an IP address, not a host name";
	if (strlen(d) > 253)
		return "is longer than 253 characters";
	for (s = d;; s++) {
		if (*s == '.' || *s == '\0') {
			if (s == label)
				return "has an empty label";
			if (s - label > 63)
				return "has a label longer than 63 characters";
			if (*label == '-' || s[-1] == '-')
				return "has a label starting or ending with '-'";
			if (*s == '\0')
				return NULL;
			label = s + 1;
		} else if (!isalnum((unsigned char)*s) && *s != '-')
			return "has a character other than letters, digits, "
			    "'-' and '.'";
	}
}

/* Cross-field checks (listeners present, cert set, ...); 0 or -1. */
int
config_check(const struct config *cfg, char **err)
{
	const char	*file = cfg->path != NULL ? cfg->path : "(config)";
	const char	*why;

	*err = NULL;
	if (cfg->domain == NULL)
		xasprintf(err, "%s: no domain configured", file);
	else if ((why = config_bad_domain(cfg->domain)) != NULL)
		xasprintf(err, "%s: domain \"%s\" %s", file, cfg->domain, why);
	else if (cfg->nlisten == 0)
		xasprintf(err, "%s: no listen directive", file);
	else if (cfg->certificate == NULL || cfg->key == NULL)
		xasprintf(err, "%s: certificate and key are required (or "
		    "selfsigned yes)", file);
	else if (cfg->state_dir == NULL)
		xasprintf(err, "%s: no state-dir configured", file);
	else if (cfg->realm == NULL)
		xasprintf(err, "%s: auth %s needs a realm", file,
		    cfg->auth == CONFIG_AUTH_FILE ? "file" : "radius");
	else if (cfg->auth == CONFIG_AUTH_FILE && cfg->users_file == NULL)
		xasprintf(err, "%s: auth file needs a users-file", file);
	else if (cfg->auth == CONFIG_AUTH_RADIUS && cfg->nradius == 0)
		xasprintf(err, "%s: auth radius needs a radius-server", file);
	else if (cfg->auth == CONFIG_AUTH_RADIUS &&
	    cfg->radius_secret_file == NULL)
		xasprintf(err, "%s: auth radius needs a radius-secret-file",
		    file);
	return *err == NULL ? 0 : -1;
}

/* Free every string the config owns; the struct itself is the caller's. */
void
config_free(struct config *cfg)
{
	free(cfg->path);
	free(cfg->domain);
	free(cfg->certificate);
	free(cfg->key);
	free(cfg->state_dir);
	free(cfg->user);
	free(cfg->users_file);
	free(cfg->realm);
	free(cfg->login_suffix);
	free(cfg->radius_secret_file);
	free(cfg->port_file);
	memset(cfg, 0, sizeof(*cfg));
}
