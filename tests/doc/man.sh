#!/bin/bash
# The man pages render with both groff and mandoc: no warning from either,
# bootdrop-server(8)'s URL list comes out as the URLs themselves (an Aq
# once swallowed the rest of its line), and every page has an ENVIRONMENT
# section naming the variables its program reads.
. "$BOOTDROP_TESTLIB"
DOC=$BOOTDROP_SRCDIR/doc
command -v groff >/dev/null && command -v mandoc >/dev/null ||
	{ echo "groff or mandoc missing: skipped"; exit 77; }

for page in bootdrop-publish.1 bootdrop-server.8 bootdrop-fetch.8; do
	groff -mdoc -Tutf8 -ww -z "$DOC/$page" 2>"$T/groff.err"
	expect_eq "$(cat "$T/groff.err")" "" "$page: groff has no warning"
	mandoc -T lint -W warning "$DOC/$page" 2>&1 | grep -v 'outdated mandoc.db' >"$T/mandoc.err"
	expect_eq "$(cat "$T/mandoc.err")" "" "$page: mandoc -T lint has no warning"
done

for fmt in groff mandoc; do
	if [ $fmt = groff ]; then
		groff -mdoc -Tascii "$DOC/bootdrop-server.8" 2>/dev/null | col -b >"$T/server.txt"
	else
		mandoc -Tascii "$DOC/bootdrop-server.8" | col -b >"$T/server.txt"
	fi
	for url in '/channels/<c>/' '/channels/<c>' '/channels/<c>/manifest.json' \
		'/channels/<c>/<n>.json' '/blobs/sha256/<hex>'; do
		grep -Eq "^ {5}$(sed 's/[.]/[.]/g' <<<"$url")[[:space:]]" "$T/server.txt" &&
			ok "$fmt: the URL list shows $url" || fail "$fmt: no line for $url"
	done
	grep -q '<c/\|<c/>\|<n.json>' "$T/server.txt" && fail "$fmt: a bracket swallowed a path" ||
		ok "$fmt: no misplaced angle bracket"
done

env_of() { mandoc -Tascii "$DOC/$1" | col -b | sed -n '/^ENVIRONMENT/,/^[A-Z]/p'; }
env_of bootdrop-server.8 >"$T/env.txt"
for v in BOOTDROP_PUBKEY XDG_STATE_HOME TMPDIR; do
	grep -q "$v" "$T/env.txt" && ok "bootdrop-server(8) ENVIRONMENT names $v" ||
		fail "bootdrop-server(8) ENVIRONMENT lacks $v"
done
env_of bootdrop-fetch.8 >"$T/env.txt"
for v in http_proxy no_proxy TMPDIR; do
	grep -q "$v" "$T/env.txt" && ok "bootdrop-fetch(8) ENVIRONMENT names $v" ||
		fail "bootdrop-fetch(8) ENVIRONMENT lacks $v"
done
env_of bootdrop-publish.1 | grep -q TMPDIR && ok "bootdrop-publish(1) has an ENVIRONMENT section" ||
	fail "bootdrop-publish(1) has no ENVIRONMENT section"
finish
