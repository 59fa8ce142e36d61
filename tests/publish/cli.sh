#!/bin/bash
# bootdrop-publish's command line for the life of a repository: files
# world-readable whatever the umask and verify's warning when they are not,
# long options, -V, exit statuses from the one mapping, nothing left behind
# by a refused release, "nothing changed", duplicate -s, one passphrase
# file per key, prompts that name the key, list, show/verify -n, prune -k.
. "$BOOTDROP_TESTLIB"
cd "$T" || exit 1
K=$TESTDATA/keys
for n in 1 2 3; do "$BOOTDROP_BUILDDIR/tests/mkkernel" i386 "kernel$n" $((8 + n)); done
make_world world.tgz 1
printf 'timeout 1\n' >menu.lst
sha() { sha256sum <"$1" | cut -c1-64; }

# --- permissions: 0644 files and 0755 directories under umask 077
(umask 077 && "$PUBLISH" release -r repo -c a -s "$K/test.key" kernel=kernel1 world=world.tgz >/dev/null) ||
	fail "release under umask 077"
bad=$(find repo \( -type d ! -perm 0755 \) -o \( -type f ! -perm 0644 \) | sort | tr '\n' ' ')
expect_eq "$bad" "" "umask 077: every directory 0755, every file 0644"
expect_status 0 "verify a public repository" "$PUBLISH" verify -r repo -c a -p "$K/test.pub"
expect_eq "$(cat "$T/last.err")" "" "no warning when everything is readable"
chmod 600 "repo/blobs/sha256/$(sha world.tgz)"
chmod 700 repo/channels
expect_status 0 "verify a repository others cannot read" "$PUBLISH" verify -r repo -c a -p "$K/test.pub"
expect_err "warning: repo/blobs/sha256/$(sha world.tgz): mode 0600: a server running as another user cannot read it" \
	"verify names the unreadable blob"
expect_err "warning: repo/channels: mode 0700: a server running as another user cannot enter it" \
	"verify names the closed directory"
grep -q "2 paths not readable by other users" "$T/last.out" && ok "verify counts them" ||
	fail "verify summary: $(cat "$T/last.out")"
chmod 644 "repo/blobs/sha256/$(sha world.tgz)"; chmod 755 repo/channels

# --- long options and versions
expect_status 0 "release with long options" "$PUBLISH" release --repo repo --channel a \
	--seckey "$K/test.key" --expires 2d --menu menu.lst kernel=kernel2 world=world.tgz
expect_status 0 "verify with long options" "$PUBLISH" verify --repo repo --channel a \
	--pubkey-file "$K/test.pub" --pubkey "$(tail -n 1 "$K/test.pub")" --threshold 1
expect_status 0 "show --version 1" "$PUBLISH" show --repo repo --channel a --version 1
grep -q "^version   1$" "$T/last.out" && ok "show --version 1 shows version 1" || fail "show --version 1"
grep -q "$(sha kernel1)" "$T/last.out" && ok "with version 1's kernel" || fail "show --version 1: kernel"
expect_status 0 "verify -n 1" "$PUBLISH" verify -r repo -c a -p "$K/test.pub" -n 1
grep -q "^a version 1: verified in the chain, 2 artifacts intact" "$T/last.out" && ok "verify -n 1 verifies version 1" ||
	fail "verify -n 1: $(cat "$T/last.out")"
expect_status 1 "show a version that does not exist" "$PUBLISH" show -r repo -c a -n 99
expect_status 1 "release does not take --keep" "$PUBLISH" release -r repo -c a -s "$K/test.key" --keep 1 kernel=kernel1
expect_err "release does not take --keep" "says which option"
for prog in "$PUBLISH" "$SERVER" "$FETCH"; do
	[ -x "$prog" ] || continue
	for v in -V --version; do
		expect_status 0 "$(basename "$prog") $v" "$prog" $v
		grep -Eq "^$(basename "$prog") [0-9]+\.[0-9]+\.[0-9]+$" "$T/last.out" &&
			ok "$(basename "$prog") $v prints its version" || fail "$(basename "$prog") $v: $(cat "$T/last.out")"
	done
done

# --- exit statuses through the one mapping, and nothing left behind
expect_status 3 "a refused kernel exits 3" "$PUBLISH" release -r new -c a -s "$K/test.key" kernel=world.tgz
[ ! -e new ] && ok "a refused release into a new directory leaves no directory" || fail "new/ left behind"
expect_status 1 "an unreadable input exits 1" "$PUBLISH" release -r new -c a -s "$K/test.key" kernel=missing
expect_err "cannot read input: missing" "names the input"
expect_status 1 "an unreadable key exits 1" "$PUBLISH" release -r new -c a -s missing.key kernel=kernel1
[ ! -e new ] && ok "still no directory" || fail "new/ left behind"
mkdir empty
expect_status 3 "a refused release into an empty directory" "$PUBLISH" release -r empty -c a -s "$K/test.key" \
	kernel=world.tgz world=world.tgz
expect_eq "$(ls -A empty)" "" "leaves it empty (no blobs/, no channels/)"
before=$(tree_digest repo)
expect_status 1 "the same files again" "$PUBLISH" release -r repo -c a -s "$K/test.key" --menu menu.lst \
	kernel=kernel2 world=world.tgz
expect_err "nothing changed since a version 2 \(--force publishes the same files again\)" "says nothing changed"
expect_eq "$(tree_digest repo)" "$before" "an unchanged release leaves nothing behind"
expect_status 0 "the same files again with --force" "$PUBLISH" release -r repo -c a -s "$K/test.key" \
	--menu menu.lst --force kernel=kernel2 world=world.tgz
grep -q "published a version 3" "$T/last.out" && ok "--force publishes version 3" || fail "--force: $(cat "$T/last.out")"
before=$(tree_digest repo)
expect_status 1 "-s k -s k" "$PUBLISH" release -r repo -c a -s "$K/test.key" -s "$K/test.key" kernel=kernel3
expect_err "same key file; each key signs once" "duplicate -s message"
cp "$K/test.key" copy.key
expect_status 1 "-s k -s copy-of-k" "$PUBLISH" release -r repo -c a -s "$K/test.key" -s copy.key kernel=kernel3
expect_err "hold the same key [0-9A-F]{16}" "duplicate key message names the key"
expect_eq "$(tree_digest repo)" "$before" "refused -s duplicates leave the repository unchanged"

# --- two encrypted keys: one --passphrase-file per key, prompts name the key
# (scrypt with minisign's parameters is slow: each key is opened a few times only)
cp "$K/test-enc.key" e1.key; cp "$K/test-enc.pub" e1.pub; cp "$K/test-enc.pass" p1
printf 'second passphrase\n' >p2
"$PUBLISH" keygen -p e2.pub -s e2.key --passphrase-file p2 >/dev/null || fail "keygen e2"
expect_status 0 "one --passphrase-file per -s key" "$PUBLISH" release -r repo -c two -s e1.key -s e2.key \
	--passphrase-file p1 --passphrase-file p2 kernel=kernel1
expect_status 0 "both keys signed" "$PUBLISH" verify -r repo -c two -p e1.pub -p e2.pub -t 2
expect_status 1 "passphrase files in the wrong order" "$PUBLISH" release -r repo -c two -s e1.key -s e2.key \
	--passphrase-file p2 --passphrase-file p1 kernel=kernel2
expect_err "e1.key: wrong passphrase" "the wrong passphrase names the key"
expect_status 1 "three passphrase files for two keys" "$PUBLISH" release -r repo -c two -s e1.key -s e2.key \
	--passphrase-file p1 --passphrase-file p2 --passphrase-file p2 kernel=kernel2
python3 - "$PUBLISH" >prompts.out 2>&1 <<'PY'
import os, pty, signal, sys
signal.alarm(200)
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "release", "-r", "repo", "-c", "two", "-s", "e1.key",
                           "-s", "e2.key", "kernel=kernel2"])
seen, answers = b"", [open("p1", "rb").read().strip() + b"\n", b"second passphrase\n"]
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
    if seen.rstrip().endswith(b":") and answers and seen.count(b"Passphrase for") > 2 - len(answers):
        os.write(fd, answers.pop(0))
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
print("EXIT", os.waitstatus_to_exitcode(status))
PY
grep -q "Passphrase for e1.key:" prompts.out && ok "the first prompt names e1.key" || fail "prompts: $(cat prompts.out)"
grep -q "Passphrase for e2.key:" prompts.out && ok "the second prompt names e2.key" || fail "prompts: $(cat prompts.out)"
grep -q "EXIT 0" prompts.out && ok "release with passphrases from the terminal" || fail "prompts: $(cat prompts.out)"

# --- list
expect_status 0 "list" "$PUBLISH" list -r repo
grep -Eq "^a +version 3 +expires [0-9T:-]+Z$" "$T/last.out" && ok "list shows a version 3 and its expiry" ||
	fail "list: $(cat "$T/last.out")"
grep -Eq "^two +version 2 " "$T/last.out" && ok "list shows two version 2" || fail "list: $(cat "$T/last.out")"

# --- prune --keep N: blobs no newest-N manifest names go, manifests stay
"$PUBLISH" release -r repo -c a -s "$K/test.key" kernel=kernel3 world=world.tgz >/dev/null || fail "release a v4"
touch repo/blobs/sha256/README
manifests=$(find repo/channels -type f | sort | xargs sha256sum)
# world.tgz (1 MiB or more) has a chunk index; its random bytes make a pack
# of raw chunks, which is world.tgz itself.
windex=$("$PUBLISH" show -r repo -c a | awk '$1 == "chunks" { print $2 }')
expect_status 0 "prune --keep 2" "$PUBLISH" prune --repo repo --keep 2
blobs=$(ls repo/blobs/sha256 | sort | tr '\n' ' ')
# a v3 and v4 name kernel2, kernel3, world (and v3 --menu's menu.lst); two v1 and v2 name kernel1 and kernel2.
want=$( (sha kernel1; sha kernel2; sha kernel3; sha world.tgz; sha menu.lst; echo "$windex"; echo README) | sort -u | tr '\n' ' ')
expect_eq "$blobs" "$want" "--keep 2 keeps every blob the newest two versions name"
expect_status 0 "prune -k 1" "$PUBLISH" prune -r repo -k 1
grep -q "removed 2 blobs" "$T/last.out" && ok "prune says what it removed (kernel1, v3's menu.lst)" || fail "prune: $(cat "$T/last.out")"
want=$( (sha kernel2; sha kernel3; sha world.tgz; echo "$windex"; echo README) | sort -u | tr '\n' ' ')
expect_eq "$(ls repo/blobs/sha256 | sort | tr '\n' ' ')" "$want" "-k 1: kernel1 pruned, what others do not name untouched"
expect_eq "$(find repo/channels -type f | sort | xargs sha256sum)" "$manifests" "prune never touches a manifest"
expect_status 0 "the newest still verifies" "$PUBLISH" verify -r repo -c a -p "$K/test.pub"
expect_status 3 "version 1's pruned kernel is missing" "$PUBLISH" verify -r repo -c a -p "$K/test.pub" -n 1
expect_status 1 "prune needs --keep" "$PUBLISH" prune -r repo
expect_status 1 "prune --keep 0" "$PUBLISH" prune -r repo -k 0
finish
