/*
 * sm.h: the outbound half of XEP-0198 stream management as plain data:
 * the queue of stanzas sent but not yet acknowledged, and the counters,
 * which wrap at 2^32 (XEP-0198 §5). No I/O; c2s and the session layer
 * decide when to send <r/> and what to do with what is left on failure.
 */
#ifndef XMPPD_SM_H
#define XMPPD_SM_H

#include <stddef.h>
#include <stdint.h>

struct stanza;
struct sm_queue;

/* A queue holding at most max unacked stanzas. */
struct sm_queue	*sm_queue_new(size_t max);
/* Frees the queue and drops its stanza references. */
void		 sm_queue_free(struct sm_queue *);
/*
 * Record st as sent (takes a reference), with an opaque tag the caller
 * gets back when the client acknowledges it (the spool row of a queued
 * message; 0 for none). 0, or -1 if the queue is full: the caller must
 * not send st then.
 */
int		 sm_queue_push(struct sm_queue *, struct stanza *, int64_t tag);
/* Called for each stanza an ack covers, oldest first. */
typedef void	(*sm_acked_fn)(void *arg, struct stanza *, int64_t tag);
/*
 * The client reports h stanzas handled. Drops what h covers, calling
 * fn (if not NULL) for each. Returns the number newly acknowledged, or
 * -1 if h claims more than was ever sent (a stream error; the queue is
 * unchanged).
 */
long		 sm_queue_ack(struct sm_queue *, uint32_t h, sm_acked_fn fn,
		    void *arg);
/*
 * Start an empty queue's counters at h instead of 0. Only the unit tests
 * need it, to cross the 2^32 wrap without sending four billion stanzas.
 */
void		 sm_queue_start_at(struct sm_queue *, uint32_t h);
/* Stanzas sent so far, mod 2^32 (the server's outbound h). */
uint32_t	 sm_queue_sent(const struct sm_queue *);
/* The last h the client acknowledged. */
uint32_t	 sm_queue_acked(const struct sm_queue *);
size_t		 sm_queue_len(const struct sm_queue *);
size_t		 sm_queue_max(const struct sm_queue *);
/* The i-th unacked stanza, oldest first (borrowed), or NULL. */
struct stanza	*sm_queue_at(const struct sm_queue *, size_t i);
/*
 * Take the oldest unacked stanza out (the caller now owns the reference)
 * without counting it as acknowledged: used to answer the iq requests a
 * dead session still holds. NULL when empty; *tag gets its tag.
 */
struct stanza	*sm_queue_shift(struct sm_queue *, int64_t *tag);

#endif
