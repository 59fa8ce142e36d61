#!/bin/sh
# deploy/deps.sh - installs what bootdrop needs to build, test and run its
# demo on Debian 12, and nothing when everything is already there.
# usage: deploy/deps.sh [--demo | --tests]
#   --demo   adds what deploy/demo.sh runs besides the build (minisign)
#   --tests  adds the peers and tools the test suite drives
set -eu

build="meson ninja-build pkg-config gcc libsodium-dev libjansson-dev
libmicrohttpd-dev libcurl4-openssl-dev libssl-dev libext2fs-dev e2fsprogs
zlib1g-dev liblzma-dev libzstd-dev
python3 curl ca-certificates"
tests="clang-14 libclang-rt-14-dev minisign wget aria2 nginx-light wrk
slowhttptest hyperfine chromium openssl time rsync dpkg-dev debhelper strace
lintian mandoc groff jq file
qemu-system-x86 grub-pc-bin grub-common ovmf systemd-boot-efi busybox-static
mtools dosfstools cpio"
demo="minisign"

want=$build
case ${1:-} in
--demo) want="$build $demo" ;;
--tests) want="$build $tests" ;;
esac

missing=
for p in $want; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing" >&2
SUDO=
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
