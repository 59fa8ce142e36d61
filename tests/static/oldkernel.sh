#!/bin/bash
# tests/static/oldkernel.sh --must-be-static|--may-skip BINARY : the static
# bootdrop-fetch on an old rescue system's kernel.  uname says Linux 2.6
# (setarch --uname-2.6) and strace answers ENOSYS to every system call
# Linux 2.6.32 did not have (getrandom, prlimit64, rseq, statx,
# copy_file_range, pidfd_*, clone3, openat2, faccessat2, close_range, ...;
# for i386 also arch_prctl of 4.12 and the *_time64 calls of 5.1, which a
# 2.6 kernel only offers as 32-bit times; and on i386 every socket call
# must go through socketcall (the direct socket calls came with 4.3).
# strace names a socketcall by its subcall, so those are judged by number,
# not refused by name).  Under that, it must install over HTTP and over HTTPS into
# an ext2 image, byte for byte, e2fsck clean.  At least one of those calls
# must have been made and refused, or the harness proved nothing.
# (What this cannot show: new flags of old calls, which a real 2.6 kernel
# would refuse with EINVAL.)
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"
. "$BOOTDROP_SRCDIR/tests/static/staticlib.sh"
export PATH=$PATH:/sbin:/usr/sbin
static_binary "$@"
for p in setarch strace mkfs.ext2 e2fsck debugfs openssl; do
	command -v "$p" >/dev/null || { echo "$p not installed"; exit 77; }
done
[ -x "$SERVER" ] || { echo "bootdrop-server not built"; exit 77; }
[ -x /usr/sbin/nginx ] || { echo "nginx not installed"; exit 77; }
strace -f -qq -o /dev/null true 2>/dev/null || { echo "ptrace not permitted"; exit 77; }

# Added after 2.6.32, by version (x86; ? lets strace ignore a name one of
# its personalities lacks).
NEW="recvmmsg fanotify_init fanotify_mark prlimit64 name_to_handle_at
open_by_handle_at clock_adjtime syncfs sendmmsg setns process_vm_readv
process_vm_writev kcmp finit_module sched_setattr sched_getattr renameat2
seccomp getrandom memfd_create bpf execveat userfaultfd membarrier mlock2
copy_file_range preadv2 pwritev2 pkey_mprotect pkey_alloc pkey_free statx
io_pgetevents rseq pidfd_send_signal io_uring_setup io_uring_enter
io_uring_register open_tree move_mount fsopen fsconfig fsmount fspick
pidfd_open clone3 close_range openat2 pidfd_getfd faccessat2
process_madvise epoll_pwait2 mount_setattr quotactl_fd
landlock_create_ruleset landlock_add_rule landlock_restrict_self
memfd_secret process_mrelease futex_waitv set_mempolicy_home_node
cachestat fchmodat2 map_shadow_stack futex_wake futex_wait futex_requeue
statmount listmount lsm_get_self_attr lsm_set_self_attr lsm_list_modules
mseal"
NEW_I386="arch_prctl clock_gettime64 clock_settime64 clock_adjtime64
clock_getres_time64 clock_nanosleep_time64 timer_gettime64 timer_settime64
timerfd_gettime64 timerfd_settime64 utimensat_time64 pselect6_time64
ppoll_time64 io_pgetevents_time64 recvmmsg_time64 mq_timedsend_time64
mq_timedreceive_time64 semtimedop_time64 rt_sigtimedwait_time64
futex_time64 sched_rr_get_interval_time64"
# (setarch, a 64-bit program, is traced too: the i386 list applies to the
# 32-bit personality only, @32.)
case $(file -b "$BIN") in
*80386*) arch=i686 set=$(for s in $NEW; do printf '?%s,' "$s"; done
	for s in $NEW_I386; do printf '?%s@32,' "$s"; done) ;;
*x86-64*) arch=x86_64 set=$(for s in $NEW; do printf '?%s,' "$s"; done) ;;
*) echo "no list of new system calls for $(file -b "$BIN")"; exit 77 ;;
esac
set=${set%,}
old26() {
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		strace -f -qq -n -o "$T/trace" -e trace="$set,%network" \
		-e inject="$set:error=ENOSYS" \
		setarch "$arch" --uname-2.6 "$@"
}
uname26=$(setarch "$arch" --uname-2.6 uname -r)
case $uname26 in
2.6.*) ok "setarch $arch --uname-2.6: uname -r says $uname26" ;;
*) fail "setarch --uname-2.6: uname -r says $uname26"; finish ;;
esac
echo "binary: $(file -b "$BIN" | cut -d, -f1-2)"

make_repo "$T/repo"
start_server "$T/repo"
port=${url##*:}
tls_front "$port" || exit 1

# install DESC URL [ARGS...] : into a fresh ext2 image, as on Linux 2.6.
install() {
	local desc=$1 u=$2; shift 2
	mkfs.ext2 -q -F "$T/slice.img" 16M
	rm -rf "$T/tmp"; mkdir -p "$T/tmp"
	expect_status 0 "$desc on 'Linux $uname26'" old26 "$BIN" -P "$PUBKEY" -c "$CH" \
		--ext2 "$T/slice.img" --tmpdir "$T/tmp" "$@" "$u" || return
	fsck_clean "$desc" "$T/slice.img"
	same_bytes "$desc" "$T/slice.img" boot/kernel "$T/kernel"
	same_bytes "$desc" "$T/slice.img" world.tgz "$T/world.tgz"
	local refused
	refused=$(grep '(INJECTED)' "$T/trace" | sed -n 's/^[0-9]* *\[ *[0-9]*\] \([a-z0-9_]*\)(.*/\1/p' | sort | uniq -c |
		awk '{ printf "%s%s x%s", sep, $2, $1; sep = ", " }')
	[ -n "$refused" ] && ok "$desc: refused with ENOSYS: $refused" ||
		fail "$desc: no new system call was made, so none was refused (is strace's injection working?)"
	if [ "$arch" = i686 ]; then
		# i386 system call 102 is socketcall; 359-373 the direct socket calls.
		local net direct
		net=$(grep -cE '^[0-9]+ +\[ *[0-9]+\] (socket|connect|setsockopt|getsockopt|sendto|recvfrom|sendmsg|recvmsg)\(' "$T/trace")
		direct=$(grep -E '^[0-9]+ +\[ *[0-9]+\] [a-z]' "$T/trace" | grep -vE '\[ *102\]' |
			grep -cE '\] (socket|socketpair|bind|connect|listen|accept4|getsockopt|setsockopt|getsockname|getpeername|sendto|sendmsg|recvfrom|recvmsg|shutdown)\(')
		[ "$net" -gt 0 ] && [ "$direct" -eq 0 ] &&
			ok "$desc: all $net socket calls through socketcall (102), as Linux 2.6 has it" ||
			fail "$desc: $direct of $net socket calls are direct system calls a 2.6 kernel lacks"
	fi
}

install "http by IP" "http://127.0.0.1:$port"
install "https by IP (--cacert)" "https://127.0.0.1:$tport" --cacert "$T/tls/ca.pem"
finish
