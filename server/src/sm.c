/*
 * sm.c: the unacked-stanza ring of XEP-0198. The ring grows by doubling up
 * to its maximum, so an idle session holds no array at all and a busy one
 * pays O(1) per push and per acknowledged stanza.
 */
#include "sm.h"

#include <stdlib.h>

#include "stanza.h"
#include "xmalloc.h"

struct sm_slot {
	struct stanza	*st;
	int64_t		 tag;
};

struct sm_queue {
	struct sm_slot	 *ring;
	size_t		  cap;		/* allocated slots (power of 2) */
	size_t		  head;		/* oldest unacked */
	size_t		  len;
	size_t		  max;
	uint32_t	  sent;		/* h of the last stanza pushed */
	uint32_t	  acked;	/* h the client confirmed */
};

struct sm_queue *
sm_queue_new(size_t max)
{
	struct sm_queue	*q = xcalloc(1, sizeof(*q));

	q->max = max > 0 ? max : 1;
	return q;
}

void
sm_queue_free(struct sm_queue *q)
{
	struct stanza	*st;
	int64_t		 tag;

	if (q == NULL)
		return;
	while ((st = sm_queue_shift(q, &tag)) != NULL)
		stanza_unref(st);
	free(q->ring);
	free(q);
}

/* Double the ring, unrolling it so head becomes slot 0. */
static void
sm_queue_grow(struct sm_queue *q)
{
	size_t		 ncap = q->cap == 0 ? 8 : q->cap * 2, i;
	struct sm_slot	*nring = xreallocarray(NULL, ncap, sizeof(*nring));

	for (i = 0; i < q->len; i++)
		nring[i] = q->ring[(q->head + i) & (q->cap - 1)];
	free(q->ring);
	q->ring = nring;
	q->cap = ncap;
	q->head = 0;
}

int
sm_queue_push(struct sm_queue *q, struct stanza *st, int64_t tag)
{
	struct sm_slot	*slot;

	if (q->len >= q->max)
		return -1;
	if (q->len == q->cap)
		sm_queue_grow(q);
	slot = &q->ring[(q->head + q->len) & (q->cap - 1)];
	slot->st = stanza_ref(st);
	slot->tag = tag;
	q->len++;
	q->sent++;		/* unsigned: wraps at 2^32 as §5 requires */
	return 0;
}

long
sm_queue_ack(struct sm_queue *q, uint32_t h, sm_acked_fn fn, void *arg)
{
	uint32_t	 n = h - q->acked;	/* mod 2^32 */
	uint32_t	 i;
	struct stanza	*st;
	int64_t		 tag = 0;

	/* Unsigned distance from the last ack: more than is queued is a lie. */
	if (n > q->len)
		return -1;
	/* Counted first: fn may look at the queue. */
	q->acked = h;
	for (i = 0; i < n; i++) {
		st = sm_queue_shift(q, &tag);
		if (fn != NULL)
			fn(arg, st, tag);
		stanza_unref(st);
	}
	return (long)n;
}

void
sm_queue_start_at(struct sm_queue *q, uint32_t h)
{
	if (q->len == 0)
		q->sent = q->acked = h;
}

uint32_t
sm_queue_sent(const struct sm_queue *q)
{
	return q->sent;
}

uint32_t
sm_queue_acked(const struct sm_queue *q)
{
	return q->acked;
}

size_t
sm_queue_len(const struct sm_queue *q)
{
	return q->len;
}

size_t
sm_queue_max(const struct sm_queue *q)
{
	return q->max;
}

struct stanza *
sm_queue_at(const struct sm_queue *q, size_t i)
{
	if (i >= q->len)
		return NULL;
	return q->ring[(q->head + i) & (q->cap - 1)].st;
}

struct stanza *
sm_queue_shift(struct sm_queue *q, int64_t *tag)
{
	struct stanza	*st;

	if (q->len == 0)
		return NULL;
	st = q->ring[q->head].st;
	*tag = q->ring[q->head].tag;
	q->head = (q->head + 1) & (q->cap - 1);
	q->len--;
	if (q->len == 0 && q->cap > 64) {
		/* A burst is over: give the big ring back. */
		free(q->ring);
		q->ring = NULL;
		q->cap = 0;
		q->head = 0;
	}
	return st;
}
