#!/bin/bash
# tests/static/runfetch.sh SCRIPT BINARY : runs one tests/fetch script with
# BOOTDROP_FETCH=BINARY, after checking that BINARY is there and statically
# linked (registered only in a -Dstatic_client=true build, where either is
# a failure, never a skip).
. "$BOOTDROP_TESTLIB"
script=${1:?usage: runfetch.sh SCRIPT BINARY} BIN=${2:?usage: runfetch.sh SCRIPT BINARY}
if [ ! -x "$BIN" ]; then
	echo "FAIL: no static binary at $BIN (for i386: deploy/static-deps.sh --arch i386)" >&2
	exit 1
fi
if ! file -b "$BIN" | grep -q 'statically linked'; then
	echo "FAIL: $BIN is not statically linked: $(file -b "$BIN")" >&2
	exit 1
fi
echo "bootdrop-fetch under test: $BIN ($(file -b "$BIN" | cut -d, -f1-2))"
export BOOTDROP_FETCH=$BIN
bash "$script"
