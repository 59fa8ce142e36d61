/*
 * units.h - byte counts the way people read them, for every program's
 * messages and pages.
 */
#ifndef BOOTDROP_UNITS_H
#define BOOTDROP_UNITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIZE_TEXT_BYTES		48	/* room for any size_format() text */

/*
 * Writes n as "5.0 MiB (5242880 bytes)", or "512 bytes" below 1 KiB; with
 * exact false, only "5.0 MiB" / "512 B" (progress lines, rates).
 */
void size_format(uint64_t n, bool exact, char out[SIZE_TEXT_BYTES]);

#endif
