#!/bin/bash
# End to end against bootdrop-server: install into a fresh boot directory,
# already current, --check, --json, --only, a new version, mirrors, usage.
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"
need_server

make_repo "$T/repo"
start_server "$T/repo"
blobs() { grep -c 'GET /blobs/' "$T/server.log"; }

# --check: verifies, prints the plan, writes nothing (not even DESTDIR).
expect_status 100 "--check (update available)" fetch --check -d "$T/nodest" "$url"
grep -q "would install kernel .* as boot/kernel" "$T/last.out" &&
	ok "--check prints the plan" || fail "--check plan: $(cat "$T/last.out")"
[ ! -e "$T/nodest" ] && ok "--check wrote nothing" || fail "--check created DESTDIR"
[ "$(blobs)" -eq 0 ] && ok "--check downloaded no blob" || fail "--check downloaded blobs"

# Install.
fresh_dest
before_out=$(tree_digest "$T/outside")
expect_status 0 "install" fetch -d "$T/dest" "$url"
cmp -s "$T/dest/boot/kernel" "$T/kernel" && cmp -s "$T/dest/world.tgz" "$T/world.tgz" &&
	ok "kernel and world installed byte for byte" || fail "installed files differ"
"$BOOTDROP_BUILDDIR/tests/bootrender" pvgrub 0 "$T/repo/channels/$CH/manifest.json" |
	cmp -s - "$T/dest/boot/grub/menu.lst" &&
	ok "menu.lst is rendered from the manifest's boot data" || fail "menu.lst differs"
grep -qx "version=1" "$T/dest/.bootdrop/state/$CH" && ok "state records version 1" ||
	fail "state: $(cat "$T/dest/.bootdrop/state/$CH")"
[ ! -e "$T/dest/.bootdrop/tmp" ] && ok "no temporary files left" || fail ".bootdrop/tmp left"
[ "$(stat -c %a "$T/dest/boot/kernel")" = 644 ] && ok "mode 0644" || fail "mode $(stat -c %a "$T/dest/boot/kernel")"
[ "$(tree_digest "$T/outside")" = "$before_out" ] && ok "outside untouched" || fail "outside changed"

# Already current: exit 0, "up to date", no blob downloaded.
n=$(blobs)
snapshot
expect_status 0 "already current" fetch -d "$T/dest" "$url"
grep -q "up to date" "$T/last.out" && ok "says up to date" || fail "no 'up to date'"
[ "$(blobs)" -eq "$n" ] && ok "nothing downloaded when current" || fail "blobs downloaded when current"
unchanged "already current"

# --json: one object per line, ending with the result.
expect_status 0 "--json" fetch --json -d "$T/dest" "$url"
python3 - "$T/last.out" <<'PY' && ok "--json lines parse, result last" || fail "--json output: $(cat "$T/last.out")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
assert ev[0]["event"] == "manifest" and ev[0]["version"] == 1
assert ev[-1] == {"event": "result", "status": 0, "ok": True, "outcome": "up-to-date", "summary": ev[-1]["summary"]}
PY

# -q: nothing on stdout.
expect_status 0 "-q" fetch -q -d "$T/dest" "$url"
[ ! -s "$T/last.out" ] && ok "-q prints nothing" || fail "-q printed: $(cat "$T/last.out")"

# A new version installs; --json reports each artifact and the result
# (the kernel is the same bytes: "unchanged", neither downloaded nor
# installed again).
make_world "$T/world2.tgz"
"$PUBLISH" release -r "$T/repo" -c "$CH" -s "$TEST_SEC" kernel="$T/kernel" world="$T/world2.tgz" >/dev/null
sleep 0	# the server re-reads manifest.json by its mtime/ETag
expect_status 0 "version 2" fetch --json -d "$T/dest" "$url"
grep -qx "version=2" "$T/dest/.bootdrop/state/$CH" && ok "state records version 2" || fail "state not updated"
cmp -s "$T/dest/world2.tgz" "$T/world2.tgz" && ok "new world installed" || fail "new world missing"
python3 - "$T/last.out" <<'PY' && ok "--json events: verified, installed, result" || fail "--json events: $(cat "$T/last.out")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
kinds = [e["event"] for e in ev]
assert kinds[0] == "manifest" and kinds[-1] == "result" and ev[-1]["status"] == 0
assert kinds.count("verified") == 1 and kinds.count("installed") == 2, kinds
assert [e["name"] for e in ev if e["event"] == "unchanged"] == ["kernel"], kinds
PY

# --only NAME: just that artifact, no state change.
fresh_dest
expect_status 0 "--only kernel" fetch --only kernel -d "$T/dest" "$url"
cmp -s "$T/dest/boot/kernel" "$T/kernel" && [ ! -e "$T/dest/world2.tgz" ] &&
	[ ! -e "$T/dest/.bootdrop/state/$CH" ] && ok "--only installed just the kernel" ||
	fail "--only installed more"
expect_status 1 "--only with an unknown name" fetch --only nope -d "$T/dest" "$url"

# --state DIR keeps the state elsewhere.
fresh_dest
expect_status 0 "--state DIR" fetch --state "$T/state" -d "$T/dest" "$url"
grep -qx "version=2" "$T/state/$CH" && [ ! -e "$T/dest/.bootdrop/state" ] &&
	ok "--state used" || fail "--state not used"

# Mirrors: a dead one, then one without blobs, cost time, not the install.
srv=$url
dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_evil 404 "$T/repo" m404
fresh_dest
expect_status 0 "dead mirror, blobless mirror, good mirror" fetch -d "$T/dest" \
	"http://127.0.0.1:$dead/" "$url" "$srv"
expect_err "trying the next mirror" "failover is reported"
cmp -s "$T/dest/world2.tgz" "$T/world2.tgz" && ok "installed through the mirrors" ||
	fail "mirror install differs"
grep -q "GET /blobs/" "$T/m404.log" && ok "blobs tried on the second mirror first" ||
	fail "second mirror not tried"
url=$srv

# Usage.
# (A slice with state needs no key: its state holds the trust.)
mkdir -p "$T/nostate"
expect_status 1 "no key and no state" "$FETCH" -c "$CH" -d "$T/nostate" "$url"
expect_status 1 "bad channel" fetch -c "Bad/Chan" -d "$T/dest" "$url"
expect_status 1 "no URL" fetch -d "$T/dest"
expect_status 1 "ftp URL" fetch -d "$T/dest" "ftp://127.0.0.1/"
expect_status 1 "bad key" "$FETCH" -P RWQnotakey -c "$CH" -d "$T/dest" "$url"
expect_status 1 "bad --low-speed-time" fetch --low-speed-time 0 -d "$T/dest" "$url"
expect_status 0 "--help" "$FETCH" --help
expect_status 0 "--version" "$FETCH" --version
grep -q "^bootdrop-fetch [0-9]" "$T/last.out" && ok "--version prints it" || fail "--version"
expect_status 4 "DESTDIR missing" fetch -d "$T/missing" "$url"

finish
