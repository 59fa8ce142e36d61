#!/bin/bash
# The progress bar on a terminal (a pseudo-terminal from pty_run.py): it
# fits a 50-column pane without wrapping, tells "resuming: N MiB kept", does
# not count resumed bytes as speed, and shows an ETA over 99 minutes as
# hours.
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"
PTY=$FETCHDIR/pty_run.py

make_world "$T/world.tgz" 4
make_repo "$T/repo"
world_hex=$(sha256sum "$T/world.tgz" | cut -d' ' -f1)
part=$T/dest/.bootdrop/tmp/$world_hex.part

# bar_check OUT COLUMNS : there is at least one bar update (output between
# \r and \r or \n that shows a percentage) and every one is shorter than
# COLUMNS; prints how many there were.
bar_check() {
	python3 - "$1" "$2" <<'PY'
import re, sys
data = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
cols = int(sys.argv[2])
pieces = re.split(r"[\r\n]", data)
bars = [p for p in pieces if re.search(r"\d%", p)]
long = [p for p in bars if len(p) >= cols]
if long:
    print("too long: %r" % long[0]); sys.exit(1)
if not bars:
    print("no bar at all: %r" % data[-200:]); sys.exit(1)
print(len(bars))
PY
}

# max_rate OUT : the highest speed the bar showed, in bytes per second.
max_rate() {
	python3 - "$1" <<'PY'
import re, sys
data = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
units = {"B": 1, "KiB": 1024, "MiB": 1 << 20, "GiB": 1 << 30}
rates = [float(v) * units[u] for v, u in re.findall(r"([0-9.]+) (B|KiB|MiB|GiB)/s", data)]
print(int(max(rates)) if rates else -1)
PY
}

# A 50-column pane, 2 MB/s: several updates, none wraps.
fresh_dest
start_evil normal "$T/repo" slow --rate 2000000
python3 "$PTY" 50 0 "$FETCH" -P "$PUBKEY" -c "$CH" -d "$T/dest" "$url" >"$T/pty.out"
[ $? -eq 0 ] && ok "fetch on a 50-column terminal" || fail "fetch on a terminal: $(cat "$T/pty.out")"
if n=$(bar_check "$T/pty.out" 50); then
	[ "$n" -ge 3 ] && ok "50 columns: $n bar updates, none wraps" || fail "50 columns: only $n updates"
else
	fail "50 columns: $n"
fi
mkdir -p "$T/dest2"
python3 "$PTY" 20 0 "$FETCH" -P "$PUBKEY" -c "$CH" -d "$T/dest2" "$url" >"$T/pty20.out"
n=$(bar_check "$T/pty20.out" 20) && ok "20 columns: $n bar updates, none wraps" || fail "20 columns: $n"
kill "$evil_pid"; wait "$evil_pid" 2>/dev/null

# Resume 3 of 4 MiB at 512 KB/s: the message, and the speed shown is the
# network's, not 3 MiB over the first second.
fresh_dest; mkdir -p -m 700 "$T/dest/.bootdrop/tmp"
head -c $((3 << 20)) "$T/world.tgz" >"$part"
start_evil normal "$T/repo" resume --rate 512000
python3 "$PTY" 80 0 "$FETCH" -P "$PUBKEY" -c "$CH" -d "$T/dest" "$url" >"$T/pty.out"
[ $? -eq 0 ] && cmp -s "$T/dest/world.tgz" "$T/world.tgz" && ok "resumed on a terminal" ||
	fail "resume on a terminal: $(cat "$T/pty.out")"
grep -q "world: resuming: 3.0 MiB ($((3 << 20)) bytes) kept from an earlier run" "$T/pty.out" && ok "\"resuming: 3.0 MiB ($((3 << 20)) bytes) kept\" printed" ||
	fail "no resuming message: $(cat "$T/pty.out")"
rate=$(max_rate "$T/pty.out")
if [ "$rate" -lt 0 ]; then fail "resume: no speed shown"
elif [ "$rate" -le $((3 << 19)) ]; then ok "resume: highest speed shown $rate B/s (server sends 512000)"
else fail "resume: speed shown $rate B/s counts resumed bytes"; fi
kill "$evil_pid"; wait "$evil_pid" 2>/dev/null

# 600 B/s for 4 MiB: an ETA of about two hours, shown as H:MM:SS (the run
# is stopped once it shows; 60 s is only a limit for a loaded machine).
fresh_dest
start_evil normal "$T/repo" crawl --rate 600
t0=$SECONDS
PTY_UNTIL='ETA [0-9]+:[0-9]{2}:[0-9]{2}' python3 "$PTY" 50 60 "$FETCH" -P "$PUBKEY" \
	-c "$CH" --only world -d "$T/dest" "$url" >"$T/pty.out"
grep -Eq "ETA [0-9]+:[0-9]{2}:[0-9]{2}" "$T/pty.out" &&
	ok "ETA over 99 minutes shown as hours (after $((SECONDS - t0)) s)" ||
	fail "ETA: $(tr '\r' '\n' <"$T/pty.out" | tail -n 3)"
n=$(bar_check "$T/pty.out" 50) && ok "long ETA: $n bar updates fit 50 columns" || fail "long ETA: $n"
kill "$evil_pid"; wait "$evil_pid" 2>/dev/null

finish
