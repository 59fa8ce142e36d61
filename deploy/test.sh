#!/bin/bash
# deploy/test.sh - the whole test suite, as CI runs it: installs what the
# tests need, builds four flavours (plain; AddressSanitizer +
# UndefinedBehaviorSanitizer; the libFuzzer targets with clang; the static
# bootdrop-fetch), runs their tests, and ends with one line
# "N passed, N failed, N skipped".
#
# What counts as a failure: FAIL, ERROR, TIMEOUT, INTERRUPT and an
# unexpected pass; a build that fails; a flavour whose test log is missing
# or holds fewer tests than the build registered; a static run that did not
# happen (BOOTDROP_SKIP_STATIC=1 included); and, under CI (CI=true), a SKIP
# of any test named in MUST_RUN below.  Every skipped test is named.
set -u
cd "$(dirname "$0")/.." || exit 1
top=$PWD
out=${BOOTDROP_TEST_DIR:-$top/build-test}

# ---- MUST_RUN: tests whose SKIP is a failure in CI ----------------------
# Each is the only proof of something: crash and powerloss (the install
# transaction under SIGKILL and under a power cut), damaged and fuzz_ext2
# (no write into an unsound file system, nor a crash on one), chroot, chroot-i386, oldkernel and
# oldkernel-i386 (the static client alone, amd64 and i386, also on a Linux
# 2.6 kernel), boot (what is installed boots, and falls back), confirm
# (the trial record rewritten in place, --confirm's refusals), html and man
# (what people read).  A listed name that no flavour registers is a
# failure too.
# Each is SUITE/NAME: a test's name alone can be another suite's (the unit
# test "boot" is not the QEMU boot matrix "boot/boot").
MUST_RUN=(fetch/crash fetch/powerloss ext2/damaged fuzz/fuzz_ext2 static/chroot
	static/chroot-i386 static/oldkernel static/oldkernel-i386 boot/boot
	fetch/confirm server/html doc/man)
# --------------------------------------------------------------------------

# Sanitizers exit with their own status, never 1 (the status of a usage
# error, which many tests expect), and never abort (134 would look like a
# crash of the program rather than a report).  tests/lib.sh sets the same
# for a plain `meson test`; a report on a program's stderr fails the check.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}abort_on_error=0:exitcode=86
export UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:print_stacktrace=1:abort_on_error=0:exitcode=86
export LSAN_OPTIONS=${LSAN_OPTIONS:+$LSAN_OPTIONS:}exitcode=86

deploy/deps.sh --tests || { echo "deps failed"; echo "0 passed, 1 failed"; exit 1; }

passed=0 failed=0 skipped=0
results=$out/results.tsv	# flavour <TAB> test <TAB> result, every test registered

# count NAME BUILDDIR SUITE-ARGS... : adds the results of the last meson
# test run in BUILDDIR; every test the build registers for SUITE-ARGS must
# be in the log.
count() {
	local name=$1 dir=$2 line p f s; shift 2
	local log=$dir/meson-logs/testlog.json
	meson test -C "$dir" --no-rebuild --list "$@" 2>/dev/null | grep ' / ' >"$out/$name.list"
	line=$(python3 - "$log" "$name" "$out/$name.list" "$results" <<'PY'
import json, sys
log, flavour, listed, results = sys.argv[1:5]
want = [l.strip() for l in open(listed) if l.strip()]
got = {}
try:
    for line in open(log):
        if line.strip():
            t = json.loads(line)
            got[t["name"]] = t["result"]
except (OSError, ValueError) as e:
    print("%s: no readable test log (%s)" % (flavour, e), file=sys.stderr)
p = f = s = 0
with open(results, "a") as r:
    for name in want:
        res = got.get(name, "MISSING")
        # "bootdrop:fetch / crash" -> "fetch/crash"
        short = name.split(":", 1)[-1].replace(" / ", "/", 1)
        r.write("%s\t%s\t%s\n" % (flavour, short, res))
        if res == "OK":
            p += 1
        elif res in ("SKIP", "EXPECTEDFAIL"):
            s += 1
            print("%s: %s %s" % (flavour, res, name), file=sys.stderr)
        else:   # FAIL ERROR TIMEOUT INTERRUPT UNEXPECTEDPASS MISSING ...
            f += 1
            print("%s: %s %s" % (flavour, res, name), file=sys.stderr)
print(p, f, s)
PY
	) || { echo "=== $name: cannot read the test log"; failed=$((failed + 1)); return; }
	read -r p f s <<<"$line"
	[ -s "$out/$name.list" ] || { echo "=== $name: no tests registered"; f=$((f + 1)); }
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

# run NAME SETUP-ARGS... : configure, build and test one flavour with the
# suite arguments in ${suites[@]}.
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
	local t0=$SECONDS
	meson test -C "$dir" --print-errorlogs --num-processes 2 "${suites[@]}"
	echo "=== $name: tests took $((SECONDS - t0)) s"
	count "$name" "$dir" "${suites[@]}"
}

rm -rf "$out"
mkdir -p "$out"
: >"$results"
# The static suite proves the static binary: it runs in the static flavour.
suites=(--no-suite static)
run plain
run sanitize -Db_sanitize=address,undefined -Db_lundef=false
suites=(--suite fuzz)
CC=clang-14 run fuzz -Dfuzz=true -Db_lundef=false
suites=(--suite static)
if [ "${BOOTDROP_SKIP_STATIC:-}" = 1 ]; then
	echo "=== static: NOT RUN (BOOTDROP_SKIP_STATIC=1): counted as a failure"
	failed=$((failed + 1))
elif deploy/static-deps.sh >"$out/static-deps.log" 2>&1; then
	run static -Dstatic_client=true
else
	tail -30 "$out/static-deps.log"; echo "=== static: deps FAILED"
	failed=$((failed + 1))
fi

# The must-run tests: each must have run somewhere; a SKIP anywhere is a
# failure under CI, a loud warning otherwise.
echo
for t in "${MUST_RUN[@]}"; do
	rows=$(awk -F '\t' -v t="$t" '$2 == t' "$results")
	if [ -z "$rows" ]; then
		echo "must-run $t: not registered in any flavour: counted as a failure"
		failed=$((failed + 1))
		continue
	fi
	while IFS=$'\t' read -r flavour _ res; do
		[ "$res" = SKIP ] || continue
		if [ "${CI:-}" = true ]; then
			echo "must-run $t: SKIP in $flavour: counted as a failure (CI=true)"
			failed=$((failed + 1))
		else
			echo "must-run $t: SKIP in $flavour (a failure under CI=true)"
		fi
	done <<<"$rows"
done
if [ "$skipped" -gt 0 ]; then
	echo "skipped: $(awk -F '\t' '$3 == "SKIP" || $3 == "EXPECTEDFAIL" { printf "%s%s/%s", sep, $1, $2; sep = ", " }' "$results")"
fi

echo
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
