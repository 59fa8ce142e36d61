#!/bin/bash
# The HTML index rendered by headless Chromium: the rendered DOM shows the
# channels, the newest version, the sha256 of each artifact and the exact
# bootdrop-fetch command; text from a manifest is escaped (a menu.lst
# carrying <script> shows as text and creates no element).  At 400 and
# 1280 px the pages do not overflow horizontally (scrollWidth <=
# clientWidth, measured by a script added to a copy of each page) and the
# URL in the fetch command stays on one line; screenshots at both widths
# are kept in the build directory.  A key that did not sign the channel is
# said so plainly; with two keys the index lists both and still fits;
# /channels/<c> redirects to /channels/<c>/.  Skipped (77)
# only when Chromium is not installed.
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
"$PUBLISH" release -r "$REPO" -c freebsd-9.0-i386 -s "$TEST_SEC" \
	--title '# <script>alert("pwned")</script> & <b>bold</b>' \
	kernel="$KERNEL" world="$WORLD" >/dev/null || fail "publish with a hostile menu.lst"
"$PUBLISH" release -r "$REPO" -c other -s "$TEST_SEC" kernel="$KERNEL" >/dev/null
LONGCH=freebsd_9.0_i386_xen_kernel_with_a_channel_name_of_sixtyfour_byt
"$PUBLISH" release -r "$REPO" -c $LONGCH -s "$TEST_SEC" kernel="$KERNEL" >/dev/null ||
	fail "publish a channel with a 64-byte name"
PUBB64=$(sed -n 2p "$TEST_PUB")
PUBURL=http://boot-server-with-a-long-name.example.org/mirrors/bootdrop/repository/

# text FILE : the page's text, tags removed (the command is split in spans).
text() { sed 's/<[^>]*>//g' "$1"; }

# no_overflow NAME PAGE_URL : at 400 and 1280 px, the page is no wider than
# its viewport and the fetch command's URL (if any) is on one line.  The
# server's pages run no script (CSP) and headless Chromium's window is at
# least 500 px wide, so a copy of the page is measured in an iframe of the
# exact width by a wrapper page's script.
no_overflow() {
	local name=$1 page=$2 w got
	curl -sf "$page" >"$T/$name.page.html" || { fail "$name: cannot get $page"; return; }
	for w in 400 1280; do
		cat >"$T/$name.$w.html" <<-EOF
		<!DOCTYPE html><html><body style="margin:0"><iframe id="f" src="$name.page.html"
		style="width:${w}px;height:900px;border:0"></iframe><script>
		addEventListener("load", function () {
			var g = document.getElementById("f").contentDocument, d = g.documentElement,
			    u = g.querySelector("#fetch .url"), broken = 0;
			/* timestamps and table headers: each on one line */
			g.querySelectorAll("time, th").forEach(function (e) {
				var r = g.createRange(), tops = {};
				r.selectNodeContents(e);
				Array.prototype.forEach.call(r.getClientRects(), function (c) {
					if (c.width > 0) tops[Math.round(c.top)] = 1; });
				if (Object.keys(tops).length > 1) broken++;
			});
			document.body.setAttribute("data-check", "scroll=" + d.scrollWidth + " client=" +
			    d.clientWidth + " urllines=" + (u ? u.getClientRects().length : 1) +
			    " broken=" + broken + " cells=" + g.querySelectorAll("time, th").length);
		});
		</script></body></html>
		EOF
		chrome --allow-file-access-from-files --window-size=$((w + 100)),900 \
			--virtual-time-budget=2000 --dump-dom "file://$T/$name.$w.html" >"$T/$name.$w.dom"
		got=$(sed -n 's/.*data-check="\([^"]*\)".*/\1/p' "$T/$name.$w.dom")
		# client is the viewport less a vertical scroll bar, if any
		if [[ $got =~ ^scroll=([0-9]+)\ client=([0-9]+)\ urllines=([0-9]+)\ broken=([0-9]+)\ cells=([0-9]+)$ ]] &&
			[ "${BASH_REMATCH[2]}" -le "$w" ] && [ "${BASH_REMATCH[2]}" -gt $((w - 24)) ] &&
			[ "${BASH_REMATCH[1]}" -le "${BASH_REMATCH[2]}" ] && [ "${BASH_REMATCH[3]}" = 1 ] &&
			[ "${BASH_REMATCH[4]}" = 0 ] && [ "${BASH_REMATCH[5]}" -ge 2 ]; then
			ok "$name at $w px: no horizontal overflow, URL, timestamps and headers each on one line ($got)"
		else
			fail "$name at $w px: $got"
		fi
		chrome --allow-file-access-from-files --screenshot="$SHOTS/$name-$w.png" \
			--window-size=$((w + 100)),900 "file://$T/$name.$w.html" >/dev/null
		[ -s "$SHOTS/$name-$w.png" ] && ok "$name screenshot $SHOTS/$name-$w.png" ||
			fail "no $name screenshot at $w px"
	done
}

start_server srv -r "$REPO" -l 127.0.0.1:0 -p "$TEST_PUB" --public-url "$PUBURL"

# --- the index
chrome --dump-dom "$URL" >"$T/index.dom"
grep -q 'href="/channels/freebsd-9.0-i386/"' "$T/index.dom" && ok "index links the channel" ||
	fail "index: no channel link"
grep -q 'href="/channels/other/"' "$T/index.dom" && ok "index links the second channel" ||
	fail "index: no second channel"
grep -q '<td data-l="version">2</td>' "$T/index.dom" && ok "index shows the newest version" || fail "index: version"
no_overflow index "$URL"

# --- a channel
PAGE=${URL}channels/freebsd-9.0-i386/
chrome --dump-dom "$PAGE" >"$T/channel.dom"
text "$T/channel.dom" >"$T/channel.txt"
for want in \
	'<h1>freebsd-9.0-i386</h1>' \
	"$KERNEL_SHA" "$WORLD_SHA" \
	"bootdrop-fetch -P $PUBB64 -c freebsd-9.0-i386 -d /mnt/boot $PUBURL" \
	'boot/kernel' 'ELF i386, Xen PV' 'version 2' 'version 1' \
	'href="2.json"' 'href="1.json"' 'bootdrop channel=freebsd-9.0-i386 version=2' \
	"$(sed -n '1s/.*public key //p' "$TEST_PUB")" \
	"keys (sign the next version)</dt><dd>1 of <code>$(sed -n '1s/.*public key //p' "$TEST_PUB")</code>" \
	'signatures verified by bootdrop-fetch' \
	'name="viewport"' \
	; do
	grep -qF -- "$want" "$T/channel.dom" "$T/channel.txt" && ok "channel page shows: ${want:0:70}" ||
		fail "channel page lacks: $want"
done
grep -q 'MiB\|KiB' "$T/channel.dom" && ok "human-readable sizes" || fail "no human-readable size"
# The hostile title is text, not markup.
grep -qF '&lt;script&gt;alert("pwned")&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;' "$T/channel.dom" &&
	ok "menu.lst markup is escaped" || fail "menu.lst not escaped"
grep -qi '<script' "$T/channel.dom" && fail "a <script> element was created" || ok "no <script> element in the DOM"
grep -qi '<b>bold' "$T/channel.dom" && fail "a <b> element was created" || ok "no injected element"
no_overflow channel "$PAGE"
no_overflow long-channel "${URL}channels/$LONGCH/"

# --- headers of the HTML, unknown channels, no key given
curl -s -D "$T/h" -o /dev/null "$PAGE"
expect_eq "$(header Content-Type "$T/h")" "text/html; charset=utf-8" "HTML Content-Type"
header Content-Security-Policy "$T/h" | grep -q "default-src 'none'" &&
	ok "Content-Security-Policy forbids scripts" || fail "no CSP"
expect_eq "$(http_code "${URL}channels/nosuch/")" 404 "unknown channel page: 404"
# /channels/<c> without its slash: a relative redirect, right behind a prefix too.
curl -s -D "$T/h" -o /dev/null "${URL}channels/other"
expect_eq "$(head -n 1 "$T/h" | tr -d '\r' | cut -d' ' -f2)" 301 "/channels/other: 301"
expect_eq "$(header Location "$T/h")" "other/" "redirects to other/"
expect_eq "$(http_code "${URL}channels/other" -L)" 200 "which is the channel page"
expect_eq "$(http_code "${URL}channels/Other")" 404 "/channels/Other (not a channel name): 404"
grep -q "warning: channel" "$T/srv.err" && fail "start-up key warning with the right key" ||
	ok "no key warning when the key signed every channel"
stop_server

# --- a key that did not sign: said on the page and at start, no command
start_server wrongkey -r "$REPO" -l 127.0.0.1:0 -p "$TESTDATA/keys/minisign.pub"
curl -s "${URL}channels/other/" >"$T/wrong.html"
OTHERID=$(sed -n "1s/.*public key //p" "$TESTDATA/keys/minisign.pub")
TESTID=$(sed -n '1s/.*public key //p' "$TEST_PUB")
text "$T/wrong.html" | grep -qF "This server was given the public key $OTHERID, but this version is signed by $TESTID" &&
	ok "the page says which key signed and which was given" || fail "key mismatch: $(text "$T/wrong.html" | grep -i key)"
grep -q 'bootdrop-fetch -P\|id="fetch"' "$T/wrong.html" && fail "a command that would be refused is shown" ||
	ok "no fetch command with the wrong key"
grep -qF "warning: channel other version 1 is signed by $TESTID, not by the public key shown in fetch commands ($OTHERID)" "$T/wrongkey.err" &&
	ok "the server warns at start" || fail "start-up warning: $(cat "$T/wrongkey.err")"
stop_server

# --- two keys: the index lists each with the channels it reaches, and
# still fits a phone's width
start_server twokeys -r "$REPO" -l 127.0.0.1:0 -p "$TEST_PUB" -p "$TESTDATA/keys/minisign.pub"
curl -s "$URL" >"$T/twokeys.html"
text "$T/twokeys.html" | grep -qF "key id$TESTID" && text "$T/twokeys.html" | grep -qF "key id$OTHERID" &&
	ok "the index lists both keys" || fail "two keys: $(text "$T/twokeys.html" | grep -i key)"
grep -qF "<td data-l=\"key\"><code>$TESTID</code></td>" "$T/twokeys.html" &&
	ok "each channel row names the key that reaches it" || fail "no key column"
no_overflow twokeys-index "$URL"
stop_server

# --- the key from $BOOTDROP_PUBKEY (the systemd unit's environment file)
BOOTDROP_PUBKEY=$PUBB64 start_server envkey -r "$REPO" -l 127.0.0.1:0
curl -s "${URL}channels/other/" >"$T/env.html"
text "$T/env.html" | grep -qF "bootdrop-fetch -P $PUBB64 -c other" &&
	ok "BOOTDROP_PUBKEY is the key in the command" || fail "BOOTDROP_PUBKEY: $(text "$T/env.html" | grep fetch)"
stop_server

start_server nokey -r "$REPO" -l 127.0.0.1:0
curl -s "${URL}channels/other/" >"$T/nokey.html"
text "$T/nokey.html" | grep -qF "bootdrop-fetch -p PUBFILE -c other -d /mnt/boot $URL" &&
	ok "without -P/-p the command says -p PUBFILE and the listening URL" ||
	fail "fetch command without a key: $(grep -o 'bootdrop-fetch[^<]*' "$T/nokey.html")"
# A repository nothing was published to yet (no channels/) still renders.
mkdir -p "$T/empty/blobs/sha256"
stop_server
start_server empty -r "$T/empty" -l 127.0.0.1:0
expect_eq "$(http_code "$URL")" 200 "empty repository index"
stop_server

finish
