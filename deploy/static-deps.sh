#!/bin/sh
# deploy/static-deps.sh - prepares what a fully static bootdrop-fetch links
# against, on Debian 12:
#
#   - Debian's static archives of OpenSSL, libsodium, jansson, c-ares, zlib
#     and e2fsprogs' libext2fs (apt, for the target architecture);
#   - a minimal libcurl built from Debian's own curl source package
#     (`apt-get source curl`): HTTP and HTTPS only, OpenSSL, c-ares, zlib,
#     no GSSAPI/IDN/PSL/HTTP2, OpenSSL config auto-loading disabled.
#     Debian's libcurl.a cannot be linked statically: it needs GSSAPI,
#     LDAP, nghttp2, ... and some of those ship no .a.
#
# Afterwards `meson setup DIR -Dstatic_client=true` finds the libcurl at
# the prefix printed on the last line (the default of meson's
# static_prefix option) and takes its flags from the libcurl.pc installed
# there, refusing one whose protocols are not exactly HTTP and HTTPS.  doc/static.md explains the choices.
#
# usage: deploy/static-deps.sh [--arch amd64|i386|all] [--openssl debian|minimal]
#   --arch  target architecture (default: all = amd64, then i386).  i386
#           unpacks the :i386 -dev packages into a sysroot, installs
#           gcc-multilib and writes <prefix>/i386/sysroot.ini; build with
#           `--cross-file cross/i386.ini --cross-file <prefix>/i386/sysroot.ini`.
#   --openssl debian (default): link Debian's libssl.a/libcrypto.a.
#           minimal: also build OpenSSL from Debian's source package with
#           only what TLS to a repository needs (about 1.5 MiB smaller,
#           but updated only by rerunning this script); installed next to
#           libcurl, and picked up when meson is run with
#           PKG_CONFIG_PATH=<prefix>/<arch>/lib/pkgconfig (amd64) or via
#           sysroot.ini (i386).  See doc/static.md.
# Environment: BOOTDROP_STATIC_PREFIX (default
#   ${XDG_CACHE_HOME:-$HOME/.cache}/bootdrop/static) - the tree holding
#   src/ (curl sources, kept) and <arch>/ (the installed libcurl).
# Idempotent: packages already present are not reinstalled and a libcurl
# already built for the same curl version is kept.
set -eu

arch=all
openssl=debian
while [ $# -gt 0 ]; do
	case $1 in
	--arch) [ $# -ge 2 ] || { echo "usage: $0 [--arch amd64|i386|all] [--openssl debian|minimal]" >&2; exit 1; }
		arch=$2; shift 2 ;;
	--arch=*) arch=${1#--arch=}; shift ;;
	--openssl) [ $# -ge 2 ] || { echo "usage: $0 [--arch amd64|i386|all] [--openssl debian|minimal]" >&2; exit 1; }
		openssl=$2; shift 2 ;;
	--openssl=*) openssl=${1#--openssl=}; shift ;;
	*) echo "usage: $0 [--arch amd64|i386|all] [--openssl debian|minimal]" >&2; exit 1 ;;
	esac
done
case $arch in
all)	"$0" --arch amd64 --openssl "$openssl" || exit 1
	exec "$0" --arch i386 --openssl "$openssl" ;;
amd64) triplet=x86_64-linux-gnu; cflags_arch=; time64= ;;
i386) triplet=i386-linux-gnu; cflags_arch=-m32 # same 64-bit times as cross/i386.ini
	time64="-D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64" ;;
*) echo "static-deps: unsupported arch '$arch' (amd64 or i386)" >&2; exit 1 ;;
esac
case $openssl in
debian|minimal) ;;
*) echo "static-deps: --openssl debian or minimal, not '$openssl'" >&2; exit 1 ;;
esac

top=${BOOTDROP_STATIC_PREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/bootdrop/static}
prefix=$top/$arch

SUDO=
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

installed() {
	dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed'
}

# ensure_deb_src : adds deb-src lines mirroring the deb ones, in a file of
# our own, when no source index is configured.
ensure_deb_src() {
	if grep -Eqs '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list \
	    /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; then
		return 1
	fi
	tmp=$(mktemp)
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		sed 's/^Types:.*/Types: deb-src/' "$f" >>"$tmp"
		echo >>"$tmp"
	done
	if [ -s "$tmp" ]; then
		$SUDO install -m 644 "$tmp" /etc/apt/sources.list.d/bootdrop-deb-src.sources
	else
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
			[ -f "$f" ] && sed -n 's/^deb /deb-src /p' "$f"
		done >"$tmp"
		[ -s "$tmp" ] || { echo "static-deps: no apt sources found" >&2; exit 1; }
		$SUDO install -m 644 "$tmp" /etc/apt/sources.list.d/bootdrop-deb-src.list
	fi
	rm -f "$tmp"
	echo "static-deps: added deb-src entries" >&2
	return 0
}

need_update=0
ensure_deb_src && need_update=1

# amd64 links this system's own -dev packages.  i386 gets gcc-multilib (the
# 32-bit libc.a) from the system, and its other static libraries from the
# :i386 -dev packages unpacked into a private sysroot: installing them
# system-wide would tie every amd64 library to the exact same version.
pkgs="gcc make dpkg-dev pkg-config meson ninja-build file"
devs="libssl-dev libsodium-dev libjansson-dev libc-ares-dev zlib1g-dev
libext2fs-dev comerr-dev libzstd-dev"
if [ "$arch" = "$(dpkg --print-architecture)" ]; then
	pkgs="$pkgs $devs"
else
	pkgs="$pkgs gcc-multilib"
	if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
		$SUDO dpkg --add-architecture "$arch"
		need_update=1
	fi
fi
missing=
for p in $pkgs; do
	installed "$p" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "static-deps: installing$missing" >&2
	need_update=1
fi
# A stale mirror index for one suite should not stop the build.
[ "$need_update" = 1 ] && { $SUDO apt-get update -qq || echo "static-deps: apt-get update had errors" >&2; }
# shellcheck disable=SC2086
[ -n "$missing" ] && $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null

# Some VM kernels lack 32-bit support; tests/static then runs the i386
# binary under qemu-i386-static.
if [ "$arch" = i386 ] && ! installed qemu-user-static; then
	probe=$(mktemp -d)
	printf 'int main(void) { return 0; }\n' >"$probe/p.c"
	if gcc -m32 -static -o "$probe/p" "$probe/p.c" && ! "$probe/p" 2>/dev/null; then
		echo "static-deps: this kernel cannot run i386 binaries; installing qemu-user-static" >&2
		$SUDO apt-get install -y -qq --no-install-recommends qemu-user-static >/dev/null
	fi
	rm -rf "$probe"
fi

sysroot=
cppflags=
ldflags=
pcdir=/usr/lib/$triplet/pkgconfig:/usr/share/pkgconfig
if [ "$arch" != "$(dpkg --print-architecture)" ]; then
	sysroot=$top/$arch/sysroot
	want=
	for p in $devs; do want="$want $p:$arch"; done
	# shellcheck disable=SC2086
	vers="$(apt-cache policy $want | awk '/^[^ ]/ {p=$1} /Candidate:/ {print p "=" $2}' | sort | tr '\n' ' ')pc-abs"
	if [ "$(cat "$sysroot/.stamp" 2>/dev/null)" != "$vers" ]; then
		rm -rf "$sysroot" "$top/$arch/debs"
		mkdir -p "$top/$arch/debs" "$sysroot"
		# shellcheck disable=SC2086
		(cd "$top/$arch/debs" && apt-get download -qq $want)
		for d in "$top/$arch/debs"/*.deb; do dpkg-deb -x "$d" "$sysroot"; done
		# Absolute paths in the .pc files instead of PKG_CONFIG_SYSROOT_DIR,
		# which would also rewrite the paths of a minimal OpenSSL.
		sed -i "s|=/usr/|=$sysroot/usr/|; s|=/usr\$|=$sysroot/usr|" \
			"$sysroot"/usr/lib/"$triplet"/pkgconfig/*.pc
		echo "$vers" >"$sysroot/.stamp"
	fi
	cppflags="-isystem $sysroot/usr/include/$triplet -isystem $sysroot/usr/include"
	ldflags="-L$sysroot/usr/lib/$triplet"
	pcdir=$sysroot/usr/lib/$triplet/pkgconfig:$sysroot/usr/share/pkgconfig
	ossl_pc=
	[ "$openssl" = minimal ] && ossl_pc="'$prefix/lib/pkgconfig', "
	# The machine-specific half of the meson cross file (cross/$arch.ini
	# holds the rest): where the sysroot is.
	cat >"$top/$arch/sysroot.ini" <<EOF2
# Written by deploy/static-deps.sh; use with cross/$arch.ini.
[properties]
pkg_config_libdir = [$ossl_pc'$sysroot/usr/lib/$triplet/pkgconfig', '$sysroot/usr/share/pkgconfig']

[built-in options]
c_args = ['-isystem', '$sysroot/usr/include/$triplet', '-isystem', '$sysroot/usr/include']
c_link_args = ['-L$sysroot/usr/lib/$triplet']
EOF2
fi

# debian_source PKG : prints the unpacked Debian source tree of PKG (the
# version Debian ships, with its patches), fetching it once.  When the
# newest version's source is missing from a mirror, the release's own is
# used.
debian_source() {
	d=$(find "$top/src" -maxdepth 1 -type d -name "$1-*" | sort | tail -1)
	if [ -z "$d" ]; then
		(cd "$top/src" && { apt-get source -qq "$1" >/dev/null 2>&1 ||
			apt-get source -qq "$1/$(. /etc/os-release && echo "$VERSION_CODENAME")" >/dev/null; })
		d=$(find "$top/src" -maxdepth 1 -type d -name "$1-*" | sort | tail -1)
		[ -n "$d" ] || { echo "static-deps: apt-get source $1 failed" >&2; exit 1; }
	fi
	echo "$d"
}
mkdir -p "$top/src"
srcdir=$(debian_source curl)
osrc=
[ "$openssl" = minimal ] && osrc=$(debian_source openssl)
stamp="$(basename "$srcdir") $arch minimal-5 openssl=$openssl${osrc:+ $(basename "$osrc")} $(cat "$top/$arch/sysroot/.stamp" 2>/dev/null || :)"

if [ -f "$prefix/lib/libcurl.a" ] && [ "$(cat "$prefix/.stamp" 2>/dev/null)" = "$stamp" ]; then
	echo "static-deps: libcurl already built ($stamp)" >&2
	echo "$prefix"
	exit 0
fi

build=$top/build-$arch
rm -rf "${build:?}" "${prefix:?}/lib" "${prefix:?}/include"
mkdir -p "$build"
cd "$build"
if [ "$openssl" = minimal ]; then
	# Only TLS 1.2/1.3 to a web server: no legacy ciphers or digests, no
	# engines, no loadable modules, no DTLS, no CMS/OCSP/TS/CT.  Built out
	# of tree, so one source serves both architectures.
	case $arch in amd64) otarget=linux-x86_64 ;; i386) otarget=linux-x86 ;; esac
	mkdir -p "$build/openssl"
	echo "static-deps: building a minimal OpenSSL from $osrc for $arch" >&2
	(cd "$build/openssl" && CC="gcc${cflags_arch:+ $cflags_arch}" \
	"$osrc/Configure" "$otarget" --prefix="$prefix" --libdir=lib \
		--openssldir=/usr/lib/ssl no-shared no-tests no-legacy no-engine \
		no-dso no-module no-comp no-ssl3 no-dtls no-srp no-gost no-idea \
		no-camellia no-seed no-bf no-cast no-des no-rc2 no-rc4 no-rc5 \
		no-md4 no-mdc2 no-whirlpool no-rmd160 no-sm2 no-sm3 no-sm4 \
		no-siphash no-cms no-ts no-ct no-ocsp no-srtp no-sctp no-aria \
		no-async no-dsa no-scrypt no-ec2m no-dgram no-nextprotoneg \
		no-rfc3779 no-ssl-trace no-autoload-config no-ui-console \
		no-uplink no-padlockeng no-afalgeng no-devcryptoeng no-capieng \
		no-fips $time64 -Os -ffunction-sections -fdata-sections \
		>configure.log 2>&1 &&
	make -s -j"$(nproc)" build_libs >make.log 2>&1 &&
	make -s install_dev >install.log 2>&1) ||
		{ tail -40 "$build"/openssl/*.log >&2; exit 1; }
	pcdir=$prefix/lib/pkgconfig:$pcdir
	# A cross configure of curl ignores pkg-config: name the headers and
	# libraries first-hand, ahead of the sysroot's Debian OpenSSL.
	cppflags="-I$prefix/include $cppflags"
	ldflags="-L$prefix/lib $ldflags"
fi
echo "static-deps: building libcurl from $srcdir for $arch" >&2
# -ffunction-sections/-fdata-sections let the final link drop what
# bootdrop-fetch never calls (--gc-sections).
CC="gcc${cflags_arch:+ $cflags_arch}" CFLAGS="-Os -ffunction-sections -fdata-sections" \
CPPFLAGS="$time64 $cppflags" LDFLAGS="$ldflags" \
PKG_CONFIG_LIBDIR=$pcdir \
"$srcdir/configure" -q --prefix="$prefix" --libdir="$prefix/lib" \
	--host="$triplet" --build="$(gcc -dumpmachine)" \
	--disable-shared --enable-static --disable-dependency-tracking \
	--with-openssl --enable-ares --with-zlib \
	--disable-openssl-auto-load-config \
	--with-ca-bundle=/etc/ssl/certs/ca-certificates.crt \
	--with-ca-path=/etc/ssl/certs \
	--enable-http --disable-ftp --disable-file --disable-ldap --disable-ldaps \
	--disable-rtsp --disable-dict --disable-telnet --disable-tftp \
	--disable-pop3 --disable-imap --disable-smb --disable-smtp \
	--disable-gopher --disable-mqtt --disable-manual --disable-docs \
	--disable-ntlm --disable-ntlm-wb --disable-kerberos-auth \
	--disable-negotiate-auth --disable-aws --disable-doh --disable-netrc \
	--disable-alt-svc --disable-cookies --disable-mime --disable-form-api \
	--disable-unix-sockets --disable-socketpair --disable-dateparse \
	--disable-headers-api --disable-websockets --disable-ipfs \
	--without-gssapi --without-libpsl --without-brotli --without-zstd \
	--without-libidn2 --without-nghttp2 --without-nghttp3 --without-ngtcp2 \
	--without-librtmp --without-libssh2 --without-libssh --without-libgsasl \
	--without-hyper --without-quiche --without-msh3 \
	>/dev/null 2>configure.err || { cat configure.err config.log >&2 2>/dev/null | tail -40; exit 1; }
make -s -j"$(nproc)" -C lib >/dev/null
make -s -C lib install >/dev/null
make -s -C include install >/dev/null
install -m 644 libcurl.pc "$prefix/lib/pkgconfig/libcurl.pc" 2>/dev/null ||
	{ mkdir -p "$prefix/lib/pkgconfig"; install -m 644 libcurl.pc "$prefix/lib/pkgconfig/"; }
echo "$stamp" >"$prefix/.stamp"
echo "static-deps: libcurl installed in $prefix ($(du -k "$prefix/lib/libcurl.a" | cut -f1) KiB)" >&2
echo "$prefix"
