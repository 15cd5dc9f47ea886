/*
 * ev.h: the single-threaded event loop. epoll for fds, a binary heap for
 * timers (O(log n) per operation, never a scan of all timers), signalfd for
 * signals, deferred calls that run after the current callback stack has
 * unwound, and turn hooks that run once per loop turn (group commit).
 * Only ev.c includes <sys/epoll.h>.
 */
#ifndef XMPPD_EV_H
#define XMPPD_EV_H

#include <stdint.h>

struct ev;
struct ev_io;
struct ev_timer;

enum {
	EV_READ = 1,
	EV_WRITE = 2,
};

typedef void (*ev_io_cb)(int fd, int events, void *arg);
typedef void (*ev_fn)(void *arg);
typedef void (*ev_signal_cb)(int signo, void *arg);

struct ev	*ev_new(void);
void		 ev_free(struct ev *);
/* Run until ev_stop(); returns 0, or -1 if epoll itself failed. */
int		 ev_run(struct ev *);
void		 ev_stop(struct ev *);
/* Monotonic milliseconds, sampled once per loop turn. */
uint64_t	 ev_now(const struct ev *);
/* The number of the current loop turn (a budget per turn resets on it). */
uint64_t	 ev_turn(const struct ev *);

/* Watch fd for EV_READ|EV_WRITE; events 0 keeps it registered but idle. */
struct ev_io	*ev_io_add(struct ev *, int fd, int events, ev_io_cb, void *);
void		 ev_io_set(struct ev_io *, int events);
/* Unregister and free the watcher (the fd is not closed). */
void		 ev_io_del(struct ev_io *);

struct ev_timer	*ev_timer_new(struct ev *, ev_fn, void *);
/* (Re)arm to fire once, ms milliseconds from now. */
void		 ev_timer_set(struct ev_timer *, uint64_t ms);
void		 ev_timer_stop(struct ev_timer *);
int		 ev_timer_pending(const struct ev_timer *);
void		 ev_timer_free(struct ev_timer *);

/* Call fn(arg) later in this loop turn, after current callbacks return. */
void		 ev_defer(struct ev *, ev_fn, void *);
/* Call fn(arg) at the end of every loop turn, in registration order. */
void		 ev_turn_hook(struct ev *, ev_fn, void *);
/*
 * The turn hooks have work (something was queued for them after they
 * ran): the next turn does not wait for an event.
 */
void		 ev_wake(struct ev *);
/* Deliver signo through the loop (blocked and read from a signalfd). */
int		 ev_signal(struct ev *, int signo, ev_signal_cb, void *);

#endif
