/*
 * expat_nodefer.c: an XMPP stream is one endless document, and a stanza
 * must reach its handler as soon as its last byte is in: the peer waits
 * for the answer to what it just sent. Expat 2.6 (CVE-2023-52425) defers
 * reparsing a partial token until the buffer has doubled, which holds a
 * complete stanza back until more bytes happen to arrive. Bookworm's
 * 2.5.0-1+deb12u2 and later carry that change as a backport whose header
 * does not declare the switch, though the library exports it; so it is
 * looked up at run time, once. xmlp bounds the rescanning CPU itself.
 */
#include "expat_nodefer.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>

typedef XML_Bool (*expat_deferral_fn)(XML_Parser, XML_Bool);

void
expat_no_deferral(XML_Parser xp)
{
	static bool			 looked_up;
	static expat_deferral_fn	 set_deferral;

	if (!looked_up) {
		looked_up = true;
		/* POSIX: a function pointer round-trips through void *. */
		*(void **)&set_deferral = dlsym(RTLD_DEFAULT,
		    "XML_SetReparseDeferralEnabled");
	}
	if (set_deferral != NULL)
		(void)set_deferral(xp, XML_FALSE);
}
