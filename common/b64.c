#include <sodium.h>

#include "b64.h"

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
	if (sodium_base642bin(bin, binlen, s, slen, NULL, &got, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || got != binlen ||
	    end != s + slen)
		return bd_fail(BD_ERR_BASE64, "invalid %s base64", what);
	return BD_OK;
}
