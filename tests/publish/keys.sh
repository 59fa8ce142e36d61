#!/bin/bash
# Keys and passphrases through bootdrop-publish, and interop with the real
# minisign tool in both directions.
. "$BOOTDROP_TESTLIB"
cd "$T" || exit 1
command -v minisign >/dev/null || { echo "minisign not installed"; exit 77; }
C=interop
make_kernel kernel i386

# A bootdrop key: its manifest signature verifies in minisign.
expect_status 0 "keygen -W" "$PUBLISH" keygen -W -p bd.pub -s bd.key
[ "$(stat -c %a bd.key)" = 600 ] && ok "secret key mode 0600" || fail "secret key mode $(stat -c %a bd.key)"
expect_status 1 "keygen refuses to overwrite" "$PUBLISH" keygen -W -p bd.pub -s bd.key
expect_status 0 "release with the bootdrop key" "$PUBLISH" release -r repo -c $C -s bd.key kernel=kernel
python3 - repo/channels/$C/manifest.json <<'PY'
import base64, json, sys
env = json.load(open(sys.argv[1]))
open("payload", "wb").write(base64.b64decode(env["payload"]))
open("payload.minisig", "w").write(env["signatures"][0]["minisig"])
PY
expect_status 0 "minisign -Vm verifies the envelope's minisig" minisign -Vm payload -p bd.pub
grep -q "bootdrop channel=$C version=1 expires=" "$T/last.out" && ok "trusted comment shown by minisign" ||
	fail "minisign did not show the trusted comment"
expect_status 0 "minisign -Vm with -P" minisign -Vm payload -P "$(tail -n 1 bd.pub)"
printf ' ' >> payload
expect_status 1 "minisign refuses a tampered payload" minisign -Vm payload -p bd.pub

# A bootdrop key signs a file minisign checks (the whole sign path, not just manifests).
# A key made by minisign -G -W signs a bootdrop release that bootdrop verifies.
expect_status 0 "minisign -G -W" minisign -G -W -p mini.pub -s mini.key
# (Each key starts a channel of its own: a channel's next version must be
# signed by the keys of the one before.)
expect_status 0 "release signed with a minisign key" "$PUBLISH" release -r repo -c $C-mini -s mini.key kernel=kernel
expect_status 0 "verify it with the minisign public key" "$PUBLISH" verify -r repo -c $C-mini -p mini.pub
expect_status 3 "the bootdrop key does not verify it" "$PUBLISH" verify -r repo -c $C-mini -p bd.pub
expect_status 3 "a minisign key not in the channel's keys cannot release" "$PUBLISH" release -r repo -c $C -s mini.key kernel=kernel
expect_err "must be signed by 1 of the keys of version 1" "the refusal names the rule"

# Encrypted keys: passphrase from a file or an environment variable, never argv.
printf 'correct horse battery staple\n' > pass
expect_status 0 "keygen encrypted (passphrase file)" "$PUBLISH" keygen -p enc.pub -s enc.key --passphrase-file pass
head -c 200 enc.key | grep -q "encrypted secret key" && ok "encrypted key file" || fail "key file not marked encrypted"
expect_status 0 "release with the encrypted key" "$PUBLISH" release -r repo -c $C-enc -s enc.key --passphrase-file pass kernel=kernel
printf 'wrong\n' > wrongpass
expect_status 1 "wrong passphrase" "$PUBLISH" release -r repo -c $C-enc -s enc.key --passphrase-file wrongpass kernel=kernel
expect_err "wrong passphrase" "wrong passphrase message"
export BD_TEST_PASS='correct horse battery staple'
expect_status 0 "passphrase from an environment variable" "$PUBLISH" release -r repo -c $C-enc -s enc.key --passphrase-env BD_TEST_PASS -f kernel=kernel
expect_status 1 "no terminal and no passphrase source" setsid "$PUBLISH" release -r repo -c $C-enc -s enc.key kernel=kernel </dev/null
expect_status 0 "verify with the encrypted key's public key" "$PUBLISH" verify -r repo -c $C-enc -p enc.pub

# minisign can use a bootdrop encrypted key (same format) to sign.
echo hello > msg
expect_status 0 "minisign signs with a bootdrop encrypted key" sh -c "minisign -S -s enc.key -m msg < pass"
expect_status 0 "and verifies with the bootdrop public key" minisign -Vm msg -p enc.pub
finish
