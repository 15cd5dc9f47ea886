/*
 * xbench.c: the XMPP load generator behind `make bench` (docs/performance.md).
 * One process, one epoll loop, many client sessions (xsess.c). Each run
 * does one workload, is bounded in count and in time (-T), stops by
 * itself and prints one JSON object on stdout. With -S PID it samples
 * the server's RSS and CPU (utime+stime) from /proc at phase edges, so
 * the figures exclude the bench's own setup.
 *
 *   idle    hold sessions; RSS at each checkpoint (-k 1000,10000)
 *   login   -n full logins (-c at a time), each then logs out
 *   msg     -P sender/receiver pairs move -n messages, XEP-0198 acks
 *           requested by the senders (-W unacked at most); with -1 all
 *           senders write to one receiver (fills a MAM archive)
 *   mam     -n sequential last-page archive queries (-W per page)
 *   resume  -n sessions drop, get -R messages each while away, then all
 *           resume at once; time until every message is redelivered
 *
 * With -o every message of msg and resume carries a XEP-0359
 * <origin-id/> (a random UUID), as Conversations, Dino and Gajim send.
 *
 * Accounts are u00000..u(N-1), all with the password given by -w.
 */
#include <sys/resource.h>

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "xbench.h"
#include "log.h"
#include "xmalloc.h"

enum mode { M_IDLE, M_LOGIN, M_MSG, M_MAM, M_RESUME };
enum phase { P_CONNECT, P_SETTLE, P_RUN, P_DRAIN, P_AWAY, P_BACK, P_HOLD };

struct proc_sample {
	long	rss_kib;
	long	cpu_ms;
};

static struct {
	enum mode	 mode;
	enum phase	 phase;
	struct xs	*slots;
	unsigned	 nslots;
	unsigned	 next, inflight, conc;
	unsigned	 nready, nfailed;
	unsigned	 nusers;
	unsigned	 count;		/* -n */
	unsigned	 window;	/* -W */
	unsigned	 pairs;		/* -P */
	unsigned	 per_resume;	/* -R */
	bool		 to_one;	/* -1 */
	bool		 origin;	/* -o */
	const char	*domain;
	pid_t		 pid;
	double		 t_end, t_phase, t0, t1, hold;
	bool		 done, timed_out;
	const char	*first_err;
	unsigned	*ckpt;
	unsigned	 nckpt, ckpt_i;
	struct proc_sample base, mark;
	uint64_t	 delivered, target;
	double		*lat;
	unsigned	 nlat;
	unsigned	 results;
	uint32_t	 per_sender;
	char		 tag[24];	/* message id prefix of this run */
} g;

static volatile sig_atomic_t	stop_requested;

static void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void
proc_sample(struct proc_sample *ps)
{
	char	 path[64], buf[1024], *p;
	FILE	*f;
	unsigned long ut = 0, st = 0;

	ps->rss_kib = ps->cpu_ms = -1;
	if (g.pid <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)g.pid);
	if ((f = fopen(path, "r")) != NULL) {
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    (p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
		    "%*u %lu %lu", &ut, &st) == 2)
			ps->cpu_ms = (long)((ut + st) * 1000 /
			    (unsigned long)sysconf(_SC_CLK_TCK));
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/status", (int)g.pid);
	if ((f = fopen(path, "r")) != NULL) {
		while (fgets(buf, sizeof(buf), f) != NULL)
			if (sscanf(buf, "VmRSS: %ld", &ps->rss_kib) == 1)
				break;
		fclose(f);
	}
}

static long
self_rss_kib(void)
{
	struct rusage	ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static void
start_slot(struct xs *s)
{
	s->pending = true;
	g.inflight++;
	xs_connect(s);
}

/* Keep at most conc logins in flight until the current target. */
static void
pump_connects(unsigned target)
{
	while (g.next < target && g.inflight < g.conc)
		start_slot(&g.slots[g.next++]);
}

static void
settle_begin(double secs)
{
	g.phase = P_SETTLE;
	g.t_phase = now_s() + secs;
}

void
wl_failed(struct xs *s)
{
	if (g.first_err == NULL)
		g.first_err = s->err;
	if (s->pending) {
		s->pending = false;
		g.inflight--;
	}
	g.nfailed++;
}

/*
 * The XEP-0359 origin-id element for the next message, or "" without -o:
 * a random version 4 UUID, the form those clients use. The random bytes
 * come from OpenSSL in blocks, so a message costs the bench a few ns.
 */
static const char *
origin_el(void)
{
	static unsigned char	 pool[4096];
	static size_t		 used = sizeof(pool);
	static char		 buf[96];
	unsigned char		*b;

	if (!g.origin)
		return "";
	if (used == sizeof(pool)) {
		if (RAND_bytes(pool, sizeof(pool)) != 1)
			fatalx("RAND_bytes failed");
		used = 0;
	}
	b = pool + used;
	used += 16;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(buf, sizeof(buf), "<origin-id xmlns='urn:xmpp:sid:0' "
	    "id='%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x'/>", b[0], b[1], b[2], b[3], b[4], b[5],
	    b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	return buf;
}

static void
msg_pump(struct xs *s)
{
	char		 to[96], user[16];
	struct xs	*r = &g.slots[s->peer];
	bool		 any = false;

	/* Full JID: bare-JID routing policies differ between servers. */
	xs_username(r->user, user, sizeof(user));
	snprintf(to, sizeof(to), "%s@%s/%s", user, g.domain,
	    xs_resource(r));
	while (s->sent < g.per_sender && s->h_out - s->acked < g.window &&
	    (g.to_one || (int64_t)s->sent - r->recvd < g.window) &&
	    s->fd != -1) {
		xs_stanza(s, "<message to='%s' type='chat' id='%sm%u-%u'>"
		    "<body>bench message %u from slot %u: lorem ipsum dolor "
		    "sit amet</body>%s</message>", to, g.tag, s->idx, s->sent,
		    s->sent, s->idx, origin_el());
		s->sent++;
		any = true;
	}
	if (any && (s->h_out - s->last_r >= g.window / 2 ||
	    s->sent == g.per_sender)) {
		xs_printf(s, "<r xmlns='urn:xmpp:sm:3'/>");
		s->last_r = s->h_out;
	}
}

static void
msg_start(void)
{
	unsigned	 i;

	g.phase = P_RUN;
	proc_sample(&g.base);
	g.t0 = now_s();
	for (i = 0; i < g.nslots; i++)
		if (g.slots[i].peer >= 0 && (g.to_one || i % 2 == 0))
			msg_pump(&g.slots[i]);
}

static void
mam_query(struct xs *s)
{
	g.t_phase = now_s();
	xs_stanza(s, "<iq type='set' id='q%u'><query xmlns='urn:xmpp:mam:2' "
	    "queryid='q%u'><set xmlns='http://jabber.org/protocol/rsm'>"
	    "<max>%u</max><before/></set></query></iq>", g.nlat, g.nlat,
	    g.window);
}

/* Drop the receivers like a dead link: no </stream>, no close_notify. */
static void
resume_drop(void)
{
	unsigned	 i;

	for (i = 0; i < g.count; i++)
		xs_close(&g.slots[i], false);
	g.phase = P_AWAY;
	g.t_phase = now_s() + 1.0;
}

void
wl_ready(struct xs *s)
{
	if (s->pending) {
		s->pending = false;
		g.inflight--;
	}
	g.nready++;
	switch (g.mode) {
	case M_LOGIN:
		xs_close(s, true);
		break;
	case M_MAM:
		g.phase = P_RUN;
		mam_query(s);
		break;
	case M_RESUME:
		if (g.phase == P_BACK)
			s->t_ready = now_s();
		break;
	default:
		break;
	}
}

static void
resume_send(void)
{
	struct xs	*snd = &g.slots[g.count];
	char		 user[16];
	unsigned	 i, k;

	for (i = 0; i < g.count; i++) {
		xs_username(g.slots[i].user, user, sizeof(user));
		for (k = 0; k < g.per_resume; k++)
			xs_stanza(snd, "<message to='%s@%s/%s' type='chat' "
			    "id='%sz%u-%u'><body>while you were away %u"
			    "</body>%s</message>", user, g.domain,
			    xs_resource(&g.slots[i]), g.tag, i, k, k,
			    origin_el());
	}
	snd->sent = g.count * g.per_resume;
	xs_printf(snd, "<r xmlns='urn:xmpp:sm:3'/>");
	g.phase = P_DRAIN;
}

static void
resume_back(void)
{
	unsigned	 i;

	g.phase = P_BACK;
	proc_sample(&g.base);
	g.nready = g.nfailed = 0;
	g.t0 = now_s();
	for (i = 0; i < g.count; i++) {
		g.slots[i].want_resume = true;
		g.slots[i].recvd = 0;
		start_slot(&g.slots[i]);
	}
}

static void
on_message(struct xs *s)
{
	if (g.mode == M_MAM) {
		g.results += s->el.mam_result;
		return;
	}
	/*
	 * Messages left over from an earlier run (offline storage, bare-JID
	 * fallback) carry another run's tag: not ours to count.
	 */
	if (!s->el.has_body || (g.phase != P_RUN && g.phase != P_BACK) ||
	    strncmp(s->el.id, g.tag, strlen(g.tag)) != 0)
		return;
	s->recvd++;
	if (g.mode == M_RESUME) {
		if (s->recvd == g.per_resume) {
			g.lat[g.nlat++] = now_s() - g.t0;
			g.delivered++;
		}
		return;
	}
	if (g.mode != M_MSG || g.phase != P_RUN)
		return;
	g.delivered++;
	if (!g.to_one)
		msg_pump(&g.slots[s->peer]);
	if (g.delivered == g.target) {
		g.t1 = now_s();
		proc_sample(&g.mark);
		g.phase = P_DRAIN;
	}
}

void
wl_stanza(struct xs *s)
{
	if (strcmp(s->el.name, "message") == 0)
		on_message(s);
	else if (g.mode == M_MAM && strcmp(s->el.name, "iq") == 0 &&
	    s->el.id[0] == 'q' && g.phase == P_RUN) {
		g.lat[g.nlat++] = now_s() - g.t_phase;
		if (g.nlat == g.count)
			g.done = true;
		else
			mam_query(s);
	}
}

void
wl_acked(struct xs *s)
{
	if (g.mode == M_MSG && g.phase == P_RUN)
		msg_pump(s);
}

static bool
senders_acked(void)
{
	unsigned	 i;

	/* Only senders ask for acks; receivers' presence stays unacked. */
	for (i = 0; i < g.nslots; i++)
		if (g.slots[i].sent > 0 && g.slots[i].fd != -1 &&
		    g.slots[i].h_out != g.slots[i].acked)
			return false;
	return true;
}

static void
tick_idle(void)
{
	unsigned	 target = g.ckpt[g.ckpt_i];

	if (g.phase == P_CONNECT) {
		pump_connects(target);
		if (g.nready + g.nfailed >= target)
			settle_begin(3.0);
	} else if (g.phase == P_SETTLE && now_s() >= g.t_phase) {
		proc_sample(&g.mark);
		g.lat[g.ckpt_i] = (double)g.mark.rss_kib;
		g.ckpt[g.ckpt_i] = g.nready;	/* what was really held */
		if (++g.ckpt_i == g.nckpt) {
			g.phase = P_HOLD;
			g.t_phase = now_s() + g.hold;
		} else
			g.phase = P_CONNECT;
	} else if (g.phase == P_HOLD && now_s() >= g.t_phase)
		g.done = true;
}

static void
tick_msg(void)
{
	if (g.phase == P_CONNECT) {
		pump_connects(g.nslots);
		if (g.nready == g.nslots)
			msg_start();
		else if (g.nready + g.nfailed == g.nslots)
			g.done = true;
	} else if (g.phase == P_DRAIN && senders_acked()) {
		g.t_phase = now_s();
		g.done = true;
	}
}

static void
tick_resume(void)
{
	double	 t = now_s();

	if (g.phase == P_CONNECT) {
		pump_connects(g.nslots);
		if (g.nready == g.nslots)
			resume_drop();
		else if (g.nready + g.nfailed == g.nslots)
			g.done = true;
	} else if (g.phase == P_AWAY && t >= g.t_phase)
		resume_send();
	else if (g.phase == P_DRAIN && senders_acked()) {
		g.phase = P_SETTLE;
		g.t_phase = t + 0.5;
	} else if (g.phase == P_SETTLE && t >= g.t_phase)
		resume_back();
	else if (g.phase == P_BACK &&
	    g.delivered + g.nfailed >= g.count) {
		g.t1 = t;
		proc_sample(&g.mark);
		g.done = true;
	}
}

static void
tick(void)
{
	switch (g.mode) {
	case M_IDLE:
		tick_idle();
		break;
	case M_LOGIN:
		pump_connects(g.nslots);
		if (g.nready + g.nfailed == g.nslots) {
			g.t1 = now_s();
			proc_sample(&g.mark);
			g.done = true;
		}
		break;
	case M_MAM:
		pump_connects(1);
		if (g.nfailed > 0)
			g.done = true;
		break;
	case M_MSG:
		tick_msg();
		break;
	case M_RESUME:
		tick_resume();
		break;
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The p-quantile of n samples; -1 when there are none (JSON has no NaN). */
static double
pct(double *v, unsigned n, double p)
{
	if (n == 0)
		return -1.0;
	qsort(v, n, sizeof(*v), cmp_double);
	return v[(unsigned)lrint(p * (n - 1))];
}

static void
report_common(const char *mode)
{
	printf("{\"mode\":\"%s\",\"server_pid\":%d,\"ready\":%u,"
	    "\"failed\":%u,\"timed_out\":%s,\"first_error\":\"%s\","
	    "\"bench_maxrss_kib\":%ld,\"origin_ids\":%s", mode, (int)g.pid,
	    g.nready, g.nfailed, g.timed_out ? "true" : "false",
	    g.first_err ? g.first_err : "", self_rss_kib(),
	    g.origin ? "true" : "false");
}

static void
report_idle(void)
{
	unsigned	 i;

	report_common("idle");
	printf(",\"rss_idle_kib\":%ld,\"checkpoints\":[", g.base.rss_kib);
	for (i = 0; i < g.ckpt_i; i++)
		printf("%s{\"sessions\":%u,\"rss_kib\":%.0f,"
		    "\"kib_per_session\":%.2f}", i ? "," : "", g.ckpt[i],
		    g.lat[i], g.ckpt[i] ? (g.lat[i] - g.base.rss_kib) /
		    g.ckpt[i] : 0.0);
	printf("]}\n");
}

static void
report(void)
{
	double	 el = g.t1 - g.t0;
	long	 cpu = g.mark.cpu_ms - g.base.cpu_ms;

	switch (g.mode) {
	case M_IDLE:
		report_idle();
		return;
	case M_LOGIN:
		report_common("login");
		printf(",\"logins\":%u,\"seconds\":%.3f,\"logins_per_s\":%.1f,"
		    "\"server_cpu_ms\":%ld,\"cpu_ms_per_login\":%.3f}\n",
		    g.nready, el, g.nready / el, cpu,
		    g.nready ? (double)cpu / g.nready : 0.0);
		return;
	case M_MSG:
		report_common("msg");
		printf(",\"delivered\":%llu,\"seconds\":%.3f,"
		    "\"msgs_per_s\":%.1f,\"server_cpu_ms\":%ld,"
		    "\"cpu_s_per_10k\":%.3f,\"all_acked_s\":%.3f}\n",
		    (unsigned long long)g.delivered, el, g.delivered / el, cpu,
		    g.delivered ? cpu / 1000.0 * 10000 / g.delivered : 0.0,
		    g.done ? g.t_phase - g.t0 : -1.0);
		return;
	case M_MAM:
		report_common("mam");
		printf(",\"queries\":%u,\"results\":%u,\"p50_ms\":%.2f,"
		    "\"p99_ms\":%.2f}\n", g.nlat, g.results,
		    pct(g.lat, g.nlat, 0.5) * 1e3,
		    pct(g.lat, g.nlat, 0.99) * 1e3);
		return;
	case M_RESUME:
		report_common("resume");
		printf(",\"sessions\":%u,\"messages_each\":%u,\"complete\":%llu,"
		    "\"all_redelivered_s\":%.3f,\"p50_s\":%.3f,\"p99_s\":%.3f,"
		    "\"server_cpu_ms\":%ld}\n", g.count, g.per_resume,
		    (unsigned long long)g.delivered, g.done ? el : -1.0,
		    pct(g.lat, g.nlat, 0.5), pct(g.lat, g.nlat, 0.99), cpu);
		return;
	}
}

/* After a timeout, say which sessions were still waiting and on what. */
static void
dump_stuck(void)
{
	const struct xs	*s;
	unsigned	 i, shown = 0;

	for (i = 0; i < g.nslots && shown < 10; i++) {
		s = &g.slots[i];
		if (s->state == XS_READY && s->sent == g.per_sender &&
		    s->h_out == s->acked)
			continue;
		if (s->state == XS_READY && s->sent == 0 && g.mode == M_MSG)
			continue;
		fprintf(stderr, "xbench: stuck slot %u state %d sent %u "
		    "recvd %u peer_recvd %u h_out %u acked %u h_in %u err %s\n", i,
		    s->state, s->sent, s->recvd, s->peer >= 0 ? g.slots[s->peer].recvd : 0, s->h_out, s->acked, s->h_in,
		    s->err ? s->err : "-");
		shown++;
	}
}

static void
raise_nofile(unsigned n)
{
	struct rlimit	 rl;
	rlim_t		 need = (rlim_t)n + 1024;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= need)
		return;
	if (rl.rlim_max < need) {
		rl.rlim_max = need;	/* needs CAP_SYS_RESOURCE */
		rl.rlim_cur = need;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			return;
		getrlimit(RLIMIT_NOFILE, &rl);
		log_warnx("RLIMIT_NOFILE capped at %llu: at most that many "
		    "sessions", (unsigned long long)rl.rlim_max);
	}
	rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
	setrlimit(RLIMIT_NOFILE, &rl);
}

static unsigned
parse_ckpts(char *list)
{
	char		*tok, *save = NULL;
	unsigned	 n = 0, last = 0;

	g.ckpt = xreallocarray(NULL, 16, sizeof(*g.ckpt));
	for (tok = strtok_r(list, ",", &save); tok != NULL && n < 16;
	    tok = strtok_r(NULL, ",", &save)) {
		g.ckpt[n] = (unsigned)strtoul(tok, NULL, 10);
		if (g.ckpt[n] <= last || g.ckpt[n] > 1000000)
			fatalx("-k: checkpoints must rise, 1..1000000");
		last = g.ckpt[n++];
	}
	g.nckpt = n;
	return last;
}

/* Slot i's account and partner for the chosen workload. */
static void
setup_slots(void)
{
	unsigned	 i;
	struct xs	*s;

	g.slots = xcalloc(g.nslots, sizeof(*g.slots));
	for (i = 0; i < g.nslots; i++) {
		s = &g.slots[i];
		s->idx = i;
		s->fd = -1;
		s->peer = -1;
		s->user = i % g.nusers;
		if (g.mode == M_MSG && g.to_one)
			s->peer = i == 0 ? -1 : 0;
		else if (g.mode == M_MSG) {
			s->user = (i + 1) % g.nusers;
			s->peer = (int)(i ^ 1u);
		} else if (g.mode == M_RESUME)
			s->user = i < g.count ? (i + 1) % g.nusers :
			    g.nusers - 1;
	}
}

static __attribute__((noreturn)) void
usage(void)
{
	fprintf(stderr, "usage: xbench -m idle|login|msg|mam|resume -p port "
	    "-d domain -w password [-H host] [-t] [-U users] [-n count]\n"
	    "       [-c conc] [-k ckpts] [-P pairs] [-W window] [-R msgs] [-1]"
	    " [-o]\n       [-S pid] [-T secs] [-h hold] [-s srcaddrs]\n");
	exit(2);
}

static enum mode
parse_mode(const char *m)
{
	static const char *const names[] = { "idle", "login", "msg", "mam",
	    "resume" };
	unsigned	 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(m, names[i]) == 0)
			return (enum mode)i;
	usage();
}

static void
parse_args(int argc, char *argv[], struct xs_opts *o)
{
	int		 ch;
	double		 limit = 60;
	char		*ck = NULL;

	o->host = "127.0.0.1";
	g.nusers = 10000;
	g.count = 1000;
	g.conc = 100;
	g.window = 50;
	g.pairs = 50;
	g.per_resume = 10;
	g.mode = M_IDLE;
	while ((ch = getopt(argc, argv, "1c:d:H:h:k:m:n:oP:p:R:S:s:T:tU:W:w:"))
	    != -1) {
		switch (ch) {
		case '1': g.to_one = true; break;
		case 'c': g.conc = (unsigned)atoi(optarg); break;
		case 'd': o->domain = g.domain = optarg; break;
		case 'H': o->host = optarg; break;
		case 'h': g.hold = atof(optarg); break;
		case 'k': ck = optarg; break;
		case 'm': g.mode = parse_mode(optarg); break;
		case 'n': g.count = (unsigned)atoi(optarg); break;
		case 'o': g.origin = true; break;
		case 'P': g.pairs = (unsigned)atoi(optarg); break;
		case 'p': o->port = atoi(optarg); break;
		case 'R': g.per_resume = (unsigned)atoi(optarg); break;
		case 'S': g.pid = (pid_t)atoi(optarg); break;
		case 's': o->nsrc = (unsigned)atoi(optarg); break;
		case 'T': limit = atof(optarg); break;
		case 't': o->direct_tls = true; break;
		case 'U': g.nusers = (unsigned)atoi(optarg); break;
		case 'W': g.window = (unsigned)atoi(optarg); break;
		case 'w': o->password = optarg; break;
		default: usage();
		}
	}
	if (o->port <= 0 || o->domain == NULL || o->password == NULL ||
	    g.count == 0 || g.count > 1000000 || g.conc == 0 ||
	    g.nusers == 0 || g.window < 2 || g.pairs == 0 || limit <= 0)
		usage();
	if (g.mode == M_IDLE) {
		if (ck == NULL)
			xasprintf(&ck, "%u", g.count);
		g.count = parse_ckpts(ck);
	}
	g.t_end = now_s() + limit;
	snprintf(g.tag, sizeof(g.tag), "b%d-", (int)getpid());
}

static void
size_run(struct xs_opts *o)
{
	switch (g.mode) {
	case M_IDLE:
	case M_LOGIN:
		g.nslots = g.count;
		break;
	case M_MAM:
		g.nslots = 1;
		break;
	case M_MSG:
		g.nslots = g.to_one ? g.pairs + 1 : 2 * g.pairs;
		g.target = g.count;
		g.per_sender = (g.count + g.pairs - 1) / g.pairs;
		g.target = (uint64_t)g.per_sender * g.pairs;
		break;
	case M_RESUME:
		g.nslots = g.count + 1;
		g.conc = g.nslots;
		break;
	}
	if (o->nsrc == 0)
		o->nsrc = 1 + g.nslots / 20000;
	g.lat = xcalloc(g.count + 16, sizeof(*g.lat));
}

int
main(int argc, char *argv[])
{
	struct xs_opts	 o;
	unsigned	 i;

	memset(&o, 0, sizeof(o));
	log_init(1, 0);
	parse_args(argc, argv, &o);
	size_run(&o);
	raise_nofile(g.nslots);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	xs_init(&o);
	setup_slots();
	proc_sample(&g.base);
	g.t0 = now_s();
	while (!g.done && !stop_requested) {
		tick();
		if (g.done)
			break;
		if (now_s() >= g.t_end) {
			g.timed_out = true;
			break;
		}
		xs_poll(20);
	}
	if (g.t1 == 0) {
		g.t1 = now_s();
		proc_sample(&g.mark);
	}
	report();
	fflush(stdout);
	if (g.timed_out)
		dump_stuck();
	/* Log out cleanly so no session is left hibernating. */
	for (i = 0; i < g.nslots; i++) {
		if (g.slots[i].state == XS_READY)
			xs_close(&g.slots[i], true);
		xs_free(&g.slots[i]);
	}
	free(g.slots);
	free(g.lat);
	free(g.ckpt);
	return g.timed_out || g.nfailed > 0 ? 1 : 0;
}
