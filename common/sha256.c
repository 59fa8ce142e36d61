/*
 * sha256.c - SHA-256 through OpenSSL's EVP interface, which picks the
 * SHA-NI / AVX2 code paths at run time (DESIGN.md: ~1760 MB/s here against
 * ~350 MB/s for a portable implementation).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "sha256.h"

#define SHA256_READ_BYTES	(256u << 10)

struct sha256_ctx {
	EVP_MD_CTX *md;
};

struct sha256_ctx *
sha256_new(void)
{
	struct sha256_ctx *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((c->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1) {
		sha256_free(c);
		return NULL;
	}
	return c;
}

void
sha256_update(struct sha256_ctx *c, const void *buf, size_t len)
{
	if (len > 0)
		EVP_DigestUpdate(c->md, buf, len);
}

void
sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_BYTES])
{
	unsigned int n = SHA256_BYTES;

	EVP_DigestFinal_ex(c->md, out, &n);
	EVP_DigestInit_ex(c->md, EVP_sha256(), NULL);
}

struct sha256_ctx *
sha256_dup(const struct sha256_ctx *c)
{
	struct sha256_ctx *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	if ((d->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_MD_CTX_copy_ex(d->md, c->md) != 1) {
		sha256_free(d);
		return NULL;
	}
	return d;
}

void
sha256_free(struct sha256_ctx *c)
{
	if (c == NULL)
		return;
	EVP_MD_CTX_free(c->md);
	free(c);
}

void
sha256_buf(const void *buf, size_t len, uint8_t out[SHA256_BYTES])
{
	unsigned int n = SHA256_BYTES;

	EVP_Digest(buf, len, out, &n, EVP_sha256(), NULL);
}

enum bd_err
sha256_fd(int fd, uint64_t max, uint8_t out[SHA256_BYTES], uint64_t *size)
{
	struct sha256_ctx *c;
	uint8_t *buf;
	uint64_t total = 0;
	ssize_t n;
	enum bd_err rc = BD_OK;

	c = sha256_new();
	buf = malloc(SHA256_READ_BYTES);
	if (c == NULL || buf == NULL) {
		rc = BD_ERR_NOMEM;
		goto out;
	}
	for (;;) {
		n = read(fd, buf, SHA256_READ_BYTES);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = bd_fail(BD_ERR_IO, "read: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if ((uint64_t)n > max - total) {
			rc = bd_fail(BD_ERR_TOOBIG, "more than %llu bytes",
			    (unsigned long long)max);
			goto out;
		}
		total += (uint64_t)n;
		sha256_update(c, buf, (size_t)n);
	}
	sha256_final(c, out);
	if (size != NULL)
		*size = total;
out:
	free(buf);
	sha256_free(c);
	return rc;
}

void
sha256_hex(const uint8_t d[SHA256_BYTES], char out[SHA256_HEX_BYTES])
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < SHA256_BYTES; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 0xf];
	}
	out[2 * SHA256_BYTES] = '\0';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

enum bd_err
sha256_parse_hex(const char *hex, uint8_t d[SHA256_BYTES])
{
	size_t i;
	int hi, lo;

	if (strlen(hex) != 2 * SHA256_BYTES)
		return bd_fail(BD_ERR_FORMAT, "sha256 must be 64 hex digits");
	for (i = 0; i < SHA256_BYTES; i++) {
		hi = hexval(hex[2 * i]);
		lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return bd_fail(BD_ERR_FORMAT,
			    "sha256 must be lowercase hex");
		d[i] = (uint8_t)(hi << 4 | lo);
	}
	return BD_OK;
}
