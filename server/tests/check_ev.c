/*
 * check_ev.c: the event loop: timers (order, re-arm, stop, free from
 * callbacks), deferred calls, turn hooks, fd readiness and signals.
 */
#include <sys/socket.h>

#include <check.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ev.h"

#include "check_main.h"

/* A trace of what ran, as a string of single-character marks. */
static char	trace[256];

static void
mark(char ch)
{
	size_t	 n = strlen(trace);

	ck_assert_uint_lt(n, sizeof(trace) - 1);
	trace[n] = ch;
	trace[n + 1] = '\0';
}

struct tick {
	struct ev	*ev;
	struct ev_timer	*t;
	char		 ch;
	int		 rearm;		/* times left to re-arm */
	struct ev_timer	*victim;	/* stop/free this one when fired */
	bool		 free_self;
	bool		 stop;
};

static void
tick_fire(void *arg)
{
	struct tick	*k = arg;

	mark(k->ch);
	if (k->victim != NULL) {
		ev_timer_free(k->victim);
		k->victim = NULL;
	}
	if (k->rearm > 0) {
		k->rearm--;
		ev_timer_set(k->t, 0);
		ck_assert_int_eq(ev_timer_pending(k->t), 1);
	} else if (k->free_self) {
		ev_timer_free(k->t);
		k->t = NULL;
	}
	if (k->stop)
		ev_stop(k->ev);
}

START_TEST(ev_timers_order)
{
	struct ev	*ev = ev_new();
	struct tick	 k[5];
	const char	*marks = "abcde";
	/* Armed out of order; equal deadlines keep arming order. */
	const int	 ms[5] = { 30, 10, 20, 10, 40 };
	int		 i;

	trace[0] = '\0';
	memset(k, 0, sizeof(k));
	for (i = 0; i < 5; i++) {
		k[i].ev = ev;
		k[i].ch = marks[i];
		k[i].t = ev_timer_new(ev, tick_fire, &k[i]);
		ev_timer_set(k[i].t, (uint64_t)ms[i]);
	}
	k[4].stop = true;
	ck_assert_int_eq(ev_run(ev), 0);
	ck_assert_str_eq(trace, "bdcae");
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(ev_timer_pending(k[i].t), 0);
		ev_timer_free(k[i].t);
	}
	ev_free(ev);
}
END_TEST

START_TEST(ev_timers_rearm_stop_free)
{
	struct ev	*ev = ev_new();
	struct tick	 a, b, c, d, s;

	trace[0] = '\0';
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	memset(&d, 0, sizeof(d));
	memset(&s, 0, sizeof(s));
	/* a re-arms itself twice with 0 ms, then frees itself. */
	a.ev = ev; a.ch = 'a'; a.rearm = 2; a.free_self = true;
	a.t = ev_timer_new(ev, tick_fire, &a);
	ev_timer_set(a.t, 1);
	/* b is stopped before it fires; c is freed by d's callback. */
	b.ev = ev; b.ch = 'b';
	b.t = ev_timer_new(ev, tick_fire, &b);
	ev_timer_set(b.t, 5);
	ev_timer_stop(b.t);
	ck_assert_int_eq(ev_timer_pending(b.t), 0);
	c.ev = ev; c.ch = 'c';
	c.t = ev_timer_new(ev, tick_fire, &c);
	d.ev = ev; d.ch = 'd'; d.victim = c.t; d.free_self = true;
	d.t = ev_timer_new(ev, tick_fire, &d);
	ev_timer_set(d.t, 20);
	ev_timer_set(c.t, 20);		/* same deadline, after d */
	/* Re-arming later moves the deadline: s ends the run. */
	s.ev = ev; s.ch = 's'; s.stop = true;
	s.t = ev_timer_new(ev, tick_fire, &s);
	ev_timer_set(s.t, 1);
	ev_timer_set(s.t, 60);
	ck_assert_int_eq(ev_run(ev), 0);
	ck_assert_str_eq(trace, "aaads");
	ck_assert_ptr_null(a.t);
	ev_timer_free(b.t);
	ev_timer_free(s.t);
	ev_free(ev);
}
END_TEST

/* Many timers with random deadlines come out sorted (heap property). */
struct heapcheck {
	struct ev	*ev;
	uint64_t	 last;
	uint64_t	 when;
	int		*left;
	int		*bad;
};

static void
heapcheck_fire(void *arg)
{
	struct heapcheck	*h = arg;

	if (ev_now(h->ev) < h->when)
		(*h->bad)++;
	if (--*h->left == 0)
		ev_stop(h->ev);
}

START_TEST(ev_timers_many)
{
	enum { N = 2000 };
	struct ev		*ev = ev_new();
	struct ev_timer		*t[N];
	struct heapcheck	 h[N];
	int			 i, left = N, bad = 0;

	srandom(7);
	for (i = 0; i < N; i++) {
		h[i].ev = ev;
		h[i].left = &left;
		h[i].bad = &bad;
		h[i].when = ev_now(ev) + (uint64_t)(random() % 50);
		t[i] = ev_timer_new(ev, heapcheck_fire, &h[i]);
		ev_timer_set(t[i], h[i].when - ev_now(ev));
	}
	/* Stop every third one: they must not fire. */
	for (i = 0; i < N; i += 3) {
		ev_timer_stop(t[i]);
		left--;
	}
	ck_assert_int_eq(ev_run(ev), 0);
	ck_assert_int_eq(left, 0);
	ck_assert_int_eq(bad, 0);
	for (i = 0; i < N; i++)
		ev_timer_free(t[i]);
	ev_free(ev);
}
END_TEST

static struct ev	*dev;

static void
defer_inner(void *arg)
{
	mark(*(const char *)arg);
}

static void
defer_outer(void *arg)
{
	static const char	 inner = 'z';

	mark(*(const char *)arg);
	ev_defer(dev, defer_inner, (void *)(uintptr_t)&inner);
}

static void
defer_timer(void *arg)
{
	static const char	 x = 'x', y = 'y';

	(void)arg;
	mark('T');
	ev_defer(dev, defer_outer, (void *)(uintptr_t)&x);
	ev_defer(dev, defer_inner, (void *)(uintptr_t)&y);
	mark('t');		/* deferred calls wait for the return */
}

static void
hook_one(void *arg)
{
	(void)arg;
	mark('1');
}

static void
hook_two(void *arg)
{
	static const char	 h = 'h';

	(void)arg;
	mark('2');
	ev_defer(dev, defer_inner, (void *)(uintptr_t)&h);
	ev_stop(dev);
}

START_TEST(ev_defer_and_hooks)
{
	struct ev_timer	*t;

	trace[0] = '\0';
	dev = ev_new();
	t = ev_timer_new(dev, defer_timer, NULL);
	ev_timer_set(t, 0);
	ev_turn_hook(dev, hook_one, NULL);
	ev_turn_hook(dev, hook_two, NULL);
	ck_assert_int_eq(ev_run(dev), 0);
	/* FIFO, nested defers after earlier ones, hooks in order. */
	ck_assert_str_eq(trace, "Ttxyz12h");
	ev_timer_free(t);
	ev_free(dev);
}
END_TEST

struct pipe_io {
	struct ev	*ev;
	struct ev_io	*io;
	struct pipe_io	*other;		/* its watcher is deleted by ours */
	int		 reads, writes;
	char		 got[16];
};

static void
pipe_on_io(int fd, int events, void *arg)
{
	struct pipe_io	*p = arg;
	ssize_t		 n;

	if (events & EV_WRITE)
		p->writes++;
	if (!(events & EV_READ))
		return;
	p->reads++;
	n = read(fd, p->got, sizeof(p->got) - 1);
	ck_assert_int_gt(n, 0);
	p->got[n] = '\0';
	ev_io_del(p->io);		/* its own watcher, mid-batch */
	p->io = NULL;
	if (p->other != NULL && p->other->io != NULL) {
		ev_io_del(p->other->io);	/* ready in this very batch */
		p->other->io = NULL;
	}
	ev_stop(p->ev);
}

static void
stop_cb(void *arg)
{
	ev_stop(arg);
}

START_TEST(ev_io_delete_in_batch)
{
	struct ev	*ev = ev_new();
	struct pipe_io	 a, b;
	int		 sv[2], sw[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sw), 0);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.ev = b.ev = ev;
	a.other = &b;
	b.other = &a;
	a.io = ev_io_add(ev, sv[0], EV_READ, pipe_on_io, &a);
	b.io = ev_io_add(ev, sw[0], EV_READ, pipe_on_io, &b);
	/* Both ready before the loop runs: one epoll batch. */
	ck_assert_int_eq(write(sv[1], "ping", 4), 4);
	ck_assert_int_eq(write(sw[1], "pong", 4), 4);
	ck_assert_int_eq(ev_run(ev), 0);
	/* Whichever ran first deleted the other: it must not run. */
	ck_assert_int_eq(a.reads + b.reads, 1);
	ck_assert_str_eq(a.reads ? a.got : b.got, a.reads ? "ping" : "pong");
	ck_assert_ptr_null(a.io);
	ck_assert_ptr_null(b.io);
	close(sv[0]);
	close(sv[1]);
	close(sw[0]);
	close(sw[1]);
	ev_free(ev);
}
END_TEST

START_TEST(ev_io_readiness)
{
	struct ev	*ev = ev_new();
	struct pipe_io	 a;
	struct ev_timer	*stop;
	int		 sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	memset(&a, 0, sizeof(a));
	a.ev = ev;
	stop = ev_timer_new(ev, stop_cb, ev);
	/* Writable at once; EV_READ not asked for, so never reported. */
	a.io = ev_io_add(ev, sv[0], EV_WRITE, pipe_on_io, &a);
	ck_assert_int_eq(write(sv[1], "x", 1), 1);
	close(sv[1]);			/* hang-up too */
	ev_timer_set(stop, 20);
	ck_assert_int_eq(ev_run(ev), 0);
	ck_assert_int_gt(a.writes, 0);
	ck_assert_int_eq(a.reads, 0);
	/* Idle (events 0): nothing at all, even with a hang-up pending. */
	ev_io_set(a.io, 0);
	a.writes = 0;
	ev_timer_set(stop, 20);
	ck_assert_int_eq(ev_run(ev), 0);
	ck_assert_int_eq(a.writes + a.reads, 0);
	/* Reading again: the byte written before is there. */
	ev_io_set(a.io, EV_READ);
	ev_timer_set(stop, 10000);	/* only a guard: the read stops */
	ck_assert_int_eq(ev_run(ev), 0);
	ck_assert_int_eq(a.reads, 1);
	ck_assert_str_eq(a.got, "x");
	ck_assert_ptr_null(a.io);
	ev_timer_free(stop);
	close(sv[0]);
	ev_free(ev);
}
END_TEST

struct sigseen {
	struct ev	*ev;
	int		 usr1, usr2;
};

static void
sig_on(int signo, void *arg)
{
	struct sigseen	*s = arg;

	if (signo == SIGUSR1)
		s->usr1++;
	if (signo == SIGUSR2)
		s->usr2++;
	if (s->usr1 > 0 && s->usr2 > 0)
		ev_stop(s->ev);
}

START_TEST(ev_signals)
{
	struct ev	*ev = ev_new();
	struct sigseen	 s;
	sigset_t	 cur;

	memset(&s, 0, sizeof(s));
	s.ev = ev;
	ck_assert_int_eq(ev_signal(ev, SIGUSR1, sig_on, &s), 0);
	ck_assert_int_eq(ev_signal(ev, SIGUSR2, sig_on, &s), 0);
	ck_assert_int_eq(ev_signal(ev, 0, sig_on, &s), -1);
	/* Both would kill the process if they were not blocked. */
	ck_assert_int_eq(raise(SIGUSR1), 0);
	ck_assert_int_eq(kill(getpid(), SIGUSR2), 0);
	ck_assert_int_eq(ev_run(ev), 0);
	ck_assert_int_eq(s.usr1, 1);
	ck_assert_int_eq(s.usr2, 1);
	ev_free(ev);
	/* ev_free hands the signals back. */
	ck_assert_int_eq(sigprocmask(SIG_BLOCK, NULL, &cur), 0);
	ck_assert_int_eq(sigismember(&cur, SIGUSR1), 0);
}
END_TEST

START_TEST(ev_now_monotonic)
{
	struct ev	*ev = ev_new();
	uint64_t	 t0 = ev_now(ev);
	struct ev_timer	*t = ev_timer_new(ev, stop_cb, ev);

	ev_timer_set(t, 15);
	ck_assert_int_eq(ev_run(ev), 0);
	/* Fired no earlier than asked (no upper bound: slow CI). */
	ck_assert_uint_ge(ev_now(ev), t0 + 15);
	ev_timer_free(t);
	ev_free(ev);
}
END_TEST

static Suite *
ev_suite(void)
{
	Suite	*s = suite_create("ev");
	TCase	*tc = tcase_create("ev");

	tcase_add_test(tc, ev_timers_order);
	tcase_add_test(tc, ev_timers_rearm_stop_free);
	tcase_add_test(tc, ev_timers_many);
	tcase_add_test(tc, ev_defer_and_hooks);
	tcase_add_test(tc, ev_io_delete_in_batch);
	tcase_add_test(tc, ev_io_readiness);
	tcase_add_test(tc, ev_signals);
	tcase_add_test(tc, ev_now_monotonic);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(ev_suite)
