/*
 * ratelimit.h: failure counters per key (a source address, an account)
 * with a sliding window, to slow down password guessing. Memory is
 * bounded: the table holds at most a fixed number of keys and forgets the
 * oldest first. Pure: time is passed in.
 */
#ifndef XMPPD_RATELIMIT_H
#define XMPPD_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ratelimit;

/* Allow at most limit failures per window_ms for each key (0: off). */
struct ratelimit	*ratelimit_new(unsigned limit, uint64_t window_ms,
			    size_t max_keys);
/* True if key has reached its limit at time now_ms. */
bool			 ratelimit_blocked(struct ratelimit *, const char *key,
			    uint64_t now_ms);
/* Record one failure for key. */
void			 ratelimit_fail(struct ratelimit *, const char *key,
			    uint64_t now_ms);
/* Forget key (after a successful login). */
void			 ratelimit_clear(struct ratelimit *, const char *key);
void			 ratelimit_free(struct ratelimit *);

#endif
