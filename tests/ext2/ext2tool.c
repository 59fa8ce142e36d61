/*
 * ext2tool - drives client/ext2.c for tests/ext2/ext2.sh, one operation
 * per run (open, operate, close):
 *
 *   ext2tool install IMAGE PATH FILE [MODE]   install FILE at PATH
 *   ext2tool bytes IMAGE PATH STRING           install STRING at PATH
 *   ext2tool read IMAGE PATH MAX               print the file; exit 10 if absent
 *   ext2tool seed IMAGE PATH PIECE             print the file as a delta's
 *                                              seed reads it (read-only,
 *                                              checked open; PIECE bytes at
 *                                              a time, last piece first)
 *
 * Exit status: bootdrop's (bd_err_exit_status), or 10 for an absent file.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ext2.h"

#define EXIT_ABSENT	10

static int
usage(void)
{
	fprintf(stderr, "usage: ext2tool install IMAGE PATH FILE [MODE]\n"
	    "       ext2tool bytes IMAGE PATH STRING\n"
	    "       ext2tool read IMAGE PATH MAX\n"
	    "       ext2tool seed IMAGE PATH PIECE\n");
	return 1;
}

static int
parse_num(const char *s, int base, unsigned long long *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, base);
	return errno == 0 && end != s && *end == '\0' && s[0] != '-';
}

/*
 * Prints the file at path as a seed reads it: ext2_open_checked(), then
 * ext2_reader_pread() in pieces of piece bytes from the end backwards
 * (any offset, in any order), and one read past the end that must fail.
 */
static int
seed_print(const char *image, const char *path, size_t piece)
{
	struct ext2_target *t = NULL;
	struct ext2_reader *r = NULL;
	uint8_t *buf = NULL, *one;
	uint64_t size = 0, off;
	size_t n;
	enum bd_err rc;

	if ((rc = ext2_open_checked(image, &t)) == BD_OK &&
	    (rc = ext2_reader_open(t, path, &r, &size)) == BD_OK && r != NULL &&
	    (buf = malloc(size > 0 ? (size_t)size : 1)) == NULL)
		rc = BD_ERR_NOMEM;
	for (off = size; rc == BD_OK && r != NULL && off > 0; off -= n) {
		n = off < piece ? (size_t)off : piece;
		rc = ext2_reader_pread(r, buf + off - n, n, off - n);
	}
	one = buf;
	if (rc == BD_OK && r != NULL && ext2_reader_pread(r, one, 1, size) !=
	    BD_ERR_SIZE)
		rc = bd_fail(BD_ERR_IO, "a read past the end succeeded");
	if (rc != BD_OK)
		fprintf(stderr, "ext2tool: %s: %s\n", bd_strerror(rc),
		    bd_err_detail());
	else if (r != NULL && fwrite(buf, 1, (size_t)size, stdout) != size)
		rc = BD_ERR_IO;
	ext2_reader_close(r);
	(void)ext2_close(t, false);
	free(buf);
	return rc == BD_OK && r == NULL ? EXIT_ABSENT : bd_err_exit_status(rc);
}

int
main(int argc, char **argv)
{
	struct ext2_target *t = NULL;
	unsigned long long num = 0644;
	uint8_t *buf = NULL;
	size_t len = 0;
	struct stat st;
	int fd = -1, status;
	enum bd_err rc, crc;

	if (argc < 5)
		return usage();
	if (strcmp(argv[1], "install") == 0) {
		if (argc > 6 || (argc == 6 && !parse_num(argv[5], 8, &num)))
			return usage();
		if ((fd = open(argv[4], O_RDONLY | O_CLOEXEC)) == -1 ||
		    fstat(fd, &st) == -1) {
			fprintf(stderr, "ext2tool: %s: %s\n", argv[4], strerror(errno));
			return 1;
		}
	} else if (strcmp(argv[1], "seed") == 0) {
		if (argc != 5 || !parse_num(argv[4], 10, &num) || num == 0)
			return usage();
		return seed_print(argv[2], argv[3], (size_t)num);
	} else if (strcmp(argv[1], "bytes") == 0 || strcmp(argv[1], "read") == 0) {
		if (argc != 5)
			return usage();
		if (argv[1][0] == 'r' && !parse_num(argv[4], 10, &num))
			return usage();
	} else {
		return usage();
	}
	rc = ext2_open(argv[2], true, &t);
	if (rc == BD_OK) {
		if (argv[1][0] == 'i')
			rc = ext2_install_file(t, argv[3], fd, (uint64_t)st.st_size,
			    (mode_t)num);
		else if (argv[1][0] == 'b')
			rc = ext2_install_bytes(t, argv[3], argv[4], strlen(argv[4]), 0644);
		else
			rc = ext2_read_file(t, argv[3], (size_t)num, &buf, &len);
	}
	if (rc != BD_OK)
		fprintf(stderr, "ext2tool: %s: %s\n", bd_strerror(rc), bd_err_detail());
	crc = ext2_close(t, rc == BD_OK);
	if (crc != BD_OK) {
		fprintf(stderr, "ext2tool: close: %s: %s\n", bd_strerror(crc),
		    bd_err_detail());
		if (rc == BD_OK)
			rc = crc;
	}
	status = bd_err_exit_status(rc);
	if (rc == BD_OK && argv[1][0] == 'r') {
		if (buf == NULL)
			status = EXIT_ABSENT;
		else if (fwrite(buf, 1, len, stdout) != len)
			status = 1;
	}
	free(buf);
	if (fd != -1)
		close(fd);
	return status;
}
