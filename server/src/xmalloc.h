/*
 * xmalloc.h: allocation wrappers that call fatal() on exhaustion.
 * Every input-driven size is capped elsewhere, so a peer cannot get here.
 */
#ifndef XMPPD_XMALLOC_H
#define XMPPD_XMALLOC_H

#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* Overwrite a secret and free it; NULL is fine. */
void	 xfree_secret(char *);

#endif
