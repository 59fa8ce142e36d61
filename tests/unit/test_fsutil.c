/*
 * test_fsutil.c - capped reads, atomic and exclusive replacement, and
 * directory walks that never follow a symlink.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fsutil.h"

/* Counts directory entries whose name contains ".tmp" (leftovers). */
static int
leftovers(int dirfd)
{
	char cmd[256];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -a /proc/self/fd/%d/ | grep -c '\\.tmp$'",
	    dirfd);
	if ((p = popen(cmd, "r")) != NULL) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return n;
}

int
main(void)
{
	char dir[] = "/tmp/bootdrop-fsutil.XXXXXX", cmd[128];
	uint8_t *buf = NULL;
	size_t len = 0;
	struct stat st;
	int root, sub;

	if (mkdtemp(dir) == NULL || (root = open(dir, O_RDONLY | O_DIRECTORY)) < 0)
		return 1;

	CHECK_RC(file_write_atomic(root, "a", "hello", 5, 0640, false), BD_OK,
	    "write a");
	CHECK(fstatat(root, "a", &st, 0) == 0 && (st.st_mode & 0777) == 0640,
	    "mode is exactly 0640 whatever the umask");
	CHECK_RC(file_read_capped(root, "a", 5, &buf, &len), BD_OK, "read at cap");
	CHECK(len == 5 && memcmp(buf, "hello", 6) == 0, "content and NUL");
	free(buf);
	CHECK_RC(file_read_capped(root, "a", 4, &buf, &len), BD_ERR_TOOBIG,
	    "read over cap");
	CHECK(buf == NULL && len == 0, "nothing returned over the cap");
	CHECK_RC(file_write_atomic(root, "a", "bye", 3, 0644, false), BD_OK,
	    "replace a");
	CHECK_RC(file_read_capped(root, "a", 100, &buf, &len), BD_OK, "read a");
	CHECK(len == 3 && memcmp(buf, "bye", 3) == 0, "replaced content");
	free(buf);
	CHECK_RC(file_write_atomic(root, "a", "x", 1, 0644, true), BD_ERR_EXISTS,
	    "exclusive write refuses to replace");
	CHECK_RC(file_read_capped(root, "a", 100, &buf, &len), BD_OK, "read a");
	CHECK(len == 3, "refused exclusive write left a alone");
	free(buf);
	CHECK(leftovers(root) == 0, "no temporary files left");

	CHECK(symlinkat("a", root, "link") == 0, "make symlink");
	CHECK_RC(file_read_capped(root, "link", 100, &buf, &len), BD_ERR_IO,
	    "reading through a symlink refused");
	CHECK(mkdirat(root, "d", 0755) == 0, "mkdir d");
	CHECK_RC(file_read_capped(root, "d", 100, &buf, &len), BD_ERR_IO,
	    "reading a directory refused");

	CHECK_RC(dir_open_path(root, "boot/grub", true, &sub), BD_OK,
	    "create boot/grub");
	close(sub);
	CHECK(fstatat(root, "boot/grub", &st, 0) == 0 && S_ISDIR(st.st_mode),
	    "boot/grub is a directory");
	CHECK_RC(dir_open_path(root, "boot/grub", false, &sub), BD_OK,
	    "open existing boot/grub");
	close(sub);
	CHECK(symlinkat("/", root, "evil") == 0, "plant symlink evil -> /");
	CHECK_RC(dir_open_path(root, "evil/etc", true, &sub), BD_ERR_PATH,
	    "symlinked parent refused");
	CHECK_RC(dir_open_path(root, "boot/../..", true, &sub), BD_ERR_PATH,
	    "dot-dot refused");
	CHECK_RC(dir_open_path(root, "boot//grub", true, &sub), BD_ERR_PATH,
	    "empty component refused");
	CHECK_RC(dir_open_path(root, "a/x", true, &sub), BD_ERR_PATH,
	    "a file as parent refused");
	CHECK_RC(dir_open_path(root, "missing", false, &sub), BD_ERR_IO,
	    "missing directory without create");

	close(root);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0, "cleanup");
	return check_done();
}
