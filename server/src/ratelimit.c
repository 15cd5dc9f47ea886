/*
 * ratelimit.c: bounded failure counters for password guessing.
 *
 * Each key keeps two fixed windows (the current one and the one before)
 * and is judged on the weighted sum prev * (unexpired share) + cur, the
 * usual sliding-window estimate: a burst of `limit` failures blocks at
 * once and stays blocked until window_ms after it, then the key recovers
 * gradually. Three numbers per key instead of a timestamp per failure.
 *
 * Memory is fixed at creation: max_keys entries in one array, found
 * through an open-addressing table keyed with SipHash (random key, so
 * peers who choose account names cannot build long probe chains), and
 * linked in least-recently-failed order. A new key when the table is
 * full evicts the key whose last failure is oldest. Every operation is
 * O(1) on average. Time comes from the caller; nothing here does I/O.
 */
#include "ratelimit.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xmalloc.h"

#define RL_NONE		UINT32_MAX	/* end of the LRU list */
#define RL_EMPTY	0		/* free hash slot; slots hold index+1 */
#define RL_WINDOW_MAX	UINT32_MAX	/* keeps the estimate in 64 bits */

struct rl_entry {
	char		*key;
	uint64_t	 hash;
	uint64_t	 start;		/* when the current window began */
	unsigned	 prev;		/* failures in the window before */
	unsigned	 cur;		/* failures in the current window */
	uint32_t	 older, newer;	/* LRU links, RL_NONE at the ends */
};

struct ratelimit {
	struct rl_entry	*ent;		/* n used of max, densely packed */
	uint32_t	*slot;		/* nslots, a power of two >= 2 * max */
	size_t		 nslots, n, max;
	uint32_t	 oldest, newest;
	uint64_t	 sipkey[2];
	unsigned	 limit;
	uint64_t	 window;
};

static uint64_t
rl_rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static void
rl_sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = rl_rotl(v[1], 13) ^ v[0];
	v[0] = rl_rotl(v[0], 32);
	v[2] += v[3];
	v[3] = rl_rotl(v[3], 16) ^ v[2];
	v[0] += v[3];
	v[3] = rl_rotl(v[3], 21) ^ v[0];
	v[2] += v[1];
	v[1] = rl_rotl(v[1], 17) ^ v[2];
	v[2] = rl_rotl(v[2], 32);
}

/* SipHash-1-3 of a string (the variant Rust and Python use for tables). */
static uint64_t
rl_hash(const struct ratelimit *rl, const char *s)
{
	uint64_t	v[4], m;
	size_t		len = strlen(s), i, k;

	v[0] = rl->sipkey[0] ^ 0x736f6d6570736575ULL;
	v[1] = rl->sipkey[1] ^ 0x646f72616e646f6dULL;
	v[2] = rl->sipkey[0] ^ 0x6c7967656e657261ULL;
	v[3] = rl->sipkey[1] ^ 0x7465646279746573ULL;
	for (i = 0; i + 8 <= len; i += 8) {
		for (m = 0, k = 0; k < 8; k++)
			m |= (uint64_t)(unsigned char)s[i + k] << (8 * k);
		v[3] ^= m;
		rl_sipround(v);
		v[0] ^= m;
	}
	for (m = (uint64_t)len << 56, k = 0; i + k < len; k++)
		m |= (uint64_t)(unsigned char)s[i + k] << (8 * k);
	v[3] ^= m;
	rl_sipround(v);
	v[0] ^= m;
	v[2] ^= 0xff;
	rl_sipround(v);
	rl_sipround(v);
	rl_sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* Create a limiter; limit or window_ms 0 turns it off. */
struct ratelimit *
ratelimit_new(unsigned limit, uint64_t window_ms, size_t max_keys)
{
	struct ratelimit	*rl;

	if (max_keys == 0)
		max_keys = 1;
	if (max_keys > UINT32_MAX / 4)
		fatalx("%s: %zu keys is too many", __func__, max_keys);
	rl = xcalloc(1, sizeof(*rl));
	rl->limit = limit;
	rl->window = window_ms < RL_WINDOW_MAX ? window_ms : RL_WINDOW_MAX;
	rl->max = max_keys;
	for (rl->nslots = 4; rl->nslots < 2 * max_keys; rl->nslots *= 2)
		;
	rl->ent = xcalloc(max_keys, sizeof(*rl->ent));
	rl->slot = xcalloc(rl->nslots, sizeof(*rl->slot));
	rl->oldest = rl->newest = RL_NONE;
	arc4random_buf(rl->sipkey, sizeof(rl->sipkey));
	return rl;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t
rl_find(const struct ratelimit *rl, const char *key, uint64_t h)
{
	size_t			 mask = rl->nslots - 1, i = h & mask;
	const struct rl_entry	*e;

	while (rl->slot[i] != RL_EMPTY) {
		e = &rl->ent[rl->slot[i] - 1];
		if (e->hash == h && strcmp(e->key, key) == 0)
			break;
		i = (i + 1) & mask;
	}
	return i;
}

static void
rl_unlink(struct ratelimit *rl, uint32_t idx)
{
	struct rl_entry	*e = &rl->ent[idx];

	if (e->older != RL_NONE)
		rl->ent[e->older].newer = e->newer;
	else
		rl->oldest = e->newer;
	if (e->newer != RL_NONE)
		rl->ent[e->newer].older = e->older;
	else
		rl->newest = e->older;
}

static void
rl_push_newest(struct ratelimit *rl, uint32_t idx)
{
	struct rl_entry	*e = &rl->ent[idx];

	e->older = rl->newest;
	e->newer = RL_NONE;
	if (rl->newest != RL_NONE)
		rl->ent[rl->newest].newer = idx;
	else
		rl->oldest = idx;
	rl->newest = idx;
}

/*
 * Empty slot i and shift later members of its probe run back so that
 * lookups never stop early (Knuth's deletion for linear probing).
 */
static void
rl_slot_clear(struct ratelimit *rl, size_t i)
{
	size_t	mask = rl->nslots - 1, j = i, home;

	rl->slot[i] = RL_EMPTY;
	for (;;) {
		j = (j + 1) & mask;
		if (rl->slot[j] == RL_EMPTY)
			return;
		home = rl->ent[rl->slot[j] - 1].hash & mask;
		/* Move j into the hole unless its home lies in (i, j]. */
		if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
			rl->slot[i] = rl->slot[j];
			rl->slot[j] = RL_EMPTY;
			i = j;
		}
	}
}

/* Remove the entry in slot i; the last entry fills its array place. */
static void
rl_remove(struct ratelimit *rl, size_t i)
{
	uint32_t	idx = rl->slot[i] - 1, last = (uint32_t)rl->n - 1;
	struct rl_entry	*e = &rl->ent[idx];

	rl_unlink(rl, idx);
	rl_slot_clear(rl, i);
	free(e->key);
	if (idx != last) {
		*e = rl->ent[last];
		rl->slot[rl_find(rl, e->key, e->hash)] = idx + 1;
		if (e->older != RL_NONE)
			rl->ent[e->older].newer = idx;
		else
			rl->oldest = idx;
		if (e->newer != RL_NONE)
			rl->ent[e->newer].older = idx;
		else
			rl->newest = idx;
	}
	memset(&rl->ent[last], 0, sizeof(rl->ent[last]));
	rl->n--;
}

/* Move the window forward to now; a clock that steps back is ignored. */
static void
rl_roll(const struct ratelimit *rl, struct rl_entry *e, uint64_t now)
{
	uint64_t	elapsed = now > e->start ? now - e->start : 0;

	if (elapsed >= 2 * rl->window) {
		e->prev = e->cur = 0;
		e->start = now;
	} else if (elapsed >= rl->window) {
		e->prev = e->cur;
		e->cur = 0;
		e->start += rl->window;
	}
}

/*
 * prev * (window - elapsed) / window + cur >= limit, kept in integers:
 * prev and cur never pass limit, window fits 32 bits, so no product
 * overflows.
 */
static bool
rl_over(const struct ratelimit *rl, const struct rl_entry *e, uint64_t now)
{
	uint64_t	elapsed = now > e->start ? now - e->start : 0;

	if (e->cur >= rl->limit)
		return true;
	return (uint64_t)e->prev * (rl->window - elapsed) >=
	    (uint64_t)(rl->limit - e->cur) * rl->window;
}

static bool
rl_disabled(const struct ratelimit *rl)
{
	return rl->limit == 0 || rl->window == 0;
}

/* True if key has reached the limit within the sliding window. */
bool
ratelimit_blocked(struct ratelimit *rl, const char *key, uint64_t now_ms)
{
	struct rl_entry	*e;
	size_t		 i;

	if (rl_disabled(rl) || key == NULL)
		return false;
	i = rl_find(rl, key, rl_hash(rl, key));
	if (rl->slot[i] == RL_EMPTY)
		return false;
	e = &rl->ent[rl->slot[i] - 1];
	rl_roll(rl, e, now_ms);
	return rl_over(rl, e, now_ms);
}

/* Count one failure; a new key may evict the least recently failed. */
void
ratelimit_fail(struct ratelimit *rl, const char *key, uint64_t now_ms)
{
	struct rl_entry	*e;
	uint64_t	 h;
	uint32_t	 idx;
	size_t		 i;

	if (rl_disabled(rl) || key == NULL)
		return;
	h = rl_hash(rl, key);
	i = rl_find(rl, key, h);
	if (rl->slot[i] != RL_EMPTY) {
		idx = rl->slot[i] - 1;
		rl_unlink(rl, idx);
	} else {
		if (rl->n == rl->max) {
			rl_remove(rl, rl_find(rl, rl->ent[rl->oldest].key,
			    rl->ent[rl->oldest].hash));
			i = rl_find(rl, key, h);	/* slots moved */
		}
		idx = (uint32_t)rl->n++;
		e = &rl->ent[idx];
		e->key = xstrdup(key);
		e->hash = h;
		e->start = now_ms;
		rl->slot[i] = idx + 1;
	}
	e = &rl->ent[idx];
	rl_roll(rl, e, now_ms);
	if (e->cur < rl->limit)
		e->cur++;
	rl_push_newest(rl, idx);
}

/* Forget key, e.g. after it logged in. */
void
ratelimit_clear(struct ratelimit *rl, const char *key)
{
	size_t	i;

	if (key == NULL)
		return;
	i = rl_find(rl, key, rl_hash(rl, key));
	if (rl->slot[i] != RL_EMPTY)
		rl_remove(rl, i);
}

void
ratelimit_free(struct ratelimit *rl)
{
	size_t	i;

	if (rl == NULL)
		return;
	for (i = 0; i < rl->n; i++)
		free(rl->ent[i].key);
	free(rl->ent);
	free(rl->slot);
	free(rl);
}
