/*
 * xmppd.h: namespace strings, protocol limits and the version. Nothing else.
 */
#ifndef XMPPD_XMPPD_H
#define XMPPD_XMPPD_H

#define XMPPD_VERSION	"0.1.0"

#define NS_CLIENT	"jabber:client"
#define NS_STREAMS	"http://etherx.jabber.org/streams"
#define NS_STREAM_ERR	"urn:ietf:params:xml:ns:xmpp-streams"
#define NS_STANZA_ERR	"urn:ietf:params:xml:ns:xmpp-stanzas"
#define NS_TLS		"urn:ietf:params:xml:ns:xmpp-tls"
#define NS_SASL		"urn:ietf:params:xml:ns:xmpp-sasl"
#define NS_BIND		"urn:ietf:params:xml:ns:xmpp-bind"
#define NS_SESSION	"urn:ietf:params:xml:ns:xmpp-session"
#define NS_ROSTER	"jabber:iq:roster"
#define NS_DISCO_INFO	"http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS	"http://jabber.org/protocol/disco#items"
#define NS_PING		"urn:xmpp:ping"
#define NS_VERSION	"jabber:iq:version"
#define NS_DELAY	"urn:xmpp:delay"
#define NS_SM		"urn:xmpp:sm:3"
#define NS_CARBONS	"urn:xmpp:carbons:2"
#define NS_CARBONS_RULES "urn:xmpp:carbons:rules:0"
#define NS_FORWARD	"urn:xmpp:forward:0"
#define NS_MAM		"urn:xmpp:mam:2"
#define NS_MAM_EXT	"urn:xmpp:mam:2#extended"
#define NS_RSM		"http://jabber.org/protocol/rsm"
#define NS_DATA		"jabber:x:data"
#define NS_SID		"urn:xmpp:sid:0"
#define NS_HINTS	"urn:xmpp:hints"
#define NS_RECEIPTS	"urn:xmpp:receipts"
#define NS_CHATSTATES	"http://jabber.org/protocol/chatstates"
#define NS_MARKERS	"urn:xmpp:chat-markers:0"
#define NS_MUC_USER	"http://jabber.org/protocol/muc#user"
#define NS_CONFERENCE	"jabber:x:conference"

#define XMPPD_MAX_AUTH_TRIES	5	/* SASL failures per stream */

#endif
