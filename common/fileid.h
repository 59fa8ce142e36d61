/*
 * fileid.h - what identifies the bytes of a file for a cache: device,
 * inode, size, modification and change times.  A file replaced by rename
 * is a new inode; bytes changed in place move the ctime, even when the
 * size and mtime are put back.
 */
#ifndef BOOTDROP_FILEID_H
#define BOOTDROP_FILEID_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim, ctim;
};

/* The identity of the file st describes. */
void file_id_of(const struct stat *st, struct file_id *id);

/* True when a and b identify the same bytes. */
bool file_id_same(const struct file_id *a, const struct file_id *b);

/* A slot for id in a table of n slots (n > 0). */
size_t file_id_slot(const struct file_id *id, size_t n);

#endif
