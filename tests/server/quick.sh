#!/bin/bash
# bootdrop-server --quick, the woof replacement: publishes into a temporary
# repository, prints the complete bootdrop-fetch command, serves, exits
# after --exit-after N complete downloads of every artifact, and removes
# the temporary repository on every way out.
. "$BOOTDROP_TESTLIB"
. "$(dirname "$0")/serverlib.sh"

make_kernel "$T/kernel"
make_world "$T/world.tgz" 2
KSHA=$(sha256sum "$T/kernel" | cut -c1-64)
WSHA=$(sha256sum "$T/world.tgz" | cut -c1-64)
PUBB64=$(sed -n 2p "$TEST_PUB")

# quick_repo NAME : the temporary repository named on the server's stderr.
quick_repo() {
	sed -n 's/^bootdrop-server: serving \(.*\) with .*/\1/p' "$T/$1.err"
}

# wait_exit SECONDS : waits for the server to exit by itself; EXIT_STATUS.
wait_exit() {
	local end=$((SECONDS + $1))
	while kill -0 "$SERVER_PID" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do
		sleep 0.05
	done
	if kill -0 "$SERVER_PID" 2>/dev/null; then EXIT_STATUS=running; return 1; fi
	wait "$SERVER_PID"
	EXIT_STATUS=$?
	sanitizer_check
}

# --- the printed command, the signed manifest, --exit-after 1
start_server q1 --quick -s "$TEST_SEC" -l 127.0.0.1:0 -c qtest --exit-after 1 \
	kernel="$T/kernel" world="$T/world.tgz"
QREPO=$(quick_repo q1)
[ -d "$QREPO/blobs/sha256" ] && ok "temporary repository $QREPO" || fail "no temporary repository"
CMD=$(grep '^bootdrop-fetch ' "$T/q1.out")
expect_eq "$CMD" "bootdrop-fetch -P $PUBB64 -c qtest -d /mnt/boot $URL" "prints the complete fetch command"

curl -sf -o "$T/m.json" "${URL}channels/qtest/manifest.json"
jq -r .payload "$T/m.json" | base64 -d >"$T/payload"
jq -r '.signatures[0].minisig' "$T/m.json" >"$T/payload.minisig"
if minisign -Vm "$T/payload" -P "$PUBB64" >/dev/null 2>&1; then
	ok "served manifest verifies with minisign and the printed key"
else fail "minisign does not verify the served manifest"; fi
jq -e --arg k "$KSHA" --arg w "$WSHA" \
	'[.artifacts[].sha256] | index($k) != null and index($w) != null' "$T/payload" >/dev/null &&
	ok "manifest names both artifacts" || fail "manifest artifacts"

# HEADs, ranges and 304s do not count as served.
curl -sf -I -o /dev/null "${URL}blobs/sha256/$KSHA"
curl -sf -o /dev/null -r 0-99 "${URL}blobs/sha256/$WSHA"
curl -s -o /dev/null -H "If-None-Match: \"sha256:$WSHA\"" "${URL}blobs/sha256/$WSHA"
curl -sf -o "$T/k.got" "${URL}blobs/sha256/$KSHA"
expect_eq "$(sha256sum <"$T/k.got" | cut -c1-64)" "$KSHA" "kernel downloaded"
kill -0 "$SERVER_PID" 2>/dev/null && ok "still serving: world not yet downloaded" ||
	fail "exited before every artifact was served"
curl -sf -o "$T/w.got" "${URL}blobs/sha256/$WSHA"
expect_eq "$(sha256sum <"$T/w.got" | cut -c1-64)" "$WSHA" "world downloaded"
wait_exit 20
expect_eq "$EXIT_STATUS" 0 "exits 0 after every artifact was served once"
[ ! -e "$QREPO" ] && ok "temporary repository removed" || fail "$QREPO left behind"

# --- a download split in ranges (aria2c) counts by volume
start_server q2 --quick -s "$TEST_SEC" -l 127.0.0.1:0 --exit-after 1 \
	kernel="$T/kernel" world="$T/world.tgz"
QREPO=$(quick_repo q2)
grep -q "^bootdrop-fetch -P $PUBB64 -c quick -d /mnt/boot $URL\$" "$T/q2.out" &&
	ok "default channel is quick" || fail "default channel: $(cat "$T/q2.out")"
curl -sf -o /dev/null "${URL}blobs/sha256/$KSHA"
aria2c -q -x 4 -s 4 -k 1M --min-split-size=1M --allow-overwrite=true \
	--auto-file-renaming=false -d "$T" -o w.aria "${URL}blobs/sha256/$WSHA"
expect_eq "$(sha256sum <"$T/w.aria" | cut -c1-64)" "$WSHA" "aria2c download in quick mode"
wait_exit 20
expect_eq "$EXIT_STATUS" 0 "ranged download counts: exits 0"
[ ! -e "$QREPO" ] && ok "temporary repository removed" || fail "$QREPO left behind"

# --- with bootdrop-fetch, when it is built: paste the printed command
if [ -x "$FETCH" ]; then
	start_server q3 --quick -s "$TEST_SEC" -l 127.0.0.1:0 --exit-after 1 \
		kernel="$T/kernel" world="$T/world.tgz"
	mkdir -p "$T/boot"
	CMD=$(grep '^bootdrop-fetch ' "$T/q3.out")
	CMD=${CMD/-d \/mnt\/boot/-d $T/boot}
	# shellcheck disable=SC2086
	expect_status 0 "the printed command installs with bootdrop-fetch" "$FETCH" ${CMD#bootdrop-fetch }
	cmp -s "$T/boot/boot/kernel" "$T/kernel" && ok "kernel installed" || fail "kernel not installed"
	wait_exit 20
	expect_eq "$EXIT_STATUS" 0 "exits 0 after bootdrop-fetch downloaded everything"
fi

# --- SIGTERM and SIGINT remove the temporary repository too
for sig in TERM INT; do
	start_server "s$sig" --quick -s "$TEST_SEC" -l 127.0.0.1:0 kernel="$T/kernel"
	QREPO=$(quick_repo "s$sig")
	kill -"$sig" "$SERVER_PID"
	wait_exit 20
	expect_eq "$EXIT_STATUS" 0 "SIG$sig: exit 0"
	[ -n "$QREPO" ] && [ ! -e "$QREPO" ] && ok "SIG$sig: temporary repository removed" ||
		fail "SIG$sig: $QREPO left behind"
done

# --- refusals
expect_status 1 "quick without -s" "$SERVER" --quick -l 127.0.0.1:0 kernel="$T/kernel"
expect_status 1 "quick without files" "$SERVER" --quick -s "$TEST_SEC" -l 127.0.0.1:0
expect_status 1 "quick with a bad NAME=FILE" "$SERVER" --quick -s "$TEST_SEC" -l 127.0.0.1:0 "$T/kernel"
expect_status 1 "quick with a bad channel" "$SERVER" --quick -s "$TEST_SEC" -c 'Bad/Ch' -l 127.0.0.1:0 kernel="$T/kernel"
expect_status 1 "quick with a missing file" "$SERVER" --quick -s "$TEST_SEC" -l 127.0.0.1:0 kernel="$T/nonexistent"
expect_status 1 "quick with a non-ELF kernel" "$SERVER" --quick -s "$TEST_SEC" -l 127.0.0.1:0 kernel="$T/world.tgz"
expect_status 1 "quick with a missing key" "$SERVER" --quick -s "$T/nokey" -l 127.0.0.1:0 kernel="$T/kernel"
left=$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'bootdrop-quick.*' -newer "$T/kernel" 2>/dev/null | wc -l)
expect_eq "$left" 0 "failed quick starts leave no temporary repository"

finish
