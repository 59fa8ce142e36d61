#!/bin/sh
# tests/real-kernel.sh - caches a stock Debian kernel for the tests that
# read one when it is there (tests/unit/test_image.c, tests/publish/linux.sh,
# deploy/demo.sh): the newest linux-image-6.1.0-*-amd64 from the Debian
# archive, unpacked with dpkg -x, its vmlinuz copied to
# ${XDG_CACHE_HOME:-$HOME/.cache}/bootdrop/vmlinuz.  Never inside the
# repository; without it those tests skip.  Needs apt-get and network
# access to a Debian mirror.
set -eu
cache=${XDG_CACHE_HOME:-$HOME/.cache}/bootdrop
[ -r "$cache/vmlinuz" ] && { echo "$cache/vmlinuz"; exit 0; }
pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' |
	cut -d' ' -f1 | sort -V | tail -n 1)
[ -n "$pkg" ] || { echo "no linux-image-6.1.0-*-amd64 known to apt" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download "$pkg" >/dev/null && dpkg -x ./*.deb x)
mkdir -p "$cache"
cp "$work"/x/boot/vmlinuz-* "$cache/vmlinuz.tmp"
mv "$cache/vmlinuz.tmp" "$cache/vmlinuz"
echo "$cache/vmlinuz"
