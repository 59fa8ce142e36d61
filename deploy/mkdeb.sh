#!/bin/sh
# deploy/mkdeb.sh [OUTDIR] - builds the Debian packages bootdrop-publish,
# bootdrop-server and bootdrop-fetch from this source tree with
# dpkg-buildpackage -us -uc -b (unsigned, binary only) and copies the .deb,
# .changes and .buildinfo files to OUTDIR (default build-deb/).
# The packaging lives in deploy/debian/; the tree is copied to a temporary
# directory, deploy/debian/ becomes its debian/, and debian/changelog is
# written for the version in meson.build.  Check the result with
#   lintian OUTDIR/*.changes
# DEB_BUILD_OPTIONS defaults to "nocheck noddebs parallel=<cores>"; the tests
# are deploy/test.sh.  Needs dpkg-dev, debhelper and the build dependencies
# (deploy/deps.sh --tests installs them).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$top/build-deb}")
version=$(sed -n "s/^ *version : '\([^']*\)',*$/\1/p" "$top/meson.build" | head -n 1)
[ -n "$version" ] || { echo "mkdeb: no version in meson.build" >&2; exit 1; }
# The changelog's date: the last commit's, so a rebuild is reproducible.
when=$(git -C "$top" log -1 --format=%ct 2>/dev/null || date +%s)
date=$(LC_ALL=C date -u -R -d "@$when")

work=$(mktemp -d "${TMPDIR:-/tmp}/bootdrop-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM HUP
src=$work/bootdrop-$version
mkdir -p "$src"
(cd "$top" && tar --exclude=./.git --exclude='./build*' --exclude=./builddir \
	-cf - .) | tar -xf - -C "$src"
rm -rf "$src/debian"
cp -R "$src/deploy/debian" "$src/debian"
# dh_installinit ships it as the conffile /etc/default/bootdrop-server.
cp "$src/deploy/bootdrop-server.default" "$src/debian/bootdrop-server.default"
# ...and, with --name (debian/rules), /etc/default/bootdrop-confirm.
cp "$src/deploy/bootdrop-confirm.default" \
	"$src/debian/bootdrop-fetch.bootdrop-confirm.default"
cat >"$src/debian/changelog" <<CHANGES
bootdrop ($version) unstable; urgency=medium

  * Packaged from the bootdrop source tree by deploy/mkdeb.sh.

 -- bootdrop developers <bootdrop@example.org>  $date
CHANGES

(cd "$src" &&
	DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-"nocheck noddebs parallel=$(nproc)"} \
	dpkg-buildpackage -us -uc -b)
mkdir -p "$out"
cp "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$out/"
ls "$out"/*.deb
