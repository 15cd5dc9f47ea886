/*
 * dict.h: a string-keyed hash table (chained, doubling), for the router's
 * JID maps and every table keyed by what clients send. Each table hashes
 * with SipHash-2-4 under its own random key, so chosen keys cannot be
 * made to collide. Keys are copied; values are the caller's. No I/O.
 */
#ifndef XMPPD_DICT_H
#define XMPPD_DICT_H

#include <stddef.h>
#include <stdint.h>

struct dict;

struct dict	*dict_new(void);
/* Value for key, or NULL. */
void		*dict_get(const struct dict *, const char *key);
/* Insert or replace; returns the previous value or NULL. */
void		*dict_set(struct dict *, const char *key, void *value);
/* Remove key; returns its value or NULL. */
void		*dict_del(struct dict *, const char *key);
size_t		 dict_count(const struct dict *);
/* Call fn for every entry (must not modify the dict). */
void		 dict_each(const struct dict *,
		    void (*fn)(void *arg, const char *key, void *value),
		    void *arg);
void		 dict_free(struct dict *);
/* For the tests: the longest chain (entries in one bucket); key's bucket. */
size_t		 dict_max_chain(const struct dict *);
size_t		 dict_bucket(const struct dict *, const char *key);
/* SipHash-2-4 of len bytes under the 128-bit key (two little-endian words). */
uint64_t	 dict_siphash(const uint64_t key[2], const void *, size_t len);

#endif
