/*
 * chunk.c - the chunk index format, the chunker's cut points and the
 * capped decoder of one chunk (see chunk.h).
 */
#include <stdlib.h>
#include <string.h>

#include <zstd.h>
#include <zstd_errors.h>

#include "bytes.h"
#include "chunk.h"

/* zstd decodes no window larger than a chunk can be. */
#define CHUNK_WINDOW_LOG_MAX	20
/* Bytes of an artifact's start that chunk_params_choose() compresses. */
#define CHUNK_SAMPLE_MAX_BYTES	(256u << 10)
/* Below this ratio (stored / raw, in percent) a sample is "compressible". */
#define CHUNK_COMPRESSED_PERCENT	90u

/* doc/chunks.md has the measurements behind these sizes. */
const struct chunk_params chunk_params_small = {
	.min_len = 1u << 10, .avg_bits = 12, .max_len = 32u << 10,
};
const struct chunk_params chunk_params_large = {
	.min_len = 2u << 10, .avg_bits = 13, .max_len = 64u << 10,
};

/*
 * The gear table: 256 pseudo-random 64-bit words (splitmix64 from the
 * seed "bootdrop").  Changing it moves every cut point: publishers of one
 * channel must keep it, or chunks stop being shared between versions.
 */
static const uint64_t gear[256] = {
	0x261f582635a31c3full, 0x963ff4ef9156b95eull, 0x94f965e7948a4a9dull,
	0x440bc32d35cedcbaull, 0x45e1e11f87dd264eull, 0xbbedc47addb7ea88ull,
	0x9650a183420dbf53ull, 0xc459baed8a7498b9ull, 0x6a2ba4de1f0ede08ull,
	0xe6bb52999abfabdbull, 0x0841f0e20280f45eull, 0x1bd274447055182dull,
	0xab31237160ae07c8ull, 0xeea3dbf25a973339ull, 0xd33a5cc71ff24a68ull,
	0x0967f9c2b484c7e3ull, 0x7056b8ca19802cd7ull, 0x3133232d2a0e5091ull,
	0xbbcbd5fe29ccff27ull, 0x216bdc72ce17f925ull, 0x9044d0573bf2483aull,
	0xb38a89329db3ce60ull, 0x70d5c70cb44d3237ull, 0x2c7b825bde9ca6aeull,
	0x42f99fbda38f0760ull, 0x59aa9c2996c923eeull, 0xd23425e9fc0222b5ull,
	0x2f4e8b6191f1adc5ull, 0x1b70ad90594c3d9cull, 0x0d22fc1a2b185003ull,
	0xf293f00e1dd5e317ull, 0xd6942251faaf03f3ull, 0x95006b8bf2951f7cull,
	0x2ddaea393be9f67full, 0xb549d534a336d535ull, 0x7d4f5dc115194b30ull,
	0x7b425af512e7ce4full, 0x9886ad1a10b33000ull, 0xd3763a566bc56f35ull,
	0xfc9bb6ebec9f4ca3ull, 0x5677e77603b465eaull, 0x98dce768a85ea708ull,
	0xa0a874b847f9ade8ull, 0xf85c8be9318e7a3bull, 0xeb50397870cd033eull,
	0xa3a2ea2b70bd211aull, 0xd0b2a5b002e29914ull, 0x3b3ca3241a414048ull,
	0xd94e85c068ae0529ull, 0x4575b53763e3a964ull, 0xc94282733a20dfb4ull,
	0xad679dc0b14b16f4ull, 0x8fb4bb7e0dfe475aull, 0x33632ae09531c192ull,
	0xc5ec7a6e879de35cull, 0x7b4bc88e0627a025ull, 0xfaa5b20ced3d70f1ull,
	0xa41b08a81fed4c02ull, 0xcf33a12fe475ec81ull, 0x33a6f7526c2d34c7ull,
	0xd8a3875e9caa3965ull, 0x45a3c7ae51cf5e69ull, 0xa818131750a51ba3ull,
	0xd09ecf75860de496ull, 0xbf740f06feef2a85ull, 0x55d6089f406e133bull,
	0xb4f86b68d8804c34ull, 0x0faa82575afee535ull, 0x676914051e42b631ull,
	0xa593c10497fb2a3aull, 0x415a8fc2e9fb808eull, 0x79b397bc94b8b4a1ull,
	0x16b008bcf1d1002cull, 0x6c869a9679f8a0ceull, 0x26f73aa7723de172ull,
	0xffda0bbf94a10579ull, 0x0c88b64e5ca85952ull, 0x000e68af8864a993ull,
	0x3bf61786fcb8ca47ull, 0x84308275b319e295ull, 0x5baaec3ab50f6984ull,
	0x519c05b49eb68427ull, 0xf882691e95cc814bull, 0xbc6e6e73c77b8404ull,
	0xc05a47c8d0da1606ull, 0x4870dd2ea8792e32ull, 0x5f9c86c5d579412full,
	0xcb75457f276ca6daull, 0x30ad4653ab982ceaull, 0xc4094aed3c9dee15ull,
	0x3cac62e4cd022311ull, 0xbbd1aaca99adc24aull, 0x9d3615e3a9a3e6bfull,
	0xfd4b6d4f8b6e36b5ull, 0x0a73c6f5b85dec96ull, 0x3bcd11ba90f1dca1ull,
	0x44ba45489ce5e922ull, 0xcf44e747c2754fbdull, 0x8bd3bd02cce23994ull,
	0x643b99578bce936bull, 0x13c8a9018339fc5eull, 0x035b38df7c2a10adull,
	0x7a0ba93cb3ffc6b4ull, 0x4d7c4f23661263ecull, 0x5dfaba2976664178ull,
	0xec8ec6b19764ab96ull, 0xcda9443887c72696ull, 0xd2af7c2fbc8e317full,
	0x2d3e2045dda4bf15ull, 0xf72276c67b48a1ceull, 0xef545e684415b4e2ull,
	0xf64bdca34849395full, 0x3df881dfcc63c860ull, 0x0f94f0dd1f0673a8ull,
	0x4037c1a8f87e5010ull, 0x8bc4d05734267776ull, 0x01271ac9cad55d8bull,
	0x3c4a22cb145778a2ull, 0xaf3719ec5e804ac1ull, 0x62d278a7005401c5ull,
	0xde4f3085a832c49eull, 0xed3e6e344dd44f05ull, 0x7173118f5c3eb489ull,
	0xf322fa60723af96full, 0x2700dcb831c43760ull, 0xe88dd02a44b90392ull,
	0x439fee86932d153dull, 0x03ce36a868c1785aull, 0xae5f8a465fe97475ull,
	0x7c1e8d72e57c540dull, 0xc13d6666764f143cull, 0x90ed7d43e79182bfull,
	0xfc7801ecd00b0c35ull, 0xad66800c856515deull, 0xf4a5621ef05d407dull,
	0x91f7dfe9b94f2c0eull, 0x14eaa2d6fc19c846ull, 0xe514d9b4b3001627ull,
	0x699cf4f6421e043cull, 0xbfbabca3aa55a39dull, 0x78f7734a7e7debf9ull,
	0xce05a26c1ca34e7bull, 0x5aa610e6db9d3866ull, 0x6072ae575e8da080ull,
	0x6d6fe957fc7717b3ull, 0x424c708b00971e23ull, 0x43b60f9f26359284ull,
	0x8dbe3155eebf67e6ull, 0x4448b2b3459ce24full, 0x61c7caaf4577a8ddull,
	0xe4bb5f7ecb6ae127ull, 0x756f9910e48caad3ull, 0xf932ca64ae7838e1ull,
	0x071e83a73cc1b163ull, 0xbf0b21f6792aa5ccull, 0x62de66b68eb36435ull,
	0x5f9bc571df5aec2bull, 0x02120a8836601d47ull, 0x337b7012c0acbb3aull,
	0xb82c0e0635760fb4ull, 0x380dcbd57878e184ull, 0x0c3cebb6372eb48full,
	0xb7ccbc9b263202a3ull, 0xab5c722ff537ed66ull, 0xba5cd3920ee3fd3eull,
	0x26869887ea4000b5ull, 0x00d8f54c0d872015ull, 0x1d65dd973f5c0ac7ull,
	0x98326e8418da675eull, 0x2d5f9fbc4cef44cdull, 0x6ae34274f48bc6b1ull,
	0x9db0c3e69f6c03c1ull, 0x697aa8b96b845a32ull, 0x51445b7d8103929bull,
	0x2976b87f4f9642e2ull, 0x8a95fad9e366c839ull, 0xbe54a677490ee560ull,
	0xc8d269de7c20197cull, 0x6acb7037b593bc20ull, 0x263bc6cd87cc36d5ull,
	0x13a784b7d7ba1e93ull, 0x13f4b225a5215bb4ull, 0x1719d703b951ab9bull,
	0x3223455249dae928ull, 0x1a3f000fa7b04a67ull, 0x4a9528a3fd5c9ac6ull,
	0xcd98e4150a959cddull, 0x65004d20ebe569cbull, 0x49ad28083ca8cffaull,
	0xbd27c9583e6ffe85ull, 0x55df92b24b3f1995ull, 0xeb804a07bc85d93cull,
	0x456e2f5236e7d777ull, 0x3d8022fe67f5ef72ull, 0x49d0a0ac787546e1ull,
	0xcac894d0173e0bfeull, 0xebc85f9ca6a97076ull, 0x1fa32c811b88a37dull,
	0x682437a3b54558efull, 0xb5be037be9135fd9ull, 0xdf75bd0179c5b451ull,
	0x08e01df4c5134fafull, 0xf072955be98c034bull, 0x7f357a8967bc60ceull,
	0xbbf6475a42ca215eull, 0xb6161d6694dc3611ull, 0xb1fc461cb35f5a17ull,
	0x2496c410ee2678a7ull, 0x7b3c851522db5558ull, 0xcd569751fc9486a0ull,
	0x3d3fff3ae99af54cull, 0x30ca7162a8ef0f7cull, 0x84f7e9083b0ca2acull,
	0xcea9320b3fdd9c8cull, 0x5abe54824193b946ull, 0x53e8fe79ff5d55acull,
	0xd33c48d5805dd0b5ull, 0xe09d87e39d8b916cull, 0xdf7b4af075d0cdb3ull,
	0xc43af9bdb72a631full, 0x162148fac483971eull, 0x2f275568c909e0beull,
	0xe9dc6396179e5f1aull, 0x6c731e618855c85full, 0xd39bf4d90bfefd49ull,
	0xc285e97aa9b10170ull, 0xd2a41a9f18787b1full, 0x73aafe283979dfa7ull,
	0x9ee18050744c4500ull, 0xadac7c0a9409a029ull, 0xcf307c8638b8f9b7ull,
	0xff53cc1ce0209950ull, 0x8ff26066dfeed077ull, 0x6fc1e507f80d6cd2ull,
	0xa2d81fbea5df173full, 0xcf2cffbf7b28e59bull, 0xb0e3496c93f188f5ull,
	0xbc3c288e53b75770ull, 0x6eca1368cee191abull, 0x87d828189765fe5aull,
	0x79ac215a9725398bull, 0x8bced18efcef2663ull, 0xf00c620b347dcdb4ull,
	0x1b6cc0da68cd397cull, 0x5bddf9288e8aeb3bull, 0x8486712f2979792aull,
	0x7e3ea27138b43d3full, 0x693426aea96b7465ull, 0x2099946184912811ull,
	0x40ef0f28020ae8aaull, 0x2085a7e4cf91d673ull, 0x1f45a6003544a9a3ull,
	0x855c32b713a51672ull, 0xf4abb1e52fba2fd3ull, 0xb674b8502973fd6cull,
	0x64796a73e029851dull,
};

/* Checks one entry's lengths and encoding (the rules of chunk_index_parse). */
static enum bd_err
entry_check(uint32_t i, uint32_t raw_len, uint32_t stored_len, uint8_t enc)
{
	if (raw_len == 0 || stored_len == 0)
		return bd_fail(BD_ERR_FORMAT, "chunk %u is empty", i);
	if (raw_len > CHUNK_RAW_MAX_BYTES)
		return bd_fail(BD_ERR_FORMAT, "chunk %u: %u raw bytes, more than %u",
		    i, raw_len, CHUNK_RAW_MAX_BYTES);
	if (enc == CHUNK_RAW && stored_len != raw_len)
		return bd_fail(BD_ERR_FORMAT,
		    "chunk %u is stored raw in %u bytes, not its %u", i,
		    stored_len, raw_len);
	if (enc == CHUNK_ZSTD && stored_len >= raw_len)
		return bd_fail(BD_ERR_FORMAT,
		    "chunk %u is compressed to %u bytes, not smaller than %u",
		    i, stored_len, raw_len);
	if (enc != CHUNK_RAW && enc != CHUNK_ZSTD)
		return bd_fail(BD_ERR_FORMAT, "chunk %u: unknown encoding %u",
		    i, enc);
	return BD_OK;
}

enum bd_err
chunk_index_parse(const uint8_t *buf, size_t len, struct chunk_index **out)
{
	struct chunk_index *idx = NULL;
	const uint8_t *p;
	uint64_t size, pack_size, raw_sum = 0, stored_sum = 0;
	uint32_t count, i;
	enum bd_err rc;

	*out = NULL;
	if (len > CHUNK_INDEX_MAX_BYTES) {
		rc = bd_fail(BD_ERR_TOOBIG, "chunk index of %zu bytes", len);
		goto out;
	}
	if (len < CHUNK_INDEX_HEADER_BYTES ||
	    memcmp(buf, CHUNK_INDEX_MAGIC, CHUNK_INDEX_MAGIC_BYTES) != 0) {
		rc = bd_fail(BD_ERR_FORMAT, "not a chunk index");
		goto out;
	}
	size = get_be64(buf + 8);
	count = get_be32(buf + 16);
	pack_size = get_be64(buf + 20 + SHA256_BYTES);
	if (count > CHUNK_COUNT_MAX || count > size) {
		rc = bd_fail(BD_ERR_TOOBIG, "%u chunks for %llu bytes", count,
		    (unsigned long long)size);
		goto out;
	}
	if (count == 0) {
		rc = bd_fail(BD_ERR_FORMAT, "chunk index without chunks");
		goto out;
	}
	if (len != CHUNK_INDEX_HEADER_BYTES +
	    (size_t)count * CHUNK_INDEX_ENTRY_BYTES) {
		rc = bd_fail(BD_ERR_FORMAT,
		    "chunk index of %zu bytes for %u chunks", len, count);
		goto out;
	}
	if ((idx = calloc(1, sizeof(*idx))) == NULL ||
	    (idx->chunks = calloc(count, sizeof(*idx->chunks))) == NULL) {
		rc = BD_ERR_NOMEM;
		goto out;
	}
	idx->artifact_size = size;
	idx->pack_size = pack_size;
	idx->count = count;
	memcpy(idx->pack_sha256, buf + 20, SHA256_BYTES);
	p = buf + CHUNK_INDEX_HEADER_BYTES;
	for (i = 0; i < count; i++, p += CHUNK_INDEX_ENTRY_BYTES) {
		struct chunk_entry *e = &idx->chunks[i];

		e->raw_len = get_be32(p);
		e->stored_len = get_be32(p + 4);
		e->encoding = p[8];
		memcpy(e->sha256, p + 9, SHA256_BYTES);
		if ((rc = entry_check(i, e->raw_len, e->stored_len,
		    e->encoding)) != BD_OK)
			goto out;
		e->raw_off = raw_sum;
		e->pack_off = stored_sum;
		raw_sum += e->raw_len;
		stored_sum += e->stored_len;
	}
	if (raw_sum != size || stored_sum != pack_size) {
		rc = bd_fail(BD_ERR_SIZE,
		    "chunks add up to %llu raw and %llu stored bytes, the index "
		    "says %llu and %llu", (unsigned long long)raw_sum,
		    (unsigned long long)stored_sum, (unsigned long long)size,
		    (unsigned long long)pack_size);
		goto out;
	}
	*out = idx;
	idx = NULL;
	rc = BD_OK;
out:
	chunk_index_free(idx);
	return rc;
}

enum bd_err
chunk_index_encode(const struct chunk_index *idx, uint8_t **out, size_t *len)
{
	uint8_t *buf = NULL, *p;
	size_t n;
	uint32_t i;
	enum bd_err rc;

	*out = NULL;
	*len = 0;
	if (idx->count == 0 || idx->count > CHUNK_COUNT_MAX) {
		rc = bd_fail(BD_ERR_TOOBIG, "%u chunks", idx->count);
		goto out;
	}
	n = CHUNK_INDEX_HEADER_BYTES + (size_t)idx->count * CHUNK_INDEX_ENTRY_BYTES;
	if ((buf = malloc(n)) == NULL) {
		rc = BD_ERR_NOMEM;
		goto out;
	}
	memcpy(buf, CHUNK_INDEX_MAGIC, CHUNK_INDEX_MAGIC_BYTES);
	put_be64(buf + 8, idx->artifact_size);
	put_be32(buf + 16, idx->count);
	memcpy(buf + 20, idx->pack_sha256, SHA256_BYTES);
	put_be64(buf + 20 + SHA256_BYTES, idx->pack_size);
	p = buf + CHUNK_INDEX_HEADER_BYTES;
	for (i = 0; i < idx->count; i++, p += CHUNK_INDEX_ENTRY_BYTES) {
		const struct chunk_entry *e = &idx->chunks[i];

		put_be32(p, e->raw_len);
		put_be32(p + 4, e->stored_len);
		p[8] = e->encoding;
		memcpy(p + 9, e->sha256, SHA256_BYTES);
	}
	*out = buf;
	*len = n;
	buf = NULL;
	rc = BD_OK;
out:
	free(buf);
	return rc;
}

void
chunk_index_free(struct chunk_index *idx)
{
	if (idx == NULL)
		return;
	free(idx->chunks);
	free(idx);
}

enum bd_err
chunk_params_choose(const uint8_t *sample, size_t sample_len, uint64_t size,
    struct chunk_params *p)
{
	uint8_t *buf = NULL;
	size_t n, cap;
	enum bd_err rc;

	if (sample_len > CHUNK_SAMPLE_MAX_BYTES)
		sample_len = CHUNK_SAMPLE_MAX_BYTES;
	*p = chunk_params_small;
	if (sample_len > 0) {
		cap = ZSTD_compressBound(sample_len);
		if ((buf = malloc(cap)) == NULL) {
			rc = BD_ERR_NOMEM;
			goto out;
		}
		n = ZSTD_compress(buf, cap, sample, sample_len, 1);
		if (!ZSTD_isError(n) &&
		    n * 100 < (uint64_t)sample_len * CHUNK_COMPRESSED_PERCENT)
			*p = chunk_params_large;
	}
	/* Keep the expected count at half the cap, so the index stays small. */
	while ((size >> p->avg_bits) > CHUNK_COUNT_MAX / 2 &&
	    p->max_len < CHUNK_RAW_MAX_BYTES) {
		p->avg_bits++;
		p->min_len *= 2;
		p->max_len *= 2;
	}
	rc = BD_OK;
out:
	free(buf);
	return rc;
}

/* Whether cutting head with p gives idx's first chunks (at least one). */
static bool
params_match(const struct chunk_params *p, const struct chunk_index *idx,
    const uint8_t *head, size_t head_len)
{
	bool whole = head_len >= idx->artifact_size;
	uint64_t off = 0;
	uint32_t i;
	size_t n;

	for (i = 0; i < idx->count && off < head_len; i++) {
		n = head_len - (size_t)off;
		if (n < p->max_len && !whole)
			break;		/* the cut may lie past the head */
		if (chunk_cut(p, head + off, n) != idx->chunks[i].raw_len)
			return false;
		off += idx->chunks[i].raw_len;
	}
	return i > 0;
}

enum bd_err
chunk_params_infer(const struct chunk_index *idx, const uint8_t *head,
    size_t head_len, struct chunk_params *p)
{
	struct chunk_params c = chunk_params_small;

	if (head_len > idx->artifact_size)
		head_len = (size_t)idx->artifact_size;
	for (;;) {
		if (params_match(&c, idx, head, head_len)) {
			*p = c;
			return BD_OK;
		}
		if (c.max_len >= CHUNK_RAW_MAX_BYTES)
			return bd_fail(BD_ERR_FORMAT, "the chunk index was not "
			    "cut by this chunker");
		c.avg_bits++;
		c.min_len *= 2;
		c.max_len *= 2;
	}
}

bool
chunk_params_fit(const struct chunk_params *p, uint64_t size)
{
	return p->avg_bits < 64 &&
	    (size >> p->avg_bits) <= (uint64_t)CHUNK_COUNT_MAX * 9 / 16;
}

size_t
chunk_cut(const struct chunk_params *p, const uint8_t *buf, size_t len)
{
	/* The top bits of the hash depend on the last 64 bytes read. */
	const uint64_t hard = ~0ull << (64 - (p->avg_bits + 2));
	const uint64_t easy = ~0ull << (64 - (p->avg_bits - 2));
	size_t i, end, normal;
	uint64_t h = 0;

	if (len <= p->min_len)
		return len;
	end = len < p->max_len ? len : p->max_len;
	normal = (size_t)1 << p->avg_bits;
	if (normal > end)
		normal = end;
	for (i = p->min_len; i < normal; i++) {
		h = (h << 1) + gear[buf[i]];
		if ((h & hard) == 0)
			return i + 1;
	}
	for (; i < end; i++) {
		h = (h << 1) + gear[buf[i]];
		if ((h & easy) == 0)
			return i + 1;
	}
	return end;
}

struct chunk_decoder {
	ZSTD_DCtx *dctx;
};

struct chunk_decoder *
chunk_decoder_new(void)
{
	struct chunk_decoder *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	if ((d->dctx = ZSTD_createDCtx()) == NULL ||
	    ZSTD_isError(ZSTD_DCtx_setParameter(d->dctx, ZSTD_d_windowLogMax,
	    CHUNK_WINDOW_LOG_MAX))) {
		chunk_decoder_free(d);
		return NULL;
	}
	return d;
}

void
chunk_decoder_free(struct chunk_decoder *d)
{
	if (d == NULL)
		return;
	ZSTD_freeDCtx(d->dctx);
	free(d);
}

/* Decompresses one zstd frame of exactly raw_len bytes into raw. */
static enum bd_err
decode_zstd(struct chunk_decoder *d, uint64_t at, const uint8_t *stored,
    size_t stored_len, uint8_t *raw, uint32_t raw_len)
{
	unsigned long long declared;
	size_t n;

	declared = ZSTD_getFrameContentSize(stored, stored_len);
	if (declared != ZSTD_CONTENTSIZE_UNKNOWN &&
	    declared != ZSTD_CONTENTSIZE_ERROR && declared > raw_len)
		return bd_fail(BD_ERR_TOOBIG,
		    "chunk at %llu would decompress to %llu bytes, not %u",
		    (unsigned long long)at, declared, raw_len);
	if (declared == ZSTD_CONTENTSIZE_ERROR ||
	    ZSTD_findFrameCompressedSize(stored, stored_len) != stored_len)
		return bd_fail(BD_ERR_FORMAT, "chunk at %llu is not one zstd frame",
		    (unsigned long long)at);
	ZSTD_DCtx_reset(d->dctx, ZSTD_reset_session_only);
	n = ZSTD_decompressDCtx(d->dctx, raw, raw_len, stored, stored_len);
	if (ZSTD_isError(n)) {
		ZSTD_ErrorCode code = ZSTD_getErrorCode(n);

		if (code == ZSTD_error_dstSize_tooSmall ||
		    code == ZSTD_error_frameParameter_windowTooLarge)
			return bd_fail(BD_ERR_TOOBIG,
			    "chunk at %llu decompresses beyond its %u bytes",
			    (unsigned long long)at, raw_len);
		return bd_fail(BD_ERR_FORMAT, "chunk at %llu: zstd: %s",
		    (unsigned long long)at,
		    ZSTD_getErrorName(n));
	}
	if (n != raw_len)
		return bd_fail(BD_ERR_FORMAT,
		    "chunk at %llu decompresses to %zu bytes, not %u",
		    (unsigned long long)at, n, raw_len);
	return BD_OK;
}

enum bd_err
chunk_decode(struct chunk_decoder *d, const struct chunk_entry *e,
    const uint8_t *stored, size_t stored_len, uint8_t *raw)
{
	uint8_t got[SHA256_BYTES];
	enum bd_err rc;

	if (stored_len != e->stored_len) {
		rc = bd_fail(BD_ERR_SIZE, "chunk at %llu: %zu bytes, not %u",
		    (unsigned long long)e->raw_off, stored_len, e->stored_len);
		goto out;
	}
	if (e->raw_len == 0 || e->raw_len > CHUNK_RAW_MAX_BYTES ||
	    (e->encoding != CHUNK_RAW && e->encoding != CHUNK_ZSTD) ||
	    (e->encoding == CHUNK_RAW && e->stored_len != e->raw_len)) {
		rc = bd_fail(BD_ERR_FORMAT, "chunk at %llu: bad entry",
		    (unsigned long long)e->raw_off);
		goto out;
	}
	if (e->encoding == CHUNK_RAW)
		memcpy(raw, stored, e->raw_len);
	else if ((rc = decode_zstd(d, e->raw_off, stored, stored_len, raw,
	    e->raw_len)) != BD_OK)
		goto out;
	sha256_buf(raw, e->raw_len, got);
	if (memcmp(got, e->sha256, SHA256_BYTES) != 0) {
		rc = bd_fail(BD_ERR_HASH, "chunk at %llu",
		    (unsigned long long)e->raw_off);
		goto out;
	}
	rc = BD_OK;
out:
	return rc;
}
