#!/bin/bash
# deploy/deps.sh asks apt-get for the packages of its set only: the demo's
# set is the build's plus minisign (no browser, compiler or test peers),
# the tests' set adds the packaging tools.  dpkg-query and apt-get are
# stand-ins that report nothing installed and record the request.
. "$BOOTDROP_TESTLIB"
mkdir -p "$T/bin"
printf '#!/bin/sh\nexit 1\n' >"$T/bin/dpkg-query"
printf '#!/bin/sh\necho "$*" >>"%s"\n' "$T/apt.log" >"$T/bin/apt-get"
printf '#!/bin/sh\nexec "$@"\n' >"$T/bin/sudo"
chmod +x "$T/bin/"*

# wants SET : the packages deploy/deps.sh SET would install, one a line.
wants() {
	: >"$T/apt.log"
	PATH=$T/bin:$PATH sh "$BOOTDROP_SRCDIR/deploy/deps.sh" $1 2>/dev/null
	grep '^install ' "$T/apt.log" | tr ' ' '\n' | grep -v '^-' | grep -vx install | sort
}
wants "" >"$T/build"
wants --demo >"$T/demo"
wants --tests >"$T/tests"
[ "$(comm -13 "$T/build" "$T/demo")" = minisign ] && ok "--demo adds only minisign to the build's set" ||
	fail "--demo adds: $(comm -13 "$T/build" "$T/demo" | tr '\n' ' ')"
for p in chromium clang-14 nginx-light wrk; do
	grep -qx "$p" "$T/demo" && fail "--demo installs $p" || ok "--demo does not install $p"
done
for p in dpkg-dev debhelper lintian rsync nginx-light minisign jq strace file; do
	grep -qx "$p" "$T/tests" && ok "--tests installs $p" || fail "--tests lacks $p"
done
grep -q 'deploy/deps.sh --demo' "$BOOTDROP_SRCDIR/deploy/demo.sh" && ok "demo.sh asks for --demo" ||
	fail "demo.sh does not use --demo"

finish
