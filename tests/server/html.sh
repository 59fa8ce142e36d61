#!/bin/bash
# The HTML index rendered by headless Chromium: the rendered DOM shows the
# channels, the newest version, the sha256 of each artifact and the exact
# bootdrop-fetch command; text from a manifest is escaped (a menu.lst
# carrying <script> shows as text and creates no element).  Screenshots
# at phone width are kept in the build directory.  Skipped (77) only when
# Chromium is not installed.
. "$BOOTDROP_TESTLIB"
. "$(dirname "$0")/serverlib.sh"

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
	echo "chromium not installed: skipped"
	exit 77
fi
SHOTS=$BOOTDROP_BUILDDIR/tests/server/screenshots
mkdir -p "$SHOTS"

# chrome ARGS... : headless Chromium with a throwaway profile, bounded.
chrome() {
	local profile; profile=$(mktemp -d "$T/chrome.XXXXXX")
	timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
		--disable-background-networking --disable-component-update \
		--no-first-run --user-data-dir="$profile" "$@" 2>>"$T/chrome.err"
}

REPO=$T/repo
make_repo "$REPO" freebsd-9.0-i386 1
printf 'timeout 5\n# <script>alert("pwned")</script> & <b>bold</b>\ntitle x\n' >"$T/menu.lst"
"$PUBLISH" release -r "$REPO" -c freebsd-9.0-i386 -s "$TEST_SEC" --menu "$T/menu.lst" \
	kernel="$KERNEL" world="$WORLD" >/dev/null || fail "publish with a hostile menu.lst"
"$PUBLISH" release -r "$REPO" -c other -s "$TEST_SEC" kernel="$KERNEL" >/dev/null
PUBB64=$(sed -n 2p "$TEST_PUB")

start_server srv -r "$REPO" -l 127.0.0.1:0 -p "$TEST_PUB" --public-url http://boot.example.org/repo/

# --- the index
chrome --dump-dom "$URL" >"$T/index.dom"
grep -q 'href="/channels/freebsd-9.0-i386/"' "$T/index.dom" && ok "index links the channel" ||
	fail "index: no channel link"
grep -q 'href="/channels/other/"' "$T/index.dom" && ok "index links the second channel" ||
	fail "index: no second channel"
grep -q '<td>2</td>' "$T/index.dom" && ok "index shows the newest version" || fail "index: version"
chrome --screenshot="$SHOTS/index.png" --window-size=412,900 "$URL" >/dev/null
[ -s "$SHOTS/index.png" ] && ok "index screenshot $SHOTS/index.png" || fail "no index screenshot"

# --- a channel
PAGE=${URL}channels/freebsd-9.0-i386/
chrome --dump-dom "$PAGE" >"$T/channel.dom"
for want in \
	'<h1>freebsd-9.0-i386</h1>' \
	"$KERNEL_SHA" "$WORLD_SHA" \
	"bootdrop-fetch -P $PUBB64 -c freebsd-9.0-i386 -d /mnt/boot http://boot.example.org/repo/" \
	'boot/kernel' '32-bit i386, Xen PV guest' 'version 2' 'version 1' \
	'href="2.json"' 'href="1.json"' 'bootdrop channel=freebsd-9.0-i386 version=2' \
	"$(sed -n '1s/.*public key //p' "$TEST_PUB")" \
	"keys (sign the next version)</dt><dd>1 of <code>$(sed -n '1s/.*public key //p' "$TEST_PUB")</code>" \
	'signatures verified by bootdrop-fetch' \
	'name="viewport"' \
	; do
	grep -qF -- "$want" "$T/channel.dom" && ok "channel page shows: ${want:0:70}" ||
		fail "channel page lacks: $want"
done
grep -q 'MiB\|KiB' "$T/channel.dom" && ok "human-readable sizes" || fail "no human-readable size"
# The hostile menu.lst is text, not markup.
grep -qF '&lt;script&gt;alert("pwned")&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;' "$T/channel.dom" &&
	ok "menu.lst markup is escaped" || fail "menu.lst not escaped"
grep -qi '<script' "$T/channel.dom" && fail "a <script> element was created" || ok "no <script> element in the DOM"
grep -qi '<b>bold' "$T/channel.dom" && fail "a <b> element was created" || ok "no injected element"
chrome --screenshot="$SHOTS/channel.png" --window-size=412,900 "$PAGE" >/dev/null
[ -s "$SHOTS/channel.png" ] && ok "channel screenshot $SHOTS/channel.png" || fail "no channel screenshot"

# --- headers of the HTML, unknown channels, no key given
curl -s -D "$T/h" -o /dev/null "$PAGE"
expect_eq "$(header Content-Type "$T/h")" "text/html; charset=utf-8" "HTML Content-Type"
header Content-Security-Policy "$T/h" | grep -q "default-src 'none'" &&
	ok "Content-Security-Policy forbids scripts" || fail "no CSP"
expect_eq "$(http_code "${URL}channels/nosuch/")" 404 "unknown channel page: 404"
stop_server

start_server nokey -r "$REPO" -l 127.0.0.1:0
curl -s "${URL}channels/other/" >"$T/nokey.html"
grep -qF "bootdrop-fetch -p PUBFILE -c other -d /mnt/boot $URL" "$T/nokey.html" &&
	ok "without -P/-p the command says -p PUBFILE and the listening URL" ||
	fail "fetch command without a key: $(grep -o 'bootdrop-fetch[^<]*' "$T/nokey.html")"
# A repository nothing was published to yet (no channels/) still renders.
mkdir -p "$T/empty/blobs/sha256"
stop_server
start_server empty -r "$T/empty" -l 127.0.0.1:0
expect_eq "$(http_code "$URL")" 200 "empty repository index"
stop_server

finish
