/*
 * dict.c: chained hash table with FNV-1a hashing. The table doubles when
 * the load passes 1, so lookups stay O(1) as sessions grow to 100,000.
 */
#include "dict.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

struct dict_ent {
	struct dict_ent	*next;
	uint32_t	 hash;
	void		*value;
	char		 key[];
};

struct dict {
	struct dict_ent	**b;
	size_t		  nb;		/* power of two */
	size_t		  n;
};

static uint32_t
dict_hash(const char *s)
{
	uint32_t	h = 2166136261u;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

static struct dict_ent **
dict_slot(const struct dict *d, const char *key, uint32_t h)
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
	return d;
}

/* Look key up. */
void *
dict_get(const struct dict *d, const char *key)
{
	struct dict_ent	*e = *dict_slot(d, key, dict_hash(key));

	return e != NULL ? e->value : NULL;
}

/* Insert or replace. */
void *
dict_set(struct dict *d, const char *key, void *value)
{
	struct dict_ent	**pp, *e;
	uint32_t	  h = dict_hash(key);
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

	pp = dict_slot(d, key, dict_hash(key));
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
