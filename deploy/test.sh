#!/bin/bash
# deploy/test.sh - the whole test suite, as CI runs it: installs what the
# tests need, builds twice (plain, and with AddressSanitizer +
# UndefinedBehaviorSanitizer), runs every test in both, runs the libFuzzer
# target for a bounded time, and ends with one line "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 1
top=$PWD
out=${BOOTDROP_TEST_DIR:-$top/build-test}

deploy/deps.sh --tests || { echo "deps failed"; echo "0 passed, 1 failed"; exit 1; }
[ -x deploy/static-deps.sh ] && [ "${BOOTDROP_SKIP_STATIC:-}" != 1 ] && have_static=1 || have_static=0

passed=0 failed=0 skipped=0

# count BUILDDIR : adds the results of the last meson test run there.
count() {
	local log=$1/meson-logs/testlog.json p f s
	if [ ! -s "$log" ]; then failed=$((failed + 1)); return; fi
	p=$(grep -c '"result": "OK"' "$log")
	f=$(grep -c -E '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log")
	s=$(grep -c -E '"result": "(SKIP|EXPECTEDFAIL)"' "$log")
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

# run NAME SETUP-ARGS... : configure, build and test one flavour.
run() {
	local name=$1; shift
	local dir=$out/$name
	echo "=== $name: meson setup $*"
	rm -rf "$dir"
	if ! meson setup "$dir" -Dwerror=true "$@" >"$out/$name.setup.log" 2>&1 ||
	   ! meson compile -C "$dir" >"$out/$name.build.log" 2>&1; then
		cat "$out/$name.setup.log" "$out/$name.build.log" 2>/dev/null | tail -40
		echo "=== $name: build FAILED"
		failed=$((failed + 1))
		return
	fi
	meson test -C "$dir" --print-errorlogs --num-processes 2 "${suites[@]}"
	count "$dir"
}

mkdir -p "$out"
suites=()
run plain
# Undefined behaviour stops the program, so a test sees it in any of them.
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	run sanitize -Db_sanitize=address,undefined -Db_lundef=false
suites=(--suite fuzz)
CC=clang-14 run fuzz -Dfuzz=true -Db_lundef=false
suites=(--suite static)
if [ "$have_static" = 1 ]; then
	if deploy/static-deps.sh >"$out/static-deps.log" 2>&1; then
		run static -Dstatic_client=true
	else
		tail -30 "$out/static-deps.log"; echo "=== static: deps FAILED"
		failed=$((failed + 1))
	fi
fi

echo
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
