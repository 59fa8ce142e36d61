/*
 * cli.c - passphrases and key loading for the publisher's programs.
 * A passphrase never comes from argv: from a file, an environment variable
 * named by an option, or the terminal with echo off.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "fsutil.h"

#define CLI_PROMPT_BYTES	512

/* Strips one trailing "\n" or "\r\n"; refuses empty and embedded NUL. */
static enum bd_err
take_line(char *buf, size_t len)
{
	char *nl;

	if (memchr(buf, '\0', len) != NULL)
		return bd_fail(BD_ERR_USAGE, "passphrase contains a NUL byte");
	buf[len] = '\0';
	if ((nl = strchr(buf, '\n')) != NULL)
		*nl = '\0';
	len = strlen(buf);
	if (len > 0 && buf[len - 1] == '\r')
		buf[--len] = '\0';
	if (len == 0)
		return bd_fail(BD_ERR_USAGE, "empty passphrase");
	return BD_OK;
}

/*
 * Reads one line (up to "\n" or end of file) from fd into buf, a byte at a
 * time so that nothing after the line is consumed: several keys may take
 * successive lines of one pipe.
 */
static enum bd_err
read_line_fd(int fd, const char *what, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t n;
	char c;

	for (;;) {
		n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return bd_fail(BD_ERR_IO, "passphrase from %s: %s", what,
			    strerror(errno));
		if (n == 0 || c == '\n')
			break;
		if (len + 1 >= cap)
			return bd_fail(BD_ERR_USAGE, "passphrase from %s: longer "
			    "than %zu bytes", what, cap - 1);
		buf[len++] = c;
	}
	if (n == 0 && len == 0)
		return bd_fail(BD_ERR_USAGE, "passphrase from %s: nothing to "
		    "read", what);
	return take_line(buf, len);
}

/*
 * The passphrase from PATH's first line; "-" is standard input.  The path is
 * the publisher's own choice on its own machine, so links are followed and
 * pipes accepted: /dev/stdin, <(command) and named pipes work.
 */
static enum bd_err
pass_from_file(const char *path, char *buf, size_t cap)
{
	int fd;
	enum bd_err rc;

	if (strcmp(path, "-") == 0)
		return read_line_fd(STDIN_FILENO, "standard input", buf, cap);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return bd_fail(BD_ERR_USAGE, "passphrase file %s: %s", path,
		    strerror(errno));
	rc = read_line_fd(fd, path, buf, cap);
	close(fd);
	return rc;
}

/* Reads one line from the terminal with echo off. */
static enum bd_err
ask_tty(int tty, const char *prompt, char *buf, size_t cap)
{
	struct termios old, noecho;
	size_t len = 0;
	ssize_t n;
	char c;
	enum bd_err rc = BD_OK;

	if (tcgetattr(tty, &old) != 0)
		return bd_fail(BD_ERR_USAGE, "no terminal for the passphrase "
		    "(use --passphrase-file)");
	noecho = old;
	noecho.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	noecho.c_lflag |= ICANON;
	/* Echo off before the prompt: what is typed after it is kept. */
	if (tcsetattr(tty, TCSAFLUSH, &noecho) != 0)
		return bd_fail(BD_ERR_IO, "terminal: %s", strerror(errno));
	if (write(tty, prompt, strlen(prompt)) < 0) {
		rc = bd_fail(BD_ERR_IO, "terminal: %s", strerror(errno));
		tcsetattr(tty, TCSAFLUSH, &old);
		return rc;
	}
	for (;;) {
		n = read(tty, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || c == '\n')
			break;
		if (len + 1 >= cap) {
			rc = bd_fail(BD_ERR_USAGE, "passphrase too long");
			break;
		}
		buf[len++] = c;
	}
	tcsetattr(tty, TCSAFLUSH, &old);
	if (write(tty, "\n", 1) < 0)
		rc = rc == BD_OK ? BD_ERR_IO : rc;
	if (rc != BD_OK)
		return rc;
	return take_line(buf, len);
}

enum bd_err
cli_passphrase(char *buf, size_t cap, bool confirm, void *ctx)
{
	const struct cli_pass *p = ctx;
	const char *v;
	char *again = NULL, prompt[CLI_PROMPT_BYTES];
	int tty = -1;
	enum bd_err rc;

	if (p != NULL && p->file != NULL)
		return pass_from_file(p->file, buf, cap);
	if (p != NULL && p->env != NULL) {
		if ((v = getenv(p->env)) == NULL)
			return bd_fail(BD_ERR_USAGE, "environment variable %s "
			    "is not set", p->env);
		if (strlen(v) + 1 > cap)
			return bd_fail(BD_ERR_USAGE, "passphrase too long");
		memcpy(buf, v, strlen(v) + 1);
		return take_line(buf, strlen(buf));
	}
	/* Piped in, as with minisign: one line per key, asked once. */
	if (!isatty(STDIN_FILENO))
		return read_line_fd(STDIN_FILENO, "standard input", buf, cap);
	if ((tty = open("/dev/tty", O_RDWR | O_CLOEXEC)) < 0)
		return bd_fail(BD_ERR_USAGE, "no terminal for the passphrase "
		    "(use --passphrase-file)");
	snprintf(prompt, sizeof(prompt), "%s for %s: ", confirm ?
	    "New passphrase" : "Passphrase", p != NULL && p->key != NULL ?
	    p->key : "the secret key");
	if ((rc = ask_tty(tty, prompt, buf, cap)) != BD_OK || !confirm)
		goto out;
	if ((again = sodium_malloc(cap)) == NULL) {
		rc = BD_ERR_NOMEM;
		goto out;
	}
	snprintf(prompt, sizeof(prompt), "New passphrase for %s (again): ",
	    p != NULL && p->key != NULL ? p->key : "the secret key");
	if ((rc = ask_tty(tty, prompt, again, cap)) != BD_OK)
		goto out;
	if (strcmp(buf, again) != 0)
		rc = bd_fail(BD_ERR_USAGE, "passphrases do not match");
out:
	sodium_free(again);
	close(tty);
	return rc;
}

/* A key file that cannot be read is the user's input, not a write error. */
static enum bd_err
input_error(enum bd_err rc)
{
	return rc == BD_ERR_IO ? bd_fail(BD_ERR_INPUT, "%s", bd_err_detail()) :
	    rc;
}

enum bd_err
cli_load_seckey(const char *path, struct cli_pass *pass, struct bd_seckey **sk)
{
	pass->key = path;
	return input_error(seckey_load_file(sk, path, cli_passphrase, pass));
}

enum bd_err
cli_load_pubkey(const char *path, struct bd_pubkey *pk)
{
	return input_error(pubkey_load_file(pk, path));
}

/* Reads a whole regular file of at most cap - 1 bytes into buf, NUL-ended. */
static enum bd_err
read_small(const char *path, char *buf, size_t cap, size_t *len)
{
	struct stat st;
	ssize_t got;
	enum bd_err rc = BD_OK;
	int fd;

	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return bd_fail(BD_ERR_INPUT, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		rc = bd_fail(BD_ERR_INPUT, "%s: not a regular file", path);
		goto out;
	}
	for (;;) {
		got = read(fd, buf + *len, cap - *len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = bd_fail(BD_ERR_INPUT, "%s: %s", path,
			    strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		*len += (size_t)got;
		if (*len == cap) {
			rc = bd_fail(BD_ERR_TOOBIG, "%s: larger than %zu bytes",
			    path, cap - 1);
			goto out;
		}
	}
	buf[*len] = '\0';
out:
	close(fd);
	return rc;
}

enum bd_err
cli_load_pubkeys(const char *path, struct bd_pubkey *pks, size_t max,
    size_t *n)
{
	static const char comment[] = "untrusted comment:";
	char *text, *line, *next;
	size_t len, lineno = 0, i;
	enum bd_err rc;

	*n = 0;
	if ((text = malloc(CLI_KEYS_FILE_MAX_BYTES + 1)) == NULL)
		return bd_fail(BD_ERR_NOMEM, "key file");
	if ((rc = read_small(path, text, CLI_KEYS_FILE_MAX_BYTES + 1,
	    &len)) != BD_OK)
		goto out;
	if (memchr(text, '\0', len) != NULL) {
		rc = bd_fail(BD_ERR_FORMAT, "%s: contains a NUL byte", path);
		goto out;
	}
	for (line = text; line != NULL && *line != '\0'; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		i = strlen(line);
		if (i > 0 && line[i - 1] == '\r')
			line[--i] = '\0';
		if (i == 0 || strncmp(line, comment, sizeof(comment) - 1) == 0)
			continue;
		if (*n == max) {
			rc = bd_fail(BD_ERR_TOOBIG, "%s: more than %zu keys",
			    path, max);
			goto out;
		}
		if (i != PUBKEY_B64_BYTES - 1 ||
		    pubkey_from_base64(&pks[*n], line) != BD_OK) {
			rc = bd_fail(BD_ERR_FORMAT, "%s line %zu: not a public "
			    "key (RWQ..., 56 characters)", path, lineno);
			goto out;
		}
		(*n)++;
	}
	if (*n == 0)
		rc = bd_fail(BD_ERR_FORMAT, "%s: no public key in it", path);
out:
	free(text);
	return rc;
}

int
cli_report(const char *prog, const char *what, enum bd_err rc)
{
	const char *d = bd_err_detail();

	if (d[0] != '\0')
		fprintf(stderr, "%s: %s: %s: %s\n", prog, what, bd_strerror(rc),
		    d);
	else
		fprintf(stderr, "%s: %s: %s\n", prog, what, bd_strerror(rc));
	return bd_err_exit_status(rc);
}
