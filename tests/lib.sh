# tests/lib.sh - sourced by every shell test.  Provides a scratch directory,
# the programs under test, and assertions that name what failed.
set -u
: "${BOOTDROP_SRCDIR:?run through meson test}"
# Debian's own tools first (a version manager's shims cost a second a call).
export PATH=/usr/bin:/bin:$PATH
TESTDATA=$BOOTDROP_TESTDATA
PUBLISH=${BOOTDROP_PUBLISH:-$BOOTDROP_BUILDDIR/server/bootdrop-publish}
SERVER=${BOOTDROP_SERVER:-$BOOTDROP_BUILDDIR/server/bootdrop-server}
FETCH=${BOOTDROP_FETCH:-$BOOTDROP_BUILDDIR/client/bootdrop-fetch}
# The committed test key pair (unencrypted secret key; see tests/data/keys).
TEST_PUB=$TESTDATA/keys/test.pub
TEST_SEC=$TESTDATA/keys/test.key
T=$(mktemp -d "${TMPDIR:-/tmp}/bootdrop-test.XXXXXX")
_bd_pids=()
cleanup() {
	for p in "${_bd_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
fails=0

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

# expect_status WANT DESC CMD... : runs CMD, checks its exit status; the
# command's stderr is kept in $T/last.err for expect_err.
expect_status() {
	local want=$1 desc=$2; shift 2
	"$@" >"$T/last.out" 2>"$T/last.err"
	local got=$?
	if [ "$got" -ne "$want" ]; then
		fail "$desc: exit $got, want $want"
		sed 's/^/    | /' "$T/last.err" >&2
		return 1
	fi
	ok "$desc (exit $got)"
}

# expect_err REGEX DESC : the last command's stderr matches REGEX.
expect_err() {
	if grep -Eq -- "$1" "$T/last.err"; then ok "$2"; else
		fail "$2: stderr does not match /$1/"; sed 's/^/    | /' "$T/last.err" >&2; fi
}

# tree_digest DIR : one hash over every path, type, mode and content.
tree_digest() {
	(cd "$1" && find . -printf '%p %y %m %s %l\n' | LC_ALL=C sort &&
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum) | sha256sum
}

# make_kernel FILE [i386|amd64] : a small ELF executable carrying a Xen
# PV guest note, built on the fly with the test data generator.
make_kernel() {
	"$BOOTDROP_BUILDDIR/tests/mkkernel" "${2:-i386}" "$1"
}

# make_world FILE [MiB] : a small gzip'd tarball.
make_world() {
	local d; d=$(mktemp -d "$T/world.XXXXXX")
	mkdir -p "$d/etc" "$d/bin"
	echo "hostname=\"bootdrop-test\"" > "$d/etc/rc.conf"
	head -c "$(( ${2:-1} * 1024 * 1024 ))" /dev/urandom > "$d/bin/blob"
	tar -C "$d" -czf "$1" .
	rm -rf "$d"
}

finish() {
	if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed" >&2; exit 1; fi
	exit 0
}
