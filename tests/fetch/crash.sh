#!/bin/bash
# The crash probe: an install from version 1 to version 2 is killed with
# SIGKILL (strace's fault injection, -e inject=SYSCALL:signal=KILL:when=N)
# at every write-side system call it makes, one kill per run, for both
# destinations.  After each kill every installed file is the old or the
# new version byte for byte (extra.txt, which only version 1 names, is
# version 1's or gone); the ext2 image is consistent (e2fsck -fn) or
# marked not clean with e2fsck -p repairing it; a plain re-run exits 0 with
# version 2 installed (kernel 1 kept as boot/kernel.old, extra.txt
# removed) and the next one says "up to date".
#
# The ext2 probe runs a second time from an empty file system, where the
# install also makes its directories (every third write, to stay quick).
# A second kill during the roll-forward (the re-run killed while it
# finishes the install the first kill left) is probed the same way.
#
# A last part probes a chunked world installed by delta the same way, and
# the delta's own writes, with what a re-run keeps (see there).
#
# CRASH_STRIDE=K (default 1) probes every K-th call only, for quick local
# iterations; the suite always runs every one.  CRASH_CHUNKED_ONLY=1 runs
# the chunked part alone; CRASH_DELTA_POINTS=N (default 30) sets how many of
# the part file's writes it samples besides each pack chunk's.
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"
export PATH=$PATH:/sbin:/usr/sbin
[ -x "$SERVER" ] || { echo "bootdrop-server not built"; exit 77; }
for p in strace mkfs.ext2 e2fsck debugfs dumpe2fs; do
	command -v "$p" >/dev/null || { echo "$p not installed"; exit 77; }
done
# strace needs ptrace; some containers forbid it.
strace -f -qq -o /dev/null true 2>/dev/null || { echo "ptrace not permitted"; exit 77; }
STRIDE=${CRASH_STRIDE:-1}

# Two small versions ($T/v1, $T/v2): every file differs between them.
WORLD=world.tgz
two_versions
release() {
	"$PUBLISH" release -r "$T/repo" -c "$CH" -s "$TEST_SEC" \
		kernel="$T/v$1/kernel" world="$T/v$1/$WORLD" \
		$([ "$1" = 1 ] && echo extra="$T/v1/extra.txt") >/dev/null
	version_menu "$1" "$T/v$1/menu.lst"
}

release 1
start_server "$T/repo"
mkdir -p "$T/base.d" "$T/tmp"
fetch -q -d "$T/base.d" "$url" || { echo "v1 install failed"; exit 1; }
mkfs.ext2 -q -F -b 1024 "$T/base.img" 4M >/dev/null
cp "$T/base.img" "$T/empty.img"
fetch -q --ext2 "$T/base.img" --tmpdir "$T/tmp" "$url" ||
	{ echo "v1 ext2 install failed"; exit 1; }
release 2

FILES="boot/kernel $WORLD boot/grub/menu.lst boot/kernel.old extra.txt"
# get KIND : the installed files' bytes in $T/got/ (missing: no file);
# one debugfs for all of them.
get() {
	local f
	rm -rf "$T/got"; mkdir "$T/got"
	for f in $FILES; do
		if [ "$1" = d ]; then
			[ ! -e "$T/slice/$f" ] || cp "$T/slice/$f" "$T/got/${f//\//_}"
		else
			echo "dump /$f $T/got/${f//\//_}"
		fi
	done >"$T/dump.cmds"
	[ "$1" = d ] || debugfs -f "$T/dump.cmds" "$T/slice.img" >/dev/null 2>&1
}
# old_or_new KIND DESC : every installed file is version 1 or version 2.
old_or_new() {
	local f v bad=
	get "$1"
	for f in boot/kernel $WORLD boot/grub/menu.lst; do
		v=${f##*/}
		{ [ -n "$fresh" ] && [ ! -e "$T/got/${f//\//_}" ]; } ||
			cmp -s "$T/got/${f//\//_}" "$T/v1/$v" ||
			cmp -s "$T/got/${f//\//_}" "$T/v2/$v" || bad="$bad $f"
	done
	[ ! -e "$T/got/extra.txt" ] || cmp -s "$T/got/extra.txt" "$T/v1/extra.txt" ||
		bad="$bad extra.txt"
	[ -z "$bad" ] || fail "$2: neither old nor new:$bad"
}
# all_new KIND DESC : version 2 installed, kernel 1 kept as kernel.old,
# extra.txt removed.
all_new() {
	local f p bad=
	get "$1"
	for f in boot/kernel:v2/kernel $WORLD:v2/$WORLD \
	    boot/grub/menu.lst:v2/menu.lst boot/kernel.old:v1/kernel; do
		p=${f%%:*}
		if [ -n "$fresh" ] && [ "$p" = boot/kernel.old ]; then
			[ ! -e "$T/got/${p//\//_}" ] || bad="$bad $p"
			continue
		fi
		cmp -s "$T/got/${p//\//_}" "$T/${f##*:}" || bad="$bad $p"
	done
	[ ! -e "$T/got/extra.txt" ] || bad="$bad extra.txt(not removed)"
	[ -z "$bad" ] || fail "$2: not version 2:$bad"
}
# fs_ok DESC : consistent, or marked not clean and repaired by e2fsck -p.
fs_ok() {
	e2fsck -fn "$T/slice.img" >"$T/fsck.out" 2>&1 && return 0
	if ! dumpe2fs -h "$T/slice.img" 2>/dev/null | grep -q '^Filesystem state: *not clean'; then
		fail "$1: inconsistent and marked clean"
		sed 's/^/    | /' "$T/fsck.out" >&2
		return 1
	fi
	cp "$T/slice.img" "$T/preen.img"
	e2fsck -p "$T/preen.img" >"$T/preen.out" 2>&1
	if [ $? -ge 4 ] || ! e2fsck -fn "$T/preen.img" >/dev/null 2>&1; then
		fail "$1: e2fsck -p cannot repair it"
		sed 's/^/    | /' "$T/preen.out" >&2
		return 1
	fi
}
restore() {
	if [ "$1" = d ]; then
		rm -rf "$T/slice" && cp -a "$T/base.d" "$T/slice"
	else
		cp "$T/${fresh:-base}.img" "$T/slice.img"
	fi
	rm -rf "$T/tmp"; mkdir -p "$T/tmp"
}
target() {
	if [ "$1" = d ]; then echo "-d $T/slice"; else echo "--ext2 $T/slice.img --tmpdir $T/tmp"; fi
}

# probe KIND SYSCALLS [STRACE FILTER...] : every kill must really happen
# (strace's injection fired: the run ended by SIGKILL, status 137), and the
# set must have been seen at least once, so a probe cannot pass empty.
probe() {
	local kind=$1 set=$2 s n count kills=0 before=$fails st seen=
	shift 2
	restore "$kind"
	# shellcheck disable=SC2046
	traced -o "$T/trace" -e trace="$set" "$@" \
		"$FETCH" -q -P "$PUBKEY" -c "$CH" $(target "$kind") "$url" \
		2>"$T/first.err" || { fail "$kind: uninterrupted run failed: $(cat "$T/first.err")"; return; }
	all_new "$kind" "$kind: uninterrupted run"
	[ -z "${CRASH_KEEP:-}" ] || cp "$T/trace" "$CRASH_KEEP/trace.$kind"
	for s in ${set//,/ }; do
		count=$(grep -cE "^[0-9]+ +$s\(" "$T/trace")
		seen="$seen $s:$count"
		for ((n = 1; n <= count; n += STRIDE)); do
			restore "$kind"
			# shellcheck disable=SC2046
			traced -o /dev/null -e trace="$s" "$@" \
				-e inject="$s:signal=KILL:when=$n" \
				"$FETCH" -q -P "$PUBKEY" -c "$CH" $(target "$kind") "$url" \
				>/dev/null 2>"$T/kill.err"
			st=$?
			kills=$((kills + 1))
			if [ "$st" -ne 137 ]; then
				fail "$kind: $s #$n: no kill (exit $st): the injection did not fire"
				sed 's/^/    | /' "$T/kill.err" >&2
			fi
			old_or_new "$kind" "$kind: killed at $s #$n"
			[ "$kind" = d ] || fs_ok "$kind: killed at $s #$n"
			# shellcheck disable=SC2046
			if ! "$FETCH" -q -P "$PUBKEY" -c "$CH" $(target "$kind") "$url" \
			    >"$T/rerun.out" 2>&1; then
				fail "$kind: killed at $s #$n: re-run failed"
				sed 's/^/    | /' "$T/rerun.out" >&2
				continue
			fi
			all_new "$kind" "$kind: killed at $s #$n, re-run"
			# shellcheck disable=SC2046
			"$FETCH" -P "$PUBKEY" -c "$CH" $(target "$kind") "$url" \
				>"$T/rerun.out" 2>&1 && grep -q "up to date" "$T/rerun.out" ||
				fail "$kind: killed at $s #$n: second re-run not up to date"
			[ "$kind" = d ] || fs_ok "$kind: killed at $s #$n, after re-runs"
			if [ "$kind" = d ] && [ -n "$(cd "$T/slice" && find . -name '.bootdrop.*' -o -name '*.tmp' -o -name 'stage.*' -o -name '*.part' -o -name pending)" ]; then
				fail "$kind: killed at $s #$n: leftovers after re-runs: $(cd "$T/slice" && find . -name '.bootdrop.*' -o -name '*.tmp' -o -name 'stage.*' -o -name '*.part' -o -name pending)"
			fi
			[ $fails -gt $((before + 5)) ] && { fail "$kind: giving up"; return; }
		done
	done
	echo "$kind${fresh:+ from empty}: calls seen:$seen"
	[ "$kills" -gt 0 ] || fail "$kind${fresh:+ from empty}: no call of $set was made: nothing probed"
	[ $fails -eq $before ] && ok "$kind${fresh:+ from empty}: $kills kill points, every one old or new, re-runs converge"
}

# pending KIND : the slice holds an intent record (an install to finish).
pending() {
	if [ "$1" = d ]; then
		[ -e "$T/slice/.bootdrop/pending" ]
	else
		debugfs -R "stat /.bootdrop/pending" "$T/slice.img" 2>&1 | grep -q '^Inode:'
	fi
}
save_slice() {
	if [ "$1" = d ]; then rm -rf "$T/k1" && cp -a "$T/slice" "$T/k1"
	else cp "$T/slice.img" "$T/k1.img"; fi
}
load_slice() {
	if [ "$1" = d ]; then rm -rf "$T/slice" && cp -a "$T/k1" "$T/slice"
	else cp "$T/k1.img" "$T/slice.img"; fi
	rm -rf "$T/tmp"; mkdir -p "$T/tmp"
}
# kill_at KIND SYSCALL N [STRACE FILTER...] : one run killed at the N-th call.
kill_at() {
	local kind=$1 s=$2 n=$3
	shift 3
	# shellcheck disable=SC2046
	traced -o /dev/null -e trace="$s" "$@" -e inject="$s:signal=KILL:when=$n" \
		"$FETCH" -q -P "$PUBKEY" -c "$CH" $(target "$kind") "$url" >/dev/null 2>"$T/kill.err"
}

# probe_twice KIND FIRST SYSCALLS [STRACE FILTER...] : a second kill during
# the roll-forward.  The first run is killed at calls of FIRST where it
# leaves an intent record (the first and the last of those sampled, every
# fourth call), so the re-run has an install to finish; the re-run is then
# killed at every call in SYSCALLS.  Each state is old-or-new and sound, and a third run
# converges.
probe_twice() {
	local kind=$1 first=$2 set=$3 s n m count cand=() kills=0 before=$fails st
	shift 3
	restore "$kind"
	# shellcheck disable=SC2046
	traced -o "$T/trace1" -e trace="$first" "$@" \
		"$FETCH" -q -P "$PUBKEY" -c "$CH" $(target "$kind") "$url" >/dev/null 2>&1
	count=$(grep -cE "^[0-9]+ +$first\(" "$T/trace1")
	for ((n = 1; n <= count; n += 4)); do
		restore "$kind"; kill_at "$kind" "$first" "$n" "$@"
		pending "$kind" && cand+=("$n")
	done
	[ ${#cand[@]} -gt 0 ] || { fail "$kind: no kill point left an intent record"; return; }
	for n in $(printf '%s\n' "${cand[0]}" "${cand[-1]}" | uniq); do
		restore "$kind"; kill_at "$kind" "$first" "$n" "$@"; save_slice "$kind"
		# shellcheck disable=SC2046
		traced -o "$T/trace2" -e trace="$set" "$@" \
			"$FETCH" -q -P "$PUBKEY" -c "$CH" $(target "$kind") "$url" >/dev/null 2>&1
		for s in ${set//,/ }; do
			count=$(grep -cE "^[0-9]+ +$s\(" "$T/trace2")
			for ((m = 1; m <= count; m++)); do
				load_slice "$kind"
				kill_at "$kind" "$s" "$m" "$@"
				st=$?
				kills=$((kills + 1))
				[ "$st" -eq 137 ] || fail "$kind: $first #$n, then $s #$m: no kill (exit $st)"
				old_or_new "$kind" "$kind: killed at $first #$n, then $s #$m"
				[ "$kind" = d ] || fs_ok "$kind: killed at $first #$n, then $s #$m"
				# shellcheck disable=SC2046
				if ! "$FETCH" -q -P "$PUBKEY" -c "$CH" $(target "$kind") "$url" \
				    >"$T/rerun.out" 2>&1; then
					fail "$kind: killed at $first #$n, then $s #$m: third run failed"
					sed 's/^/    | /' "$T/rerun.out" >&2
					continue
				fi
				all_new "$kind" "$kind: killed at $first #$n, then $s #$m, third run"
				# shellcheck disable=SC2046
				"$FETCH" -P "$PUBKEY" -c "$CH" $(target "$kind") "$url" \
					>"$T/rerun.out" 2>&1 && grep -q "up to date" "$T/rerun.out" ||
					fail "$kind: killed at $first #$n, then $s #$m: not up to date"
				[ "$kind" = d ] || fs_ok "$kind: killed at $first #$n, then $s #$m, after re-runs"
				[ $fails -gt $((before + 5)) ] && { fail "$kind: giving up"; return; }
			done
		done
	done
	[ "$kills" -gt 0 ] || fail "$kind: twice: the roll-forward made no call: nothing probed"
	[ $fails -eq $before ] && ok "$kind: killed again during the roll-forward (first kill at $first #${cand[0]} and #${cand[-1]}): $kills kill points, every one old or new, re-runs converge"
}

fresh=
if [ -z "${CRASH_CHUNKED_ONLY:-}" ]; then
probe d renameat,renameat2,linkat,unlinkat,fsync,fdatasync,mkdirat
probe e pwrite64,fsync,fdatasync -P "$T/slice.img"
probe_twice d renameat renameat,renameat2,linkat,unlinkat,fsync,fdatasync,mkdirat
# The image changes only by pwrite64: its kill points are every state a
# SIGKILL can leave.
probe_twice e pwrite64 pwrite64 -P "$T/slice.img"
fresh=empty
# From empty there is no version 1 to offer: version 2's menu.lst has one entry.
"$BOOTDROP_BUILDDIR/tests/bootrender" pvgrub 0 "$T/repo/channels/$CH/2.json" >"$T/v2/menu.lst"
STRIDE=$((STRIDE * 3))
probe e pwrite64 -P "$T/slice.img"
fi

# ---- A chunked world, version 2 installed by delta (issue 22) ----------
# The same probes over chunked_versions (common.sh): a world of 1.2 MB,
# which the publisher chunks, so the guest holding version 1 assembles
# version 2's from its installed world and nine or so chunks of the pack
# (client/delta.c) before the install.  Besides the install's calls, the
# delta's own writes into the part file are probed: killed at the N-th,
# the re-run converges to version 2 with nothing left behind, keeps every
# chunk the killed run had verified (the pack bytes the server's access
# log says it sent on the re-run fall below what a restart moves), and
# trusts no byte of the part it has not hashed again (a kept chunk altered
# in the part is fetched again, still by chunks).  Where --ext2
# destinations have no seeds (on main today) they download the world
# whole: every probe holds either way and says which it saw; the
# kept-chunk checks need a delta.
#
# Kill points: in the part file, the pwrite64 of every chunk fetched from
# the pack, about CRASH_DELTA_POINTS (default 30) of its other pwrite64
# evenly spaced, and every ftruncate and fsync of it; in the install, every
# call of the -d set above, and every 25th pwrite64 and fsync of the image
# for --ext2 (the small versions above probe every one).
CHUNKS=$FETCHDIR/chunks.py
stop_servers
rm -rf "$T/repo" "$T/v1" "$T/v2" "$T/base.d" "$T/slice" "$T/tmp" "$T"/*.img
chunked_versions
WORLD=world.txt
FILES="boot/kernel $WORLD boot/grub/menu.lst boot/kernel.old extra.txt"
fresh=
STRIDE=${CRASH_STRIDE:-1}
release 1
index1=$("$PUBLISH" show -r "$T/repo" -c "$CH" | awk '$1 == "chunks" { print $2 }')
: >"$T/server.log"
start_server "$T/repo"
mkdir -p "$T/base.d" "$T/tmp"
fetch -q -d "$T/base.d" "$url" || { echo "chunked v1 install failed"; exit 1; }
mkfs.ext2 -q -F -b 1024 "$T/base.img" 8M >/dev/null
fetch -q --ext2 "$T/base.img" --tmpdir "$T/tmp" "$url" ||
	{ echo "chunked v1 ext2 install failed"; exit 1; }
release 2
chunk_blobs "$T/repo"
[ -n "$index1" ] && [ -s "$T/repo/blobs/sha256/$pack2" ] ||
	{ echo "version 2's world was not chunked"; exit 1; }
"$CHUNKS" fresh "$T/repo/blobs/sha256/$index2" "$T/repo/blobs/sha256/$index1" >"$T/fresh" ||
	{ echo "cannot read the chunk indexes"; exit 1; }
PACK=/blobs/sha256/$pack2 WHOLE=/blobs/sha256/$world2

# part KIND : the part file version 2's world is assembled in.
part() {
	if [ "$1" = d ]; then echo "$T/slice/.bootdrop/tmp/$world2.part"
	else echo "$T/tmp/bootdrop-fetch.$(id -u)/$world2.part"; fi
}
# left_behind KIND : what a run that converged left: parts, staged files,
# an intent record (the image's .bootdrop read with debugfs).
left_behind() {
	if [ "$1" = d ]; then
		(cd "$T/slice" && find . -name '.bootdrop.*' -o -name '*.tmp' -o -name 'stage.*' \
			-o -name '*.part' -o -name pending)
	else
		find "$T/tmp" -name '*.part'
		debugfs -R "ls -p /.bootdrop" "$T/slice.img" 2>/dev/null |
			awk -F/ '$6 == "pending" || $6 ~ /^stage\./ || $6 ~ /\.tmp$/ { print "image: /.bootdrop/" $6 }'
		debugfs -R "ls -p /.bootdrop/stage" "$T/slice.img" 2>/dev/null |
			awk -F/ '$6 != "" && $6 != "." && $6 != ".." { print "image: stage/" $6 }'
	fi
}
# rerun KIND DESC : after a kill: a run converges to version 2, the next
# says "up to date", nothing is left; the first run's requests are in
# $T/server.log.
rerun() {
	local kind=$1 desc=$2 left
	log_settle "$T/server.log"
	: >"$T/server.log"
	# shellcheck disable=SC2046
	if ! "$FETCH" -q -P "$PUBKEY" -c "$CH" $(target "$kind") "$url" >"$T/rerun.out" 2>&1; then
		fail "$desc: re-run failed"
		sed 's/^/    | /' "$T/rerun.out" >&2
		return 1
	fi
	log_settle "$T/server.log"
	cp "$T/server.log" "$T/rerun.log"
	all_new "$kind" "$desc, re-run"
	# shellcheck disable=SC2046
	"$FETCH" -P "$PUBKEY" -c "$CH" $(target "$kind") "$url" >"$T/rerun.out" 2>&1 &&
		grep -q "up to date" "$T/rerun.out" || fail "$desc: second re-run not up to date"
	[ "$kind" = d ] || fs_ok "$desc, after re-runs"
	left=$(left_behind "$kind")
	[ -z "$left" ] || fail "$desc: left behind after the re-runs: $left"
}

# reference KIND : an uninterrupted run; sets how[KIND] (delta or whole)
# and ref_pack[KIND], the pack bytes a restart moves.
declare -A how ref_pack
reference() {
	local kind=$1
	restore "$kind"
	rerun "$kind" "$kind: uninterrupted" || return
	ref_pack[$kind]=$(log_bytes "$T/rerun.log" "$PACK")
	if [ "${ref_pack[$kind]}" -gt 0 ] && [ "$(log_gets "$T/rerun.log" "$WHOLE")" -eq 0 ]; then
		how[$kind]=delta
	elif [ "${ref_pack[$kind]}" -eq 0 ] && [ "$(log_gets "$T/rerun.log" "$WHOLE")" -eq 1 ]; then
		how[$kind]=whole
	else
		fail "$kind: neither a delta nor a whole download: $(cat "$T/rerun.log")"
		how[$kind]=whole
	fi
	echo "$kind: version 2's world comes by ${how[$kind]} (${ref_pack[$kind]} bytes of pack)"
}

# probe_part KIND : kills at the part file's writes (pwrite64, ftruncate,
# fsync): every one but pwrite64, sampled (see above).
probe_part() {
	local kind=$1 p s n count step st kept rb points=() kills=0 keeps=0 before=$fails
	p=$(part "$kind")
	restore "$kind"
	# shellcheck disable=SC2046
	traced -o "$T/trace" -e trace=pwrite64,ftruncate,fsync,fdatasync -P "$p" \
		"$FETCH" -q -P "$PUBKEY" -c "$CH" $(target "$kind") "$url" >/dev/null 2>&1
	count=$(grep -cE '^[0-9]+ +pwrite64\(' "$T/trace")
	[ "$count" -gt 0 ] || { fail "$kind: no write into $p: nothing probed"; return; }
	step=$(( (count + ${CRASH_DELTA_POINTS:-30} - 1) / ${CRASH_DELTA_POINTS:-30} ))
	[ "$step" -ge "$STRIDE" ] || step=$STRIDE
	# SYSCALL:N, N counting that call alone; the pwrite64 of chunks from
	# the pack known by their raw offset
	mapfile -t points < <(grep -E '^[0-9]+ +[a-z0-9]+\(' "$T/trace" |
		sed -E 's/^[0-9]+ +([a-z0-9]+)\(.* ([0-9]+)\) += -?[0-9]+.*$/\1 \2/; s/^[0-9]+ +([a-z0-9]+)\(.*/\1 -/' |
		awk -v step="$step" -v count="$count" 'NR == FNR { fresh[$2] = 1; next }
			{ n = ++seen[$1] }
			$1 != "pwrite64" || fresh[$2] || (n - 1) % step == 0 || n == count { print $1 ":" n }' "$T/fresh" -)
	for n in "${points[@]}"; do
		restore "$kind"
		s=${n%%:*}
		kill_at "$kind" "$s" "${n#*:}" -P "$p"
		st=$?
		kills=$((kills + 1))
		[ "$st" -eq 137 ] || fail "$kind: part write $n: no kill (exit $st)"
		old_or_new "$kind" "$kind: killed at part write $n"
		[ "$kind" = d ] || fs_ok "$kind: killed at part write $n"
		kept=0
		[ ! -s "$p" ] || [ "${how[$kind]}" != delta ] ||
			kept=$("$CHUNKS" kept "$T/repo/blobs/sha256/$index2" "$T/repo/blobs/sha256/$index1" "$p")
		rerun "$kind" "$kind: killed at part write $n" || continue
		rb=$(log_bytes "$T/rerun.log" "$PACK")
		if [ "${how[$kind]}" = delta ]; then
			[ "$(log_gets "$T/rerun.log" "$WHOLE")" -eq 0 ] ||
				fail "$kind: killed at part write $n: the re-run downloaded the world whole"
			[ "$rb" -le "${ref_pack[$kind]}" ] ||
				fail "$kind: killed at part write $n: the re-run moved $rb bytes of pack, a restart ${ref_pack[$kind]}"
			if [ "$kept" -gt 0 ]; then
				keeps=$((keeps + 1))
				[ "$rb" -lt "${ref_pack[$kind]}" ] ||
					fail "$kind: killed at part write $n with $kept fetched chunks verified: the re-run moved $rb bytes of pack, as many as a restart"
				last_kept=$n last_rb=$rb
				[ -n "$first_kept" ] || first_kept=$n
			fi
		fi
		[ $fails -gt $((before + 5)) ] && { fail "$kind: giving up"; return; }
	done
	if [ "${how[$kind]}" = delta ] && [ "$keeps" -eq 0 ]; then
		fail "$kind: no kill point left a fetched chunk verified in the part: resume not probed"
	fi
	[ $fails -eq $before ] && ok "$kind: $kills kill points in the part file (one in $step of its $count pwrite64, each pack chunk's, every ftruncate and fsync): every state old or new, re-runs converge, nothing left; $([ "${how[$kind]}" = delta ] && echo "$keeps re-runs kept fetched chunks and moved less pack than a restart" || echo "a whole download: no chunks to keep")"
}

# altered KIND : the part of the last kill that kept fetched chunks, one
# byte of a kept fetched chunk altered: the re-run fetches that chunk
# again (more pack bytes than with the part intact) and still by chunks.
altered() {
	local kind=$1 p off rb
	p=$(part "$kind")
	restore "$kind"
	kill_at "$kind" "${last_kept%%:*}" "${last_kept#*:}" -P "$p"
	off=$("$CHUNKS" kept -l "$T/repo/blobs/sha256/$index2" "$T/repo/blobs/sha256/$index1" "$p" |
		awk 'NR == 1 { print $1 + int($2 / 2) }')
	[ -n "$off" ] || { fail "$kind: part write $last_kept kept no fetched chunk this time"; return; }
	printf '\377' | dd of="$p" bs=1 seek="$off" conv=notrunc status=none
	rerun "$kind" "$kind: killed at part write $last_kept, a kept chunk altered at byte $off" || return
	rb=$(log_bytes "$T/rerun.log" "$PACK")
	[ "$(log_gets "$T/rerun.log" "$WHOLE")" -eq 0 ] && [ "$rb" -gt "$last_rb" ] &&
		ok "$kind: a kept chunk altered in the part is fetched again ($rb bytes of pack, $last_rb with the part intact), still by chunks" ||
		fail "$kind: a kept chunk altered in the part: $rb bytes of pack (intact: $last_rb), $(log_gets "$T/rerun.log" "$WHOLE") whole downloads"
}

# index_gone : killed where the part holds verified chunks, then the only
# mirror has lost version 2's index: the world comes from its own blob
# (whole, or only the ranges the part lacks where a fallback keeps the
# delta's verified chunks), the whole-artifact hash deciding.
index_gone() {
	local p srv=$url left
	p=$(part d)
	restore d
	kill_at d "${first_kept%%:*}" "${first_kept#*:}" -P "$p"
	start_evil 404 "$T/repo" noindex --only "$index2"
	if ! fetch -q -d "$T/slice" "$url" >"$T/rerun.out" 2>&1; then
		fail "d: killed at part write $first_kept, then no index: the run failed"
		sed 's/^/    | /' "$T/rerun.out" >&2
	else
		all_new d "d: killed at part write $first_kept, then no index"
		left=$(left_behind d)
		[ "$(grep -c "^GET $WHOLE " "$T/noindex.log")" -ge 1 ] && [ -z "$left" ] &&
			ok "d: killed in the delta, then no index: version 2 from the world's blob ($(grep -c "^GET $WHOLE " "$T/noindex.log") requests), nothing left" ||
			fail "d: killed in the delta, then no index: $(grep -c "^GET $WHOLE " "$T/noindex.log") whole downloads, left: $left"
	fi
	kill "$evil_pid"; wait "$evil_pid" 2>/dev/null
	url=$srv
}

for kind in d e; do
	last_kept= first_kept=
	reference "$kind"
	probe_part "$kind"
	if [ -n "$last_kept" ]; then altered "$kind"
	else echo "$kind: no kept chunks to alter (the world came ${how[$kind]})"; fi
	[ "$kind" = e ] || [ -z "$first_kept" ] || index_gone
done
probe d renameat,renameat2,linkat,unlinkat,fsync,fdatasync,mkdirat
STRIDE=$(( ${CRASH_STRIDE:-1} * 25 ))
probe e pwrite64,fsync,fdatasync -P "$T/slice.img"
finish
