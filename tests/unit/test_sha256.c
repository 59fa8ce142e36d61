/* test_sha256.c - known answers, streaming, state copies, capped fd hashing. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sha256.h"

static void
hex_of(const void *buf, size_t len, char out[SHA256_HEX_BYTES])
{
	uint8_t d[SHA256_BYTES];

	sha256_buf(buf, len, d);
	sha256_hex(d, out);
}

int
main(void)
{
	char hex[SHA256_HEX_BYTES], path[] = "/tmp/bootdrop-sha.XXXXXX";
	uint8_t d1[SHA256_BYTES], d2[SHA256_BYTES], *big;
	struct sha256_ctx *c, *copy;
	uint64_t size = 0;
	size_t i, n = 3 << 20;
	int fd;

	hex_of("", 0, hex);
	CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934c"
	    "a495991b7852b855") == 0, "empty string");
	hex_of("abc", 3, hex);
	CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9c"
	    "b410ff61f20015ad") == 0, "\"abc\"");

	big = malloc(n);
	for (i = 0; i < n; i++)
		big[i] = (uint8_t)(i * 7 + (i >> 13));
	sha256_buf(big, n, d1);
	c = sha256_new();
	for (i = 0; i < n; i += 4093)
		sha256_update(c, big + i, n - i < 4093 ? n - i : 4093);
	sha256_final(c, d2);
	CHECK(memcmp(d1, d2, SHA256_BYTES) == 0, "streamed equals one-shot");

	/* A copy continues independently (resume re-hashes into a copy). */
	sha256_update(c, big, n / 2);
	copy = sha256_dup(c);
	sha256_update(c, big + n / 2, n - n / 2);
	sha256_update(copy, big + n / 2, n - n / 2);
	sha256_final(c, d2);
	CHECK(memcmp(d1, d2, SHA256_BYTES) == 0, "context reusable after final");
	sha256_final(copy, d2);
	CHECK(memcmp(d1, d2, SHA256_BYTES) == 0, "dup continues the same state");
	sha256_free(copy);
	sha256_free(c);

	fd = mkstemp(path);
	CHECK(fd >= 0 && write(fd, big, n) == (ssize_t)n, "write temp file");
	lseek(fd, 0, SEEK_SET);
	CHECK_RC(sha256_fd(fd, n, d2, &size), BD_OK, "hash fd at exactly the cap");
	CHECK(size == n && memcmp(d1, d2, SHA256_BYTES) == 0, "fd hash and size");
	lseek(fd, 0, SEEK_SET);
	CHECK_RC(sha256_fd(fd, n - 1, d2, &size), BD_ERR_TOOBIG, "fd over the cap");
	close(fd);
	unlink(path);
	free(big);

	sha256_hex(d1, hex);
	CHECK_RC(sha256_parse_hex(hex, d2), BD_OK, "parse own hex");
	CHECK(memcmp(d1, d2, SHA256_BYTES) == 0, "hex round trip");
	hex[5] = 'A';
	CHECK_RC(sha256_parse_hex(hex, d2), BD_ERR_FORMAT, "uppercase refused");
	hex[5] = 'g';
	CHECK_RC(sha256_parse_hex(hex, d2), BD_ERR_FORMAT, "non-hex refused");
	CHECK_RC(sha256_parse_hex("abcd", d2), BD_ERR_FORMAT, "short refused");
	return check_done();
}
