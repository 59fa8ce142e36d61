/*
 * num.h - checked integer parsing: digits only, no overflow, in range.
 */
#ifndef BOOTDROP_NUM_H
#define BOOTDROP_NUM_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/*
 * Parses the n bytes at s as a decimal number: ASCII digits only (no
 * sign, no space, no base prefix), at least one, without overflow.
 * Returns BD_OK with *v set when it lies in [min, max]; BD_ERR_FORMAT for
 * anything but digits, BD_ERR_RANGE for a number outside [min, max] or
 * past UINT64_MAX.  *v is left alone on failure; no detail is recorded
 * (request parsing calls this on every request).
 */
enum bd_err num_u64(const char *s, size_t n, uint64_t min, uint64_t max,
    uint64_t *v);

/* num_u64() on a NUL-terminated string. */
enum bd_err num_u64_str(const char *s, uint64_t min, uint64_t max,
    uint64_t *v);

#endif
