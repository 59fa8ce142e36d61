#!/bin/bash
# The power-loss test (see powerloss.py): an install from version 1 to
# version 2 is recorded write by write and barrier by barrier, and every
# state a disk could hold after a power cut during it is rebuilt and
# checked - old-or-new files, e2fsck, a plain re-run converging - for
# --ext2 on ext2 with 1 KiB and 4 KiB blocks, on ext4 with metadata_csum
# (no journal), a first install into an empty image, and for -d.
#
# POWERLOSS_STATES=N (default 100, 50 for a sanitized client) states per
# scenario; POWERLOSS_ONLY=NAME runs one scenario; POWERLOSS_KEEP=DIR keeps
# the images of failing states.
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"
SHIM=${1:?usage: powerloss.sh SHIM}
need_server
for p in strace mkfs.ext2 mkfs.ext4 e2fsck debugfs dumpe2fs python3; do
	command -v "$p" >/dev/null || { echo "$p not installed"; exit 77; }
done
strace -f -qq -o /dev/null true 2>/dev/null || { echo "ptrace not permitted"; exit 77; }
# A sanitized client needs its runtime loaded before the shim.
asan=$(ldd "$FETCH" | sed -n 's/^\s*libasan[^ ]* => \([^ ]*\).*/\1/p')
PRELOAD=${asan:+$asan:}$SHIM
STATES=${POWERLOSS_STATES:-${asan:+50}}
STATES=${STATES:-100}

# Two small versions ($T/v1, $T/v2): every file differs between them.
two_versions
release() {
	"$PUBLISH" release -r "$T/repo" -c "$CH" -s "$TEST_SEC" \
		kernel="$T/v$1/kernel" world="$T/v$1/world.tgz" \
		$([ "$1" = 1 ] && echo extra="$T/v1/extra.txt") >/dev/null
	version_menu "$1" "$T/v$1/menu.lst"
	version_menu "$1" "$T/v$1/menu-fresh.lst" fresh
}

release 1
start_server "$T/repo"
mkdir -p "$T/base.d" "$T/tmp"
fetch -q -d "$T/base.d" "$url" || { echo "v1 install failed"; exit 1; }
mkfs.ext2 -q -F -b 1024 "$T/ext2-1k.img" 4M >/dev/null
mkfs.ext2 -q -F -b 4096 "$T/ext2-4k.img" 4M >/dev/null
mkfs.ext4 -q -F -b 1024 -O ^has_journal,metadata_csum "$T/ext4.img" 4M >/dev/null
cp "$T/ext2-1k.img" "$T/empty.img"
for i in ext2-1k ext2-4k ext4; do
	fetch -q --ext2 "$T/$i.img" --tmpdir "$T/tmp" "$url" ||
		{ echo "v1 install on $i failed"; exit 1; }
done
release 2

# scenario NAME KIND BASE [--fresh]
scenario() {
	local name=$1 kind=$2 base=$3
	shift 3
	[ -z "${POWERLOSS_ONLY:-}" ] || [ "$POWERLOSS_ONLY" = "$name" ] || return 0
	if python3 "$FETCHDIR/powerloss.py" --kind "$kind" --scenario "$name" \
	    --base "$base" --versions "$T" --work "$T/work.$name" \
	    --fetch "$FETCH" --shim "$PRELOAD" --pubkey "$PUBKEY" --channel "$CH" \
	    --url "$url" --states "$STATES" "$@" 2>"$T/$name.err" >"$T/$name.out"; then
		ok "$(cat "$T/$name.out")"
	else
		fail "$(cat "$T/$name.out")"
		head -c 20000 "$T/$name.err" | sed 's/^/    | /' >&2
	fi
}
scenario ext2-1k ext2 "$T/ext2-1k.img"
scenario ext2-4k ext2 "$T/ext2-4k.img"
scenario ext2-empty ext2 "$T/empty.img" --fresh
scenario ext4-csum ext2 "$T/ext4.img"
scenario dir dir "$T/base.d"
finish
