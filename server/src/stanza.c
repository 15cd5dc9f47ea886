/*
 * stanza.c: reference-counted XML element trees and their serializer.
 *
 * Layout, chosen because every routed message passes through here:
 * - an element, its name and its namespace live in one allocation;
 * - a child whose namespace equals its parent's stores none (NULL) and
 *   inherits it, which is also what stanza_new(name, NULL) asks for;
 * - attributes sit in one array, each name and value in one block;
 * - all direct text of an element is one growing buffer. A child element
 *   remembers the text length of its parent at the moment it was added
 *   (text_off), which is enough to serialize mixed content in order
 *   without a node per text run, and makes stanza_text() free.
 *
 * Prefixes are not kept for elements: the serializer declares a default
 * namespace wherever an element's namespace differs from the one in
 * scope. Prefixed attributes keep their prefix and the parser stores the
 * prefix declaration next to them (see xmlp.c). No I/O, no parsing.
 */
#include "stanza.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xmalloc.h"

#define STANZA_NS_XML	"http://www.w3.org/XML/1998/namespace"

struct stanza_attr {
	char		*name;		/* one block: name \0 value \0 */
	const char	*value;
};

struct stanza {
	unsigned		 refs;
	uint32_t		 nattrs;
	uint32_t		 attrs_cap;
	struct stanza_attr	*attrs;
	struct stanza		*parent;
	struct stanza		*next;		/* next element sibling */
	struct stanza		*first;		/* element children */
	struct stanza		*last;
	size_t			 text_off;	/* parent text before us */
	char			*text;		/* direct text, NUL-ended */
	size_t			 text_len;
	size_t			 text_cap;
	const char		*ns;		/* NULL: the parent's */
	char			*ns_alloc;	/* ns resolved on removal */
	char			 name[];	/* name \0 [ns \0] */
};

struct stanza_buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

/* A new element; ns NULL means "same as the parent it is added to". */
struct stanza *
stanza_new(const char *name, const char *ns)
{
	struct stanza	*st;
	size_t		 nlen = strlen(name);
	size_t		 slen = ns != NULL ? strlen(ns) + 1 : 0;

	st = xcalloc(1, sizeof(*st) + nlen + 1 + slen);
	st->refs = 1;
	memcpy(st->name, name, nlen + 1);
	if (ns != NULL) {
		memcpy(st->name + nlen + 1, ns, slen);
		st->ns = st->name + nlen + 1;
	}
	return st;
}

/* Take another reference. */
struct stanza *
stanza_ref(struct stanza *st)
{
	if (st->refs == UINT_MAX)
		fatalx("%s: reference count overflow", __func__);
	st->refs++;
	return st;
}

static void
stanza_destroy(struct stanza *st)
{
	struct stanza	*c, *next;
	uint32_t	 i;

	for (c = st->first; c != NULL; c = next) {
		next = c->next;
		c->parent = NULL;
		c->next = NULL;
		stanza_unref(c);
	}
	for (i = 0; i < st->nattrs; i++)
		free(st->attrs[i].name);
	free(st->attrs);
	free(st->text);
	free(st->ns_alloc);
	free(st);
}

/* Drop a reference; the last one frees the tree below it. */
void
stanza_unref(struct stanza *st)
{
	if (st == NULL)
		return;
	if (st->refs == 0)
		fatalx("%s: stanza already freed", __func__);
	if (--st->refs == 0)
		stanza_destroy(st);
}

static void
stanza_copy_attrs(struct stanza *dst, const struct stanza *src)
{
	uint32_t	 i;

	for (i = 0; i < src->nattrs; i++)
		stanza_set_attr(dst, src->attrs[i].name, src->attrs[i].value);
}

static struct stanza *
stanza_copy_tree(const struct stanza *src, const char *ns)
{
	struct stanza		*dst, *c;
	const struct stanza	*sc;

	dst = stanza_new(src->name, ns);
	stanza_copy_attrs(dst, src);
	if (src->text_len > 0) {
		dst->text = xstrndup(src->text, src->text_len);
		dst->text_len = dst->text_cap = src->text_len;
	}
	for (sc = src->first; sc != NULL; sc = sc->next) {
		c = stanza_copy_tree(sc, sc->ns);
		c->text_off = sc->text_off;
		c->parent = dst;
		if (dst->last != NULL)
			dst->last->next = c;
		else
			dst->first = c;
		dst->last = c;
	}
	return dst;
}

/* Deep copy (refcount 1, no parent). */
struct stanza *
stanza_copy(const struct stanza *st)
{
	/* The root copy has no parent to inherit from: resolve it now. */
	return stanza_copy_tree(st, st->ns != NULL || st->parent != NULL ?
	    stanza_ns(st) : NULL);
}

/* The element's local name. */
const char *
stanza_name(const struct stanza *st)
{
	return st->name;
}

/* The resolved namespace; "" when there is none. */
const char *
stanza_ns(const struct stanza *st)
{
	for (; st != NULL; st = st->parent)
		if (st->ns != NULL)
			return st->ns;
	return "";
}

static struct stanza_attr *
stanza_find_attr(const struct stanza *st, const char *name)
{
	uint32_t	 i;

	for (i = 0; i < st->nattrs; i++)
		if (strcmp(st->attrs[i].name, name) == 0)
			return &st->attrs[i];
	return NULL;
}

/* Attribute value or NULL. */
const char *
stanza_attr(const struct stanza *st, const char *name)
{
	const struct stanza_attr	*a = stanza_find_attr(st, name);

	return a != NULL ? a->value : NULL;
}

/* Set (or with value NULL remove) an attribute. */
void
stanza_set_attr(struct stanza *st, const char *name, const char *value)
{
	struct stanza_attr	*a = stanza_find_attr(st, name);
	size_t			 nlen = strlen(name), vlen;
	char			*blk;

	if (value == NULL) {
		if (a == NULL)
			return;
		free(a->name);
		st->nattrs--;
		memmove(a, a + 1, (size_t)(st->attrs + st->nattrs - a) *
		    sizeof(*a));
		return;
	}
	vlen = strlen(value);
	blk = xmalloc(nlen + 1 + vlen + 1);
	memcpy(blk, name, nlen + 1);
	memcpy(blk + nlen + 1, value, vlen + 1);
	if (a == NULL) {
		if (st->nattrs == st->attrs_cap) {
			st->attrs_cap = st->attrs_cap ? st->attrs_cap * 2 : 4;
			st->attrs = xreallocarray(st->attrs, st->attrs_cap,
			    sizeof(*st->attrs));
		}
		a = &st->attrs[st->nattrs++];
	} else
		free(a->name);
	a->name = blk;
	a->value = blk + nlen + 1;
}

/* Iterate attributes: i from 0; returns false past the end. */
bool
stanza_attr_at(const struct stanza *st, size_t i, const char **name,
    const char **value)
{
	if (i >= st->nattrs)
		return false;
	if (name != NULL)
		*name = st->attrs[i].name;
	if (value != NULL)
		*value = st->attrs[i].value;
	return true;
}

/* Append child (takes the caller's reference); returns child. */
struct stanza *
stanza_add_child(struct stanza *parent, struct stanza *child)
{
	const struct stanza	*a;

	if (child->parent != NULL)
		fatalx("%s: element already has a parent", __func__);
	for (a = parent; a != NULL; a = a->parent)
		if (a == child)
			fatalx("%s: would make a cycle", __func__);
	child->parent = parent;
	child->next = NULL;
	child->text_off = parent->text_len;
	if (parent->last != NULL)
		parent->last->next = child;
	else
		parent->first = child;
	parent->last = child;
	return child;
}

/* stanza_add_child(parent, stanza_new(name, ns)). */
struct stanza *
stanza_new_child(struct stanza *parent, const char *name, const char *ns)
{
	return stanza_add_child(parent, stanza_new(name, ns));
}

/* Append a text node (len bytes, not NUL-terminated; UTF-8). */
void
stanza_add_text(struct stanza *st, const char *text, size_t len)
{
	size_t	 need;

	if (len == 0)
		return;
	if (len > SIZE_MAX - st->text_len - 1)
		fatalx("%s: text too long", __func__);
	need = st->text_len + len + 1;
	if (need > st->text_cap) {
		st->text_cap = st->text_cap ? st->text_cap : 16;
		while (st->text_cap < need)
			st->text_cap = st->text_cap > SIZE_MAX / 2 ? need :
			    st->text_cap * 2;
		st->text = xreallocarray(st->text, st->text_cap, 1);
	}
	memcpy(st->text + st->text_len, text, len);
	st->text_len += len;
	st->text[st->text_len] = '\0';
}

/* Unlink child from parent and drop the parent's reference. */
void
stanza_remove_child(struct stanza *parent, struct stanza *child)
{
	struct stanza	**pp, *prev = NULL;

	if (child->parent != parent)
		fatalx("%s: not a child", __func__);
	for (pp = &parent->first; *pp != child; pp = &(*pp)->next)
		prev = *pp;
	*pp = child->next;
	if (parent->last == child)
		parent->last = prev;
	/* Someone may still hold the child: keep its namespace right. */
	if (child->ns == NULL && child->refs > 1) {
		child->ns_alloc = xstrdup(stanza_ns(parent));
		child->ns = child->ns_alloc;
	}
	child->parent = NULL;
	child->next = NULL;
	stanza_unref(child);
}

static bool
stanza_matches(const struct stanza *c, const char *c_ns, const char *name,
    const char *ns)
{
	return (name == NULL || strcmp(c->name, name) == 0) &&
	    (ns == NULL || strcmp(c_ns, ns) == 0);
}

/* First child element matching name and ns (either NULL = any). */
struct stanza *
stanza_child(const struct stanza *st, const char *name, const char *ns)
{
	struct stanza	*c;
	const char	*own = ns != NULL ? stanza_ns(st) : "";

	for (c = st->first; c != NULL; c = c->next)
		if (stanza_matches(c, c->ns != NULL ? c->ns : own, name, ns))
			return c;
	return NULL;
}

/* First element child. */
struct stanza *
stanza_first_child(const struct stanza *st)
{
	return st->first;
}

/* Next element sibling. */
struct stanza *
stanza_next(const struct stanza *st)
{
	return st->next;
}

/* The element this one was added to, or NULL. */
struct stanza *
stanza_parent(const struct stanza *st)
{
	return st->parent;
}

/* Concatenated direct text children ("" if none). */
const char *
stanza_text(const struct stanza *st)
{
	return st->text != NULL ? st->text : "";
}

/* Text of the first matching child, or NULL if no such child. */
const char *
stanza_child_text(const struct stanza *st, const char *name, const char *ns)
{
	const struct stanza	*c = stanza_child(st, name, ns);

	return c != NULL ? stanza_text(c) : NULL;
}

static void
stanza_buf_put(struct stanza_buf *b, const char *s, size_t len)
{
	if (len >= b->cap - b->len) {
		while (len >= b->cap - b->len) {
			if (b->cap > SIZE_MAX / 2)
				fatalx("stanza_serialize: too large");
			b->cap *= 2;
		}
		b->p = xreallocarray(b->p, b->cap, 1);
	}
	memcpy(b->p + b->len, s, len);
	b->len += len;
}

static void
stanza_buf_str(struct stanza_buf *b, const char *s)
{
	stanza_buf_put(b, s, strlen(s));
}

/*
 * Escape for text (quote false) or a '-quoted attribute. \r, and in
 * attributes \t and \n, are written as character references because a
 * parser would otherwise normalize them away (XML 1.0 §2.11, §3.3.3).
 */
static void
stanza_buf_escaped(struct stanza_buf *b, const char *s, size_t len,
    bool quote)
{
	const char	*esc;
	size_t		 i, run = 0;

	if (len == 0)
		return;		/* s may be an element's NULL text */
	for (i = 0; i < len; i++) {
		switch (s[i]) {
		case '&':	esc = "&amp;";	break;
		case '<':	esc = "&lt;";	break;
		case '>':	esc = "&gt;";	break;
		case '\r':	esc = "&#13;";	break;
		case '"':	esc = quote ? "&quot;" : NULL;	break;
		case '\'':	esc = quote ? "&apos;" : NULL;	break;
		case '\t':	esc = quote ? "&#9;" : NULL;	break;
		case '\n':	esc = quote ? "&#10;" : NULL;	break;
		default:	esc = NULL;	break;
		}
		if (esc == NULL)
			continue;
		stanza_buf_put(b, s + run, i - run);
		stanza_buf_str(b, esc);
		run = i + 1;
	}
	stanza_buf_put(b, s + run, len - run);
}

static void
stanza_buf_attr(struct stanza_buf *b, const char *name, const char *value)
{
	stanza_buf_str(b, " ");
	stanza_buf_str(b, name);
	stanza_buf_str(b, "='");
	stanza_buf_escaped(b, value, strlen(value), true);
	stanza_buf_str(b, "'");
}

static void
stanza_buf_name(struct stanza_buf *b, const char *name, bool xml_ns)
{
	if (xml_ns)
		stanza_buf_str(b, "xml:");
	stanza_buf_str(b, name);
}

/*
 * Write st whose resolved namespace is ns, inside scope namespace. The
 * xml namespace cannot be declared as a default namespace (Namespaces in
 * XML §3), so an element in it keeps the predeclared xml: prefix.
 */
static void
stanza_write(struct stanza_buf *b, const struct stanza *st, const char *ns,
    const char *scope)
{
	const struct stanza	*c;
	const char		*text = st->text != NULL ? st->text : "";
	bool			 xml_ns = strcmp(ns, STANZA_NS_XML) == 0;
	size_t			 pos = 0;
	uint32_t		 i;

	stanza_buf_str(b, "<");
	stanza_buf_name(b, st->name, xml_ns);
	if (!xml_ns && strcmp(ns, scope) != 0)
		stanza_buf_attr(b, "xmlns", ns);
	for (i = 0; i < st->nattrs; i++)
		if (strcmp(st->attrs[i].name, "xmlns") != 0)
			stanza_buf_attr(b, st->attrs[i].name,
			    st->attrs[i].value);
	if (st->first == NULL && st->text_len == 0) {
		stanza_buf_str(b, "/>");
		return;
	}
	stanza_buf_str(b, ">");
	if (!xml_ns)
		scope = ns;
	for (c = st->first; c != NULL; c = c->next) {
		stanza_buf_escaped(b, text + pos, c->text_off - pos, false);
		pos = c->text_off;
		stanza_write(b, c, c->ns != NULL ? c->ns : ns, scope);
	}
	if (st->text_len > pos)
		stanza_buf_escaped(b, st->text + pos, st->text_len - pos,
		    false);
	stanza_buf_str(b, "</");
	stanza_buf_name(b, st->name, xml_ns);
	stanza_buf_str(b, ">");
}

/* Serialize with escaping; ctx_ns is the namespace already in scope. */
char *
stanza_serialize(const struct stanza *st, const char *ctx_ns, size_t *len)
{
	struct stanza_buf	 b;
	const char		*scope = ctx_ns != NULL ? ctx_ns : "";
	const char		*ns;

	/* A detached element without a namespace takes the context's. */
	if (st->ns == NULL && st->parent == NULL)
		ns = scope;
	else
		ns = stanza_ns(st);
	b.cap = 256;
	b.len = 0;
	b.p = xmalloc(b.cap);
	stanza_write(&b, st, ns, scope);
	b.p[b.len] = '\0';
	if (len != NULL)
		*len = b.len;
	return b.p;
}

/* Approximate bytes held by the tree (for queue limits). */
size_t
stanza_size(const struct stanza *st)
{
	const struct stanza	*c;
	size_t			 n;
	uint32_t		 i;

	n = sizeof(*st) + strlen(st->name) + 1 + st->text_cap +
	    st->attrs_cap * sizeof(*st->attrs);
	if (st->ns != NULL)
		n += strlen(st->ns) + 1;	/* inline or ns_alloc */
	for (i = 0; i < st->nattrs; i++)
		n += strlen(st->attrs[i].name) + strlen(st->attrs[i].value) +
		    2;
	for (c = st->first; c != NULL; c = c->next)
		n += stanza_size(c);
	return n;
}
