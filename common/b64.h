/*
 * b64.h - base64 (standard alphabet, padded) that must decode to an exact
 * number of bytes, as every fixed-size minisign blob must.
 */
#ifndef BOOTDROP_B64_H
#define BOOTDROP_B64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/*
 * Decodes the slen characters at s into exactly binlen bytes of bin.  A
 * string of any other length, with any other character or with trailing
 * bytes is BD_ERR_BASE64; what names the field in the detail.
 */
enum bd_err b64_decode_exact(uint8_t *bin, size_t binlen, const char *s,
    size_t slen, const char *what);

/*
 * True if the slen characters at s are standard base64 digits followed by
 * at most two '='.  Check this before any libsodium decoder runs: 1.0.18
 * takes every byte >= 0x80 for a digit.
 */
bool b64_chars_valid(const char *s, size_t slen);

#endif
