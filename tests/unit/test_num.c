/*
 * test_num.c - checked integer parsing (common/num.c): digits only, no
 * overflow, in range; and file identity (common/fileid.c).
 */
#include <stdint.h>
#include <sys/stat.h>

#include "check.h"
#include "fileid.h"
#include "num.h"

/* num_u64_str(s) in [min, max]: want rc and, on BD_OK, want_v. */
static void
parse(const char *s, uint64_t min, uint64_t max, enum bd_err want,
    uint64_t want_v)
{
	uint64_t v = 7;
	enum bd_err rc = num_u64_str(s, min, max, &v);

	CHECK(rc == want && v == (rc == BD_OK ? want_v : 7),
	    "num_u64(\"%s\", %ju, %ju): %d, %ju", s, (uintmax_t)min,
	    (uintmax_t)max, (int)rc, (uintmax_t)v);
}

int
main(void)
{
	struct file_id a, b;
	struct stat st;
	uint64_t v = 0;

	parse("0", 0, 10, BD_OK, 0);
	parse("10", 0, 10, BD_OK, 10);
	parse("007", 0, 10, BD_OK, 7);
	parse("11", 0, 10, BD_ERR_RANGE, 0);
	parse("4", 5, 10, BD_ERR_RANGE, 0);
	parse("18446744073709551615", 0, UINT64_MAX, BD_OK, UINT64_MAX);
	parse("18446744073709551616", 0, UINT64_MAX, BD_ERR_RANGE, 0);
	parse("99999999999999999999999", 0, UINT64_MAX, BD_ERR_RANGE, 0);
	parse("99999999999999999999x", 0, UINT64_MAX, BD_ERR_FORMAT, 0);
	parse("", 0, 10, BD_ERR_FORMAT, 0);
	parse("-1", 0, 10, BD_ERR_FORMAT, 0);
	parse("+1", 0, 10, BD_ERR_FORMAT, 0);
	parse(" 1", 0, 10, BD_ERR_FORMAT, 0);
	parse("1 ", 0, 10, BD_ERR_FORMAT, 0);
	parse("0x1", 0, 10, BD_ERR_FORMAT, 0);
	parse("1e3", 0, 10000, BD_ERR_FORMAT, 0);
	CHECK_THAT(num_u64("123", 2, 0, 100, &v) == BD_OK && v == 12);
	CHECK_THAT(num_u64("123", 0, 0, 100, &v) == BD_ERR_FORMAT);

	memset(&st, 0, sizeof(st));
	st.st_dev = 1;
	st.st_ino = 2;
	st.st_size = 3;
	st.st_mtim.tv_sec = 4;
	st.st_ctim.tv_sec = 5;
	file_id_of(&st, &a);
	file_id_of(&st, &b);
	CHECK_THAT(file_id_same(&a, &b));
	CHECK_THAT(file_id_slot(&a, 64) == file_id_slot(&b, 64));
	st.st_ctim.tv_nsec = 1;	/* bytes changed in place */
	file_id_of(&st, &b);
	CHECK_THAT(!file_id_same(&a, &b));
	st.st_ctim.tv_nsec = 0;
	st.st_ino = 9;		/* replaced by rename */
	file_id_of(&st, &b);
	CHECK_THAT(!file_id_same(&a, &b));
	return check_done();
}
