#!/bin/bash
# deploy/demo.sh - the main job end to end on embedded defaults:
# installs what is missing, builds, makes a key, builds a sample i386 Xen
# kernel and a world tarball, publishes them, shows what was signed and
# checks it with minisign, serves the repository, fetches it as a guest
# would (verify everything, then install) into a fresh boot directory, and
# shows the result; then the same for a Linux guest: a bzImage (a stock
# Debian kernel when tests/real-kernel.sh has cached one, else a small
# generated one) and an initrd, installed with GRUB 2 and systemd-boot
# entries.  Everything happens in a temporary directory on 127.0.0.1;
# nothing outside it is touched.
set -eu
cd "$(dirname "$0")/.."
top=$PWD
build=${BOOTDROP_BUILD:-$top/build}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

deploy/deps.sh --demo
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
meson compile -C "$build" >/dev/null

PUBLISH=$build/server/bootdrop-publish
SERVER=$build/server/bootdrop-server
FETCH=$build/client/bootdrop-fetch
W=$(mktemp -d "${TMPDIR:-/tmp}/bootdrop-demo.XXXXXX")
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
cd "$W"

step "1. A publisher key (minisign-compatible; unencrypted for the demo)"
"$PUBLISH" keygen -W -p demo.pub -s demo.key
echo "\$ cat demo.pub"; cat demo.pub

step "2. A sample FreeBSD-style i386 kernel carrying Xen PV guest information, and a world tarball"
"$build/tests/mkkernel" i386 kernel 2048
mkdir -p world/etc world/bin
echo 'hostname="demo"' > world/etc/rc.conf
head -c 4194304 /dev/urandom > world/bin/sample
tar -C world -czf xenworld.tar.gz .
ls -l kernel xenworld.tar.gz

step "3. Publish them into a repository of static files"
"$PUBLISH" release -r repo -c freebsd-9.0-i386 -s demo.key -e 30d \
	kernel=kernel world=xenworld.tar.gz
(cd repo && find . -type f | sort)

step "4. What was signed"
"$PUBLISH" show -r repo -c freebsd-9.0-i386

step "5. Check the signature with the real minisign tool"
python3 - repo/channels/freebsd-9.0-i386/manifest.json <<'PY'
import base64, json, sys
env = json.load(open(sys.argv[1]))
open("payload.json", "wb").write(base64.b64decode(env["payload"]))
open("payload.json.minisig", "w").write(env["signatures"][0]["minisig"])
PY
echo "\$ minisign -Vm payload.json -p demo.pub"
minisign -Vm payload.json -p demo.pub
"$PUBLISH" verify -r repo -c freebsd-9.0-i386 -p demo.pub

if [ ! -x "$SERVER" ] || [ ! -x "$FETCH" ]; then
	echo; echo "(server or fetch client not built; the demo stops here)"
	exit 0
fi

step "6. Serve the repository (bootdrop-server on 127.0.0.1, a free port)"
"$SERVER" -r repo -l 127.0.0.1:0 --access-log server.log >server.out 2>server.err &
server_pid=$!
for _ in $(seq 100); do grep -q '^listening on' server.out 2>/dev/null && break; sleep 0.05; done
url=$(sed -n 's/^listening on \(http[^ ]*\).*/\1/p' server.out | head -n 1)
[ -n "$url" ] || { cat server.err; exit 1; }
echo "listening on $url"

step "7. The guest: verify everything first, then install into a fresh boot directory"
pub=$(tail -n 1 demo.pub)
mkdir boot
echo "\$ bootdrop-fetch -P $pub -c freebsd-9.0-i386 -d boot $url"
"$FETCH" -P "$pub" -c freebsd-9.0-i386 -d boot "$url"

step "8. The boot slice now holds"
(cd boot && find . -type f | sort | xargs ls -l)
echo "\$ cat boot/boot/grub/menu.lst"; cat boot/boot/grub/menu.lst
cmp kernel boot/boot/kernel && echo "boot/kernel is byte-for-byte the published kernel"

step "9. Run again: already current, nothing downloaded"
"$FETCH" -P "$pub" -c freebsd-9.0-i386 -d boot "$url"

step "10. The same into an unmounted ext2 boot slice (an image file, no mount, as nobody)"
mkfs.ext2 -q -F boot.img 32M >/dev/null
mkdir fetch-tmp
run_as=()
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	chmod 711 "$W"
	chown nobody boot.img fetch-tmp
	run_as=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi
echo "\$ bootdrop-fetch -P $pub -c freebsd-9.0-i386 --ext2 boot.img --pvgrub i386 $url"
"${run_as[@]}" "$FETCH" -P "$pub" -c freebsd-9.0-i386 --ext2 boot.img --pvgrub i386 \
	--tmpdir fetch-tmp "$url"
echo "\$ e2fsck -fn boot.img"
e2fsck -fn boot.img
debugfs -R 'cat /boot/kernel' boot.img 2>/dev/null | cmp - kernel &&
	echo "debugfs: /boot/kernel in the image is byte-for-byte the published kernel"

step "11. What the server logged"
cat server.log

step "12. A Linux guest: a bzImage and an initrd, with GRUB 2 and systemd-boot entries"
real=${XDG_CACHE_HOME:-$HOME/.cache}/bootdrop/vmlinuz
if [ -r "$real" ]; then
	cp "$real" vmlinuz
	echo "a stock Debian kernel (cached by tests/real-kernel.sh)"
else
	"$build/tests/mkkernel" bzimage xz efi,xen,pvh vmlinuz 2048
	echo "a generated bzImage (tests/real-kernel.sh caches a stock Debian kernel)"
fi
# a small initramfs: a gzip-compressed newc cpio archive holding /init
python3 - <<'PY'
import gzip
def entry(name, data, mode):
    name = name.encode() + b"\0"
    hdr = "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X" % (
        0, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name), 0)
    out = hdr.encode() + name
    out += b"\0" * (-len(out) % 4) + data
    return out + b"\0" * (-len(out) % 4)
body = entry("init", b"#!/bin/sh\necho bootdrop demo initramfs\nexec /bin/sh\n", 0o100755)
body += entry("TRAILER!!!", b"", 0)
open("initrd.img", "wb").write(gzip.compress(body))
PY
echo "\$ bootdrop-publish release -r repo -c debian-12 -s demo.key --loader grub --loader bls \\"
echo "      --title 'Debian 12' --cmdline 'root=/dev/vda2 ro console=ttyS0' kernel=vmlinuz initrd=initrd.img"
"$PUBLISH" release -r repo -c debian-12 -s demo.key --loader grub --loader bls \
	--title "Debian 12" --cmdline "root=/dev/vda2 ro console=ttyS0" \
	kernel=vmlinuz initrd=initrd.img
"$PUBLISH" show -r repo -c debian-12 | sed -n '/^artifact  kernel/,/^  image/p'
mkdir linux-boot
"$FETCH" -P "$pub" -c debian-12 -d linux-boot "$url"
echo "\$ cat linux-boot/boot/grub/grub.cfg"; cat linux-boot/boot/grub/grub.cfg
echo "\$ cat linux-boot/loader/entries/bootdrop-debian-12-1.conf"
cat linux-boot/loader/entries/bootdrop-debian-12-1.conf
if command -v grub-script-check >/dev/null; then
	grub-script-check linux-boot/boot/grub/grub.cfg && echo "grub-script-check: the grub.cfg parses"
fi

step "13. The next version lists itself first and the previous one second"
"$PUBLISH" refresh -r repo -c debian-12 -s demo.key --cmdline "root=/dev/vda2 ro quiet"
"$FETCH" -P "$pub" -c debian-12 -d linux-boot "$url"
echo "\$ cat linux-boot/boot/grub/grub.cfg"; cat linux-boot/boot/grub/grub.cfg
ls linux-boot/loader/entries

step "14. A mirror that serves tampered bytes is refused, and nothing is installed"
cp -a repo evil-repo
h=$(sha256sum kernel | cut -d' ' -f1)
printf 'X' | dd of="evil-repo/blobs/sha256/$h" bs=1 seek=4096 conv=notrunc status=none
"$SERVER" -r evil-repo -l 127.0.0.1:0 >evil.out 2>/dev/null &
evil_pid=$!
for _ in $(seq 100); do grep -q '^listening on' evil.out 2>/dev/null && break; sleep 0.05; done
evil_url=$(sed -n 's/^listening on \(http[^ ]*\).*/\1/p' evil.out | head -n 1)
mkdir boot2
set +e
"$FETCH" -P "$pub" -c freebsd-9.0-i386 -d boot2 "$evil_url"
status=$?
set -e
kill "$evil_pid"; wait "$evil_pid" 2>/dev/null || true
echo "exit status $status (3 = verification refused); boot2 holds: $(find boot2 -type f | wc -l) files"
