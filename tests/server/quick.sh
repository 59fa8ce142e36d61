#!/bin/bash
# bootdrop-server --quick, the woof replacement: publishes the next version
# of a channel in the quick repository it keeps between runs
# ($XDG_STATE_HOME/bootdrop/quick or --quick-repo), prints the complete
# bootdrop-fetch command, serves, exits after --exit-after N complete
# downloads of every artifact, and prunes the blobs of older versions.
. "$BOOTDROP_TESTLIB"
. "$(dirname "$0")/serverlib.sh"
export XDG_STATE_HOME=$T/state

make_kernel "$T/kernel"
make_world "$T/world.tgz" 2
KSHA=$(sha256sum "$T/kernel" | cut -c1-64)
WSHA=$(sha256sum "$T/world.tgz" | cut -c1-64)
PUBB64=$(sed -n 2p "$TEST_PUB")

# quick_repo NAME : the quick repository named on the server's stderr.
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
expect_eq "$QREPO" "$XDG_STATE_HOME/bootdrop/quick" "the quick repository is \$XDG_STATE_HOME/bootdrop/quick"
[ -d "$QREPO/blobs/sha256" ] && ok "quick repository $QREPO" || fail "no quick repository"
CMD=$(grep '^bootdrop-fetch ' "$T/q1.out")
expect_eq "$CMD" "bootdrop-fetch -P $PUBB64 -c qtest --report-done -d /mnt/boot $URL" "prints the complete fetch command"

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
[ -f "$QREPO/channels/qtest/1.json" ] && ok "the quick repository is kept" ||
	fail "$QREPO/channels/qtest/1.json is gone"

# --- a download split in ranges (aria2c) counts by volume
start_server q2 --quick -s "$TEST_SEC" -l 127.0.0.1:0 --exit-after 1 \
	kernel="$T/kernel" world="$T/world.tgz"
QREPO=$(quick_repo q2)
grep -q "^bootdrop-fetch -P $PUBB64 -c quick --report-done -d /mnt/boot $URL\$" "$T/q2.out" &&
	ok "default channel is quick" || fail "default channel: $(cat "$T/q2.out")"
curl -sf -o /dev/null "${URL}blobs/sha256/$KSHA"
aria2c -q -x 4 -s 4 -k 1M --min-split-size=1M --allow-overwrite=true \
	--auto-file-renaming=false -d "$T" -o w.aria "${URL}blobs/sha256/$WSHA"
expect_eq "$(sha256sum <"$T/w.aria" | cut -c1-64)" "$WSHA" "aria2c download in quick mode"
wait_exit 20
expect_eq "$EXIT_STATUS" 0 "ranged download counts: exits 0"

# --- SIGTERM and SIGINT stop it and keep the repository
for sig in TERM INT; do
	start_server "s$sig" --quick -s "$TEST_SEC" -l 127.0.0.1:0 kernel="$T/kernel"
	QREPO=$(quick_repo "s$sig")
	kill -"$sig" "$SERVER_PID"
	wait_exit 20
	expect_eq "$EXIT_STATUS" 0 "SIG$sig: exit 0"
	[ -f "$QREPO/channels/quick/manifest.json" ] && ok "SIG$sig: repository kept" ||
		fail "SIG$sig: $QREPO/channels/quick/manifest.json is gone"
done

# --- the woof loop: three runs with three kernels, one guest directory,
# three successful fetches with the command each run prints (runs 2 and 3
# download the kernel only: the world is installed already, so the
# server ends on the guest's --report-done, not on the blobs served).
if [ -x "$FETCH" ]; then
	mkdir -p "$T/boot"
	for n in 1 2 3; do
		"$BOOTDROP_BUILDDIR/tests/mkkernel" i386 "$T/kernel$n" $((8 + n))
		start_server "loop$n" --quick -s "$TEST_SEC" -l 127.0.0.1:0 -c loop \
			--quick-repo "$T/loop" --exit-after 1 --access-log "$T/loop$n.log" \
			kernel="$T/kernel$n" world="$T/world.tgz"
		grep -q "published loop version $n in $T/loop" "$T/loop$n.err" &&
			ok "run $n publishes version $n" || fail "run $n: $(cat "$T/loop$n.err")"
		CMD=$(grep '^bootdrop-fetch ' "$T/loop$n.out")
		CMD=${CMD/-d \/mnt\/boot/-d $T/boot}
		# shellcheck disable=SC2086
		expect_status 0 "run $n: the printed command installs" "$FETCH" ${CMD#bootdrop-fetch }
		cmp -s "$T/boot/boot/kernel" "$T/kernel$n" && ok "run $n: kernel $n installed" ||
			fail "run $n: kernel $n not installed"
		wait_exit 20
		expect_eq "$EXIT_STATUS" 0 "run $n: exits 0 once bootdrop-fetch finished"
		[ "$n" -eq 1 ] ||
			expect_eq "$(grep -c "GET /blobs/sha256/$WSHA" "$T/loop$n.log")" 0 \
				"run $n: the unchanged world is not downloaded"
	done
	# Run 4 publishes the same files: the guest downloads nothing.  Without
	# --report-done the server cannot tell it finished and keeps serving;
	# the printed command (with it) ends the run.
	start_server loop4 --quick -s "$TEST_SEC" -l 127.0.0.1:0 -c loop \
		--quick-repo "$T/loop" --exit-after 1 --access-log "$T/loop4.log" \
		kernel="$T/kernel3" world="$T/world.tgz"
	CMD=$(grep '^bootdrop-fetch ' "$T/loop4.out")
	CMD=${CMD/-d \/mnt\/boot/-d $T/boot}
	PLAIN=${CMD/ --report-done/}
	# shellcheck disable=SC2086
	expect_status 0 "run 4 without --report-done installs" "$FETCH" ${PLAIN#bootdrop-fetch }
	grep -q "unchanged" "$T/last.out" && ok "run 4: every artifact unchanged" ||
		fail "run 4: $(cat "$T/last.out")"
	expect_eq "$(grep -c "GET /blobs/" "$T/loop4.log")" 0 "run 4: no blob requested"
	kill -0 "$SERVER_PID" 2>/dev/null && ok "run 4: no artifact served, no report: still serving" ||
		fail "run 4: exited without the guest's report"
	# shellcheck disable=SC2086
	expect_status 0 "run 4 with the printed command: up to date" "$FETCH" ${CMD#bootdrop-fetch }
	wait_exit 20
	expect_eq "$EXIT_STATUS" 0 "run 4: exits 0 on the guest's report alone"
	expect_eq "$(grep -c "GET /blobs/" "$T/loop4.log")" 0 "run 4: still no blob requested"
	# Pruned: the blobs are the newest version's, every manifest is kept.
	want=$( (sha256sum <"$T/kernel3"; sha256sum <"$T/world.tgz") | cut -c1-64 | sort | tr '\n' ' ')
	have=$(ls "$T/loop/blobs/sha256" | sort | tr '\n' ' ')
	expect_eq "$have" "$want" "old blobs pruned, the newest version's kept"
	expect_eq "$(ls "$T/loop/channels/loop" | sort | tr '\n' ' ')" "1.json 2.json 3.json 4.json manifest.json " \
		"every versioned manifest kept"
	# A refused run changes nothing.
	before=$(tree_digest "$T/loop")
	expect_status 3 "a refused kernel exits 3" "$SERVER" --quick -s "$TEST_SEC" -l 127.0.0.1:0 \
		-c loop --quick-repo "$T/loop" kernel="$T/world.tgz"
	expect_eq "$(tree_digest "$T/loop")" "$before" "a refused quick run leaves the repository unchanged"
	expect_status 3 "a run signed by another key is refused" "$SERVER" --quick -s "$TESTDATA/keys/minisign.key" \
		-l 127.0.0.1:0 -c loop --quick-repo "$T/loop" kernel="$T/kernel1"
	expect_err "must be signed by 1 of the keys of version 4" "says which keys must sign"
	expect_eq "$(tree_digest "$T/loop")" "$before" "and leaves the repository unchanged"
fi

# --- refusals
expect_status 1 "quick without -s" "$SERVER" --quick -l 127.0.0.1:0 kernel="$T/kernel"
expect_status 1 "quick without files" "$SERVER" --quick -s "$TEST_SEC" -l 127.0.0.1:0
expect_status 1 "quick with a bad NAME=FILE" "$SERVER" --quick -s "$TEST_SEC" -l 127.0.0.1:0 "$T/kernel"
expect_status 1 "quick with a bad channel" "$SERVER" --quick -s "$TEST_SEC" -c 'Bad/Ch' -l 127.0.0.1:0 kernel="$T/kernel"
expect_status 1 "quick with a missing file" "$SERVER" --quick -s "$TEST_SEC" -l 127.0.0.1:0 kernel="$T/nonexistent"
expect_status 3 "quick with a non-ELF kernel" "$SERVER" --quick -s "$TEST_SEC" -l 127.0.0.1:0 kernel="$T/world.tgz"
# A quick repository left by another key: the refusal names the
# repository and the ways out (issue 21).
Q=$XDG_STATE_HOME/bootdrop/quick
rm -rf "$Q"
"$PUBLISH" release -r "$Q" -c quick -s "$TESTDATA/keys/minisign.key" -e 1d \
	kernel="$T/kernel" >/dev/null || fail "release into the default quick repository"
expect_status 3 "quick with a repository of another key" "$SERVER" --quick -s "$TEST_SEC" \
	-l 127.0.0.1:0 kernel="$T/kernel"
expect_err "the quick repository $Q holds channel quick of other keys: version 2 must be signed" \
	"names the repository, the channel and the keys"
expect_err "use --quick-repo DIR for a repository of this key, -c CHANNEL for another channel, or move the channel to this key with bootdrop-publish rotate" \
	"names the ways out"
expect_status 1 "quick with a missing key" "$SERVER" --quick -s "$T/nokey" -l 127.0.0.1:0 kernel="$T/kernel"
expect_status 1 "--quick-repo without --quick" "$SERVER" -r "$T/loop" --quick-repo "$T/loop" -l 127.0.0.1:0
HOME='' XDG_STATE_HOME='' expect_status 1 "no HOME and no XDG_STATE_HOME" "$SERVER" --quick -s "$TEST_SEC" -l 127.0.0.1:0 kernel="$T/kernel"
expect_err "no HOME or XDG_STATE_HOME for the quick repository \(use --quick-repo DIR\)" "says to use --quick-repo"

finish
