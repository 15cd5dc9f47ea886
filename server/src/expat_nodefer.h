/* expat_nodefer.h: turn off expat's reparse deferral where it exists. */
#ifndef XMPPD_EXPAT_NODEFER_H
#define XMPPD_EXPAT_NODEFER_H

#include <expat.h>

void	expat_no_deferral(XML_Parser);

#endif
