/*
 * sha256.h - streaming SHA-256 through OpenSSL's EVP (SHA-NI when the CPU
 * has it), so hashing is never the bottleneck of a fetch.
 */
#ifndef BOOTDROP_SHA256_H
#define BOOTDROP_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SHA256_BYTES		32
#define SHA256_HEX_BYTES	65	/* 64 lowercase hex + NUL */

struct sha256_ctx;

/* Returns a new context ready for updates, or NULL; free with sha256_free(). */
struct sha256_ctx *sha256_new(void);
void sha256_update(struct sha256_ctx *c, const void *buf, size_t len);
/* Writes the digest and resets the context for reuse. */
void sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_BYTES]);
/* Returns an independent copy of c's state (for resume), or NULL. */
struct sha256_ctx *sha256_dup(const struct sha256_ctx *c);
void sha256_free(struct sha256_ctx *c);

/* One-shot over a buffer. */
void sha256_buf(const void *buf, size_t len, uint8_t out[SHA256_BYTES]);

/*
 * Hashes fd from its current offset to EOF, reading at most max bytes
 * (BD_ERR_TOOBIG past that).  *size gets the number of bytes hashed.
 */
enum bd_err sha256_fd(int fd, uint64_t max, uint8_t out[SHA256_BYTES],
    uint64_t *size);

void sha256_hex(const uint8_t d[SHA256_BYTES], char out[SHA256_HEX_BYTES]);
/* Parses exactly 64 lowercase hex digits. */
enum bd_err sha256_parse_hex(const char *hex, uint8_t d[SHA256_BYTES]);

#endif
