/*
 * dict.c: chained hash table. The table doubles when the load passes 1,
 * so lookups stay O(1) as sessions grow to 100,000.
 *
 * Keys are JIDs, user names and stream ids that clients choose. With an
 * unkeyed hash (this file used FNV-1a) a client can compute names that
 * all land in one chain and make every lookup in that table a walk of
 * all of them. So each table hashes with SipHash-2-4 (Aumasson and
 * Bernstein's keyed hash, written here from its description and checked
 * against the reference test vector in check_dict.c) under a key of its
 * own, drawn from the kernel's random source (arc4random_buf, as
 * ratelimit.c does) when the table is made: nobody outside the process
 * knows which keys collide, and two tables do not collide alike.
 */
#include "dict.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

struct dict_ent {
	struct dict_ent	*next;
	uint64_t	 hash;
	void		*value;
	char		 key[];
};

struct dict {
	struct dict_ent	**b;
	size_t		  nb;		/* power of two */
	size_t		  n;
	uint64_t	  sipkey[2];
};

static uint64_t
dict_rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static void
dict_sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = dict_rotl(v[1], 13) ^ v[0];
	v[0] = dict_rotl(v[0], 32);
	v[2] += v[3];
	v[3] = dict_rotl(v[3], 16) ^ v[2];
	v[0] += v[3];
	v[3] = dict_rotl(v[3], 21) ^ v[0];
	v[2] += v[1];
	v[1] = dict_rotl(v[1], 17) ^ v[2];
	v[2] = dict_rotl(v[2], 32);
}

/* SipHash-2-4: two rounds per 8-byte word, four at the end. */
uint64_t
dict_siphash(const uint64_t key[2], const void *data, size_t len)
{
	const unsigned char	*p = data;
	uint64_t		 v[4], m;
	size_t			 i, k;

	v[0] = key[0] ^ 0x736f6d6570736575ULL;
	v[1] = key[1] ^ 0x646f72616e646f6dULL;
	v[2] = key[0] ^ 0x6c7967656e657261ULL;
	v[3] = key[1] ^ 0x7465646279746573ULL;
	for (i = 0; i + 8 <= len; i += 8) {
		for (m = 0, k = 0; k < 8; k++)
			m |= (uint64_t)p[i + k] << (8 * k);
		v[3] ^= m;
		dict_sipround(v);
		dict_sipround(v);
		v[0] ^= m;
	}
	for (m = (uint64_t)len << 56, k = 0; i + k < len; k++)
		m |= (uint64_t)p[i + k] << (8 * k);
	v[3] ^= m;
	dict_sipround(v);
	dict_sipround(v);
	v[0] ^= m;
	v[2] ^= 0xff;
	for (k = 0; k < 4; k++)
		dict_sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static uint64_t
dict_hash(const struct dict *d, const char *s)
{
	return dict_siphash(d->sipkey, s, strlen(s));
}

static struct dict_ent **
dict_slot(const struct dict *d, const char *key, uint64_t h)
{
	struct dict_ent	**pp = &d->b[h & (d->nb - 1)];

	while (*pp != NULL && ((*pp)->hash != h || strcmp((*pp)->key, key)))
		pp = &(*pp)->next;
	return pp;
}

static void
dict_grow(struct dict *d)
{
	struct dict_ent	**nb, *e, *next;
	size_t		  i, n = d->nb * 2;

	nb = xcalloc(n, sizeof(*nb));
	for (i = 0; i < d->nb; i++)
		for (e = d->b[i]; e != NULL; e = next) {
			next = e->next;
			e->next = nb[e->hash & (n - 1)];
			nb[e->hash & (n - 1)] = e;
		}
	free(d->b);
	d->b = nb;
	d->nb = n;
}

/* An empty table. */
struct dict *
dict_new(void)
{
	struct dict	*d = xcalloc(1, sizeof(*d));

	d->nb = 16;
	d->b = xcalloc(d->nb, sizeof(*d->b));
	arc4random_buf(d->sipkey, sizeof(d->sipkey));
	return d;
}

/* Look key up. */
void *
dict_get(const struct dict *d, const char *key)
{
	struct dict_ent	*e = *dict_slot(d, key, dict_hash(d, key));

	return e != NULL ? e->value : NULL;
}

/* Insert or replace. */
void *
dict_set(struct dict *d, const char *key, void *value)
{
	struct dict_ent	**pp, *e;
	uint64_t	  h = dict_hash(d, key);
	size_t		  len;
	void		 *old;

	pp = dict_slot(d, key, h);
	if (*pp != NULL) {
		old = (*pp)->value;
		(*pp)->value = value;
		return old;
	}
	len = strlen(key);
	e = xmalloc(sizeof(*e) + len + 1);
	memcpy(e->key, key, len + 1);
	e->hash = h;
	e->value = value;
	e->next = NULL;
	*pp = e;
	if (++d->n > d->nb)
		dict_grow(d);
	return NULL;
}

/* Remove key. */
void *
dict_del(struct dict *d, const char *key)
{
	struct dict_ent	**pp, *e;
	void		 *v;

	pp = dict_slot(d, key, dict_hash(d, key));
	if ((e = *pp) == NULL)
		return NULL;
	*pp = e->next;
	v = e->value;
	free(e);
	d->n--;
	return v;
}

/* Number of entries. */
size_t
dict_count(const struct dict *d)
{
	return d->n;
}

/* Visit every entry. */
void
dict_each(const struct dict *d, void (*fn)(void *, const char *, void *),
    void *arg)
{
	struct dict_ent	*e;
	size_t		 i;

	for (i = 0; i < d->nb; i++)
		for (e = d->b[i]; e != NULL; e = e->next)
			fn(arg, e->key, e->value);
}

/* Which bucket key is in now. */
size_t
dict_bucket(const struct dict *d, const char *key)
{
	return dict_hash(d, key) & (d->nb - 1);
}

/* The longest chain. */
size_t
dict_max_chain(const struct dict *d)
{
	struct dict_ent	*e;
	size_t		 i, n, max = 0;

	for (i = 0; i < d->nb; i++) {
		for (n = 0, e = d->b[i]; e != NULL; e = e->next)
			n++;
		if (n > max)
			max = n;
	}
	return max;
}

/* Free the table (not the values). */
void
dict_free(struct dict *d)
{
	struct dict_ent	*e, *next;
	size_t		 i;

	if (d == NULL)
		return;
	for (i = 0; i < d->nb; i++)
		for (e = d->b[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	free(d->b);
	free(d);
}
