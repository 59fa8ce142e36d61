/*
 * cli.h - pieces of the publisher's command lines shared by
 * bootdrop-publish and bootdrop-server: passphrases (terminal, or a file
 * named by --passphrase-file, never argv) and loading keys named on the
 * command line.
 */
#ifndef BOOTDROP_CLI_H
#define BOOTDROP_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "key.h"

/*
 * Where passphrases come from: the first line of file, else the value of
 * the environment variable named env, else the terminal (/dev/tty).
 */
struct cli_pass {
	const char *file;
	const char *env;
	const char *key;	/* the key file it is for, named in the prompt */
};

/*
 * bd_passphrase_fn for struct cli_pass: reads the first line of
 * ctx->file ("-": standard input), of the variable ctx->env, of standard
 * input when it is not a terminal (a line per call), or asks on /dev/tty
 * with echo off (twice when confirm).
 */
enum bd_err cli_passphrase(char *buf, size_t cap, bool confirm, void *ctx);

/*
 * Loads a secret key, asking for its passphrase through pass if needed
 * (the prompt names path).  An unreadable key file is BD_ERR_INPUT.
 */
enum bd_err cli_load_seckey(const char *path, struct cli_pass *pass,
    struct bd_seckey **sk);

/* Loads a public key file; an unreadable one is BD_ERR_INPUT. */
enum bd_err cli_load_pubkey(const char *path, struct bd_pubkey *pk);

#define CLI_KEYS_FILE_MAX_BYTES	(64u << 10)

/*
 * Loads a file of one or more public keys: minisign .pub files one after
 * another (each an "untrusted comment:" line and a key line; blank lines
 * between are allowed), at most max keys and CLI_KEYS_FILE_MAX_BYTES.
 * Every other line must be a key.  An unreadable file is BD_ERR_INPUT.
 */
enum bd_err cli_load_pubkeys(const char *path, struct bd_pubkey *pks,
    size_t max, size_t *n);

/* Prints "PROG: <what>: <strerror>[: detail]" to stderr; returns the exit status. */
int cli_report(const char *prog, const char *what, enum bd_err rc);

#endif
