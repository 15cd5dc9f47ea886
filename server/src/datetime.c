/*
 * datetime.c: XEP-0082 profiles. The parser is strict on layout (digits in
 * the right places) because a MAM filter that silently misreads a date
 * would return the wrong history; it accepts any fraction length and any
 * zone offset, as the XEP allows.
 */
#include "datetime.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* n decimal digits at s into *out; false if any is not a digit. */
static bool
datetime_digits(const char *s, int n, int *out)
{
	int	v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static bool
datetime_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
datetime_mdays(int y, int m)
{
	static const int	days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
				    31, 30, 31 };

	return m == 2 && datetime_leap(y) ? 29 : days[m - 1];
}

/* Parse the zone at s ("Z", "+hh:mm", "-hh:mm") into seconds east. */
static int
datetime_zone(const char *s, int *east)
{
	int	hh, mm;

	if (strcmp(s, "Z") == 0) {
		*east = 0;
		return 0;
	}
	if ((s[0] != '+' && s[0] != '-') || strlen(s) != 6 || s[3] != ':' ||
	    !datetime_digits(s + 1, 2, &hh) ||
	    !datetime_digits(s + 4, 2, &mm) || hh > 23 || mm > 59)
		return -1;
	*east = (hh * 3600 + mm * 60) * (s[0] == '-' ? -1 : 1);
	return 0;
}

int
datetime_parse(const char *s, int64_t *ms)
{
	struct tm	tm;
	int		y, mo, d, h, mi, sec, frac = 0, fdig = 0, east;
	time_t		t;

	if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':' ||
	    !datetime_digits(s, 4, &y) || !datetime_digits(s + 5, 2, &mo) ||
	    !datetime_digits(s + 8, 2, &d) ||
	    !datetime_digits(s + 11, 2, &h) ||
	    !datetime_digits(s + 14, 2, &mi) ||
	    !datetime_digits(s + 17, 2, &sec))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > datetime_mdays(y, mo) ||
	    h > 23 || mi > 59 || sec > 60)
		return -1;
	s += 19;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return -1;
		/* Keep milliseconds; further digits are precision we drop. */
		for (; *s >= '0' && *s <= '9'; s++, fdig++)
			if (fdig < 3)
				frac = frac * 10 + (*s - '0');
		for (; fdig < 3; fdig++)
			frac *= 10;
	}
	if (datetime_zone(s, &east) == -1)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	*ms = ((int64_t)t - east) * 1000 + frac;
	return 0;
}

void
datetime_format(int64_t ms, char out[DATETIME_LEN])
{
	struct tm	tm;
	time_t		t = (time_t)(ms / 1000);
	int		frac = (int)(ms % 1000);

	if (frac < 0) {		/* before 1970: floor, not truncate */
		frac += 1000;
		t--;
	}
	gmtime_r(&t, &tm);
	snprintf(out, DATETIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, frac);
}
