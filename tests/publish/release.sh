#!/bin/bash
# bootdrop-publish release/verify/show: repository layout, versions,
# atomic manifest replacement, and the verify refusals (exit 3).
. "$BOOTDROP_TESTLIB"
cd "$T" || exit 1
C=freebsd-9.0-i386

make_kernel kernel i386
make_world xenworld.tar.gz 1
echo "extra" > notes.txt

expect_status 0 "release v1" "$PUBLISH" release -r repo -c $C -s "$TEST_SEC" \
	kernel=kernel world=xenworld.tar.gz notes=notes.txt
grep -q "version 1" "$T/last.out" || fail "release did not report version 1"

# Layout of DESIGN.md: content-addressed blobs, versioned + newest manifest.
for f in kernel xenworld.tar.gz notes.txt; do
	h=$(sha256sum "$f" | cut -d' ' -f1)
	if cmp -s "$f" "repo/blobs/sha256/$h"; then ok "blob $f stored as sha256/$h"
	else fail "blob for $f missing or different"; fi
done
[ -f repo/channels/$C/1.json ] && ok "1.json exists" || fail "1.json missing"
cmp -s repo/channels/$C/1.json repo/channels/$C/manifest.json &&
	ok "manifest.json equals 1.json" || fail "manifest.json differs from 1.json"
leftovers=$(find repo -name '*.tmp' -o -name '.incoming.*' | wc -l)
[ "$leftovers" -eq 0 ] && ok "no temporary files left" || fail "temporary files left in repo"

expect_status 0 "verify with -p" "$PUBLISH" verify -r repo -c $C -p "$TEST_PUB"
expect_status 0 "verify with -P" "$PUBLISH" verify -r repo -c $C -P "$(tail -n 1 "$TEST_PUB")"
expect_status 0 "show" "$PUBLISH" show -r repo -c $C
grep -q "install boot/kernel" "$T/last.out" && grep -q "image   ELF i386, Xen PV" "$T/last.out" &&
	grep -q "install xenworld.tar.gz" "$T/last.out" && grep -q "install notes.txt" "$T/last.out" &&
	grep -q "root (hd0,0)" "$T/last.out" && ok "show lists install paths, ELF facts, menu.lst" ||
	fail "show output incomplete"

# Version N+1, and old versions kept byte for byte.
cp repo/channels/$C/1.json v1.copy
expect_status 0 "release v2 with --no-menu and -e 12h" "$PUBLISH" release -r repo -c $C \
	-s "$TEST_SEC" -e 12h --no-menu kernel=kernel world=xenworld.tar.gz
cmp -s v1.copy repo/channels/$C/1.json && ok "1.json unchanged" || fail "1.json changed"
cmp -s repo/channels/$C/2.json repo/channels/$C/manifest.json && ok "manifest.json is v2" ||
	fail "manifest.json is not v2"
expect_status 0 "show v2" "$PUBLISH" show -r repo -c $C
grep -q "^version   2" "$T/last.out" && ! grep -q "menu.lst" "$T/last.out" &&
	ok "v2 has no menu.lst" || fail "v2 show wrong"
printf 'timeout 1\ntitle custom\nroot (hd0,0)\nkernel /boot/kernel\n' > menu.lst
expect_status 0 "release v3 with --menu" "$PUBLISH" release -r repo -c $C -s "$TEST_SEC" \
	--menu menu.lst -e 2099-01-01T00:00:00Z kernel=kernel
"$PUBLISH" show -r repo -c $C | grep -q "install boot/grub/menu.lst" && ok "custom menu.lst published" ||
	fail "custom menu.lst missing"
"$PUBLISH" show -r repo -c $C | grep -q "expires   2099-01-01T00:00:00Z" && ok "RFC 3339 expiry" ||
	fail "RFC 3339 expiry not used"

# Two signatures; verify with a threshold.
"$PUBLISH" keygen -W -p second.pub -s second.key >/dev/null
expect_status 0 "release v4 signed by two keys" "$PUBLISH" release -r repo -c $C \
	-s "$TEST_SEC" -s second.key kernel=kernel
expect_status 0 "verify threshold 2" "$PUBLISH" verify -r repo -c $C -p "$TEST_PUB" -p second.pub -t 2
expect_status 3 "verify threshold 2 with one trusted key" "$PUBLISH" verify -r repo -c $C -p "$TEST_PUB" -t 2
expect_err "threshold" "threshold refusal names the threshold"

# Refusals of verify: wrong key, damaged blob, truncated blob, tampered manifest.
expect_status 3 "verify with the wrong key" "$PUBLISH" verify -r repo -c $C -p "$TESTDATA/keys/minisign.pub"
expect_err "untrusted key" "wrong key message"
cp -a repo repo-bad
h=$(sha256sum kernel | cut -d' ' -f1)
chmod u+w repo-bad/blobs/sha256/$h
printf 'X' | dd of=repo-bad/blobs/sha256/$h bs=1 seek=100 conv=notrunc status=none
expect_status 3 "verify a blob with a flipped byte" "$PUBLISH" verify -r repo-bad -c $C -p "$TEST_PUB"
expect_err "sha256 mismatch" "hash refusal message"
truncate -s 1000 repo-bad/blobs/sha256/$h
expect_status 3 "verify a truncated blob" "$PUBLISH" verify -r repo-bad -c $C -p "$TEST_PUB"
expect_err "size mismatch" "size refusal message"
cp -a repo repo-bad2
sed -i 's/"payload": "e/"payload": "f/' repo-bad2/channels/$C/manifest.json
expect_status 3 "verify a tampered manifest" "$PUBLISH" verify -r repo-bad2 -c $C -p "$TEST_PUB"

# Bad input to release: a kernel pvgrub cannot boot is refused (3), the rest
# are usage errors (1); the repository is untouched.
before=$(tree_digest repo)
echo "not an elf" > notelf
expect_status 3 "kernel that is not ELF" "$PUBLISH" release -r repo -c $C -s "$TEST_SEC" kernel=notelf
expect_err "not a kernel bootdrop reads" "non-ELF kernel message"
make_kernel plain plain-i386
expect_status 3 "kernel without Xen information" "$PUBLISH" release -r repo -c $C -s "$TEST_SEC" kernel=plain
expect_err "Xen PV" "missing Xen information message"
expect_status 1 "bad channel name" "$PUBLISH" release -r repo -c ../evil -s "$TEST_SEC" kernel=kernel
expect_status 1 "past expiry" "$PUBLISH" release -r repo -c $C -s "$TEST_SEC" -e 2001-01-01T00:00:00Z kernel=kernel
expect_status 1 "bad expiry" "$PUBLISH" release -r repo -c $C -s "$TEST_SEC" -e soon kernel=kernel
expect_status 1 "missing NAME=FILE" "$PUBLISH" release -r repo -c $C -s "$TEST_SEC" kernel
expect_status 1 "no kernel" "$PUBLISH" release -r repo -c $C -s "$TEST_SEC" world=xenworld.tar.gz
expect_status 1 "duplicate artifact" "$PUBLISH" release -r repo -c $C -s "$TEST_SEC" kernel=kernel kernel=kernel
expect_status 1 "missing secret key" "$PUBLISH" release -r repo -c $C -s nonexistent.key kernel=kernel
expect_status 1 "unknown command" "$PUBLISH" frobnicate
after=$(tree_digest repo)
[ "$before" = "$after" ] && ok "refused releases left the repository unchanged" ||
	fail "a refused release changed the repository"
expect_status 0 "--help" "$PUBLISH" --help
grep -q "keygen" "$T/last.out" && ok "--help lists commands" || fail "--help incomplete"
finish
