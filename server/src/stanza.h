/*
 * stanza.h: the element tree every layer above the parser works on.
 * Nodes are reference counted; a tree is owned by whoever holds its root
 * reference. Names and namespaces are stored resolved (no prefixes); the
 * serializer writes an xmlns wherever a child's namespace differs from its
 * parent's, so output is always namespace-correct. No I/O.
 */
#ifndef XMPPD_STANZA_H
#define XMPPD_STANZA_H

#include <stdbool.h>
#include <stddef.h>

struct stanza;

/* A new element; ns NULL means "same as the parent it is added to". */
struct stanza	*stanza_new(const char *name, const char *ns);
struct stanza	*stanza_ref(struct stanza *);
void		 stanza_unref(struct stanza *);
/* Deep copy (refcount 1, no parent). */
struct stanza	*stanza_copy(const struct stanza *);

const char	*stanza_name(const struct stanza *);
const char	*stanza_ns(const struct stanza *);	/* resolved, may be "" */
/* Attribute value or NULL. "xml:lang" names the xml namespace's lang. */
const char	*stanza_attr(const struct stanza *, const char *name);
/* Set (or with value NULL remove) an attribute. */
void		 stanza_set_attr(struct stanza *, const char *name,
		    const char *value);
/* Iterate attributes: i from 0; returns false past the end. */
bool		 stanza_attr_at(const struct stanza *, size_t i,
		    const char **name, const char **value);

/* Append child (takes the caller's reference); returns child. */
struct stanza	*stanza_add_child(struct stanza *parent, struct stanza *child);
/* stanza_add_child(parent, stanza_new(name, ns)). */
struct stanza	*stanza_new_child(struct stanza *parent, const char *name,
		    const char *ns);
/* Append a text node (len bytes, not NUL-terminated; UTF-8). */
void		 stanza_add_text(struct stanza *, const char *, size_t);
/* Unlink child from parent and drop the parent's reference. */
void		 stanza_remove_child(struct stanza *parent,
		    struct stanza *child);

/* First child element matching name and ns (either NULL = any). */
struct stanza	*stanza_child(const struct stanza *, const char *name,
		    const char *ns);
/* Element children, in order. */
struct stanza	*stanza_first_child(const struct stanza *);
struct stanza	*stanza_next(const struct stanza *);
struct stanza	*stanza_parent(const struct stanza *);
/* Concatenated direct text children ("" if none); valid until changed. */
const char	*stanza_text(const struct stanza *);
/* Text of the first matching child, or NULL if no such child. */
const char	*stanza_child_text(const struct stanza *, const char *name,
		    const char *ns);

/*
 * Serialize with escaping. ctx_ns is the namespace already in scope (for
 * a stanza on a c2s stream "jabber:client"), so no redundant xmlns is
 * written. Returns a malloc'd NUL-terminated string; *len may be NULL.
 */
char		*stanza_serialize(const struct stanza *, const char *ctx_ns,
		    size_t *len);
/* Approximate bytes held by the tree (for queue limits). */
size_t		 stanza_size(const struct stanza *);

#endif
