/*
 * datetime.h: XEP-0082 date-time strings <-> milliseconds since the epoch.
 * Used for delay stamps (XEP-0203) and MAM's start/end filters. Pure.
 */
#ifndef XMPPD_DATETIME_H
#define XMPPD_DATETIME_H

#include <stdint.h>

#define DATETIME_LEN	64	/* "2026-11-25T10:20:30.123Z", any int year */

/*
 * Parse CCYY-MM-DDThh:mm:ss[.sss...][Z|(+|-)hh:mm]; 0, or -1 if s is not
 * a valid date-time (fields out of range, trailing bytes, no zone).
 */
int	datetime_parse(const char *s, int64_t *ms);
/* UTC with milliseconds: "2026-11-25T10:20:30.123Z". */
void	datetime_format(int64_t ms, char out[DATETIME_LEN]);

#endif
