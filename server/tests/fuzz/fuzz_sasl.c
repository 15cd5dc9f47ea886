/*
 * fuzz_sasl.c: libFuzzer harness for sasl_step() with PLAIN. The first
 * byte picks the flow (data in <auth/>, or an empty <auth/> and the data
 * in <response/>); the rest is the base64 text. Whatever is accepted must
 * be canonical: the parts, encoded again, give back the same text.
 *
 * Build and run from server/:
 *   clang -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
 *       -Isrc tests/fuzz/fuzz_sasl.c src/sasl.c src/xmalloc.c src/log.c \
 *       -lcrypto -o /tmp/fuzz_sasl
 *   /tmp/fuzz_sasl -max_total_time=60 -max_len=2048
 */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sasl.h"

#define FUZZ_MSG_MAX	(3 * 255 + 2)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Re-encode authzid NUL authcid NUL passwd and compare with in. */
static void
fuzz_check_canonical(const struct sasl *s, const char *in, size_t inlen)
{
	unsigned char	msg[FUZZ_MSG_MAX];
	char		b64[4 * (FUZZ_MSG_MAX + 2) / 3 + 1];
	size_t		zl = strlen(sasl_authzid(s)), cl = strlen(sasl_user(s));
	size_t		pl = strlen(sasl_password(s));
	int		n;

	if (zl > 255 || cl == 0 || cl > 255 || pl == 0 || pl > 255)
		abort();
	memcpy(msg, sasl_authzid(s), zl + 1);
	memcpy(msg + zl + 1, sasl_user(s), cl + 1);
	memcpy(msg + zl + cl + 2, sasl_password(s), pl);
	n = EVP_EncodeBlock((unsigned char *)b64, msg, (int)(zl + cl + pl + 2));
	if ((size_t)n != inlen || memcmp(b64, in, inlen) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sasl		*s;
	const char		*in = (const char *)data + 1;
	char			*out = NULL;
	size_t			 inlen, outlen = 0;
	enum sasl_result	 res;

	if (size == 0 || (s = sasl_new("PLAIN")) == NULL)
		return 0;
	inlen = size - 1;
	if (data[0] & 1) {
		if (sasl_step(s, "", 0, &out, &outlen) != SASL_CONTINUE ||
		    out != NULL)
			abort();
	}
	res = sasl_step(s, in, inlen, &out, &outlen);
	if (res == SASL_OK)
		fuzz_check_canonical(s, in, inlen);
	else if (res != SASL_FAIL && !(res == SASL_CONTINUE && inlen == 0))
		abort();
	else if (res == SASL_FAIL && sasl_condition(s)[0] == '\0')
		abort();
	free(out);
	sasl_free(s);
	return 0;
}
