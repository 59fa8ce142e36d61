#!/bin/bash
# tests/static/chroot.sh --must-be-static|--may-skip BINARY : proves a
# static bootdrop-fetch needs
# nothing from the system.  BINARY is copied alone into an empty directory
# (plus etc/hosts naming repo.test, and a test CA at the default bundle
# path) and run chrooted there: no /dev, no /proc, no libraries, no NSS
# modules, no openssl.cnf.  Inside, it completes a real verified fetch
# from bootdrop-server on 127.0.0.1 - by IP and by name, over HTTP and over
# HTTPS (nginx as a TLS front with a CA made at test time) - refuses HTTPS
# when the CA is not the server's, and installs into an ext2 image (--ext2).
#
# When BINARY was not built or is not static: with --must-be-static (a
# -Dstatic_client=true build) a failure, with --may-skip a skip (77).
# Skips when chroot is not permitted, and - for a foreign architecture the
# kernel refuses to exec - when qemu-user-static is not installed (then the
# binary runs under a copy of qemu-<arch>-static placed in the chroot).
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"
. "$BOOTDROP_SRCDIR/tests/static/staticlib.sh"

export PATH=$PATH:/sbin:/usr/sbin
static_binary "$@"
[ -x "$SERVER" ] || { echo "bootdrop-server not built"; exit 77; }
[ -x /usr/sbin/nginx ] || { echo "nginx not installed"; exit 77; }

R=$T/root
mkdir -p "$R/etc/ssl/certs"
cp "$BIN" "$R/bootdrop-fetch"

# How to run a command chrooted: as root, or in a user namespace.
if [ "$(id -u)" -eq 0 ]; then
	inroot() { chroot "$R" "$@"; }
elif unshare -r true 2>/dev/null; then
	inroot() { unshare -r chroot "$R" "$@"; }
else
	echo "cannot chroot (not root, no user namespaces)"; exit 77
fi

# The runner: the binary itself, or qemu when the kernel refuses its
# architecture (some VM kernels are built without 32-bit support).
run=(/bootdrop-fetch)
"$BIN" -V >/dev/null 2>&1
if [ $? -eq 126 ]; then
	case $(file -b "$BIN") in
	*80386*) qemu=qemu-i386-static ;;
	*) qemu=none ;;
	esac
	q=$(command -v "$qemu") ||
		{ echo "this kernel cannot exec $BIN and $qemu is not installed"; exit 77; }
	cp "$q" "$R/qemu"
	run=(/qemu /bootdrop-fetch)
	echo "note: kernel refuses to exec $(file -b "$BIN" | cut -d, -f1-2); running under $qemu"
fi
echo "binary: $(file -b "$BIN" | cut -d, -f1-2), $(stat -c %s "$BIN") bytes"

printf '127.0.0.1\tlocalhost\n127.0.0.1\trepo.test\n' >"$R/etc/hosts"

# fetch_in DESC DEST URL [ARGS...] : fetches channel $CH into /DEST in the
# chroot and checks every installed byte against what was published.
fetch_in() {
	local desc=$1 dest=$2 u=$3; shift 3
	rm -rf "${R:?}/$dest"
	mkdir "$R/$dest"
	expect_status 0 "$desc" inroot "${run[@]}" -P "$PUBKEY" -c "$CH" \
		-d "/$dest" "$@" "$u" || return
	if cmp -s "$R/$dest/boot/kernel" "$T/kernel" &&
	    cmp -s "$R/$dest/world.tgz" "$T/world.tgz" &&
	    grep -qx "version=1" "$R/$dest/.bootdrop/state/$CH"; then
		ok "$desc: kernel and world verified and installed, state written"
	else
		fail "$desc: installed files or state differ"
		ls -lR "$R/$dest" >&2
	fi
}

make_repo "$T/repo"
start_server "$T/repo"
port=${url##*:}

fetch_in "http by IP" dest-http-ip "http://127.0.0.1:$port"
fetch_in "http by name (etc/hosts)" dest-http-name "http://repo.test:$port"

tls_front "$port" || exit 1
# The CA at the default bundle path libcurl was built with, as a rescue
# system's ca-certificates would put it; and once more via --cacert.
cp "$T/tls/ca.pem" "$R/etc/ssl/certs/ca-certificates.crt"
fetch_in "https by name (default CA bundle)" dest-https-name "https://repo.test:$tport"
cp "$T/tls/ca.pem" "$R/etc/test-ca.pem"
fetch_in "https by IP (--cacert)" dest-https-ip "https://127.0.0.1:$tport" --cacert /etc/test-ca.pem

# The wrong CA: refused as a network error, nothing installed.
cp "$T/tls/other.pem" "$R/etc/ssl/certs/ca-certificates.crt"
mkdir "$R/dest-wrong-ca"
expect_status 2 "https with another CA is refused" inroot "${run[@]}" -P "$PUBKEY" \
	-c "$CH" -d /dest-wrong-ca "https://repo.test:$tport"
[ ! -e "$R/dest-wrong-ca/boot" ] && ok "nothing installed after the TLS refusal" ||
	fail "files installed despite the TLS refusal"

# --ext2 into an image file, with no /proc to tell what is mounted.
if command -v mkfs.ext2 >/dev/null && command -v debugfs >/dev/null; then
	mkfs.ext2 -q -F "$R/dest-boot.img" 16M
	mkdir "$R/dest-tmp"
	expect_status 0 "--ext2 into an image (https by name)" inroot "${run[@]}" \
		-P "$PUBKEY" -c "$CH" --ext2 /dest-boot.img --tmpdir /dest-tmp \
		--cacert /etc/test-ca.pem "https://repo.test:$tport"
	e2fsck -fn "$R/dest-boot.img" >"$T/fsck.out" 2>&1 && ok "--ext2: e2fsck -fn clean" ||
		{ fail "--ext2: e2fsck -fn"; sed 's/^/    | /' "$T/fsck.out" >&2; }
	debugfs -R "cat /boot/kernel" "$R/dest-boot.img" 2>/dev/null >"$T/ext2.kernel"
	cmp -s "$T/ext2.kernel" "$T/kernel" && ok "--ext2: debugfs reads the verified kernel" ||
		fail "--ext2: /boot/kernel differs"
fi

# Nothing appeared in the chroot but what the fetches wrote.
extra=$(cd "$R" && find . -maxdepth 1 -mindepth 1 ! -name 'dest-*' ! -name etc \
	! -name bootdrop-fetch ! -name qemu | sort)
[ -z "$extra" ] && ok "chroot holds only the binary, etc/ and the destinations" ||
	fail "unexpected entries in the chroot: $extra"

finish
