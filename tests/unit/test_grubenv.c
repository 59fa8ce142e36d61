/*
 * test_grubenv.c - GRUB's environment block (common/grubenv.c): the exact
 * bytes GRUB reads, edits that keep other variables, and refusals of
 * every malformed block.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "grubenv.h"

/* A block of header + body, '#'-padded to 1024 bytes. */
static void
block(uint8_t out[GRUBENV_BYTES], const char *body)
{
	size_t hl = strlen(GRUBENV_HEADER);

	memset(out, '#', GRUBENV_BYTES);
	memcpy(out, GRUBENV_HEADER, hl);
	memcpy(out + hl, body, strlen(body));
}

int
main(void)
{
	static struct grubenv env, again;
	uint8_t buf[GRUBENV_BYTES], want[GRUBENV_BYTES], big[GRUBENV_BYTES + 1];
	char value[GRUBENV_VALUE_MAX_BYTES + 2];
	size_t i;

	/* GRUB's empty block: grub-editenv create writes exactly this */
	memset(&env, 0, sizeof(env));
	CHECK_RC(grubenv_format(&env, buf), BD_OK, "empty block formats");
	block(want, "");
	CHECK(memcmp(buf, want, GRUBENV_BYTES) == 0, "the empty block is the "
	    "header and 999 '#'");
	CHECK(buf[GRUBENV_BYTES - 1] == '#' && memcmp(buf, "# GRUB Environment "
	    "Block\n#", 26) == 0, "header, then padding");

	/* the install's block, byte for byte */
	CHECK_RC(grubenv_set(&env, GRUBENV_TRIAL, "8"), BD_OK, "set trial");
	CHECK_RC(grubenv_format(&env, buf), BD_OK, "trial block formats");
	block(want, "bootdrop_trial=8\n");
	CHECK(memcmp(buf, want, GRUBENV_BYTES) == 0, "bootdrop_trial=8 after "
	    "the header");

	/* what GRUB's save_env leaves, read back; other variables kept */
	block(buf, "saved_entry=x\nbootdrop_trial=\nbootdrop_tried=8\n");
	CHECK_RC(grubenv_parse(buf, sizeof(buf), &env), BD_OK, "GRUB's block "
	    "parses");
	CHECK(env.nvars == 3 && strcmp(grubenv_get(&env, GRUBENV_TRIAL), "") ==
	    0 && strcmp(grubenv_get(&env, GRUBENV_TRIED), "8") == 0 &&
	    grubenv_get(&env, GRUBENV_GOOD) == NULL, "three variables, the "
	    "empty one empty, a missing one NULL");
	grubenv_unset(&env, GRUBENV_TRIAL);
	grubenv_unset(&env, GRUBENV_TRIED);
	grubenv_unset(&env, GRUBENV_TRIED);
	CHECK_RC(grubenv_set(&env, GRUBENV_GOOD, "8"), BD_OK, "set good");
	CHECK_RC(grubenv_format(&env, buf), BD_OK, "confirmed block formats");
	block(want, "saved_entry=x\nbootdrop_good=8\n");
	CHECK(memcmp(buf, want, GRUBENV_BYTES) == 0, "confirmed: the trial "
	    "variables gone, saved_entry kept in place");
	CHECK_RC(grubenv_parse(buf, sizeof(buf), &again), BD_OK, "reparses");
	CHECK(memcmp(&env, &again, sizeof(env)) == 0, "parse(format(env)) is "
	    "env");
	CHECK_RC(grubenv_set(&env, GRUBENV_GOOD, "9"), BD_OK, "replace");
	CHECK(env.nvars == 2 && strcmp(env.vars[1].value, "9") == 0,
	    "a set variable is replaced where it is");

	/* refusals */
	block(buf, "");
	CHECK_RC(grubenv_parse(buf, GRUBENV_BYTES - 1, &env), BD_ERR_FORMAT,
	    "1023 bytes refused");
	memset(big, '#', sizeof(big));
	memcpy(big, GRUBENV_HEADER, strlen(GRUBENV_HEADER));
	CHECK_RC(grubenv_parse(big, sizeof(big), &env), BD_ERR_FORMAT,
	    "1025 bytes refused");
	buf[2] = 'g';
	CHECK_RC(grubenv_parse(buf, sizeof(buf), &env), BD_ERR_FORMAT,
	    "another header refused");
	block(buf, "novalue\n");
	CHECK_RC(grubenv_parse(buf, sizeof(buf), &env), BD_ERR_FORMAT,
	    "a line without '=' refused");
	block(buf, "a=1\n\n");
	CHECK_RC(grubenv_parse(buf, sizeof(buf), &env), BD_ERR_FORMAT,
	    "an empty line refused");
	block(buf, "a-b=1\n");
	CHECK_RC(grubenv_parse(buf, sizeof(buf), &env), BD_ERR_FORMAT,
	    "a name with '-' refused");
	block(buf, "a=x\\ny\n");
	CHECK_RC(grubenv_parse(buf, sizeof(buf), &env), BD_ERR_FORMAT,
	    "a backslash (GRUB's escape) refused");
	block(buf, "a=1\na=2\n");
	CHECK_RC(grubenv_parse(buf, sizeof(buf), &env), BD_ERR_FORMAT,
	    "a name set twice refused");
	block(buf, "a=1\n##x#");
	CHECK_RC(grubenv_parse(buf, sizeof(buf), &env), BD_ERR_FORMAT,
	    "padding with other bytes refused");
	block(buf, "a=1");
	buf[GRUBENV_BYTES - 1] = 'x';
	CHECK_RC(grubenv_parse(buf, sizeof(buf), &env), BD_ERR_FORMAT,
	    "a line running into the end refused");
	block(buf, "a=1\n");
	memset(buf + strlen(GRUBENV_HEADER) + 4, 'b', GRUBENV_BYTES -
	    strlen(GRUBENV_HEADER) - 4);
	CHECK_RC(grubenv_parse(buf, sizeof(buf), &env), BD_ERR_FORMAT,
	    "no newline before the end refused");
	block(buf, "");
	for (i = 0; i <= GRUBENV_MAX_VARS; i++)
		memcpy(buf + strlen(GRUBENV_HEADER) + 5 * i, (char[]){ 'v',
		    (char)('0' + i / 10), (char)('0' + i % 10), '=', '\n' }, 5);
	CHECK_RC(grubenv_parse(buf, sizeof(buf), &env), BD_ERR_TOOBIG,
	    "more than 32 variables refused");

	/* what does not fit is refused, never cut */
	memset(&env, 0, sizeof(env));
	memset(value, 'x', sizeof(value));
	value[GRUBENV_VALUE_MAX_BYTES + 1] = '\0';
	CHECK_RC(grubenv_set(&env, "a", value), BD_ERR_FORMAT,
	    "a 257-byte value refused");
	value[GRUBENV_VALUE_MAX_BYTES] = '\0';
	CHECK_RC(grubenv_set(&env, "a", value), BD_OK, "256 bytes fit");
	CHECK_RC(grubenv_set(&env, "b", value), BD_OK, "b");
	CHECK_RC(grubenv_set(&env, "c", value), BD_OK, "c");
	CHECK_RC(grubenv_format(&env, buf), BD_OK, "three fit in 1024");
	CHECK_RC(grubenv_set(&env, "d", value), BD_OK, "d");
	CHECK_RC(grubenv_format(&env, buf), BD_ERR_TOOBIG, "four (1040 bytes) "
	    "do not fit: refused");
	CHECK_RC(grubenv_set(&env, "a=b", "1"), BD_ERR_FORMAT, "'=' in a name "
	    "refused");
	CHECK_RC(grubenv_set(&env, "n", "a\nb"), BD_ERR_FORMAT, "a newline in "
	    "a value refused");
	return check_done();
}
