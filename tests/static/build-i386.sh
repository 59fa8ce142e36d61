#!/bin/sh
# tests/static/build-i386.sh SRCDIR OUTDIR STATIC_TOP WERROR : builds the
# i386 static bootdrop-fetch as a nested meson cross build in OUTDIR, so the
# x86-64 static build's test suite also proves the i386 binary.  Builds
# nothing (and the chroot-i386 test skips) until
# `deploy/static-deps.sh --arch i386` has prepared STATIC_TOP/i386.
set -eu
src=$1 out=$2 top=$3 werror=$4
ini=$top/i386/sysroot.ini
if [ ! -f "$ini" ] || [ ! -f "$top/i386/lib/libcurl.a" ]; then
	echo "no i386 static libraries in $top/i386: run deploy/static-deps.sh --arch i386"
	exit 0
fi
if [ ! -f "$out/build.ninja" ]; then
	meson setup "$out" "$src" --cross-file "$src/cross/i386.ini" \
		--cross-file "$ini" -Dstatic_client=true -Dserver=false \
		-Dstatic_prefix="$top" -Dwerror="$werror" >"$out.setup.log" 2>&1 ||
		{ cat "$out.setup.log"; exit 1; }
fi
meson compile -C "$out" client/bootdrop-fetch
