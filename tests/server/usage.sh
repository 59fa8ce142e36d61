#!/bin/bash
# bootdrop-server's command line: --help names every option, exit status 1
# for usage and unreadable repositories, 2 when the address cannot be
# bound, 0 after SIGTERM, and the listening line with the real port.
. "$BOOTDROP_TESTLIB"
. "$(dirname "$0")/serverlib.sh"

expect_status 0 "--help" "$SERVER" --help
for opt in --repo --listen --public-url --pubkey --pubkey-file --access-log \
	--log-format --max-connections --max-pending --max-per-ip --header-timeout \
	--timeout --max-request-bytes \
	--threads --thread-per-connection --shutdown-timeout --quick --seckey \
	--passphrase-file --channel --expires --exit-after --help --version; do
	grep -q -- "$opt" "$T/last.out" || fail "--help does not mention $opt"
done
ok "--help lists every option"
expect_status 0 "--version" "$SERVER" --version

expect_status 1 "no arguments" "$SERVER"
expect_status 1 "unknown option" "$SERVER" --bogus -r "$T"
expect_status 1 "stray argument" "$SERVER" -r "$T" extra
expect_status 1 "bad --max-connections" "$SERVER" -r "$T" --max-connections 12x
expect_status 1 "negative --timeout" "$SERVER" -r "$T" --timeout -1
expect_status 1 "zero --header-timeout" "$SERVER" -r "$T" --header-timeout 0
expect_status 1 "bad --max-pending" "$SERVER" -r "$T" --max-pending none
expect_status 1 "bad --log-format" "$SERVER" -r "$T" --log-format xml
expect_status 1 "bad --public-url" "$SERVER" -r "$T" --public-url 'javascript:alert(1)'
expect_status 1 "bad -P key" "$SERVER" -r "$T" -P notakey
expect_status 1 "bad -l" "$SERVER" -r "$T" -l nowhere
expect_status 1 "-s without --quick" "$SERVER" -r "$T" -s "$TEST_SEC"
expect_status 1 "missing repository" "$SERVER" -r "$T/missing" -l 127.0.0.1:0
touch "$T/file"
expect_status 1 "repository is a file" "$SERVER" -r "$T/file" -l 127.0.0.1:0

REPO=$T/repo
make_repo "$REPO" main 1
start_server one -r "$REPO" -l 127.0.0.1:0
[ "$PORT" -gt 0 ] && ok "port 0 shows the real port ($PORT)" || fail "port $PORT"
expect_eq "$(http_code "${URL}channels/main/manifest.json")" 200 "serves on the printed URL"
expect_status 2 "address in use: exit 2" "$SERVER" -r "$REPO" -l "127.0.0.1:$PORT"
expect_err "Address already in use" "bind failure says why"
stop_server
expect_eq "$STOP_STATUS" 0 "SIGTERM: exit 0"
grep -q 'stopping' "$T/one.err" && ok "stop is reported on stderr" || fail "no stop message"

# IPv6 loopback, when the host has it
if ip -6 addr show dev lo 2>/dev/null | grep -q "::1/128"; then
	start_server six -r "$REPO" -l "[::1]:0"
	case $URL in http://\[::1\]:*/) ok "IPv6 listening line $URL" ;; *) fail "IPv6 URL $URL" ;; esac
	expect_eq "$(http_code "${URL}channels/main/manifest.json" -g)" 200 "serves over IPv6"
	stop_server
fi

# A response in flight when SIGTERM arrives is finished, then exit 0.
make_world "$T/big.tgz" 16
"$PUBLISH" release -r "$REPO" -c big -s "$TEST_SEC" kernel="$T/kernel" world="$T/big.tgz" >/dev/null
BSHA=$(sha256sum "$T/big.tgz" | cut -c1-64)
start_server two -r "$REPO" -l 127.0.0.1:0
curl -s --limit-rate 4M -o "$T/big.got" "${URL}blobs/sha256/$BSHA" &
cpid=$!
until [ -s "$T/big.got" ]; do sleep 0.02; done
stop_server
wait "$cpid"
expect_eq "$?" 0 "download in flight at SIGTERM completes"
expect_eq "$(sha256sum <"$T/big.got" | cut -c1-64)" "$BSHA" "its bytes are whole"
expect_eq "$STOP_STATUS" 0 "then exit 0"

finish
