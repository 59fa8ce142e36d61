#!/usr/bin/env python3
"""pty_run.py COLUMNS SECONDS CMD... - runs CMD with stdin, stdout and
stderr on a pseudo-terminal COLUMNS wide (TIOCSWINSZ, and $COLUMNS unset
so only the terminal says it) and copies what it prints, raw, to stdout.
SECONDS > 0 kills CMD after that long; with $PTY_UNTIL set (a regular
expression), CMD is killed as soon as its output matches it, SECONDS being
then only a generous limit.  The exit status is CMD's (or 124 after a
kill).  Python 3 standard library only."""
import fcntl
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time


def main():
    cols, secs, cmd = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
    os.environ.pop("COLUMNS", None)
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    os.kill(pid, signal.SIGWINCH)
    deadline = time.monotonic() + secs if secs > 0 else None
    until = re.compile(os.environ["PTY_UNTIL"].encode()) if os.environ.get("PTY_UNTIL") else None
    seen = b""
    killed = False
    out = sys.stdout.buffer
    while True:
        wait = 0.1 if deadline is None else max(0, deadline - time.monotonic())
        if deadline is not None and wait == 0 and not killed:
            os.kill(pid, signal.SIGKILL)
            killed = True
        r, _, _ = select.select([fd], [], [], min(wait, 0.1) if wait else 0.1)
        if fd in r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            out.write(data)
            out.flush()
            if until is not None and not killed:
                seen = (seen + data)[-4096:]
                if until.search(seen):
                    os.kill(pid, signal.SIGKILL)
                    killed = True
    _, status = os.waitpid(pid, 0)
    if killed:
        return 124
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
