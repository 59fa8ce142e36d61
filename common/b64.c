#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#include "b64.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool
b64_chars_valid(const char *s, size_t slen)
{
	size_t i;

	for (i = 0; i < slen && s[i] != '\0' &&
	    strchr(b64_alphabet, s[i]) != NULL; i++)
		;
	if (slen - i > 2)
		return false;
	for (; i < slen; i++)
		if (s[i] != '=')
			return false;
	return true;
}

enum bd_err
b64_decode_exact(uint8_t *bin, size_t binlen, const char *s, size_t slen,
    const char *what)
{
	const char *end = NULL;
	size_t got = 0, want;

	want = sodium_base64_ENCODED_LEN(binlen,
	    sodium_base64_VARIANT_ORIGINAL) - 1;
	if (slen != want)
		return bd_fail(BD_ERR_BASE64, "%s base64 has %zu characters, "
		    "want %zu", what, slen, want);
	if (!b64_chars_valid(s, slen) ||
	    sodium_base642bin(bin, binlen, s, slen, NULL, &got, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || got != binlen ||
	    end != s + slen)
		return bd_fail(BD_ERR_BASE64, "invalid %s base64", what);
	return BD_OK;
}
