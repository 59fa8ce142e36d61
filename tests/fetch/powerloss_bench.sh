#!/bin/bash
# The cost of the install's barriers: the time bootdrop-fetch --ext2 takes
# to install a 150 MiB world (and a kernel) into an empty ext2 image,
# median of 5 runs, for each bootdrop-fetch given.  Not a test; run by hand:
#
#   BOOTDROP_SRCDIR=$PWD BOOTDROP_BUILDDIR=$PWD/build \
#   BOOTDROP_TESTLIB=$PWD/tests/lib.sh BOOTDROP_TESTDATA=$PWD/tests/data \
#       bash tests/fetch/powerloss_bench.sh FETCH...
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"
export PATH=$PATH:/sbin:/usr/sbin
RUNS=${RUNS:-5}
mkdir -p "$T/v" "$T/w" "$T/tmp"
make_kernel "$T/v/kernel"
head -c $((150 * 1024 * 1024)) /dev/urandom >"$T/w/big"
tar -C "$T/w" -cf - . | gzip -1 >"$T/v/world.tgz"
"$PUBLISH" release -r "$T/repo" -c "$CH" -s "$TEST_SEC" \
	kernel="$T/v/kernel" world="$T/v/world.tgz" >/dev/null
start_server "$T/repo"
mkfs.ext2 -q -F "$T/empty.img" 400M
# The binaries take turns, so a busy machine slows each alike.
declare -A times
for ((i = 0; i < RUNS; i++)); do
	for f in "$@"; do
		cp --sparse=always "$T/empty.img" "$T/slice.img"
		rm -rf "$T/tmp"; mkdir -p "$T/tmp"
		s=$(date +%s.%N)
		"$f" -q -P "$PUBKEY" -c "$CH" --ext2 "$T/slice.img" --tmpdir "$T/tmp" "$url" ||
			{ echo "$f failed"; exit 1; }
		e=$(date +%s.%N)
		times[$f]="${times[$f]:-} $(echo "$e - $s" | bc)"
	done
done
for f in "$@"; do
	# shellcheck disable=SC2086
	med=$(printf '%s\n' ${times[$f]} | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
	echo "$f: median ${med}s of${times[$f]}"
done
