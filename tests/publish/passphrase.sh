#!/bin/bash
# Passphrases from pipes, as minisign users expect: --passphrase-file -,
# /dev/stdin and <(command); standard input when it is not a terminal (a
# line per key); and the refusals that name what went wrong.
. "$BOOTDROP_TESTLIB"
cd "$T" || exit 1
make_kernel kernel
printf 'pipe passphrase\n' >pass

# keygen from a pipe: asked once, no confirmation from a pipe.
expect_status 0 "keygen, passphrase piped on standard input" \
	sh -c 'printf "pipe passphrase\n" | "$0" keygen -p a.pub -s a.key' "$PUBLISH"
expect_status 0 "the piped passphrase unlocks the key (from a file)" \
	"$PUBLISH" release -r repo -c a -s a.key --passphrase-file pass kernel=kernel
expect_status 0 "--passphrase-file -" \
	sh -c 'printf "pipe passphrase\n" | "$0" release -r repo -c a -s a.key --passphrase-file - -f kernel=kernel' "$PUBLISH"
expect_status 0 "--passphrase-file /dev/stdin" \
	sh -c 'printf "pipe passphrase\n" | "$0" release -r repo -c a -s a.key --passphrase-file /dev/stdin -f kernel=kernel' "$PUBLISH"
expect_status 0 "--passphrase-file <(command)" \
	bash -c '"$0" release -r repo -c a -s a.key --passphrase-file <(echo pipe passphrase) -f kernel=kernel' "$PUBLISH"
expect_status 0 "a passphrase piped on standard input, no option" \
	sh -c 'echo "pipe passphrase" | "$0" release -r repo -c a -s a.key -f kernel=kernel' "$PUBLISH"
mkfifo fifo
(echo "pipe passphrase" >fifo &)
expect_status 0 "--passphrase-file on a named pipe" \
	"$PUBLISH" release -r repo -c a -s a.key --passphrase-file fifo -f kernel=kernel

# Two keys, two lines on one pipe, in the order of -s.
printf 'second\n' | "$PUBLISH" keygen -p b.pub -s b.key >/dev/null || fail "keygen b"
expect_status 0 "two keys, a line each from standard input" \
	sh -c 'printf "pipe passphrase\nsecond\n" | "$0" release -r repo -c two -s a.key -s b.key kernel=kernel' "$PUBLISH"
expect_status 1 "two keys, lines in the wrong order" \
	sh -c 'printf "second\npipe passphrase\n" | "$0" release -r repo -c two -s a.key -s b.key -f kernel=kernel' "$PUBLISH"
expect_err "a.key: wrong passphrase" "the wrong passphrase names the key"

# Refusals: a closed pipe, a wrong line, a missing file.
expect_status 1 "an empty pipe" \
	sh -c '"$0" release -r repo -c a -s a.key -f kernel=kernel </dev/null' "$PUBLISH"
expect_err "passphrase from standard input: nothing to read" "an empty pipe is named"
expect_status 1 "a wrong passphrase on the pipe" \
	sh -c 'echo wrong | "$0" release -r repo -c a -s a.key -f kernel=kernel' "$PUBLISH"
expect_err "wrong passphrase" "wrong passphrase named"
expect_status 1 "a missing passphrase file" \
	"$PUBLISH" release -r repo -c a -s a.key --passphrase-file nosuch -f kernel=kernel
expect_err "passphrase file nosuch: No such file" "the missing file is named"
head -c 5000 /dev/zero | tr '\0' x >long
expect_status 1 "a passphrase file with an over-long first line" \
	"$PUBLISH" release -r repo -c a -s a.key --passphrase-file long -f kernel=kernel
expect_err "longer than" "the cap is named"
finish
