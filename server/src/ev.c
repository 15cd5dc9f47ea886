/*
 * ev.c: the event loop (Redis's ae, reduced). Level-triggered epoll for
 * fds, a binary min-heap of timers, one signalfd for all signals, a FIFO of
 * deferred calls drained after every callback, and turn hooks.
 *
 * Safety rule: a callback may delete any watcher or timer, its own
 * included. Deleted watchers are only marked dead while a turn runs (the
 * epoll batch may still point at them) and are freed at the end of the
 * turn. Timers leave the heap at once; the dispatcher never touches a
 * timer after calling it.
 */
#include "ev.h"

#include <sys/epoll.h>
#include <sys/signalfd.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "xmalloc.h"

#define EV_BATCH	128
#define EV_NOT_PENDING	SIZE_MAX

struct ev_io {
	struct ev	*ev;
	int		 fd;
	int		 events;	/* what the owner asked for */
	bool		 registered;	/* in the epoll set */
	bool		 dead;
	ev_io_cb	 cb;
	void		*arg;
	struct ev_io	*next_dead;
};

struct ev_timer {
	struct ev	*ev;
	uint64_t	 when;
	uint64_t	 seq;		/* ties fire in arming order */
	size_t		 slot;		/* heap index or EV_NOT_PENDING */
	ev_fn		 fn;
	void		*arg;
};

struct ev_call {
	ev_fn		 fn;
	void		*arg;
};

struct ev_calls {
	struct ev_call	*v;
	size_t		 head, len, cap;
};

struct ev_sig {
	ev_signal_cb	 cb;
	void		*arg;
};

struct ev {
	int		 epfd;
	bool		 stop;
	bool		 running;
	uint64_t	 now;
	uint64_t	 turn;		/* loop turns run so far */
	uint64_t	 seq;

	struct ev_timer	**heap;
	size_t		 nheap, heapcap;

	struct ev_calls	 defer;
	struct ev_calls	 hooks;
	bool		 wake;		/* hooks have work: do not block */

	struct ev_io	*dead;

	int		 sigfd;
	sigset_t	 sigmask;
	struct ev_io	*sigio;
	struct ev_sig	 sigs[_NSIG];
};

static uint64_t
ev_clock(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fatal("clock_gettime");
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct ev *
ev_new(void)
{
	struct ev	*ev;

	ev = xcalloc(1, sizeof(*ev));
	if ((ev->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1");
	ev->sigfd = -1;
	sigemptyset(&ev->sigmask);
	ev->now = ev_clock();
	return ev;
}

static void
ev_calls_push(struct ev_calls *q, ev_fn fn, void *arg)
{
	if (q->head > 0 && q->head + q->len == q->cap) {
		memmove(q->v, q->v + q->head, q->len * sizeof(*q->v));
		q->head = 0;
	}
	if (q->len == q->cap) {
		q->cap = q->cap == 0 ? 16 : q->cap * 2;
		q->v = xreallocarray(q->v, q->cap, sizeof(*q->v));
	}
	q->v[q->head + q->len].fn = fn;
	q->v[q->head + q->len].arg = arg;
	q->len++;
}

/* Drain the deferred queue, including calls deferred while draining. */
static void
ev_run_deferred(struct ev *ev)
{
	struct ev_call	 call;

	while (ev->defer.len > 0) {
		call = ev->defer.v[ev->defer.head];
		ev->defer.head++;
		ev->defer.len--;
		if (ev->defer.len == 0)
			ev->defer.head = 0;
		call.fn(call.arg);
	}
}

static void
ev_free_dead(struct ev *ev)
{
	struct ev_io	*io;

	while ((io = ev->dead) != NULL) {
		ev->dead = io->next_dead;
		free(io);
	}
}

void
ev_free(struct ev *ev)
{
	if (ev == NULL)
		return;
	/* Deferred frees still queued would otherwise leak. */
	ev_run_deferred(ev);
	if (ev->sigio != NULL)
		ev_io_del(ev->sigio);
	ev_free_dead(ev);
	if (ev->sigfd != -1) {
		close(ev->sigfd);
		sigprocmask(SIG_UNBLOCK, &ev->sigmask, NULL);
	}
	close(ev->epfd);
	free(ev->heap);
	free(ev->defer.v);
	free(ev->hooks.v);
	free(ev);
}

void
ev_stop(struct ev *ev)
{
	ev->stop = true;
}

uint64_t
ev_now(const struct ev *ev)
{
	return ev->now;
}

uint64_t
ev_turn(const struct ev *ev)
{
	return ev->turn;
}

/* --- fd watchers ------------------------------------------------------ */

/*
 * An idle watcher (events 0) is taken out of the epoll set: epoll reports
 * EPOLLHUP/EPOLLERR even for an empty mask, which would spin the loop for
 * a paused connection whose peer hung up.
 */
static void
ev_io_apply(struct ev_io *io)
{
	struct epoll_event	 ee;
	int			 op;

	memset(&ee, 0, sizeof(ee));
	ee.data.ptr = io;
	if (io->events & EV_READ)
		ee.events |= EPOLLIN;
	if (io->events & EV_WRITE)
		ee.events |= EPOLLOUT;
	if (io->events == 0) {
		if (!io->registered)
			return;
		op = EPOLL_CTL_DEL;
	} else
		op = io->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(io->ev->epfd, op, io->fd, &ee) == -1) {
		/* A closed fd has already left the set by itself. */
		if (op == EPOLL_CTL_DEL && (errno == EBADF || errno == ENOENT)) {
			io->registered = false;
			return;
		}
		/* EBADF/EPERM/EEXIST are bugs; ENOMEM/ENOSPC are not. */
		if (errno == ENOMEM || errno == ENOSPC) {
			log_warn("epoll_ctl fd=%d", io->fd);
			return;
		}
		fatal("epoll_ctl op=%d fd=%d", op, io->fd);
	}
	io->registered = io->events != 0;
}

struct ev_io *
ev_io_add(struct ev *ev, int fd, int events, ev_io_cb cb, void *arg)
{
	struct ev_io	*io;

	io = xcalloc(1, sizeof(*io));
	io->ev = ev;
	io->fd = fd;
	io->cb = cb;
	io->arg = arg;
	io->events = events & (EV_READ | EV_WRITE);
	ev_io_apply(io);
	return io;
}

void
ev_io_set(struct ev_io *io, int events)
{
	events &= EV_READ | EV_WRITE;
	if (io->dead || events == io->events)
		return;
	io->events = events;
	ev_io_apply(io);
}

void
ev_io_del(struct ev_io *io)
{
	struct ev	*ev;

	if (io == NULL || io->dead)
		return;
	ev = io->ev;
	io->events = 0;
	ev_io_apply(io);
	io->dead = true;
	if (!ev->running) {
		free(io);
		return;
	}
	io->next_dead = ev->dead;
	ev->dead = io;
}

/* --- timers: a binary min-heap on (when, seq) ------------------------- */

static bool
ev_timer_before(const struct ev_timer *a, const struct ev_timer *b)
{
	if (a->when != b->when)
		return a->when < b->when;
	return a->seq < b->seq;
}

static void
ev_heap_put(struct ev *ev, size_t i, struct ev_timer *t)
{
	ev->heap[i] = t;
	t->slot = i;
}

static void
ev_heap_up(struct ev *ev, size_t i)
{
	struct ev_timer	*t = ev->heap[i];
	size_t		 parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (!ev_timer_before(t, ev->heap[parent]))
			break;
		ev_heap_put(ev, i, ev->heap[parent]);
		i = parent;
	}
	ev_heap_put(ev, i, t);
}

static void
ev_heap_down(struct ev *ev, size_t i)
{
	struct ev_timer	*t = ev->heap[i];
	size_t		 child;

	for (;;) {
		child = 2 * i + 1;
		if (child >= ev->nheap)
			break;
		if (child + 1 < ev->nheap &&
		    ev_timer_before(ev->heap[child + 1], ev->heap[child]))
			child++;
		if (!ev_timer_before(ev->heap[child], t))
			break;
		ev_heap_put(ev, i, ev->heap[child]);
		i = child;
	}
	ev_heap_put(ev, i, t);
}

static void
ev_heap_remove(struct ev *ev, struct ev_timer *t)
{
	size_t		 i = t->slot;
	struct ev_timer	*last;

	t->slot = EV_NOT_PENDING;
	last = ev->heap[--ev->nheap];
	if (last == t)
		return;
	ev_heap_put(ev, i, last);
	if (i > 0 && ev_timer_before(last, ev->heap[(i - 1) / 2]))
		ev_heap_up(ev, i);
	else
		ev_heap_down(ev, i);
}

struct ev_timer *
ev_timer_new(struct ev *ev, ev_fn fn, void *arg)
{
	struct ev_timer	*t;

	t = xcalloc(1, sizeof(*t));
	t->ev = ev;
	t->fn = fn;
	t->arg = arg;
	t->slot = EV_NOT_PENDING;
	return t;
}

void
ev_timer_set(struct ev_timer *t, uint64_t ms)
{
	struct ev	*ev = t->ev;

	if (t->slot != EV_NOT_PENDING)
		ev_heap_remove(ev, t);
	t->when = ev->now + ms;
	if (t->when < ev->now)
		t->when = UINT64_MAX;	/* "never", effectively */
	t->seq = ev->seq++;
	if (ev->nheap == ev->heapcap) {
		ev->heapcap = ev->heapcap == 0 ? 64 : ev->heapcap * 2;
		ev->heap = xreallocarray(ev->heap, ev->heapcap,
		    sizeof(*ev->heap));
	}
	ev->nheap++;
	ev_heap_put(ev, ev->nheap - 1, t);
	ev_heap_up(ev, ev->nheap - 1);
}

void
ev_timer_stop(struct ev_timer *t)
{
	if (t != NULL && t->slot != EV_NOT_PENDING)
		ev_heap_remove(t->ev, t);
}

int
ev_timer_pending(const struct ev_timer *t)
{
	return t->slot != EV_NOT_PENDING;
}

void
ev_timer_free(struct ev_timer *t)
{
	if (t == NULL)
		return;
	ev_timer_stop(t);
	free(t);
}

/*
 * Fire due timers. Only timers armed before this pass started may fire,
 * so a callback re-arming itself with 0 ms runs next turn, not forever.
 */
static void
ev_run_timers(struct ev *ev)
{
	uint64_t	 limit = ev->seq;
	struct ev_timer	*t;

	while (ev->nheap > 0 && !ev->stop) {
		t = ev->heap[0];
		if (t->when > ev->now || t->seq >= limit)
			break;
		ev_heap_remove(ev, t);
		t->fn(t->arg);		/* may free t */
		ev_run_deferred(ev);
	}
}

/* --- deferred calls, turn hooks, signals ----------------------------- */

void
ev_defer(struct ev *ev, ev_fn fn, void *arg)
{
	ev_calls_push(&ev->defer, fn, arg);
}

void
ev_turn_hook(struct ev *ev, ev_fn fn, void *arg)
{
	ev_calls_push(&ev->hooks, fn, arg);
}

void
ev_wake(struct ev *ev)
{
	ev->wake = true;
}

static void
ev_on_signalfd(int fd, int events, void *arg)
{
	struct ev		*ev = arg;
	struct signalfd_siginfo	 si;
	ssize_t			 n;

	(void)events;
	for (;;) {
		n = read(fd, &si, sizeof(si));
		if (n == -1 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(si))
			return;
		if (si.ssi_signo < _NSIG && ev->sigs[si.ssi_signo].cb != NULL) {
			ev->sigs[si.ssi_signo].cb((int)si.ssi_signo,
			    ev->sigs[si.ssi_signo].arg);
			ev_run_deferred(ev);
		}
	}
}

int
ev_signal(struct ev *ev, int signo, ev_signal_cb cb, void *arg)
{
	sigset_t	 one;
	int		 fd;

	if (signo <= 0 || signo >= _NSIG || cb == NULL) {
		errno = EINVAL;
		return -1;
	}
	sigemptyset(&one);
	if (sigaddset(&one, signo) == -1)
		return -1;
	/* Blocked first, so a signal arriving now waits for the fd. */
	if (sigprocmask(SIG_BLOCK, &one, NULL) == -1)
		return -1;
	sigaddset(&ev->sigmask, signo);
	if ((fd = signalfd(ev->sigfd, &ev->sigmask,
	    SFD_NONBLOCK | SFD_CLOEXEC)) == -1) {
		log_warn("signalfd");
		return -1;
	}
	ev->sigfd = fd;
	ev->sigs[signo].cb = cb;
	ev->sigs[signo].arg = arg;
	if (ev->sigio == NULL)
		ev->sigio = ev_io_add(ev, fd, EV_READ, ev_on_signalfd, ev);
	return 0;
}

/* --- the loop --------------------------------------------------------- */

static int
ev_timeout(const struct ev *ev)
{
	uint64_t	 now, when;

	if (ev->defer.len > 0 || ev->stop || ev->wake)
		return 0;
	if (ev->nheap == 0)
		return -1;
	when = ev->heap[0]->when;
	now = ev_clock();
	if (when <= now)
		return 0;
	return when - now > INT_MAX ? INT_MAX : (int)(when - now);
}

static void
ev_dispatch(struct epoll_event *ee)
{
	struct ev_io	*io = ee->data.ptr;
	int		 got = 0;

	/* An earlier callback in this batch may have deleted or muted it. */
	if (io->dead)
		return;
	if (ee->events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
		got |= EV_READ;
	if (ee->events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		got |= EV_WRITE;
	got &= io->events;
	if (got == 0)
		return;
	io->cb(io->fd, got, io->arg);
	ev_run_deferred(io->ev);
}

static void
ev_run_hooks(struct ev *ev)
{
	size_t	 i;

	ev->wake = false;
	/* Indexing, not pointers: a hook may register another hook. */
	for (i = 0; i < ev->hooks.len; i++) {
		ev->hooks.v[ev->hooks.head + i].fn(
		    ev->hooks.v[ev->hooks.head + i].arg);
		ev_run_deferred(ev);
	}
}

int
ev_run(struct ev *ev)
{
	struct epoll_event	 events[EV_BATCH];
	int			 i, n, ret = 0;

	ev->stop = false;
	ev->running = true;
	while (!ev->stop) {
		ev_run_deferred(ev);
		n = epoll_wait(ev->epfd, events, EV_BATCH, ev_timeout(ev));
		ev->now = ev_clock();
		ev->turn++;
		if (n == -1) {
			if (errno != EINTR) {
				log_warn("epoll_wait");
				ret = -1;
				break;
			}
			n = 0;
		}
		for (i = 0; i < n; i++)
			ev_dispatch(&events[i]);
		ev_run_timers(ev);
		ev_run_hooks(ev);
		ev_free_dead(ev);
	}
	ev_free_dead(ev);
	ev->running = false;
	return ret;
}
