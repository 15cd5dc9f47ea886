/*
 * fuzz_jid.c: libFuzzer harness for jid_parse(). Besides crashes it
 * checks that a parsed JID is stable: printing it and parsing it again
 * gives the same parts, since the router compares JIDs byte for byte.
 *
 * Build and run from server/:
 *   clang -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
 *       -Isrc tests/fuzz/fuzz_jid.c src/jid.c -lidn -o /tmp/fuzz_jid
 *   /tmp/fuzz_jid -max_total_time=60 -max_len=4096
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jid.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jid	 j, again;
	char		*s, full[JID_MAX + 1];

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (jid_parse(s, &j) == 0) {
		if (j.domain[0] == '\0' || strlen(j.local) > JID_PART_MAX ||
		    strlen(j.domain) > JID_PART_MAX ||
		    strlen(j.resource) > JID_PART_MAX)
			abort();
		jid_full(&j, full, sizeof(full));
		if (jid_parse(full, &again) != 0 ||
		    strcmp(j.local, again.local) != 0 ||
		    strcmp(j.domain, again.domain) != 0 ||
		    strcmp(j.resource, again.resource) != 0 ||
		    !jid_bare_eq(&j, &again))
			abort();
	}
	free(s);
	return 0;
}
