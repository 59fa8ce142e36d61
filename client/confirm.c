/*
 * confirm.c - the trial boot's record on the slice, armed by an install
 * and cleared by --confirm (see confirm.h).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot.h"
#include "confirm.h"
#include "grubenv.h"

#define CONFIRM_NUM_BYTES	24	/* a uint64_t in decimal, NUL */
/* systemd-boot's loader interface: the entry it booted */
#define CONFIRM_EFI_SELECTED	"LoaderEntrySelected-" \
    "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"
#define CONFIRM_EFIVAR_MAX_BYTES	(4 + 2 * 256)	/* attributes, UTF-16 */

/* The slice's grubenv: *present false when missing; BD_ERR_FORMAT when
 * it is there but not a block GRUB and bootdrop read. */
static enum bd_err
grubenv_load(struct dest *d, struct grubenv *env, uint8_t raw[GRUBENV_BYTES],
    bool *present)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	enum bd_err rc;

	*present = false;
	memset(env, 0, sizeof(*env));
	rc = dest_file_read(d, GRUBENV_PATH, GRUBENV_BYTES, &buf, &len);
	if (rc == BD_ERR_TOOBIG)
		rc = bd_fail(BD_ERR_FORMAT, "%s: larger than %d bytes",
		    GRUBENV_PATH, GRUBENV_BYTES);
	if (rc != BD_OK || buf == NULL)
		goto out;
	*present = true;
	if ((rc = grubenv_parse(buf, len, env)) == BD_OK)
		memcpy(raw, buf, GRUBENV_BYTES);
out:
	free(buf);
	return rc;
}

/* Removes every variable of the trial record from env. */
static void
trial_clear(struct grubenv *env)
{
	grubenv_unset(env, GRUBENV_TRIAL);
	grubenv_unset(env, GRUBENV_TRIED);
	grubenv_unset(env, GRUBENV_FAILED);
	grubenv_unset(env, GRUBENV_GOOD);
}

enum bd_err
confirm_arm(struct dest *d, uint64_t version, bool trial)
{
	static struct grubenv env;
	uint8_t raw[GRUBENV_BYTES], out[GRUBENV_BYTES];
	char num[CONFIRM_NUM_BYTES];
	bool present;
	enum bd_err rc;

	/* a block bootdrop cannot read is replaced by a fresh one (in place:
	 * a file of another size is refused by the rewrite) */
	rc = grubenv_load(d, &env, raw, &present);
	if (rc == BD_ERR_FORMAT)
		memset(&env, 0, sizeof(env));
	else if (rc != BD_OK)
		return rc;
	trial_clear(&env);
	snprintf(num, sizeof(num), "%" PRIu64, version);
	if (trial && (rc = grubenv_set(&env, GRUBENV_TRIAL, num)) != BD_OK)
		return rc;
	if ((rc = grubenv_format(&env, out)) != BD_OK)
		return rc;
	return dest_file_rewrite(d, GRUBENV_PATH, out, sizeof(out));
}

/* What --confirm found for one loader. */
enum verdict { NOTHING, ALREADY, TO_WRITE };

/*
 * grub: the block to write for version num (*v TO_WRITE), or a refusal
 * when GRUB's record shows num not booted yet, or the previous entry
 * booted since its trial.
 */
static enum bd_err
grub_judge(struct dest *d, const char *num, struct grubenv *env,
    uint8_t out[GRUBENV_BYTES], enum verdict *v)
{
	uint8_t raw[GRUBENV_BYTES];
	const char *s;
	bool present;
	enum bd_err rc;

	*v = NOTHING;
	if ((rc = grubenv_load(d, env, raw, &present)) != BD_OK)
		return bd_fail(BD_ERR_IO, "damaged %s (%s); nothing confirmed",
		    GRUBENV_PATH, bd_err_detail());
	if (!present)
		return BD_OK;
	if ((s = grubenv_get(env, GRUBENV_FAILED)) != NULL &&
	    strcmp(s, num) == 0)
		return bd_fail(BD_ERR_IO, "version %s failed its trial boot: "
		    "GRUB has booted the previous version since, and that is "
		    "what runs; nothing confirmed", num);
	if ((s = grubenv_get(env, GRUBENV_TRIAL)) != NULL &&
	    strcmp(s, num) == 0)
		return bd_fail(BD_ERR_IO, "version %s has not been booted yet; "
		    "confirm it once it runs; nothing confirmed", num);
	trial_clear(env);
	if ((rc = grubenv_set(env, GRUBENV_GOOD, num)) != BD_OK ||
	    (rc = grubenv_format(env, out)) != BD_OK)
		return rc;
	*v = memcmp(out, raw, GRUBENV_BYTES) == 0 ? ALREADY : TO_WRITE;
	return BD_OK;
}

/* Whether the regular file path is on d. */
static enum bd_err
file_present(struct dest *d, const char *path, bool *present)
{
	uint8_t *buf = NULL;
	size_t len;
	enum bd_err rc = dest_file_read(d, path, BOOT_RENDER_MAX_BYTES, &buf,
	    &len);

	*present = buf != NULL || rc == BD_ERR_TOOBIG;
	free(buf);
	return rc == BD_ERR_TOOBIG ? BD_OK : rc;
}

enum bd_err
confirm_bls_find(struct dest *d, const char *channel, uint64_t version,
    char found[BOOT_PATH_BYTES], int *left, bool *booted)
{
	unsigned l, done;
	bool present;
	enum bd_err rc;

	*left = -1;
	*booted = false;
	snprintf(found, BOOT_PATH_BYTES, BOOT_BLS_DIR "/bootdrop-%s-%" PRIu64
	    ".conf", channel, version);
	if ((rc = file_present(d, found, &present)) != BD_OK || present)
		return rc;
	for (l = 0; l <= CONFIRM_BLS_TRIES; l++) {
		for (done = 0; done <= CONFIRM_BLS_TRIES + 1; done++) {
			if (done == CONFIRM_BLS_TRIES + 1)
				snprintf(found, BOOT_PATH_BYTES, BOOT_BLS_DIR
				    "/bootdrop-%s-%" PRIu64 "+%u.conf", channel,
				    version, l);
			else
				snprintf(found, BOOT_PATH_BYTES, BOOT_BLS_DIR
				    "/bootdrop-%s-%" PRIu64 "+%u-%u.conf",
				    channel, version, l, done);
			if ((rc = file_present(d, found, &present)) != BD_OK)
				return rc;
			if (present) {
				*left = (int)l;
				*booted = done <= CONFIRM_BLS_TRIES;
				return BD_OK;
			}
		}
	}
	found[0] = '\0';
	return BD_OK;
}

/*
 * The id of the entry systemd-boot booted, from its LoaderEntrySelected
 * variable in efivars (4 attribute bytes, then NUL-terminated UTF-16LE),
 * in ASCII; false when there is none, or it is not printable ASCII.
 */
static bool
efi_selected(const char *efivars, char id[BOOT_PATH_BYTES])
{
	uint8_t buf[CONFIRM_EFIVAR_MAX_BYTES];
	char path[BOOT_PATH_BYTES + 64];
	unsigned c = 1;
	ssize_t n;
	size_t i, j = 0;
	int fd;

	if (snprintf(path, sizeof(path), "%s/" CONFIRM_EFI_SELECTED,
	    efivars) >= (int)sizeof(path) ||
	    (fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, buf, sizeof(buf));	/* efivarfs: one read, whole */
	close(fd);
	if (n < 6 || n % 2 != 0)
		return false;
	for (i = 4; i + 1 < (size_t)n && j + 1 < BOOT_PATH_BYTES; i += 2) {
		c = buf[i] | (unsigned)buf[i + 1] << 8;
		if (c == 0)
			break;
		if (c < 0x20 || c > 0x7e)
			return false;
		id[j++] = (char)c;
	}
	id[j] = '\0';
	return j > 0 && c == 0;	/* ended by its NUL, not cut */
}

/*
 * Whether systemd-boot's entry id names version's entry of channel: the
 * file name, with or without ".conf" and its counter.
 */
static bool
efi_names(const char *id, const char *channel, uint64_t version)
{
	char plain[BOOT_PATH_BYTES];
	int n = snprintf(plain, sizeof(plain), "bootdrop-%s-%" PRIu64, channel,
	    version);

	if (n < 0 || n >= (int)sizeof(plain) || strncmp(id, plain,
	    (size_t)n) != 0)
		return false;
	id += n;
	return *id == '\0' || *id == '+' || strcmp(id, ".conf") == 0;
}

/*
 * bls: the state's version's entry, found in from (*v TO_WRITE, to be
 * renamed to the plain name to), or a refusal when it was never booted
 * (+L) or has no tries left (the previous entry boots; whether this boot
 * was the last try cannot be told from the slice).
 */
static enum bd_err
bls_judge(struct dest *d, const char *channel, uint64_t version,
    const char *efivars, char from[BOOT_PATH_BYTES], char to[BOOT_PATH_BYTES],
    enum verdict *v)
{
	char id[BOOT_PATH_BYTES];
	bool booted;
	int left;
	enum bd_err rc;

	*v = NOTHING;
	snprintf(to, BOOT_PATH_BYTES, BOOT_BLS_DIR "/bootdrop-%s-%" PRIu64
	    ".conf", channel, version);
	if ((rc = confirm_bls_find(d, channel, version, from, &left,
	    &booted)) != BD_OK || from[0] == '\0')
		return rc;
	if (left < 0)
		*v = ALREADY;
	else if (efivars != NULL && efi_selected(efivars, id)) {
		/* the firmware says which entry booted: that decides */
		if (efi_names(id, channel, version))
			*v = TO_WRITE;
		else
			rc = bd_fail(BD_ERR_IO, "systemd-boot booted entry %s, "
			    "not version %" PRIu64 "'s (%s); nothing confirmed",
			    id, version, from);
	} else if (!booted)
		rc = bd_fail(BD_ERR_IO, "version %" PRIu64 " has not been "
		    "booted yet (%s); confirm it once it runs; nothing "
		    "confirmed", version, from);
	else if (left == 0)
		rc = bd_fail(BD_ERR_IO, "version %" PRIu64 " has no boot tries "
		    "left (%s): systemd-boot boots the previous version, and "
		    "this boot may be it; nothing confirmed", version, from);
	else
		*v = TO_WRITE;
	return rc;
}

enum bd_err
confirm_run(struct dest *d, const char *channel, const char *efivars,
    char *summary, size_t cap, bool *changed)
{
	static struct grubenv env;
	const struct bd_state *st = dest_state(d);
	uint8_t block[GRUBENV_BYTES];
	char num[CONFIRM_NUM_BYTES], from[BOOT_PATH_BYTES], to[BOOT_PATH_BYTES];
	enum verdict grub, bls;
	enum bd_err rc;

	*changed = false;
	if (!st->present)
		return bd_fail(BD_ERR_IO, "no bootdrop install of channel %s "
		    "(no state at %s); nothing confirmed", channel,
		    dest_state_where(d));
	snprintf(num, sizeof(num), "%" PRIu64, st->version);
	/* judge both loaders before writing either */
	if ((rc = grub_judge(d, num, &env, block, &grub)) != BD_OK ||
	    (rc = bls_judge(d, channel, st->version, efivars, from, to,
	    &bls)) != BD_OK)
		return rc;
	if (grub == TO_WRITE &&
	    (rc = dest_file_rewrite(d, GRUBENV_PATH, block, sizeof(block))) !=
	    BD_OK)
		return rc;
	if (bls == TO_WRITE && (rc = dest_file_rename(d, from, to)) != BD_OK)
		return rc;
	*changed = grub == TO_WRITE || bls == TO_WRITE;
	if (grub == NOTHING && bls == NOTHING)
		snprintf(summary, cap, "%s version %s: no trial boot on this "
		    "slice (no grubenv, no counted BLS entry); nothing to "
		    "confirm", channel, num);
	else
		snprintf(summary, cap, "%s version %s %s", channel, num,
		    *changed ? "confirmed" : "was confirmed already");
	return BD_OK;
}
