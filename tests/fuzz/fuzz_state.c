/*
 * fuzz_state.c - the boot slice's state file and intent record
 * (client/state.c): bytes another program or a damaged disk may have left.
 * Whatever parses must format back to bytes that parse to the same thing.
 * The client file is included whole, as darkhttpd's tests do.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../client/state.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
state_roundtrip(const uint8_t *data, size_t size)
{
	struct bd_state st, again;
	char text[STATE_MAX_BYTES];
	size_t len;

	if (state_parse("test", data, size, &st) != BD_OK)
		return;
	if (state_format("test", &st, text, &len) != BD_OK ||
	    state_parse("test", (const uint8_t *)text, len, &again) != BD_OK ||
	    memcmp(&st, &again, sizeof(st)) != 0)
		__builtin_trap();
}

static void
pending_roundtrip(const uint8_t *data, size_t size)
{
	static struct bd_pending p, again;
	static char text[PENDING_MAX_BYTES];
	size_t len;

	memset(&p, 0, sizeof(p));
	memset(&again, 0, sizeof(again));
	if (pending_parse(data, size, &p) != BD_OK)
		return;
	if (pending_format(&p, text, sizeof(text), &len) != BD_OK ||
	    pending_parse((const uint8_t *)text, len, &again) != BD_OK ||
	    memcmp(&p, &again, sizeof(p)) != 0)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	state_roundtrip(data, size);
	pending_roundtrip(data, size);
	return 0;
}
