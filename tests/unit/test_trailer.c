/*
 * test_trailer.c - the part file's trailer (client/trailer.c): its bytes
 * at their documented offsets, every refusal of the decoder, and what a
 * part file is taken to hold when a download starts.
 */
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "bytes.h"
#include "check.h"
#include "trailer.h"

/* b with its checksum made right again, so the next check decides. */
static void
resum(uint8_t b[TRAILER_BYTES])
{
	sha256_buf(b, TRAILER_SUM_OFF, b + TRAILER_SUM_OFF);
}

static void
test_layout(void)
{
	struct trailer t = { 1000, 0, { { 0, 0 } } }, u;
	uint8_t b[TRAILER_BYTES], sum[SHA256_BYTES];
	size_t i;
	bool ok;

	CHECK(TRAILER_BYTES == 1080 && TRAILER_SUM_OFF == 1048,
	    "1080 bytes, the checksum at 1048");
	CHECK_THAT(trailer_add(&t, 0, 100) && trailer_add(&t, 100, 200));
	CHECK(t.n == 1 && t.span[0].end == 200, "touching ranges join");
	CHECK_THAT(trailer_add(&t, 300, 400));
	trailer_encode(&t, b);
	sha256_buf(b, TRAILER_SUM_OFF, sum);
	CHECK(memcmp(b, "BDPART01", 8) == 0 && get_le64(b + 8) == 1000 &&
	    get_le64(b + 16) == 2 && get_le64(b + 24) == 0 &&
	    get_le64(b + 32) == 200 && get_le64(b + 40) == 300 &&
	    get_le64(b + 48) == 400 &&
	    memcmp(b + 1048, sum, SHA256_BYTES) == 0,
	    "magic, size, count, pairs and checksum where the header says");
	for (i = 56; i < 1048 && b[i] == 0; i++)
		;
	CHECK(i == 1048, "unused pairs are zero");
	CHECK(trailer_decode(b, 1000, &u) && u.n == 2 && u.size == 1000 &&
	    u.span[0].start == 0 && u.span[0].end == 200 &&
	    u.span[1].start == 300 && u.span[1].end == 400,
	    "decodes to what was encoded");

	for (ok = true, i = t.n; ok && i < TRAILER_SPANS_MAX; i++)
		ok = trailer_add(&t, 500 + i * 2, 501 + i * 2);
	CHECK(ok && t.n == TRAILER_SPANS_MAX, "64 ranges are taken");
	CHECK(!trailer_add(&t, 900, 901) && t.n == TRAILER_SPANS_MAX,
	    "a 65th range is refused");
	CHECK(trailer_add(&t, 627, 700) && t.n == TRAILER_SPANS_MAX &&
	    t.span[TRAILER_SPANS_MAX - 1].end == 700,
	    "a full trailer still joins a touching range");
	trailer_encode(&t, b);
	CHECK(trailer_decode(b, 1000, &u) && u.n == TRAILER_SPANS_MAX,
	    "64 ranges decode");
}

static void
test_refusals(void)
{
	struct trailer t = { 1000, 0, { { 0, 0 } } }, u;
	uint8_t good[TRAILER_BYTES], b[TRAILER_BYTES];

	trailer_add(&t, 10, 20);
	trailer_add(&t, 30, 40);
	trailer_encode(&t, good);
	CHECK(!trailer_decode(good, 999, &u), "another blob size");
	memcpy(b, good, sizeof(b));
	b[30] ^= 1;
	CHECK(!trailer_decode(b, 1000, &u), "a flipped bit: bad checksum");
	memcpy(b, good, sizeof(b));
	b[0] = 'X';
	resum(b);
	CHECK(!trailer_decode(b, 1000, &u), "another magic");
	memcpy(b, good, sizeof(b));
	put_le64(b + 16, TRAILER_SPANS_MAX + 1);
	resum(b);
	CHECK(!trailer_decode(b, 1000, &u), "a count beyond 64");
	memcpy(b, good, sizeof(b));
	put_le64(b + 40, 15);
	resum(b);
	CHECK(!trailer_decode(b, 1000, &u), "ranges out of order");
	memcpy(b, good, sizeof(b));
	put_le64(b + 48, 30);
	resum(b);
	CHECK(!trailer_decode(b, 1000, &u), "an empty range");
	memcpy(b, good, sizeof(b));
	put_le64(b + 48, 1001);
	resum(b);
	CHECK(!trailer_decode(b, 1000, &u), "a range past the size");
	memcpy(b, good, sizeof(b));
	put_le64(b + 48, 1000);
	resum(b);
	CHECK(trailer_decode(b, 1000, &u) && u.span[1].end == 1000,
	    "a range up to the size is taken");
}

/* A part file holding n bytes of 'x', then the trailer t if given. */
static int
part_with(const char *dir, size_t n, const struct trailer *t)
{
	uint8_t b[TRAILER_BYTES];
	char data[512];
	int fd = open(join_path(dir, "p.part"), O_RDWR | O_CREAT | O_TRUNC,
	    0600);

	memset(data, 'x', sizeof(data));
	if (fd < 0 || n > sizeof(data) || write(fd, data, n) != (ssize_t)n) {
		printf("FAIL: part file in %s\n", dir);
		exit(1);
	}
	if (t != NULL) {
		trailer_encode(t, b);
		if (write(fd, b, sizeof(b)) != (ssize_t)sizeof(b))
			exit(1);
	}
	return fd;
}

static void
test_part_load(const char *dir)
{
	struct trailer t = { 100, 0, { { 0, 0 } } };
	struct span_list l = { NULL, 0, 0 };
	uint64_t resumed = 7;
	bool tr = false;
	int fd;

	trailer_add(&t, 0, 10);
	trailer_add(&t, 50, 60);
	fd = part_with(dir, 100, &t);
	CHECK_RC(part_load(fd, "p", 100, &l, &resumed, &tr), BD_OK,
	    "a part with a trailer");
	CHECK(tr && resumed == 20 && l.n == 4 && l.v[0].state == SPAN_DONE &&
	    l.v[0].origin == ORIGIN_EARLIER && l.v[1].state == SPAN_FREE &&
	    l.v[2].start == 50 && l.v[2].state == SPAN_DONE &&
	    l.v[3].end == 100, "its ranges are done, the rest free");
	close(fd);

	fd = part_with(dir, 40, NULL);
	CHECK_RC(part_load(fd, "p", 100, &l, &resumed, &tr), BD_OK,
	    "a part without a trailer");
	CHECK(!tr && resumed == 40 && l.n == 2 && l.v[0].end == 40 &&
	    l.v[0].state == SPAN_DONE && l.v[1].state == SPAN_FREE,
	    "its length is a done prefix");
	close(fd);

	t.size = 99;
	fd = part_with(dir, 99, &t);
	CHECK_RC(part_load(fd, "p", 100, &l, &resumed, &tr), BD_OK,
	    "a longer part whose trailer is another size's");
	CHECK(!tr && resumed == 0 && l.n == 1 && l.v[0].state == SPAN_FREE &&
	    lseek(fd, 0, SEEK_END) == 0, "is emptied: nothing kept");
	close(fd);

	fd = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK_RC(part_load(fd, "p", 100, &l, &resumed, &tr), BD_ERR_IO,
	    "a directory is refused");
	close(fd);
	span_list_free(&l);
}

/* The part file as a delta download shares it (dl_part_mark/_spans). */
static void
test_part_mark(const char *dir)
{
	const struct dl_span two[2] = { { 0, 10 }, { 50, 60 } };
	struct dl_span got[DL_PART_SPANS_MAX + 1];
	size_t n = 9;
	int fd = part_with(dir, 100, NULL);

	CHECK_RC(dl_part_mark(fd, 100, two, 2), BD_OK, "mark two spans");
	CHECK(lseek(fd, 0, SEEK_END) == 100 + TRAILER_BYTES,
	    "the part ends with the trailer");
	CHECK_RC(dl_part_spans(fd, 100, got, &n), BD_OK, "read them back");
	CHECK(n == 2 && got[0].start == 0 && got[0].end == 10 &&
	    got[1].start == 50 && got[1].end == 60, "the same two spans");
	CHECK_RC(dl_part_mark(fd, 100, got, DL_PART_SPANS_MAX + 1),
	    BD_ERR_USAGE, "65 spans are refused");
	close(fd);
	fd = part_with(dir, 40, NULL);
	CHECK_RC(dl_part_spans(fd, 100, got, &n), BD_OK, "no trailer");
	CHECK(n == 1 && got[0].start == 0 && got[0].end == 40,
	    "its length is one span from 0");
	close(fd);
	fd = part_with(dir, 101, NULL);
	CHECK_RC(dl_part_spans(fd, 100, got, &n), BD_OK, "longer, no trailer");
	CHECK(n == 0, "nothing to resume");
	close(fd);
}

int
main(void)
{
	char dir[] = "/tmp/test_trailer.XXXXXX";

	if (mkdtemp(dir) == NULL)
		return 1;
	test_layout();
	test_refusals();
	test_part_load(dir);
	test_part_mark(dir);
	unlink(join_path(dir, "p.part"));
	rmdir(dir);
	return check_done();
}
