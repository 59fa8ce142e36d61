#!/bin/bash
# deploy/bootdrop-server.service: configured in one place, its environment
# file.  systemd accepts it; no path but the default BOOTDROP_REPO names
# the repository (the whole file system is read-only to the service, so a
# repository anywhere is); the key comes from BOOTDROP_PUBKEY, not from a
# command-line option that would break when unset.  The unit's ExecStart
# is run the way systemd would, with an environment file that moves the
# repository and sets the key, and the page shows that key; then with two
# keys in BOOTDROP_PUBKEY (a key string and a key file).
. "$BOOTDROP_TESTLIB"
. "$(dirname "$0")/serverlib.sh"
UNIT=$BOOTDROP_SRCDIR/deploy/bootdrop-server.service
body=$(grep -v '^\s*#' "$UNIT")

if command -v systemd-analyze >/dev/null; then
	sed "s|/usr/local/bin/bootdrop-server|$SERVER|" "$UNIT" >"$T/bootdrop-server.service"
	expect_status 0 "systemd-analyze verify accepts the unit" \
		systemd-analyze verify --man=no "$T/bootdrop-server.service"
fi
expect_eq "$(grep -c '/srv/bootdrop' <<<"$body")" 1 "the repository path is named once (the default)"
grep -qx 'Environment=BOOTDROP_REPO=/srv/bootdrop' <<<"$body" && ok "that one is the default BOOTDROP_REPO" ||
	fail "no default BOOTDROP_REPO"
grep -qx 'EnvironmentFile=-/etc/default/bootdrop-server' <<<"$body" && ok "optional environment file" ||
	fail "no EnvironmentFile"
grep -q '^ReadOnlyPaths=\|^ReadWritePaths=\|^InaccessiblePaths=' <<<"$body" &&
	fail "a path setting that would not follow BOOTDROP_REPO" || ok "no path setting to keep in step"
grep -qx 'ProtectSystem=strict' <<<"$body" && grep -qx 'ProtectHome=read-only' <<<"$body" &&
	ok "everything read-only, /home included" || fail "file system protection"
exec_line=$(sed -n 's/^ExecStart=//p' <<<"$body")
grep -q -- ' -[pP] \| --pubkey' <<<"$exec_line" && fail "ExecStart passes a key option" ||
	ok "ExecStart passes no key option"

# ExecStart as systemd runs it: Environment= defaults, then the file.
make_repo "$T/elsewhere" demo
cat >"$T/env" <<EOF2
BOOTDROP_REPO=$T/elsewhere
BOOTDROP_LISTEN=127.0.0.1:0
BOOTDROP_PUBKEY=$(sed -n 2p "$TEST_PUB")
EOF2
# "${VAR}" is one word; "$VAR" is split on white space (BOOTDROP_OPTS,
# unset here: no word at all).
read -r -a words <<<"$exec_line"
argv=()
for w in "${words[@]}"; do
	case $w in
	'${BOOTDROP_REPO}') argv+=("$(sed -n 's/^BOOTDROP_REPO=//p' "$T/env")") ;;
	'${BOOTDROP_LISTEN}') argv+=("$(sed -n 's/^BOOTDROP_LISTEN=//p' "$T/env")") ;;
	'$BOOTDROP_OPTS') read -r -a opts <<<"$(sed -n 's/^BOOTDROP_OPTS=//p' "$T/env")"; argv+=("${opts[@]}") ;;
	'${'*|'$'*) fail "ExecStart uses $w, not in the environment file" ;;
	*) argv+=("$w") ;;
	esac
done
BOOTDROP_PUBKEY=$(sed -n 's/^BOOTDROP_PUBKEY=//p' "$T/env") start_server unit "${argv[@]:1}"
curl -s "${URL}channels/demo/" | sed 's/<[^>]*>//g' >"$T/page.txt"
grep -qF "bootdrop-fetch -P $(sed -n 2p "$TEST_PUB") -c demo" "$T/page.txt" &&
	ok "the page's command carries BOOTDROP_PUBKEY, from a repository outside /srv" ||
	fail "page: $(grep fetch "$T/page.txt")"
stop_server
# Several keys in the file, space separated: a key string and a key file;
# the page shows the one that reaches the channel, the index both.
OTHER=$(sed -n 2p "$TESTDATA/keys/minisign.pub")
sed -i "s|^BOOTDROP_PUBKEY=.*|BOOTDROP_PUBKEY=$OTHER $TEST_PUB|" "$T/env"
BOOTDROP_PUBKEY=$(sed -n 's/^BOOTDROP_PUBKEY=//p' "$T/env") start_server unit2 "${argv[@]:1}"
curl -s "${URL}channels/demo/" | sed 's/<[^>]*>//g' >"$T/page2.txt"
grep -qF "bootdrop-fetch -P $(sed -n 2p "$TEST_PUB") -c demo" "$T/page2.txt" &&
	ok "BOOTDROP_PUBKEY with two keys: the page shows the one that signed" ||
	fail "page: $(grep -i 'fetch\|key' "$T/page2.txt")"
expect_eq "$(curl -s "$URL" | grep -o '<dt>key id</dt>' | wc -l)" 2 "the index shows both keys"
stop_server
BOOTDROP_PUBKEY=not-a-key expect_status 1 "a bad BOOTDROP_PUBKEY is refused" "$SERVER" -r "$T/elsewhere" -l 127.0.0.1:0
expect_err "BOOTDROP_PUBKEY" "the refusal names BOOTDROP_PUBKEY"
finish
