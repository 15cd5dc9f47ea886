/*
 * auth_ha1file.c: the users.txt credential backend (reTurn's format, which
 * Debian generates from LDAP): one "login:ha1:realm:state" per line, '#'
 * comments and blank lines skipped, CRLF tolerated. ha1 is 32 hex digits
 * of MD5(login:realm:password); state is AUTHORIZED or RESTRICTED (may
 * log in) or REFUSED (may not), in any case (docs/auth.md). A bad line is
 * logged as file:line and skipped; the rest still loads.
 *
 * The table is re-read on SIGHUP and when the file's inode, size or mtime
 * changes (checked at most once a second, when a login needs it). A
 * reload that cannot read the file keeps the old table, and so does one
 * that finds no valid line or more than users-file-max-bad-percent bad
 * ones (a file being written, truncated or garbled): every login would
 * fail until it is fixed. Sessions never
 * depend on the table after login, so a reload never touches them.
 *
 * Verification is a hash and a table lookup, but the answer is still
 * deferred to the loop so that callers see the same asynchronous contract
 * as with RADIUS.
 */
#include "auth.h"

#include <sys/queue.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "config.h"
#include "dict.h"
#include "ev.h"
#include "ha1.h"
#include "log.h"
#include "xmalloc.h"

#define HA1FILE_RECHECK_MS	1000	/* stat() at most this often */
#define HA1FILE_MAX_LINE	4096	/* no real line comes close */
#define HA1FILE_LOG_BAD		20	/* bad lines logged one by one */

struct ha1_user {
	unsigned char	ha1[16];
	bool		may_login;
};

struct ha1_req;
TAILQ_HEAD(ha1_reqs, ha1_req);

struct ha1file {
	struct ev		*ev;
	char			*path;
	char			*realm;
	struct dict		*users;		/* login -> struct ha1_user */
	struct stat		 st;		/* of the file last loaded */
	uint64_t		 checked;	/* ev_now() of the last stat */
	bool			 stat_failed;	/* logged once, not per login */
	unsigned		 max_bad_pct;	/* a reload over this is refused */
	struct ha1_reqs		 reqs;		/* answers not yet delivered */
};

struct ha1_req {
	TAILQ_ENTRY(ha1_req)	 entry;
	struct ha1file		*hf;		/* NULL: backend closed */
	uint64_t		 id;
	auth_done_cb		 done;		/* NULL: cancelled */
	void			*arg;
	enum auth_result	 result;
};

static char	ha1file_errbuf[512];

static int
ha1file_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* 32 hex digits, either case, into 16 bytes; -1 if it is anything else. */
static int
ha1file_unhex(const char *s, unsigned char out[16])
{
	int	hi, lo;
	size_t	i;

	if (strlen(s) != 32)
		return -1;
	for (i = 0; i < 16; i++) {
		if ((hi = ha1file_hexval((unsigned char)s[2 * i])) == -1 ||
		    (lo = ha1file_hexval((unsigned char)s[2 * i + 1])) == -1)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

static void
ha1file_free_user(void *arg, const char *key, void *value)
{
	(void)arg;
	(void)key;
	OPENSSL_cleanse(value, sizeof(struct ha1_user));
	free(value);
}

static void
ha1file_free_users(struct dict *users)
{
	if (users == NULL)
		return;
	dict_each(users, ha1file_free_user, NULL);
	dict_free(users);
}

/*
 * Split "login:ha1:realm:state" in place into four fields. Only the
 * shape is checked here; ha1file_line() judges the contents.
 */
static const char *
ha1file_split(char *line, char *field[4])
{
	char	*p = line;
	int	 i;

	for (i = 0; i < 4; i++) {
		field[i] = p;
		if ((p = strchr(p, ':')) == NULL)
			break;
		*p++ = '\0';
	}
	if (i < 3)
		return "expected login:ha1:realm:state";
	if (i == 4)
		return "too many ':' separated fields";
	return NULL;
}

/* Parse one non-comment line into users; the reason if it is skipped. */
static const char *
ha1file_line(struct ha1file *hf, struct dict *users, char *line)
{
	struct ha1_user	 u;
	char		*field[4];
	const char	*why;

	if ((why = ha1file_split(line, field)) != NULL)
		return why;
	if (field[0][0] == '\0')
		return "empty login";
	if (ha1file_unhex(field[1], u.ha1) == -1)
		return "ha1 is not 32 hex digits";
	if (strcasecmp(field[3], "AUTHORIZED") == 0 ||
	    strcasecmp(field[3], "RESTRICTED") == 0)
		u.may_login = true;
	else if (strcasecmp(field[3], "REFUSED") == 0)
		u.may_login = false;
	else
		return "state is not AUTHORIZED, RESTRICTED or REFUSED";
	/* The HA1 was made with that realm; any other can never match. */
	if (strcmp(field[2], hf->realm) != 0) {
		snprintf(ha1file_errbuf, sizeof(ha1file_errbuf), "realm %s is "
		    "not the configured realm %s", field[2], hf->realm);
		why = ha1file_errbuf;
	} else if (dict_get(users, field[0]) != NULL)
		why = "duplicate login, the first line for it is kept";
	else
		dict_set(users, field[0], memcpy(xmalloc(sizeof(u)), &u,
		    sizeof(u)));
	OPENSSL_cleanse(&u, sizeof(u));
	return why;
}

/* Trim the line end (CRLF or LF) and trailing blanks. */
static void
ha1file_chomp(char *line, size_t *len)
{
	while (*len > 0 && strchr(" \t\r\n", line[*len - 1]) != NULL)
		line[--*len] = '\0';
}

/* Read every line of f into a new table; bad lines are logged. */
static struct dict *
ha1file_parse(struct ha1file *hf, FILE *f, size_t *skipped)
{
	struct dict	*users = dict_new();
	char		*line = NULL, *p;
	const char	*why;
	size_t		 cap = 0, len;
	ssize_t		 n;
	unsigned	 lineno = 0;

	*skipped = 0;
	while ((n = getline(&line, &cap, f)) != -1) {
		lineno++;
		len = (size_t)n;
		ha1file_chomp(line, &len);
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (*p == '\0' && strlen(line) == len)
			continue;
		if (*p == '#')
			continue;
		if (strlen(line) != len)
			why = "NUL byte in line";
		else if (len > HA1FILE_MAX_LINE)
			why = "line too long";
		else
			why = ha1file_line(hf, users, p);
		if (why != NULL && ++*skipped <= HA1FILE_LOG_BAD)
			log_warnx("%s:%u: %s, line skipped", hf->path, lineno,
			    why);
	}
	if (*skipped > HA1FILE_LOG_BAD)
		log_warnx("%s: %zu more bad lines skipped", hf->path,
		    *skipped - HA1FILE_LOG_BAD);
	if (line != NULL)
		OPENSSL_cleanse(line, cap);
	free(line);
	return users;
}

/*
 * Whether a new table looks like a broken file rather than a real change:
 * no valid line, or too many bad ones. Only a reload is judged: at start
 * there is no better table to keep, and an empty file is a fresh host.
 */
static bool
ha1file_suspect(const struct ha1file *hf, size_t valid, size_t bad)
{
	if (hf->users == NULL || dict_count(hf->users) == 0)
		return false;
	if (valid == 0)
		return true;
	return bad * 100 > (uint64_t)hf->max_bad_pct * (valid + bad);
}

/*
 * (Re)load the file. On failure the old table stays and errstr says why.
 * The stat recorded is the opened file's, so a replacement racing with
 * the read is noticed at the next check.
 */
static int
ha1file_load(struct ha1file *hf, const char **errstr)
{
	struct dict	*users;
	struct stat	 st;
	FILE		*f;
	size_t		 skipped;

	if ((f = fopen(hf->path, "r")) == NULL || fstat(fileno(f), &st) == -1) {
		snprintf(ha1file_errbuf, sizeof(ha1file_errbuf), "%s: %s",
		    hf->path, strerror(errno));
		*errstr = ha1file_errbuf;
		if (f != NULL)
			fclose(f);
		return -1;
	}
	users = ha1file_parse(hf, f, &skipped);
	if (ferror(f)) {
		snprintf(ha1file_errbuf, sizeof(ha1file_errbuf), "%s: read "
		    "error", hf->path);
		*errstr = ha1file_errbuf;
		fclose(f);
		ha1file_free_users(users);
		return -1;
	}
	fclose(f);
	if (ha1file_suspect(hf, dict_count(users), skipped)) {
		snprintf(ha1file_errbuf, sizeof(ha1file_errbuf), "%s: %zu "
		    "valid and %zu bad lines (at most %u%% may be bad), fix "
		    "the file", hf->path, dict_count(users), skipped,
		    hf->max_bad_pct);
		*errstr = ha1file_errbuf;
		ha1file_free_users(users);
		hf->st = st;	/* not re-read until it changes again */
		return -1;
	}
	ha1file_free_users(hf->users);
	hf->users = users;
	hf->st = st;
	hf->stat_failed = false;
	log_info("auth file: loaded users=%zu skipped=%zu file=%s",
	    dict_count(users), skipped, hf->path);
	return 0;
}

static void
ha1file_reload_or_keep(struct ha1file *hf)
{
	const char	*errstr;

	if (ha1file_load(hf, &errstr) == -1)
		log_warnx("auth file: keeping %zu users: %s",
		    dict_count(hf->users), errstr);
}

static bool
ha1file_changed(const struct stat *a, const struct stat *b)
{
	return a->st_dev != b->st_dev || a->st_ino != b->st_ino ||
	    a->st_size != b->st_size ||
	    a->st_mtim.tv_sec != b->st_mtim.tv_sec ||
	    a->st_mtim.tv_nsec != b->st_mtim.tv_nsec;
}

/* Reload if the file was replaced or rewritten; at most one stat a second. */
static void
ha1file_maybe_reload(struct ha1file *hf)
{
	struct stat	st;
	uint64_t	now = ev_now(hf->ev);

	if (now - hf->checked < HA1FILE_RECHECK_MS)
		return;
	hf->checked = now;
	if (stat(hf->path, &st) == -1) {
		if (!hf->stat_failed)
			log_warn("auth file: keeping %zu users: %s",
			    dict_count(hf->users), hf->path);
		hf->stat_failed = true;
		return;
	}
	if (ha1file_changed(&st, &hf->st) || hf->stat_failed) {
		log_info("auth file: %s changed, reloading", hf->path);
		ha1file_reload_or_keep(hf);
	}
}

static void	ha1file_close(void *);

static void *
ha1file_open(struct ev *ev, const struct config *cfg, const char **errstr)
{
	struct ha1file	*hf;

	if (cfg->users_file == NULL || cfg->realm == NULL) {
		*errstr = "auth file: users-file and realm must be set";
		return NULL;
	}
	hf = xcalloc(1, sizeof(*hf));
	hf->ev = ev;
	hf->path = xstrdup(cfg->users_file);
	hf->realm = xstrdup(cfg->realm);
	hf->checked = ev_now(ev);
	hf->max_bad_pct = cfg->users_file_max_bad_percent;
	TAILQ_INIT(&hf->reqs);
	if (ha1file_load(hf, errstr) == -1) {
		ha1file_close(hf);
		return NULL;
	}
	return hf;
}

/* Runs from the loop, so done() never runs inside verify(). */
static void
ha1file_deliver(void *arg)
{
	struct ha1_req	*req = arg;

	if (req->hf != NULL) {
		TAILQ_REMOVE(&req->hf->reqs, req, entry);
		if (req->done != NULL)
			req->done(req->arg, req->id, req->result);
	}
	free(req);
}

/*
 * The same work whether or not the login exists: an unknown login still
 * costs one MD5 and one comparison, so timing does not reveal accounts.
 */
static enum auth_result
ha1file_check(struct ha1file *hf, const char *login, const char *pass)
{
	static const struct ha1_user	 nobody;	/* matches nothing */
	const struct ha1_user		*u;
	unsigned char			 got[16];
	char				 hex[33];
	bool				 match;

	if ((u = dict_get(hf->users, login)) == NULL)
		u = &nobody;
	ha1_hex(login, hf->realm, pass, hex);
	if (ha1file_unhex(hex, got) == -1)
		fatalx("%s: ha1_hex returned bad hex", __func__);
	match = CRYPTO_memcmp(got, u->ha1, sizeof(got)) == 0;
	OPENSSL_cleanse(hex, sizeof(hex));
	OPENSSL_cleanse(got, sizeof(got));
	if (u == &nobody)
		return AUTH_FAIL;
	if (match && !u->may_login)
		log_info("auth file: login=%s refused by its state", login);
	return match && u->may_login ? AUTH_OK : AUTH_FAIL;
}

static void
ha1file_verify(void *state, const char *login, const char *pass,
    auth_done_cb done, void *arg, uint64_t id)
{
	struct ha1file	*hf = state;
	struct ha1_req	*req;

	ha1file_maybe_reload(hf);
	req = xcalloc(1, sizeof(*req));
	req->hf = hf;
	req->id = id;
	req->done = done;
	req->arg = arg;
	req->result = ha1file_check(hf, login, pass);
	TAILQ_INSERT_TAIL(&hf->reqs, req, entry);
	ev_defer(hf->ev, ha1file_deliver, req);
}

/* The queued call stays (ev_defer cannot be revoked) but does nothing. */
static void
ha1file_cancel(void *state, uint64_t id)
{
	struct ha1file	*hf = state;
	struct ha1_req	*req;

	TAILQ_FOREACH(req, &hf->reqs, entry)
		if (req->id == id)
			req->done = NULL;
}

static void
ha1file_reload(void *state)
{
	struct ha1file	*hf = state;

	hf->checked = ev_now(hf->ev);
	ha1file_reload_or_keep(hf);
}

static void
ha1file_close(void *state)
{
	struct ha1file	*hf = state;
	struct ha1_req	*req;

	if (hf == NULL)
		return;
	/* Queued deliveries free themselves and call nobody. */
	while ((req = TAILQ_FIRST(&hf->reqs)) != NULL) {
		TAILQ_REMOVE(&hf->reqs, req, entry);
		req->hf = NULL;
	}
	ha1file_free_users(hf->users);
	free(hf->path);
	free(hf->realm);
	free(hf);
}

/* Listed and allowed to log in (so it can be sent offline messages). */
static int
ha1file_exists(void *state, const char *login)
{
	struct ha1file		*hf = state;
	const struct ha1_user	*u = dict_get(hf->users, login);

	return u != NULL && u->may_login;
}

const struct auth_backend auth_ha1file = {
	.name = "file",
	.open = ha1file_open,
	.verify = ha1file_verify,
	.exists = ha1file_exists,
	.cancel = ha1file_cancel,
	.reload = ha1file_reload,
	.close = ha1file_close,
};
